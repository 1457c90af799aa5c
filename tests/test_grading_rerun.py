"""Every grading step can be rerun, and a student may resubmit: the gradebook follows the newest file.

A small class of lesson 04 goes through release, collect, autograde, feedback and
export; every step is then run again on the same inbox (nothing may change),
and once more after four students resubmit: a wrong answer mended, a right one
broken into a file that is no notebook, an unreadable file mended, a right
answer made wrong. Scores, problems.json, feedback pages and the CSV must then
describe the new files only, and nothing in an inbox may change.
"""

from __future__ import annotations

import csv
import json
import os

import pytest

from grading import catalogue
from tests.conftest import needs_mnist
from tests.grading_cases import NOT_A_NOTEBOOK, grade, points, sections, sha256s, text

pytestmark = [needs_mnist, pytest.mark.slow, pytest.mark.full]
LESSON = "04_momentum"


def _all_steps(course, inbox, csv_path) -> None:
    for step in (
        ["release", LESSON],
        ["collect", str(inbox)],
        ["autograde", LESSON, "--workers", "2"],
        ["feedback", LESSON, "--workers", "2"],
        ["export", "--to", str(csv_path)],
    ):
        grade(course, {**os.environ, "COURSE_GRADER_TIMEOUT": "60"}, *step, timeout=1800)


def _state(course, csv_path, students) -> dict:
    """What an instructor and the students see: gradebook, problems, pages, CSV."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        subs = {s: gb.find_submission(LESSON, s) for s in students}
        scores = {s: sub.score for s, sub in subs.items()}
        manual = [s for s, sub in subs.items() if sub.needs_manual_grade]
    problems = {
        k: v
        for k, v in json.loads((course / "problems.json").read_text()).items()
        if k.startswith(f"{LESSON}/")
    }
    pages = {s: (course / "feedback" / s / LESSON / f"{LESSON}.html").read_text() for s in students}
    with open(csv_path) as f:
        rows = [(r["student_id"], float(r["score"])) for r in csv.DictReader(f) if r["assignment"] == LESSON]
    return {"scores": scores, "manual": manual, "problems": problems, "pages": pages, "rows": sorted(rows)}


def test_rerun_and_resubmission(tmp_path):
    right = catalogue.solution_code(LESSON)
    exercise = next(iter(right))  # the first exercise; a wrong version costs its check's points
    test_cell = catalogue.test_cell_of(LESSON, exercise)
    full = sum(catalogue.points(LESSON).values())
    cell_full = catalogue.points(LESSON)[test_cell]
    low = full - cell_full  # every check right but that one
    wrong = next(m for m in catalogue.mistakes(LESSON) if m.exercise == exercise)
    good = catalogue.submission(LESSON, right)
    bad = catalogue.submission(LESSON, {**right, exercise: wrong.source})

    first = {"steady": good, "mends": bad, "breaks": good, "recovers": NOT_A_NOTEBOOK, "slips": good}
    second = {"mends": good, "breaks": NOT_A_NOTEBOOK, "recovers": good, "slips": bad}
    students = sorted(first)
    inbox1, inbox2 = tmp_path / "inbox1", tmp_path / "inbox2"
    catalogue.write_inbox(inbox1, LESSON, first)
    catalogue.write_inbox(inbox2, LESSON, second)
    before = {**sha256s(inbox1), **sha256s(inbox2)}
    course, grades = tmp_path / "course", tmp_path / "grades.csv"

    _all_steps(course, inbox1, grades)
    once = _state(course, grades, students)
    expected = {"steady": full, "mends": low, "breaks": full, "recovers": 0, "slips": full}
    assert once["scores"] == expected
    assert once["manual"] == []
    assert list(once["problems"]) == [f"{LESSON}/recovers"]

    _all_steps(course, inbox1, grades)  # the same steps again, on the same files: nothing changes
    twice = _state(course, grades, students)
    assert twice == once
    assert len(twice["rows"]) == len(students)  # one row per student, not one per run

    _all_steps(course, inbox2, grades)  # four students resubmit
    after = _state(course, grades, students)
    expected = {"steady": full, "mends": full, "breaks": 0, "recovers": full, "slips": low}
    assert after["scores"] == expected
    assert after["manual"] == []
    assert list(after["problems"]) == [f"{LESSON}/breaks"]
    assert after["rows"] == sorted(expected.items())
    for student, score in expected.items():
        page = after["pages"][student]
        check = sections(page)[test_cell]
        assert points(check) == (cell_full if score == full else 0, cell_full), student
        assert points(page.split('<section class="check', 1)[0]) == (score, full), student
    assert "not a readable notebook" in text(after["pages"]["breaks"])
    assert "✅" not in sections(after["pages"]["breaks"])[test_cell]  # not the old, passing run
    assert "not a readable notebook" not in text(after["pages"]["recovers"])
    assert "❌" in sections(after["pages"]["slips"])[test_cell]
    assert wrong.words in text(sections(after["pages"]["slips"])[test_cell])
    assert "✅" in sections(after["pages"]["mends"])[test_cell]
    assert after["pages"]["steady"] == once["pages"]["steady"]
    assert {**sha256s(inbox1), **sha256s(inbox2)} == before  # no submission changed
