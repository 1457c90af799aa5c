"""The nbgrader round trip: the solution scores full marks, the blank student copy 0."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, lesson_names, needs_mnist
from tools.release import make_course_dir, run_nbgrader

LESSONS = lesson_names()


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    return run_nbgrader(course, *args, timeout=1800)


@needs_mnist
@pytest.mark.slow
@pytest.mark.parametrize("name", LESSONS)
def test_autograde_solution_full_blank_zero(name, tmp_path):
    from nbgrader.api import Gradebook

    course = make_course_dir(tmp_path / "course")
    (course / "source" / name).mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / f"{name}.ipynb", course / "source" / name)
    proc = nbgrader(course, "generate_assignment", name, "--force")
    assert proc.returncode == 0, proc.stderr
    submissions = {
        "solution": ROOT / "solutions" / f"{name}.ipynb",
        "blank": ROOT / "notebooks" / f"{name}.ipynb",
    }
    for student, nb in submissions.items():
        dest = course / "submitted" / student / name
        dest.mkdir(parents=True)
        shutil.copy(nb, dest / f"{name}.ipynb")
    proc = nbgrader(course, "autograde", name, "--create", "--force")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        full = gb.find_assignment(name).max_score
        scores = {s: gb.find_submission(name, s).score for s in submissions}
    assert full > 0
    assert scores == {"solution": full, "blank": 0}
