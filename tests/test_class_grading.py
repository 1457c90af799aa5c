"""A class for every lesson, graded into a real PostgreSQL gradebook by parallel workers.

Per lesson: the right answer (full marks), the blank copy (0), every known-wrong
version of every exercise from the catalogue (tests/catalogue.py; exercises of
one lesson are paired so that one submission carries one mistake per exercise),
a notebook that replaces torch.allclose, and one that fakes the checker. Each
score must be exactly what the mistakes cost; each failed check must show its
diagnosis in the autograded notebook and on the student's feedback page, whose
points match the gradebook and which holds no line of a hidden test; no
submission may change.
(Process-level attacks, os._exit, endless loops, memory bombs, deleted test
cells, ..., are graded in test_grading_class.py.)
"""

from __future__ import annotations

import csv
import hashlib
import html
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field

import nbformat
import pytest

from tests import catalogue
from tests.conftest import ROOT, needs_mnist
from tests.postgres import postgres_server
from tests.test_feedback import points, sections, text

pytestmark = [needs_mnist, pytest.mark.slow]
LESSONS = list(catalogue.SOURCES)
WORKERS = 2


@dataclass
class Case:
    student: str
    nb: nbformat.NotebookNode
    score: float
    words: dict[str, list[str]] = field(default_factory=dict)  # test cell id -> diagnosis words


def _checker_name(lesson: str, test_cell: str) -> str:
    nb = nbformat.read(ROOT / "solutions" / f"{lesson}.ipynb", as_version=4)
    source = next(c.source for c in nb.cells if c.get("id") == test_cell)
    return re.search(r"\b(check_\w+)\(", source).group(1)


def build_class(lesson: str) -> list[Case]:
    right = catalogue.solution_code(lesson)
    pts = catalogue.points(lesson)
    full = sum(pts.values())
    by_exercise: dict[str, list[catalogue.Mistake]] = {}
    for m in catalogue.mistakes(lesson):
        by_exercise.setdefault(m.exercise, []).append(m)
    tag = lesson[:2]
    cases = [Case(f"{tag}-correct", catalogue.submission(lesson, right), full),
             Case(f"{tag}-blank", catalogue.submission(lesson, {}), 0)]
    for i in range(max(len(ms) for ms in by_exercise.values())):
        code, lost, words = dict(right), set(), {}
        for exercise, ms in by_exercise.items():
            if i < len(ms):
                code[exercise] = ms[i].source
                test = catalogue.test_cell_of(lesson, exercise)
                lost.add(test)
                words.setdefault(test, []).append(ms[i].words)
        cases.append(Case(f"{tag}-wrong-{i:02d}", catalogue.submission(lesson, code),
                          full - sum(pts[t] for t in lost), words))

    first = next(iter(by_exercise))
    first_test = catalogue.test_cell_of(lesson, first)
    mistake = by_exercise[first][0]
    patched = dict(right)
    patched[first] = "import torch\ntorch.allclose = lambda *args, **kwargs: True\n\n" + right[first]
    cases.append(Case(f"{tag}-torch-patched", catalogue.submission(lesson, patched), 0,
                      {first_test: ["`torch.allclose` was replaced by code in this notebook"]}))
    check = _checker_name(lesson, first_test)
    faked = dict(right)
    faked[first] = (mistake.source + "\n\nimport course_utils.checks as _c\n\n"
                    f"def {check}(*args, **kwargs):\n    print('✅ all good')\n\n_c.{check} = {check}\n")
    cases.append(Case(f"{tag}-checker-faked", catalogue.submission(lesson, faked),
                      full - pts[first_test], {first_test: [mistake.words]}))
    return cases


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course directory with every lesson released, its gradebook on a PostgreSQL server."""
    with postgres_server() as url:
        course = tmp_path_factory.mktemp("class") / "course"
        env = {**os.environ, "COURSE_GRADEBOOK_URL": url}
        grade(course, env, "release")
        yield course, env


def grade(course, env, *step: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(ROOT / "grading" / "grade.py"), "--course", str(course), *step]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    assert proc.returncode == 0, f"{step}: {proc.stdout}\n{proc.stderr}"
    return proc


def _test_output(course, student: str, lesson: str, test_cell: str) -> str:
    path = course / "autograded" / student / lesson / f"{lesson}.ipynb"
    cell = next(c for c in nbformat.read(path, as_version=4).cells if c.get("id") == test_cell)
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", "") if out.output_type == "stream" else "")
        if out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}")
    return "".join(parts)


def test_catalogue_covers_every_exercise():
    for lesson in LESSONS:
        exercises = {m.exercise for m in catalogue.mistakes(lesson)}
        assert exercises == set(catalogue.solution_code(lesson)), lesson
        assert len(build_class(lesson)) >= 8


@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_class_is_graded_right(lesson, course, tmp_path):
    from nbgrader.api import Gradebook

    course, env = course
    cases = build_class(lesson)
    inbox = tmp_path / "inbox"
    for case in cases:
        (inbox / case.student).mkdir(parents=True)
        nbformat.write(case.nb, inbox / case.student / f"{lesson}.ipynb")
    before = {p: _sha(p) for p in inbox.rglob("*.ipynb")}

    grade(course, env, "collect", str(inbox), "--lesson", lesson)
    proc = grade(course, env, "autograde", lesson, "--workers", str(WORKERS))
    print(proc.stdout.strip().splitlines()[-1])  # the timing line, for the log
    grade(course, env, "feedback", lesson, "--workers", str(WORKERS))
    grade(course, env, "export", "--to", str(tmp_path / "grades.csv"))

    with Gradebook(env["COURSE_GRADEBOOK_URL"]) as gb:
        subs = {c.student: gb.find_submission(lesson, c.student) for c in cases}
        scores = {s: sub.score for s, sub in subs.items()}
        manual = [s for s, sub in subs.items() if sub.needs_manual_grade]
        book = {s: {g.name: (g.score, g.max_score) for nb in sub.notebooks for g in nb.grades}
                for s, sub in subs.items()}
    assert scores == {c.student: c.score for c in cases}
    assert manual == []
    hidden = catalogue.hidden_test_lines(lesson)
    for case in cases:
        page = (course / "feedback" / case.student / lesson / f"{lesson}.html").read_text()
        checks = sections(page)
        assert {g: points(f) for g, f in checks.items()} == book[case.student], case.student
        for test_cell, words in case.words.items():
            out = _test_output(course, case.student, lesson, test_cell)
            said = text(checks[test_cell])
            for w in words:
                assert "❌" in out and w in out, (case.student, test_cell, w, out[-600:])
                assert "❌" in said and w in said, (case.student, test_cell, w, said[-600:])
        leaked = [h for h in hidden if h in page or h in html.unescape(page)]
        assert not leaked, (case.student, leaked)
    assert {p: _sha(p) for p in inbox.rglob("*.ipynb")} == before  # no submission changed
    with open(tmp_path / "grades.csv") as f:  # (a row per student and lesson, submitted or not)
        rows = {r["student_id"]: float(r["score"]) for r in csv.DictReader(f) if r["assignment"] == lesson}
    assert {s: rows.get(s) for s in scores} == scores
