"""The nbgrader round trip of every lesson, as an instructor runs it: release, collect, autograde,
feedback. The right answer gets full marks on every check; the blank student copy, run top to
bottom by the grader, gets 0 and fails only in its checks, each because the exercise is not
written yet. (The CSV export, the same for every lesson, is checked on the fixture assignment in
test_grading_hostile.py and on whole classes in test_class_grading.py.)

Each lesson's round trip runs on the pytest worker that runs that lesson's claims, right after
them (tests/conftest.py). The hostile and broken submissions are graded on a small fixture
assignment (test_grading_hostile.py); whole classes of 30 per lesson are the slow tier
(test_class_grading.py, `make test-full`).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import nbformat
import pytest

from grading.course import NOTEBOOKS, SOLUTIONS, is_solution, is_test, lessons
from tests.conftest import needs_mnist

pytestmark = [needs_mnist, pytest.mark.slow]


def right_answer(lesson: str) -> nbformat.NotebookNode:
    """The student copy with every exercise cell holding the solution's code (markers removed)."""
    solved = {
        c.id: re.sub(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*(\n|$)", "", c.source, flags=re.M)
        for c in nbformat.read(SOLUTIONS / f"{lesson}.ipynb", as_version=4).cells
        if is_solution(c)
    }
    nb = nbformat.read(NOTEBOOKS / f"{lesson}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.get("id") in solved:
            cell.source = solved[cell.id]
    return nb


def _grade(course, *step: str) -> str:
    # One torch thread per grading kernel: the other pytest worker uses the other core.
    env = {**os.environ, "COURSE_GRADER_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "grading.grade", "--course", str(course), *step],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, f"{step}: {proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _errors(nb) -> dict[str, str]:
    """Cell id -> the error it raised."""
    return {
        c.id: f"{o.ename}: {o.evalue}"
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.output_type == "error"
    }


@pytest.mark.parametrize("lesson", lessons())
def test_round_trip(lesson, tmp_path):
    from nbgrader.api import Gradebook

    course, inbox = tmp_path / "course", tmp_path / "inbox"
    for student, nb in (
        ("right", right_answer(lesson)),
        ("blank", nbformat.read(NOTEBOOKS / f"{lesson}.ipynb", as_version=4)),
    ):
        (inbox / student).mkdir(parents=True)
        nbformat.write(nb, inbox / student / f"{lesson}.ipynb")

    _grade(course, "release", lesson)
    _grade(course, "collect", str(inbox), "--lesson", lesson)
    print(_grade(course, "autograde", lesson, "--workers", "1").strip().splitlines()[-1])
    _grade(course, "feedback", lesson, "--workers", "1")

    tests = [c for c in nbformat.read(SOLUTIONS / f"{lesson}.ipynb", as_version=4).cells if is_test(c)]
    full = sum(c.metadata.nbgrader.points for c in tests)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        scores = {s: gb.find_submission(lesson, s).score for s in ("right", "blank")}
        manual = [s for s in scores if gb.find_submission(lesson, s).needs_manual_grade]
    assert scores == {"right": full, "blank": 0}
    assert manual == []

    graded = {
        s: nbformat.read(course / "autograded" / s / lesson / f"{lesson}.ipynb", as_version=4) for s in scores
    }
    assert _errors(graded["right"]) == {}
    # The blank copy runs to the end; only its checks fail, each on the missing exercise.
    blank = _errors(graded["blank"])
    assert set(blank) <= {c.id for c in tests}, blank
    assert blank and all("NotImplementedError" in e for e in blank.values()), blank

    for student in scores:
        page = (course / "feedback" / student / lesson / f"{lesson}.html").read_text()
        assert f"{scores[student]:g} / {full:g} points" in re.sub(r"<[^>]+>", " ", page), student
