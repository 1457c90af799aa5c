"""A regrade starts from zero: what a resubmission does to its test cells never keeps earlier marks.

Five ways to hide test cells from nbgrader: their `nbgrader` metadata deleted, their `grade` flag
set to false, every cell id removed (nbformat 4.4), the test cells deleted and a cell of the
student's own claiming 100 points, the tests moved above the exercises and renamed. Five students
first hand in the right answer of the fixture assignment (5/5), then a blank copy hiding its tests
one way each: 0. Five others hand in the right answer hiding its tests: 5/5, every check graded
(grading/guard.py RestoreTests puts the released test cells back).
"""

from __future__ import annotations

import os

import nbformat
import pytest

from grading.course import ROOT, gradebook_url, is_test
from tests.grading_cases import Assignment, grade, read_gradebook

pytestmark = [pytest.mark.slow, pytest.mark.full]  # 15 gradings: the slow tier
FIXTURES = ROOT / "tests" / "fixtures"
LESSON = "00_fixture"


def _tests(nb) -> list:
    return [c for c in nb.cells if is_test(c)]


def metadata_deleted(nb):
    for cell in _tests(nb):
        del cell.metadata["nbgrader"]
    return nb


def graded_false(nb):
    for cell in _tests(nb):
        cell.metadata["nbgrader"]["grade"] = False
    return nb


def ids_removed(nb):
    nb.nbformat_minor = 4
    for cell in nb.cells:
        cell.pop("id", None)
    return nb


def deleted_and_forged(nb):
    nb.cells = [c for c in nb.cells if not is_test(c)]
    forged = nbformat.v4.new_code_cell("print('✅ all checks passed')")
    forged.metadata["nbgrader"] = {
        "grade": True,
        "grade_id": "forged",
        "points": 100,
        "locked": True,
        "solution": False,
        "schema_version": 3,
        "task": False,
    }
    nb.cells.append(forged)
    return nb


def moved_up_and_renamed(nb):
    tests = _tests(nb)
    nb.cells = tests + [c for c in nb.cells if c not in tests]
    for k, cell in enumerate(tests):
        cell["id"] = f"mine-{k}"
    return nb


EDITS = [metadata_deleted, graded_false, ids_removed, deleted_and_forged, moved_up_and_renamed]


def _write(inbox, students: dict) -> None:
    for student, nb in students.items():
        folder = inbox / student
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{LESSON}.ipynb"
        if nb.nbformat_minor == 4:  # nbformat would add ids back: write the 4.4 file by hand
            path.write_text(nbformat.writes(nb, version=4))
        else:
            nbformat.write(nb, path)


def test_a_resubmission_that_hides_its_tests_is_graded_from_zero(tmp_path):
    course = tmp_path / "course"
    # No cell here waits out the timeout: it only has to be far above a first, loaded import of torch
    # (over 10 s in CI, test_grading_hostile.CELL_TIMEOUT).
    env = {**os.environ, "COURSE_GRADER_TIMEOUT": "60", "COURSE_GRADER_THREADS": "1"}
    grade(course, env, "release", LESSON, source=FIXTURES)
    release = course / "release" / LESSON / f"{LESSON}.ipynb"
    a = Assignment(LESSON, FIXTURES / f"{LESSON}.ipynb", release)
    right = a.solution_code()
    full = sum(a.points().values())
    students = [f"s{k}-{edit.__name__}" for k, edit in enumerate(EDITS)]

    def round_(name: str, notebooks: dict) -> dict:
        inbox = tmp_path / name
        _write(inbox, notebooks)
        grade(course, env, "collect", str(inbox), "--lesson", LESSON, source=FIXTURES)
        grade(course, env, "autograde", LESSON, "--workers", "2", source=FIXTURES)
        scores, manual, book = read_gradebook(gradebook_url(course), LESSON, notebooks)
        assert manual == []
        return scores, book

    hiders = [f"r{k}-{edit.__name__}" for k, edit in enumerate(EDITS)]
    first, book = round_(
        "first",
        {
            **{s: a.submission(right) for s in students},
            **{s: edit(a.submission(right)) for s, edit in zip(hiders, EDITS)},
        },
    )
    assert first == dict.fromkeys(students + hiders, full)
    assert all(set(grades) == set(a.points()) for grades in book.values())  # every check graded

    blank, _ = round_("blank", {s: edit(a.submission({})) for s, edit in zip(students, EDITS)})
    assert blank == dict.fromkeys(students, 0)
