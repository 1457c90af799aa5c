"""Feedback pages (grading/feedback.py): the checkers' diagnoses and the gradebook's points, no hidden test.

The slow test grades a class of the fixture assignment (tests/fixtures/00_fixture.ipynb:
lesson 01's softmax and cross-entropy, no MNIST) — correct, blank, lesson 01's first
known-wrong pair, a timeout, a kernel death, an unreadable file — with grading/grade.py,
and reads every page it hands back. test_class_grading.py checks the pages of every
known-wrong version of every lesson.
The fast ones feed the page builder a hand-made autograded notebook.
"""

from __future__ import annotations

import html
import os
import re
import time
from pathlib import Path

import nbformat
import pytest

from grading import catalogue, feedback
from grading.catalogue import add_cell, edited
from tests.conftest import ROOT
from tests.grading_cases import NOT_A_NOTEBOOK, Assignment, grade, points, sections, text

MISTAKES_OF = "01_task_and_loss"  # the lesson whose known-wrong answers the class hands in
LESSON = "00_fixture"  # graded on the fixture: the same exercises, a few seconds a submission
FIXTURES = ROOT / "tests" / "fixtures"

SCREENSHOT = ROOT / "build" / "screenshots" / "feedback_example.png"


@pytest.mark.slow
@pytest.mark.full  # the pages of every fast-tier case are checked in test_grading_hostile.py
def test_a_class_gets_feedback_that_names_mistakes_and_hides_the_tests(tmp_path):
    from nbgrader.api import Gradebook

    # Every known-wrong version of every lesson gets its page checked in test_class_grading.py;
    # here: one pair of them (for the screenshot), the special cases, and the page's layout.
    course = tmp_path / "course"
    # Per cell: a first import of torch on a loaded 2-core machine took over 10 s in CI (see
    # test_grading_hostile.CELL_TIMEOUT); a cut setup cell would turn a diagnosis into a NameError,
    # so only the endless loop may be cut.
    env = {**os.environ, "COURSE_GRADER_TIMEOUT": "30"}
    grade(course, env, "release", LESSON, source=FIXTURES)
    fixture = Assignment(LESSON, FIXTURES / f"{LESSON}.ipynb", course / "release_copies" / f"{LESSON}.ipynb")
    first = {m.exercise: m for m in reversed(catalogue.mistakes(MISTAKES_OF))}
    right = fixture.solution_code()
    ce = right["cross_entropy"]

    def submission(**code):
        return fixture.submission({**right, **code})

    students: dict[str, object] = {
        "correct": submission(),
        "blank": fixture.submission({}),
        "wrong00": submission(softmax=first["softmax"].source, cross_entropy=first["cross_entropy"].source),
        # (it stops its kernel after the last check, to save time)
        "timeout": edited(
            submission(cross_entropy="while True:\n    pass\n" + ce),
            add_cell("import os\nos._exit(0)", after="cross_entropy_check"),
        ),
        "kernel_died": submission(cross_entropy="import os\nos._exit(1)\n" + ce),
        "not_a_notebook": NOT_A_NOTEBOOK,
    }
    words = {
        "wrong00": {
            "softmax_check": (first["softmax"].label, first["softmax"].words),
            "cross_entropy_check": (first["cross_entropy"].label, first["cross_entropy"].words),
        }
    }
    inbox = tmp_path / "inbox"
    catalogue.write_inbox(inbox, LESSON, students)

    t0 = time.perf_counter()
    for step in (
        ["collect", str(inbox)],
        ["autograde", LESSON, "--workers", "2"],
        ["feedback", LESSON, "--workers", "2"],
    ):
        grade(course, env, *step, source=FIXTURES, timeout=1800)
    print(f"graded and wrote feedback for {len(students)} students in {time.perf_counter() - t0:.0f} s")

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        book = {
            s: {
                g.name: (g.score, g.max_score)
                for nb in gb.find_submission(LESSON, s).notebooks
                for g in nb.grades
            }
            for s in students
        }
    totals = {s: sum(score for score, _ in grades.values()) for s, grades in book.items()}
    assert {s: totals[s] for s in ("correct", "blank", "timeout", "kernel_died", "not_a_notebook")} == {
        "correct": 5,
        "blank": 0,
        "timeout": 2,
        "kernel_died": 2,
        "not_a_notebook": 0,
    }

    pages = {s: (course / "feedback" / s / LESSON / f"{LESSON}.html").read_text() for s in students}
    for student, page in pages.items():
        checks = sections(page)
        assert set(checks) == set(book[student]) == {"softmax_check", "cross_entropy_check"}, student
        for grade_id, fragment in checks.items():
            assert points(fragment) == book[student][grade_id], (student, grade_id)
        summary = page.split('<section class="check', 1)[0]
        assert points(summary) == (totals[student], 5), student
        assert "Traceback" not in page and "check_softmax(" not in page  # neither traceback nor source

    for student, expected in words.items():
        checks = sections(pages[student])
        for grade_id, (mistake, said) in expected.items():
            assert "❌" in checks[grade_id] and "Not right yet" in text(checks[grade_id]), (student, mistake)
            if said:
                assert said in text(checks[grade_id]), (student, mistake, said, text(checks[grade_id]))
    assert all(text(f).count("Passed.") == 1 for f in sections(pages["correct"]).values())
    assert all("not attempted yet" in text(f).lower() for f in sections(pages["blank"]).values())
    timeout, died = text(pages["timeout"]), text(pages["kernel_died"])
    assert re.search(
        r"cell `cross_entropy`[^⚠]*?ran longer than the time limit[^⚠]*This cost 3 points", timeout
    )
    assert re.search(
        r"kernel died while running your exercise cell `cross_entropy`[^⚠]*This cost 3 points", died
    )
    assert "Not run" in text(sections(pages["kernel_died"])["cross_entropy_check"])
    assert "not a readable notebook" in text(pages["not_a_notebook"])
    assert re.search(
        r"kernel died while running the code cell that starts with `import os`[^⚠]*"
        r"It cost no points",
        timeout,
    )

    # Nothing handed back holds a line of a hidden test; the instructor's autograded copy does.
    hidden = fixture.hidden_test_lines()
    assert len(hidden) >= 3  # the two checks' hidden calls and their shared import line
    handed_back = [p for p in (course / "feedback").rglob("*") if p.is_file()]
    assert len(handed_back) == len(students)
    for path in handed_back:
        content = path.read_text(errors="replace")
        found = [h for h in hidden if h in content or h in html.unescape(content)]
        assert not found, (path, found)
    autograded = nbformat.read(course / "autograded" / "correct" / LESSON / f"{LESSON}.ipynb", as_version=4)
    assert all(line in "\n".join(c.source for c in autograded.cells) for line in hidden)

    from tests.browser import chromium_page

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    with chromium_page(width=1000, height=700) as page:
        page.goto((course / "feedback" / "wrong00" / LESSON / f"{LESSON}.html").as_uri())
        assert "0 / 5 points" in page.inner_text(".summary")
        page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 10_000


# --------------------------------------------------------------------------- #
# The page builder on hand-made notebooks (fast)
# --------------------------------------------------------------------------- #

SECRET = "assert exercise(7) == 49  # secret seed 4321"


def _cell(kind: str, source: str, cell_id: str, **nbgrader) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_markdown_cell(source) if kind == "md" else nbformat.v4.new_code_cell(source)
    cell["id"] = cell_id
    if nbgrader:
        cell.metadata["nbgrader"] = {
            "grade_id": cell_id,
            "schema_version": 3,
            "locked": False,
            "solution": False,
            "grade": False,
            **nbgrader,
        }
    return cell


def _error(ename: str, evalue: str, traceback: list[str] | None = None) -> dict:
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=traceback or [])


def _tiny_course(tmp_path: Path) -> Path:
    """A two-exercise lesson: source (with a hidden test), release, and one autograded notebook."""
    cells = [
        _cell("md", "# Tiny lesson", "title"),
        _cell("md", "## Squares", "h1"),
        _cell("code", "def exercise(x):\n    return x * x", "exercise", solution=True),
        _cell(
            "code",
            f"check(exercise)\n### BEGIN HIDDEN TESTS\n{SECRET}\n### END HIDDEN TESTS",
            "exercise_check",
            grade=True,
            locked=True,
            points=2,
        ),
        _cell("md", "## Cubes", "h2"),
        _cell("code", "def cube(x):\n    return x ** 3", "cube", solution=True),
        _cell("code", "check(cube)", "cube_check", grade=True, locked=True, points=3),
    ]
    course = tmp_path / "course"
    for folder in ("source", "release"):
        (course / folder / "tiny").mkdir(parents=True)
        nb = nbformat.v4.new_notebook(cells=cells)
        if folder == "release":
            nb = nbformat.from_dict(nb)
            nb.cells[3].source = "check(exercise)"
        nbformat.write(nb, course / folder / "tiny" / "tiny.ipynb")
    return course


def _autograded(course: Path, student: str, outputs: dict[str, list]) -> None:
    nb = nbformat.read(course / "source" / "tiny" / "tiny.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = outputs.get(cell.id, [])
    (course / "autograded" / student / "tiny").mkdir(parents=True)
    nbformat.write(nb, course / "autograded" / student / "tiny" / "tiny.ipynb")


def test_an_unstoppable_cell_is_named_with_its_cost_and_secrets_are_dropped(tmp_path):
    course = _tiny_course(tmp_path)
    _autograded(
        course,
        "ann",
        {
            "exercise_check": [
                nbformat.v4.new_output("stream", name="stdout", text=f"❌ exercise: off by one\n{SECRET}\n"),
                _error("AssertionError", f"exercise: off by one\n{SECRET}", ["Traceback: " + SECRET]),
            ],
            "cube": [
                _error("CellTimeout", "This cell ran longer than 20 s and did not stop when interrupted")
            ],
            "cube_check": [_error("NotRun", "This cell was not run: cell 5 (cube) timed out.")],
        },
    )
    scores = {"exercise_check": (0.0, 2.0), "cube_check": (0.0, 3.0)}
    r = feedback.report(course, "tiny", "ann", scores, None)
    page = feedback.render(r)
    assert SECRET not in page and html.escape(SECRET) not in page and "Traceback" not in page
    assert "off by one" in page
    assert [c.status for c in r.checks] == ["failed", "not run"]
    ((kind, said),) = r.alerts
    assert kind == "alert"
    assert "Your exercise cell `cube` in section “Cubes” ran longer than 20 s" in said
    assert "This cost 3 points: `cube_check` 0/3" in said


def test_a_page_that_would_leak_is_not_written(tmp_path, monkeypatch):
    course = _tiny_course(tmp_path)
    _autograded(course, "bob", {})
    (course / "feedback" / "bob" / "tiny").mkdir(parents=True)
    (course / "feedback" / "bob" / "tiny" / "tiny.html").write_text(f"nbgrader's old page: {SECRET}")
    monkeypatch.setattr(feedback, "scrub", lambda text, hidden: text)  # the first guard fails
    monkeypatch.setattr(feedback, "_printed", lambda cell: SECRET)
    error = feedback._write_page((course, "tiny", "bob", {}, None))[4]
    assert "hidden-test" in error
    assert not (course / "feedback" / "bob").joinpath("tiny").exists()  # nbgrader's old page is gone too
    monkeypatch.undo()
    assert feedback._write_page((course, "tiny", "bob", {}, None))[4] is None
    assert SECRET not in (course / "feedback" / "bob" / "tiny" / "tiny.html").read_text()
