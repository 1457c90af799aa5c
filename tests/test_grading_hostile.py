"""Broken and hostile submissions, graded end to end on a small fixture assignment (the fast tier).

tests/fixtures/00_fixture.ipynb is an assignment in the lessons' nbgrader format without MNIST:
`softmax` (2 points) and `cross_entropy` (3 points), each checked by its real checker from
course_utils.checks, with hidden tests. One class of it goes through every step of
`python -m grading.grade --source tests/fixtures` (release, collect, autograde with two
workers, feedback, export): the right answer, the blank copy, an answer right only on the
visible checks, every broken and hostile case of tests/grading_cases.py (the builders of the
30-per-lesson classes of test_class_grading.py, in the slow tier), the harmless ones carrying
wrong answers (one check fails and the other passes, or both fail), and files that are no
notebook. Cells are cut after
CELL_TIMEOUT s (the fixture's slowest cell, importing torch, takes 1.5 s idle, over 10 s in CI), the kernel's
address space after MEMORY_MB.

Every score must be exactly what the submission deserves, in the gradebook and in the CSV; every
page must show the gradebook's points, its diagnosis or the reason it lost points, and no line of
a hidden test; no submission and nothing outside the course folder (nor the course's own copies
of the assignment) may change; and the student a worker grades right after a hostile one must
get exactly their own score.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import namedtuple
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from grading.catalogue import add_cell, edited, write_inbox
from grading.course import ROOT, gradebook_url
from tests.grading_cases import (
    Assignment,
    Case,
    Mistakes,
    assert_feedback,
    csv_scores,
    grade,
    hostile,
    interrupt_ignored,
    outputs,
    page_of,
    points,
    read_gradebook,
    sections,
    sha256s,
    text,
)

pytestmark = pytest.mark.slow
FIXTURES = ROOT / "tests" / "fixtures"
LESSON = "00_fixture"
WORKERS = 2
# s. The first kernel a worker starts imports torch while the worker's own warm-up imports it (and
# torch._dynamo), the other worker does the same and pytest's other worker runs its own test: on 2
# cores that first import took over 10 s (the 10 s this was set to cut lesson 00's setup cell in
# two CI runs of 1d32456). Two cases wait it out (sigint-ignored, endless-loop).
CELL_TIMEOUT = 30
MEMORY_MB = 6144  # the kernel's address space: torch alone maps about 3.2 GB
MEMORY_BOMB_GIB = 8  # over the limit, yet it would be granted without it (calloc: no page touched)
CPU_S = 120  # a backstop: a kernel grading the fixture uses about 3 s of CPU
# The worker process that grades it (the sandbox's launcher says which: in its own PID namespace
# the kernel's parent is bwrap); the clock orders one worker's students.
PROBE = (
    "import os, time\nprint('graded by worker', os.environ['COURSE_GRADER_WORKER_PID'], 'at', time.time())"
)

Wrong = namedtuple("Wrong", "exercise source words")
SOFTMAX_UNSTABLE = Wrong(
    "softmax",
    "def softmax(z):\n    return z.exp() / z.exp().sum(1, keepdim=True)\n",
    "not numerically stable",
)
SOFTMAX_COLUMNS = Wrong(
    "softmax",
    "def softmax(z):\n    z = z - z.max(dim=0, keepdim=True).values\n"
    "    e = z.exp()\n    return e / e.sum(dim=0, keepdim=True)\n",
    "normalized each column",
)
CE_SIGN = Wrong(
    "cross_entropy",
    "import torch\n\ndef cross_entropy(z, y):\n"
    "    c = z.max(dim=1, keepdim=True).values\n"
    "    logp = z - c - (z - c).exp().sum(dim=1, keepdim=True).log()\n"
    "    return logp[torch.arange(len(y)), y].mean()\n",
    "wrong sign",
)
CE_SUM = Wrong(
    "cross_entropy",
    "import torch\n\ndef cross_entropy(z, y):\n"
    "    c = z.max(dim=1, keepdim=True).values\n"
    "    logp = z - c - (z - c).exp().sum(dim=1, keepdim=True).log()\n"
    "    return -logp[torch.arange(len(y)), y].sum()\n",
    "sum over the batch",
)
CHECK_OF = {"softmax": "softmax_check", "cross_entropy": "cross_entropy_check"}
UNREADABLE = {  # student -> a file that is no notebook (besides grading_cases' NOT_A_NOTEBOOK)
    "00-empty-file": b"",
    "00-binary-file": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00",
    "00-json-not-a-notebook": b'{"hello": "world"}',
    "00-invalid-notebook": b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": "none"}',
}


def mistakes(*wrongs: Wrong) -> Mistakes:
    return Mistakes(
        {w.exercise: w.source for w in wrongs},
        {CHECK_OF[w.exercise] for w in wrongs},
        {CHECK_OF[w.exercise]: [w.words] for w in wrongs},
    )


def build_class(a: Assignment, outside: list[Path]) -> list[Case]:
    right = a.solution_code()
    visible = ((5, 10), (1, 3), (64, 10), (3, 1), (3, 3), (4, 5))  # what the visible check gives it
    visible_only = right["softmax"].replace(  # right only for the inputs of the visible check
        '    """Row-wise',
        f'    if tuple(z.shape) not in {visible}:\n        return torch.zeros_like(z)\n    """Row-wise',
    )
    assert visible_only != right["softmax"]
    carried = [mistakes(CE_SIGN), mistakes(SOFTMAX_COLUMNS, CE_SUM), mistakes(SOFTMAX_COLUMNS)]
    cases = [
        Case("00-correct", a.submission(right), 5, said=["Passed."]),
        Case("00-blank", a.submission({}), 0, said=["Not attempted yet"]),
        Case(
            "00-visible-tests-only",
            a.submission({**right, "softmax": visible_only}),
            3,
            {"softmax_check": ["❌ softmax"]},
            said=["passed on the notebook's own inputs but not on the grader's other inputs"],
        ),
        interrupt_ignored(a, body="time.sleep(0.1)"),  # waits out the timeout without burning a core
        *hostile(a, outside, SOFTMAX_UNSTABLE, carried, memory_gib=MEMORY_BOMB_GIB),
        *(Case(s, b, 0, said=["not a readable notebook"]) for s, b in UNREADABLE.items()),
    ]
    for case in cases:  # each kernel prints its worker's pid first: who graded whom, in which order
        if not isinstance(case.nb, bytes):
            edited(case.nb, add_cell(PROBE, after="setup"))
    return cases


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The class, graded: everything the tests below read."""
    tmp = tmp_path_factory.mktemp("hostile")
    course, inbox, grades = tmp / "course", tmp / "inbox", tmp / "grades.csv"
    outside = tmp / "precious.txt"
    outside.write_text("must survive")
    source_copy = course / "source" / LESSON / f"{LESSON}.ipynb"  # the course's own copy: hidden tests
    env = {
        **os.environ,
        "COURSE_GRADER_TIMEOUT": str(CELL_TIMEOUT),
        "COURSE_GRADER_CPU_S": str(CPU_S),
        "COURSE_GRADER_MEMORY_MB": str(MEMORY_MB),
        "OMP_NUM_THREADS": "1",
    }
    env.pop("COURSE_GRADEBOOK_URL", None)  # SQLite in the course folder
    fixture_sha = sha256s(FIXTURES)

    t0 = time.perf_counter()
    # Read torch's libraries into the page cache meanwhile: a cold first import can take longer
    # than a cell may.
    warm = subprocess.Popen([sys.executable, "-c", "import torch, course_utils.checks"], env=env)
    grade(course, env, "release", LESSON, source=FIXTURES)
    a = Assignment(LESSON, FIXTURES / f"{LESSON}.ipynb", course / "release_copies" / f"{LESSON}.ipynb")
    cases = build_class(a, [outside, source_copy])
    write_inbox(inbox, LESSON, {c.student: c.nb for c in cases})
    inbox_sha = sha256s(inbox)
    grade(course, env, "collect", str(inbox), "--lesson", LESSON, source=FIXTURES)
    course_copies = sha256s(course / "source") | sha256s(course / "release")
    warm.wait()
    auto = grade(course, env, "autograde", LESSON, "--workers", str(WORKERS), source=FIXTURES)
    grade(course, env, "feedback", LESSON, "--workers", str(WORKERS), source=FIXTURES)
    grade(course, env, "export", "--to", str(grades), source=FIXTURES)
    seconds = time.perf_counter() - t0
    print(
        f"{len(cases)} submissions released, collected, autograded, given feedback and exported "
        f"in {seconds:.1f} s; {auto.stdout.strip().splitlines()[-1]}"
    )

    scores, manual, book = read_gradebook(gradebook_url(course), LESSON, [c.student for c in cases])
    return SimpleNamespace(
        a=a,
        course=course,
        cases=cases,
        scores=scores,
        manual=manual,
        book=book,
        autograde=auto.stdout,
        problems=json.loads((course / "problems.json").read_text()),
        csv=csv_scores(grades, LESSON),
        outside=outside,
        inbox=inbox,
        inbox_sha=inbox_sha,
        fixture_sha=fixture_sha,
        course_copies=course_copies,
        seconds=seconds,
    )


def test_the_class_holds_every_case():
    a = Assignment.lesson("01_task_and_loss")  # the builders are the ones the lessons' classes use
    names = {c.student.split("-", 1)[1] for c in hostile(a, [Path("/nowhere")], SOFTMAX_UNSTABLE)}
    fixture = Assignment(LESSON, FIXTURES / f"{LESSON}.ipynb", FIXTURES / f"{LESSON}.ipynb")
    cases = build_class(fixture, [Path("/nowhere")])
    assert names <= {c.student.split("-", 1)[1] for c in cases}
    assert len({c.student for c in cases}) == len(cases)
    assert fixture.points() == {"softmax_check": 2, "cross_entropy_check": 3}
    assert list(fixture.solution_code()) == ["softmax", "cross_entropy"]


def test_every_score_is_exact(graded):
    assert "FAILED" not in graded.autograde
    assert graded.scores == {c.student: c.score for c in graded.cases}
    assert graded.manual == []  # every score is final: nothing waits for a human
    released = graded.a.points()
    for student, grades in graded.book.items():  # the released points, whatever a submission says
        assert {g: m for g, (_, m) in grades.items()} == released, student
    assert {s: graded.csv.get(s) for s in graded.scores} == graded.scores  # the CSV agrees


def test_every_page_shows_its_points_and_diagnosis_and_no_hidden_test(graded):
    hidden = graded.a.hidden_test_lines()
    assert len(hidden) >= 3  # both checks' hidden calls and their shared import line
    for case in graded.cases:
        assert_feedback(graded.course, LESSON, case, graded.book[case.student], hidden)
        page = page_of(graded.course, case.student, LESSON)
        summary = page.split('<section class="check', 1)[0]
        assert points(summary) == (case.score, 5), case.student
        assert set(sections(page)) == {"softmax_check", "cross_entropy_check"}, case.student
        assert "Traceback" not in page and "check_softmax(" not in page, case.student
        for words in case.said:
            assert words in text(page), (case.student, words, text(page)[-1500:])
    handed_back = [p for p in (graded.course / "feedback").rglob("*") if p.is_file()]
    assert len([p for p in handed_back if p.suffix == ".html"]) == len(graded.cases)
    for path in handed_back:  # nothing handed back holds a line of a hidden test
        content = path.read_text(errors="replace")
        assert not [h for h in hidden if h in content], path


def test_files_that_are_no_notebook_are_listed_as_problems(graded):
    unreadable = {c.student for c in graded.cases if isinstance(c.nb, bytes)}
    assert len(unreadable) == 5
    assert set(graded.problems) == {f"{LESSON}/{s}" for s in unreadable}
    assert all("not a readable notebook" in why for why in graded.problems.values())
    for student in unreadable:
        assert not (graded.course / "autograded" / student / LESSON / f"{LESSON}.ipynb").exists()


def test_the_grader_stops_what_it_must(graded):
    """Timeouts, dead kernels, the memory limit and the output limit, as the notebooks record them."""
    out = {
        c.student: outputs(graded.course, c.student, LESSON)
        for c in graded.cases
        if not isinstance(c.nb, bytes)
    }

    def own(student: str, starts: str) -> str:  # what the student's own cell printed and raised
        nb = nbformat.read(graded.course / "autograded" / student / LESSON / f"{LESSON}.ipynb", as_version=4)
        return out[student][next(c.id for c in nb.cells if c.source.startswith(starts))]

    assert "MemoryError" in own("00-memory-bomb", "hoard = bytearray")
    assert len(own("00-huge-output", "for i in range").splitlines()) < 2_000  # of 100,000 printed
    assert "KeyboardInterrupt" in own("00-endless-loop", "import time\nwhile")  # interrupted, then on
    assert "CellTimeoutError" in own("00-endless-loop", "import time\nwhile")
    assert "CellTimeout" in out["00-sigint-ignored"]["cross_entropy"]
    assert "KernelDied" in out["00-os-exit"]["cross_entropy"]
    assert "KernelDied" in out["00-segfault"]["softmax"]
    for vandal in ("00-writes-outside", "00-kernel-changed"):
        refused = own(vandal, "import os\n\nfor attempt")
        assert refused.count("refused:") == 3, (vandal, refused)  # two deletions, one new file


def test_no_submission_and_nothing_outside_changed(graded):
    assert sha256s(graded.inbox) == graded.inbox_sha  # no submission changed
    assert graded.outside.read_text() == "must survive"
    assert not (ROOT / "HACKED-00.txt").exists()
    assert sha256s(FIXTURES) == graded.fixture_sha
    # The instructor's copies in the course folder (the hidden tests) are as released.
    assert (sha256s(graded.course / "source") | sha256s(graded.course / "release")) == graded.course_copies


def test_the_next_student_of_a_worker_is_graded_right(graded):
    """After each hostile submission, the next one its worker grades gets exactly its own score."""
    graded_by = {}  # student -> (worker pid, when its kernel started)
    for case in graded.cases:
        if isinstance(case.nb, bytes):
            continue  # scored 0 by collect's record, never sent to a worker
        probe = next(
            o
            for o in outputs(graded.course, case.student, LESSON).values()
            if o.startswith("graded by worker")
        )
        _, _, _, pid, _, when = probe.split()
        graded_by[case.student] = (int(pid), float(when))
    workers = {pid for pid, _ in graded_by.values()}
    assert 1 <= len(workers) <= WORKERS  # no worker died or was replaced
    hostile_ones = {c.student for c in hostile(graded.a, [Path("/nowhere")], SOFTMAX_UNSTABLE)} | {
        "00-sigint-ignored"
    }
    expected = {c.student: c.score for c in graded.cases}
    followed = 0
    for pid in workers:
        in_turn = sorted((when, s) for s, (p, when) in graded_by.items() if p == pid)
        for (_, student), (_, after) in zip(in_turn, in_turn[1:]):
            if student in hostile_ones:
                followed += 1
                assert graded.scores[after] == expected[after], (student, after)
    assert followed >= len(hostile_ones & set(graded_by)) - len(workers)  # all but each worker's last
