"""A class of 30 or more submissions for every lesson, autograded by parallel workers.

Per lesson: the right answer (full marks); the blank copy (0); every known-wrong
version of every exercise from the catalogue (tests/catalogue.py; the exercises
of one lesson are paired, so one submission carries one mistake per exercise);
and every broken or hostile submission an instructor meets: an exception,
sys.exit, os._exit, a crash, an endless loop, a syntax error, a missing
package, a memory bomb, enormous output, writes and deletes outside its folder
(also from a kernel it names itself), test cells emptied, deleted or moved, an
exercise moved or deleted, a faked checker, a patched torch, a replaced module,
replaced builtins and AssertionError, edited points, faked outputs, a file
that is no notebook.

Each score must be exactly what the mistakes cost; each failed check must show
its diagnosis in the autograded notebook and on the student's feedback page,
whose points match the gradebook and which holds no line of a hidden test; no
submission may change; nothing outside the grading folder may change; the CSV
export must agree. Odd lessons are graded into nbgrader's SQLite gradebook, even
ones into a PostgreSQL server (Debian's, started by tests/postgres.py).
"""

from __future__ import annotations

import csv
import hashlib
import html
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field

import nbformat
import pytest

from grading import catalogue
from grading.catalogue import add_cell, edited, move, set_cell
from tests.conftest import ROOT, needs_mnist
from tests.test_feedback import points, sections, text
from tools.postgres import postgres_server

pytestmark = [needs_mnist, pytest.mark.slow, pytest.mark.full]
LESSONS = list(catalogue.SOURCES)
WORKERS = 2
CELL_TIMEOUT = 60  # s: an endless loop costs this much; the slowest solution cell takes 10 s
NOT_A_NOTEBOOK = b'{"cells": [ this is not json'


@dataclass
class Case:
    student: str
    nb: nbformat.NotebookNode | bytes
    score: float
    words: dict[str, list[str]] = field(default_factory=dict)  # test cell -> its ❌ diagnosis says these
    stopped: list[str] = field(default_factory=list)  # test cells that must be reported as not run


@dataclass
class Mistakes:
    """One known-wrong version for some exercises of a lesson, and what they must cost."""
    code: dict[str, str] = field(default_factory=dict)  # exercise -> its wrong code
    lost: set[str] = field(default_factory=set)  # test cells that fail
    words: dict[str, list[str]] = field(default_factory=dict)  # test cell -> its diagnosis says these


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


def _checker_name(lesson: str, test_cell: str) -> str:
    nb = nbformat.read(ROOT / "solutions" / f"{lesson}.ipynb", as_version=4)
    source = next(c.source for c in nb.cells if c.get("id") == test_cell)
    return re.search(r"\b(check_\w+)\(", source).group(1)


def _order(lesson: str) -> list[str]:
    return [c.get("id") for c in nbformat.read(ROOT / "solutions" / f"{lesson}.ipynb", as_version=4).cells]


CARRIERS = ("raises-elsewhere", "sys-exit", "endless-loop", "memory-bomb", "huge-output",
            "writes-outside", "kernel-changed", "test-moved-up", "exercise-moved-down")


def hostile(lesson: str, outside, carried: list[Mistakes] = ()) -> list[Case]:
    """Broken and hostile submissions, each built on the right answer or on one known mistake.

    The cases in CARRIERS, which do not touch the code the checks run, can each carry a set of
    known mistakes instead of the right answer: they then lose exactly what those mistakes cost.
    """
    right = catalogue.solution_code(lesson)
    pts = catalogue.points(lesson)
    full = sum(pts.values())
    carry = dict(zip(CARRIERS, carried))
    order = _order(lesson)
    exercises = list(right)
    first, last = exercises[0], exercises[-1]
    t1 = catalogue.test_cell_of(lesson, first)
    m1 = next(m for m in catalogue.mistakes(lesson) if m.exercise == first)
    wrong1 = {**right, first: m1.source}
    lose1 = full - pts[t1]

    def before(cell: str) -> float:  # the points of the checks that run before `cell`
        return sum(p for t, p in pts.items() if order.index(t) < order.index(cell))

    def after(cell: str) -> list[str]:
        return [t for t in pts if order.index(t) > order.index(cell)]

    def sub(code: dict[str, str], *edits) -> nbformat.NotebookNode:
        return edited(catalogue.submission(lesson, code), *edits)

    def own_cell(source: str):  # a cell of the student's own after the first check
        return add_cell(source, after=t1)

    def base(name: str) -> dict[str, str]:  # the right answer, or the mistakes this case carries
        return {**right, **carry[name].code} if name in carry else right

    hack = str(ROOT / f"HACKED-{lesson[:2]}.txt")
    vandal = ("import os\n\n"
              f"for attempt in (lambda: os.remove({str(outside)!r}),\n"
              f"                lambda: open({hack!r}, 'w').write('x')):\n"
              "    try:\n        attempt()\n    except OSError as err:\n        print('refused:', err)\n")
    other_kernel = sub(base("kernel-changed"), own_cell(vandal))
    other_kernel.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                           "language": "python"}
    replaced = "was replaced by code in this notebook"
    check = _checker_name(lesson, t1)
    outputs_faked = sub({})
    for cell in outputs_faked.cells:
        if cell.get("id") in pts:
            cell.execution_count = 1
            cell.outputs = [nbformat.v4.new_output("stream", text=f"✅ {cell.id}: all checks passed\n")]
    points_edited = sub(wrong1)
    next(c for c in points_edited.cells if c.get("id") == t1).metadata["nbgrader"]["points"] = 100

    tag = lesson[:2]
    cases = [
        ("raises-elsewhere", sub(base("raises-elsewhere"),
                                 own_cell("raise ValueError('a bug in a cell of my own')")), full),
        ("sys-exit", sub(base("sys-exit"), own_cell("import sys\nsys.exit(0)")), full),
        ("os-exit", sub({**right, last: "import os\nos._exit(1)\n\n" + right[last]}), before(last),
         {}, after(last)),
        ("segfault", sub({**right, first: "import ctypes\nctypes.string_at(0)\n\n" + right[first]}),
         before(first), {}, after(first)),
        ("endless-loop", sub(base("endless-loop"),
                             own_cell("import time\nwhile True:\n    time.sleep(0.5)")), full),
        ("memory-bomb", sub(base("memory-bomb"), own_cell("hoard = bytearray(64 * 1024**3)")), full),
        ("huge-output", sub(base("huge-output"),
                            own_cell("for i in range(100_000):\n    print('spam', i)")), full),
        ("writes-outside", sub(base("writes-outside"), own_cell(vandal)), full),
        ("kernel-changed", other_kernel, full),
        ("test-emptied", sub(wrong1, set_cell(t1, "pass")), lose1, {t1: [m1.words]}),
        ("test-deleted", sub(wrong1, set_cell(t1, None)), lose1, {t1: [m1.words]}),
        ("test-moved-up", sub(base("test-moved-up"), move(t1, before=first)), full),
        ("exercise-moved-down", sub(base("exercise-moved-down"), move(first, after=t1)), full),
        ("exercise-deleted", sub(right, set_cell(first, None)), lose1,
         {t1: [f"name '{first}' is not defined"]}),
        ("syntax-error", sub({**right, first: right[first].replace("def ", "def def ", 1)}), lose1,
         {t1: [f"name '{first}' is not defined"]}),
        ("missing-package", sub({**right, first: "import tensorflow_addons\n\n" + right[first]}), lose1,
         {t1: [f"name '{first}' is not defined"]}),
        ("checker-faked", sub({**wrong1, first: m1.source + (
            f"\n\nimport course_utils.checks as _c\n\ndef {check}(*args, **kwargs):\n"
            f"    print('✅ all good')\n\n_c.{check} = {check}\n")}), lose1, {t1: [m1.words]}),
        ("torch-patched", sub({**right, first: "import torch\ntorch.allclose = lambda *a, **k: True\n\n"
                               + right[first]}), before(first), {t1: [f"`torch.allclose` {replaced}"]}),
        ("module-replaced", sub({**wrong1, first: m1.source + (
            "\n\nimport sys, types\n_fake = types.ModuleType('course_utils.checks')\n"
            f"_fake.{check} = lambda *a, **k: print('✅ fine')\n"
            "sys.modules['course_utils.checks'] = _fake\n")}), before(first),
         {t1: [f"the module `course_utils.checks` {replaced}"]}),
        ("builtins-replaced", sub({**right, first: right[first] + "\n\nimport builtins\n"
                                   "builtins.abs = lambda x: x\n"}), before(first),
         {t1: [f"`builtins.abs` {replaced}"]}),
        ("assert-redefined", sub({**wrong1, first: m1.source + (
            "\n\nimport builtins\n\nclass AssertionError(Exception):\n    pass\n\n"
            "builtins.AssertionError = AssertionError\n")}), before(first),
         {t1: [f"`builtins.AssertionError` {replaced}"]}),
        ("points-edited", points_edited, lose1, {t1: [m1.words]}),
        ("outputs-faked", outputs_faked, 0),
        ("not-a-notebook", NOT_A_NOTEBOOK, 0),
    ]
    found = []
    for name, nb, score, *rest in cases:
        case = Case(f"{tag}-{name}", nb, score, *rest)
        if name in carry:
            case.score -= sum(pts[t] for t in carry[name].lost)
            case.words = {**carry[name].words}
        found.append(case)
    return found


def lesson01_extras() -> list[Case]:
    """Two that need a lesson's own code: a loop that ignores the interrupt, and hard-coded answers."""
    lesson = "01_task_and_loss"
    right = catalogue.solution_code(lesson)
    ignore_sigint = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass\n\n"
    visible_only = right["cross_entropy"].replace(  # right only for the visible test's batch sizes
        '    """Mean over', '    if len(targets) not in (8, 1, 100, 5, 3, 6):\n'
        '        return logits.sum() * 0\n    """Mean over')
    assert visible_only != right["cross_entropy"]
    return [
        Case("01-sigint-ignored", catalogue.submission(lesson, {**right, "cross_entropy": ignore_sigint
                                                                + right["cross_entropy"]}), 2,
             {}, ["cross_entropy_check"]),
        Case("01-visible-tests-only", catalogue.submission(lesson, {**right, "cross_entropy": visible_only}),
             2, {"cross_entropy_check": ["❌ cross_entropy"]}),
    ]


def build_class(lesson: str, outside, size: int = 30) -> list[Case]:
    """The right answer, the blank copy, every mistake set and every hostile case, for `lesson`.

    Hostile cases carry as many mistake sets as keep the class at `size` or more: each
    known-wrong version is still graded once, in fewer notebooks.
    """
    right = catalogue.solution_code(lesson)
    pts = catalogue.points(lesson)
    tag = lesson[:2]
    extras = lesson01_extras() if lesson == "01_task_and_loss" else []
    sets = mistake_sets(lesson)
    n_hostile = len(hostile(lesson, outside))
    fold = max(0, min(len(CARRIERS), 2 + len(sets) + n_hostile + len(extras) - size))
    cases = [Case(f"{tag}-correct", catalogue.submission(lesson, right), sum(pts.values())),
             Case(f"{tag}-blank", catalogue.submission(lesson, {}), 0)]
    for i, ms in enumerate(sets[fold:], start=fold):
        cases.append(Case(f"{tag}-wrong-{i:02d}", catalogue.submission(lesson, {**right, **ms.code}),
                          sum(pts.values()) - sum(pts[t] for t in ms.lost), ms.words))
    return cases + hostile(lesson, outside, sets[:fold]) + extras


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def courses(tmp_path_factory):
    """Two course directories: gradebook in SQLite, and in PostgreSQL."""
    base = {**os.environ, "COURSE_GRADER_TIMEOUT": str(CELL_TIMEOUT)}
    with postgres_server() as url:
        yield {db: (tmp_path_factory.mktemp(db) / "course", env)
               for db, env in (("sqlite", base), ("postgresql", {**base, "COURSE_GRADEBOOK_URL": url}))}


def grade(course, env, *step: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(ROOT / "grading" / "grade.py"), "--course", str(course), *step]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    assert proc.returncode == 0, f"{step}: {proc.stdout}\n{proc.stderr}"
    return proc


def _outputs(course, student: str, lesson: str) -> dict[str, str]:
    """Cell id -> all it printed and raised, in the autograded notebook."""
    path = course / "autograded" / student / lesson / f"{lesson}.ipynb"
    found = {}
    for cell in nbformat.read(path, as_version=4).cells:
        parts = []
        for out in cell.get("outputs", []):
            parts.append(out.get("text", "") if out.output_type == "stream" else "")
            if out.output_type == "error":
                parts.append(f"{out.ename}: {out.evalue}")
        found[cell.get("id")] = "".join(parts)
    return found


def test_every_lesson_has_a_class_of_30():
    for lesson in LESSONS:
        cases = build_class(lesson, ROOT / "nowhere")
        assert len(cases) >= 30, (lesson, len(cases))
        assert len({c.student for c in cases}) == len(cases)
        exercises = {m.exercise for m in catalogue.mistakes(lesson)}
        assert exercises == set(catalogue.solution_code(lesson)), lesson


@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_class_is_graded_right(lesson, courses, tmp_path):
    from nbgrader.api import Gradebook

    db = "sqlite" if int(lesson[:2]) % 2 else "postgresql"
    course, env = courses[db]
    outside = tmp_path / "precious.txt"
    outside.write_text("must survive")
    hacked = ROOT / f"HACKED-{lesson[:2]}.txt"
    cases = build_class(lesson, outside)
    inbox = tmp_path / "inbox"
    catalogue.write_inbox(inbox, lesson, {c.student: c.nb for c in cases})
    before = {p: _sha(p) for p in inbox.rglob("*.ipynb")}

    grade(course, env, "release", lesson)
    grade(course, env, "collect", str(inbox), "--lesson", lesson)
    proc = grade(course, env, "autograde", lesson, "--workers", str(WORKERS))
    print(db, proc.stdout.strip().splitlines()[-1])  # the timing line, for the log
    grade(course, env, "feedback", lesson, "--workers", str(WORKERS))
    grade(course, env, "export", "--to", str(tmp_path / "grades.csv"))

    url = env.get("COURSE_GRADEBOOK_URL") or f"sqlite:///{course / 'gradebook.db'}"
    with Gradebook(url) as gb:
        subs = {c.student: gb.find_submission(lesson, c.student) for c in cases}
        scores = {s: sub.score for s, sub in subs.items()}
        manual = [s for s, sub in subs.items() if sub.needs_manual_grade]
        book = {s: {g.name: (g.score, g.max_score) for nb in sub.notebooks for g in nb.grades}
                for s, sub in subs.items()}
    assert scores == {c.student: c.score for c in cases}
    assert manual == []  # every score is final: nothing waits for a human
    pts = catalogue.points(lesson)
    assert all({g: m for g, (_, m) in b.items()} == pts for b in book.values())  # points as released

    hidden = catalogue.hidden_test_lines(lesson)
    for case in cases:
        page = (course / "feedback" / case.student / lesson / f"{lesson}.html").read_text()
        checks = sections(page)
        assert {g: points(f) for g, f in checks.items()} == book[case.student], case.student
        leaked = [h for h in hidden if h in page or h in html.unescape(page)]
        assert not leaked, (case.student, leaked)
        if isinstance(case.nb, bytes):
            continue
        out = _outputs(course, case.student, lesson)
        for test_cell, words in case.words.items():
            said = text(checks[test_cell])
            for w in words:
                assert w in out[test_cell], (case.student, test_cell, w, out[test_cell][-600:])
                assert "❌" in said and w in said, (case.student, test_cell, w, said[-600:])
        for test_cell in case.stopped:
            assert "not run" in out[test_cell], (case.student, test_cell, out[test_cell][-300:])
            assert "⛔" in checks[test_cell], (case.student, test_cell)

    # The blank copy: only its checks fail, each because the exercise is not written yet.
    blank = _outputs(course, f"{lesson[:2]}-blank", lesson)
    graded = nbformat.read(course / "autograded" / f"{lesson[:2]}-blank" / lesson / f"{lesson}.ipynb",
                           as_version=4)
    errors = {c.id for c in graded.cells for o in c.get("outputs", []) if o.output_type == "error"}
    exercise_checks = {catalogue.test_cell_of(lesson, e) for e in catalogue.solution_code(lesson)}
    assert exercise_checks <= errors <= set(pts), (lesson, errors)
    assert all("NotImplementedError" in blank[t] for t in errors), lesson

    assert {p: _sha(p) for p in inbox.rglob("*.ipynb")} == before  # no submission changed
    assert outside.read_text() == "must survive" and not hacked.exists()  # nothing outside changed
    problems = json.loads((course / "problems.json").read_text())
    assert "not a readable notebook" in problems[f"{lesson}/{lesson[:2]}-not-a-notebook"]
    assert not [k for k in problems if k.startswith(f"{lesson}/") and not k.endswith("not-a-notebook")]
    with open(tmp_path / "grades.csv") as f:  # (a row per student and lesson, submitted or not)
        rows = {r["student_id"]: float(r["score"]) for r in csv.DictReader(f) if r["assignment"] == lesson}
    assert {s: rows.get(s) for s in scores} == scores
