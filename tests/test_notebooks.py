"""Every lesson: in sync with its source, complete, and runnable by a student and a teacher."""

from __future__ import annotations

import re
import subprocess
import sys

import nbformat
import pytest

from grading.course import is_solution, is_test, points
from tests.conftest import ROOT, lesson_names

LESSONS = lesson_names()


def _cells(name: str, folder: str = "solutions"):
    return nbformat.read(ROOT / folder / f"{name}.ipynb", as_version=4).cells


def test_there_are_lessons():
    assert LESSONS and LESSONS[0] == "01_task_and_loss"


def test_student_copies_in_sync_with_solutions():
    """notebooks/ must equal a fresh nbgrader release of solutions/ (run `make notebooks`)."""
    proc = subprocess.run(
        [sys.executable, "-m", "tools.release", "--check"], capture_output=True, text=True, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("name", LESSONS)
def test_lesson_structure(name):
    cells = _cells(name)
    text = "\n".join(c.source for c in cells)
    assert "colab.research.google.com/github/" in cells[0].source, "first cell: Open in Colab badge"
    assert cells[1].get("id") == "setup" and "course_utils" in cells[1].source
    for heading in ("Learning goals", "## Think", "## Summary"):
        assert heading in text, f"{name} lacks a '{heading}' section"
    assert "interactive_figure(" in text, f"{name} has no interactive widget"
    assert "$" in text, f"{name} has no math"
    # Each exercise: a solution cell, then a graded check cell with visible and hidden tests.
    solutions = [i for i, c in enumerate(cells) if is_solution(c)]
    assert solutions, f"{name} has no exercise"
    for i in solutions:
        if cells[i].cell_type == "markdown":
            continue
        check = cells[i + 1]
        assert is_test(check) and points(check) > 0, f"cell after {cells[i].id} is not graded"
        assert re.search(r"check_\w+\(", check.source), f"{check.id} calls no checker"
        assert "### BEGIN HIDDEN TESTS" in check.source, f"{check.id} has no hidden tests"
        assert "### BEGIN SOLUTION" in cells[i].source


@pytest.mark.parametrize("name", LESSONS)
def test_student_copy_hides_solutions_and_hidden_tests(name):
    text = "\n".join(c.source for c in _cells(name, "notebooks"))
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    assert "raise NotImplementedError()" in text
