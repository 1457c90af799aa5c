"""A class for every lesson, autograded by parallel workers (the slow tier, `make test-full`).

Per lesson: the right answer (full marks); the blank copy (0); every known-wrong
version of every exercise from the catalogue (grading/catalogue.py; the exercises
of one lesson are paired, so one submission carries one mistake per exercise);
and the broken submissions that move the lesson's own cells: a test cell deleted
or moved up, an exercise deleted, plus a file that is no notebook (built by
tests/grading_cases.py). Emptied tests, a moved exercise, a faked checker, edited
points, faked outputs, and every broken or hostile submission whose handling does
not depend on the lesson (an exception, sys.exit, os._exit, a crash, an endless
loop, a syntax error, a missing package, a memory bomb, enormous output, writes
and deletes outside its folder, a kernel it names itself, a patched torch, a
replaced module, replaced builtins and AssertionError) are graded on the fixture
assignment in the fast tier (test_grading_hostile.py): each would cost a whole
lesson run here and prove nothing more.

Each score must be exactly what the mistakes cost; each failed check must show
its diagnosis in the autograded notebook and on the student's feedback page,
whose points match the gradebook and which holds no line of a hidden test; no
submission may change; nothing outside the grading folder may change; the CSV
export must agree. Odd lessons are graded into nbgrader's SQLite gradebook, even
ones into a PostgreSQL server (Debian's, started by tools/postgres.py).
"""

from __future__ import annotations

import json
import os

import nbformat
import pytest

from grading import catalogue
from tests.conftest import ROOT, needs_mnist
from tests.grading_cases import (
    Assignment,
    Case,
    Mistakes,
    assert_feedback,
    csv_scores,
    grade,
    hostile,
    outputs,
    read_gradebook,
    sha256s,
)
from tools.postgres import postgres_server

pytestmark = [needs_mnist, pytest.mark.slow, pytest.mark.full]
LESSONS = list(catalogue.SOURCES)
WORKERS = 2
CELL_TIMEOUT = 60  # s: 6x the slowest solution cell (10 s); no case here waits it out


def mistake_sets(lesson: str) -> list[Mistakes]:
    """Every known-wrong version, paired across a lesson's exercises: set i holds each one's i-th."""
    by_exercise: dict[str, list[catalogue.Mistake]] = {}
    for m in catalogue.mistakes(lesson):
        by_exercise.setdefault(m.exercise, []).append(m)
    sets = []
    for i in range(max(len(ms) for ms in by_exercise.values())):
        ms = Mistakes()
        for exercise, found in by_exercise.items():
            if i < len(found):
                test = catalogue.test_cell_of(lesson, exercise)
                ms.code[exercise] = found[i].source
                ms.lost.add(test)
                ms.words.setdefault(test, []).append(found[i].words)
        sets.append(ms)
    return sets


def _hostile(lesson: str, outside, carried: list[Mistakes] = ()) -> list[Case]:
    """The broken and hostile cases (tests/grading_cases.py), built on the lesson's first known mistake."""
    a = Assignment.lesson(lesson)
    first = next(iter(a.solution_code()))
    wrong = next(m for m in catalogue.mistakes(lesson) if m.exercise == first)
    return hostile(a, outside, wrong, carried)


def lesson01_extras() -> list[Case]:
    """One that needs a lesson's own code: answers hard-coded for the visible test's inputs."""
    lesson = "01_task_and_loss"
    right = catalogue.solution_code(lesson)
    visible_only = right["cross_entropy"].replace(  # right only for the visible test's batch sizes
        '    """Mean over',
        '    if len(targets) not in (8, 1, 100, 5, 3, 6):\n        return logits.sum() * 0\n    """Mean over',
    )
    assert visible_only != right["cross_entropy"]
    return [
        Case(
            "01-visible-tests-only",
            catalogue.submission(lesson, {**right, "cross_entropy": visible_only}),
            2,
            {"cross_entropy_check": ["❌ cross_entropy"]},
        ),
    ]


# The cases of tests/grading_cases.py whose score depends on where the lesson's exercises and
# tests are (the rest are graded on the fixture assignment, in the fast tier).
LAYOUT_CASES = ("test-deleted", "test-moved-up", "exercise-deleted", "not-a-notebook")


# Lessons whose class grades only their first mistake sets: every known mistake still runs through
# its checker in tests/test_checks_lessonNN.py (milliseconds); a whole-lesson submission per
# mistake proves nothing more, and costs a lesson run each in CI.
CLASS_MISTAKE_SETS = {"07_schedules": 3}


def build_class(lesson: str, outside) -> list[Case]:
    """The right answer, the blank copy, the mistake sets and the layout cases, for `lesson`."""
    right = catalogue.solution_code(lesson)
    pts = catalogue.points(lesson)
    tag = lesson[:2]
    extras = lesson01_extras() if lesson == "01_task_and_loss" else []
    sets = mistake_sets(lesson)[: CLASS_MISTAKE_SETS.get(lesson)]
    cases = [
        Case(f"{tag}-correct", catalogue.submission(lesson, right), sum(pts.values())),
        Case(f"{tag}-blank", catalogue.submission(lesson, {}), 0),
    ]
    for i, ms in enumerate(sets):
        cases.append(
            Case(
                f"{tag}-wrong-{i:02d}",
                catalogue.submission(lesson, {**right, **ms.code}),
                sum(pts.values()) - sum(pts[t] for t in ms.lost),
                ms.words,
            )
        )
    layout = [c for c in _hostile(lesson, outside) if c.student.split("-", 1)[1] in LAYOUT_CASES]
    assert len(layout) == len(LAYOUT_CASES), [c.student for c in layout]
    return cases + layout + extras


@pytest.fixture(scope="module")
def courses(tmp_path_factory):
    """Two course directories: gradebook in SQLite, and in PostgreSQL."""
    base = {**os.environ, "COURSE_GRADER_TIMEOUT": str(CELL_TIMEOUT)}
    with postgres_server() as url:
        yield {
            db: (tmp_path_factory.mktemp(db) / "course", env)
            for db, env in (("sqlite", base), ("postgresql", {**base, "COURSE_GRADEBOOK_URL": url}))
        }


def test_every_lesson_has_a_class():
    for lesson in LESSONS:
        cases = build_class(lesson, ROOT / "nowhere")
        sets = len(mistake_sets(lesson)[: CLASS_MISTAKE_SETS.get(lesson)])
        assert len(cases) >= 2 + sets + len(LAYOUT_CASES), (lesson, len(cases))
        assert len({c.student for c in cases}) == len(cases)
        exercises = {m.exercise for m in catalogue.mistakes(lesson)}
        assert exercises == set(catalogue.solution_code(lesson)), lesson


@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_class_is_graded_right(lesson, courses, tmp_path):
    db = "sqlite" if int(lesson[:2]) % 2 else "postgresql"
    course, env = courses[db]
    outside = tmp_path / "precious.txt"
    outside.write_text("must survive")
    hacked = ROOT / f"HACKED-{lesson[:2]}.txt"
    cases = build_class(lesson, outside)
    inbox = tmp_path / "inbox"
    catalogue.write_inbox(inbox, lesson, {c.student: c.nb for c in cases})
    before = sha256s(inbox)

    grade(course, env, "release", lesson)
    grade(course, env, "collect", str(inbox), "--lesson", lesson)
    proc = grade(course, env, "autograde", lesson, "--workers", str(WORKERS))
    print(db, proc.stdout.strip().splitlines()[-1])  # the timing line, for the log
    grade(course, env, "feedback", lesson, "--workers", str(WORKERS))
    grade(course, env, "export", "--to", str(tmp_path / "grades.csv"))

    url = env.get("COURSE_GRADEBOOK_URL") or f"sqlite:///{course / 'gradebook.db'}"
    scores, manual, book = read_gradebook(url, lesson, [c.student for c in cases])
    assert scores == {c.student: c.score for c in cases}
    assert manual == []  # every score is final: nothing waits for a human
    pts = catalogue.points(lesson)
    assert all({g: m for g, (_, m) in b.items()} == pts for b in book.values())  # points as released

    hidden = catalogue.hidden_test_lines(lesson)
    for case in cases:  # points as in the gradebook, no hidden test, its diagnoses, its checks not run
        assert_feedback(course, lesson, case, book[case.student], hidden)

    # The blank copy: only its checks fail, each because the exercise is not written yet.
    blank = outputs(course, f"{lesson[:2]}-blank", lesson)
    graded = nbformat.read(
        course / "autograded" / f"{lesson[:2]}-blank" / lesson / f"{lesson}.ipynb", as_version=4
    )
    errors = {c.id for c in graded.cells for o in c.get("outputs", []) if o.output_type == "error"}
    exercise_checks = {catalogue.test_cell_of(lesson, e) for e in catalogue.solution_code(lesson)}
    assert exercise_checks <= errors <= set(pts), (lesson, errors)
    assert all("NotImplementedError" in blank[t] for t in errors), lesson

    assert sha256s(inbox) == before  # no submission changed
    assert outside.read_text() == "must survive" and not hacked.exists()  # nothing outside changed
    problems = json.loads((course / "problems.json").read_text())
    assert "not a readable notebook" in problems[f"{lesson}/{lesson[:2]}-not-a-notebook"]
    assert not [k for k in problems if k.startswith(f"{lesson}/") and not k.endswith("not-a-notebook")]
    rows = csv_scores(tmp_path / "grades.csv", lesson)  # (a row per student and lesson, submitted or not)
    assert {s: rows.get(s) for s in scores} == scores
