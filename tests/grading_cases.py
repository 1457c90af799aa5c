"""Shared helpers of the grading tests: broken and hostile submissions, grading them, reading the results.

- `Assignment`: an assignment's instructor notebook and its released student copy, read
  with grading.course's cell predicates (a lesson of solutions/, or a test fixture).
- `hostile()` and `interrupt_ignored()`: the broken and hostile submissions an instructor
  meets, built for any assignment from its right answer and one known mistake, each with
  the exact score it deserves and what its feedback must say.
- `grade()`: one step of `python -m grading.grade` on a course directory.
- `text()`, `sections()`, `points()`: reading a feedback page; `outputs()`,
  `read_gradebook()`, `csv_scores()`, `assert_feedback()`: reading what grading wrote.

Used by tests/test_grading_hostile.py (a fixture assignment, fast), test_class_grading.py
(every lesson, slow), test_feedback.py and test_grading_rerun.py; no test file imports
helpers from another test file.
"""

from __future__ import annotations

import csv
import hashlib
import html
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import nbformat

from grading.catalogue import add_cell, edited, hidden_lines_of, move, set_cell
from grading.course import NOTEBOOKS, ROOT, SOLUTIONS, is_solution, is_test

NOT_A_NOTEBOOK = b'{"cells": [ this is not json'


# --------------------------------------------------------------------------- the assignment


@dataclass(frozen=True)
class Assignment:
    """An assignment as the cases need it: its instructor notebook and its released student copy."""

    name: str  # NN_name
    source: Path  # the instructor notebook: solutions and hidden tests
    release: Path  # the student copy nbgrader generated from it

    @classmethod
    def lesson(cls, name: str) -> Assignment:
        return cls(name, SOLUTIONS / f"{name}.ipynb", NOTEBOOKS / f"{name}.ipynb")

    @cached_property
    def cells(self) -> list[nbformat.NotebookNode]:
        return nbformat.read(self.source, as_version=4).cells

    @property
    def tag(self) -> str:  # the NN of NN_name: prefixes student ids
        return self.name[:2]

    def order(self) -> list[str]:
        """The cell ids, in the instructor notebook's order."""
        return [c.get("id") for c in self.cells]

    def solution_code(self) -> dict[str, str]:
        """Exercise cell id -> the solution's code (markers removed): a right answer."""
        return {
            c.id: re.sub(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*(\n|$)", "", c.source, flags=re.M)
            for c in self.cells
            if is_solution(c)
        }

    def points(self) -> dict[str, float]:
        """Test cell id -> its points, in notebook order."""
        return {c.id: c.metadata["nbgrader"]["points"] for c in self.cells if is_test(c)}

    def test_cell_of(self, exercise: str) -> str:
        """The test cell that grades `exercise` (the first one after it)."""
        ids, tests = self.order(), self.points()
        return next(i for i in ids[ids.index(exercise) :] if i in tests)

    def checker_name(self, test_cell: str) -> str:
        source = next(c.source for c in self.cells if c.get("id") == test_cell)
        return re.search(r"\b(check_\w+)\(", source).group(1)

    def hidden_test_lines(self) -> set[str]:
        """The non-trivial stripped lines of the hidden-test blocks (read without grading/feedback.py)."""
        return hidden_lines_of(self.cells)

    def submission(self, code: dict[str, str]) -> nbformat.NotebookNode:
        """The student copy with the given exercise cells filled in (others stay blank)."""
        nb = nbformat.read(self.release, as_version=4)
        for cell in nb.cells:
            if cell.get("id") in code:
                cell.source = code[cell.id]
        return nb


# --------------------------------------------------------------------------- the cases


@dataclass
class Case:
    student: str
    nb: nbformat.NotebookNode | bytes
    score: float
    words: dict[str, list[str]] = field(default_factory=dict)  # test cell -> its ❌ diagnosis says these
    stopped: list[str] = field(default_factory=list)  # test cells that must be reported as not run
    said: list[str] = field(default_factory=list)  # the feedback page also says these (alerts, verdicts)


@dataclass
class Mistakes:
    """One known-wrong version for some exercises of an assignment, and what they must cost."""

    code: dict[str, str] = field(default_factory=dict)  # exercise -> its wrong code
    lost: set[str] = field(default_factory=set)  # test cells that fail
    words: dict[str, list[str]] = field(default_factory=dict)  # test cell -> its diagnosis says these


# The cases that do not touch the code the checks run: each can carry a set of known mistakes.
CARRIERS = (
    "raises-elsewhere",
    "sys-exit",
    "endless-loop",
    "memory-bomb",
    "huge-output",
    "writes-outside",
    "kernel-changed",
    "test-moved-up",
    "exercise-moved-down",
)


def vandal(delete: Sequence[Path], create: Path) -> str:
    """A cell that tries to delete files and to create one, printing each refusal."""
    attempts = [f"lambda: os.remove({str(p)!r})" for p in delete]
    attempts.append(f"lambda: open({str(create)!r}, 'w').write('x')")
    body = ",\n                ".join(attempts)
    return (
        "import os\n\n"
        f"for attempt in ({body}):\n"
        "    try:\n        attempt()\n    except OSError as err:\n        print('refused:', err)\n"
    )


def _cost(lost: float) -> str:
    return f"This cost {lost:g} point"


LOOKUP = "looks names up at run time is refused"  # the diagnosis of forbidden_use's lookups


def hostile(
    a: Assignment,
    outside: Path | Sequence[Path],
    wrong,
    carried: Sequence[Mistakes] = (),
    memory_gib: int = 64,
) -> list[Case]:
    """Broken and hostile submissions of `a`, each built on the right answer or on one known mistake.

    `wrong` is a known-wrong version of the first exercise (`.source`, the cell's code, and
    `.words`, what its diagnosis says). `outside` is a file (or files) outside the course
    folder that the vandals try to delete; they also try to create ROOT/HACKED-NN.txt.
    The cases in CARRIERS, which do not touch the code the checks run, can each carry a set of
    known mistakes instead of the right answer: they then lose exactly what those mistakes cost.
    """
    right = a.solution_code()
    pts = a.points()
    full = sum(pts.values())
    carry = dict(zip(CARRIERS, carried))
    order = a.order()
    exercises = list(right)
    first, last = exercises[0], exercises[-1]
    t1 = a.test_cell_of(first)
    wrong1 = {**right, first: wrong.source}
    lose1 = full - pts[t1]

    def before(cell: str) -> float:  # the points of the checks that run before `cell`
        return sum(p for t, p in pts.items() if order.index(t) < order.index(cell))

    def after(cell: str) -> list[str]:
        return [t for t in pts if order.index(t) > order.index(cell)]

    def forbids(test_cell: str) -> bool:  # its check forbids torch's own version of the exercise
        import inspect

        import course_utils.checks as checks

        checker = getattr(checks, a.checker_name(test_cell))
        return "forbid" in inspect.getsource(getattr(checker, "__wrapped__", checker))

    def sub(code: dict[str, str], *edits) -> nbformat.NotebookNode:
        return edited(a.submission(code), *edits)

    def own_cell(source: str):  # a cell of the student's own after the first check
        return add_cell(source, after=t1)

    def base(name: str) -> dict[str, str]:  # the right answer, or the mistakes this case carries
        return {**right, **carry[name].code} if name in carry else right

    hack = ROOT / f"HACKED-{a.tag}.txt"
    targets = [outside] if isinstance(outside, (str, Path)) else list(outside)
    other_kernel = sub(base("kernel-changed"), own_cell(vandal(targets, hack)))
    other_kernel.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    check = a.checker_name(t1)
    outputs_faked = sub({})
    for cell in outputs_faked.cells:
        if cell.get("id") in pts:
            cell.execution_count = 1
            cell.outputs = [nbformat.v4.new_output("stream", text=f"✅ {cell.id}: all checks passed\n")]
    points_edited = sub(wrong1)
    next(c for c in points_edited.cells if c.get("id") == t1).metadata["nbgrader"]["points"] = 100
    undefined = f"name '{first}' is not defined"
    died_in = "kernel died while running your exercise cell"

    cases = [
        (
            "raises-elsewhere",
            sub(base("raises-elsewhere"), own_cell("raise ValueError('a bug in a cell of my own')")),
            full,
        ),
        ("sys-exit", sub(base("sys-exit"), own_cell("import sys\nsys.exit(0)")), full),
        (
            "os-exit",
            sub({**right, last: "import os\nos._exit(1)\n\n" + right[last]}),
            before(last),
            {},
            after(last),
            [f"{died_in} `{last}`", _cost(full - before(last))],
        ),
        (
            "segfault",
            sub({**right, first: "import ctypes\nctypes.string_at(0)\n\n" + right[first]}),
            before(first),
            {},
            after(first),
            [f"{died_in} `{first}`", _cost(full - before(first))],
        ),
        (
            "endless-loop",
            sub(base("endless-loop"), own_cell("import time\nwhile True:\n    time.sleep(0.5)")),
            full,
            {},
            [],
            ["ran longer than the time limit and was interrupted"],
        ),
        (
            "memory-bomb",
            sub(base("memory-bomb"), own_cell(f"hoard = bytearray({memory_gib} * 1024**3)")),
            full,
        ),
        (
            "huge-output",
            sub(base("huge-output"), own_cell("for i in range(100_000):\n    print('spam', i)")),
            full,
        ),
        ("writes-outside", sub(base("writes-outside"), own_cell(vandal(targets, hack))), full),
        ("kernel-changed", other_kernel, full),
        ("test-emptied", sub(wrong1, set_cell(t1, "pass")), lose1, {t1: [wrong.words]}),
        ("test-deleted", sub(wrong1, set_cell(t1, None)), lose1, {t1: [wrong.words]}),
        ("test-moved-up", sub(base("test-moved-up"), move(t1, before=first)), full),
        ("exercise-moved-down", sub(base("exercise-moved-down"), move(first, after=t1)), full),
        ("exercise-deleted", sub(right, set_cell(first, None)), lose1, {t1: [undefined]}),
        (
            "syntax-error",
            sub({**right, first: right[first].replace("def ", "def def ", 1)}),
            lose1,
            {t1: [undefined]},
            [],
            [f"Your cell `{first}` itself raised SyntaxError"],
        ),
        (
            "missing-package",
            sub({**right, first: "import tensorflow_addons\n\n" + right[first]}),
            lose1,
            {t1: [undefined]},
            [],
            [f"Your cell `{first}` itself raised ModuleNotFoundError"],
        ),
        (
            "checker-faked",
            sub(
                {
                    **wrong1,
                    first: wrong.source
                    + (
                        f"\n\nimport course_utils.checks as _c\n\ndef {check}(*args, **kwargs):\n"
                        f"    print('✅ all good')\n\n_c.{check} = {check}\n"
                    ),
                }
            ),
            lose1,
            {t1: [wrong.words]},
        ),
        (
            "torch-patched",  # a right answer: patching its own kernel cannot reach the verdict
            sub({**right, first: "import torch\ntorch.allclose = lambda *a, **k: True\n\n" + right[first]}),
            full,
            {},
        ),
        (
            "module-replaced",
            sub(
                {
                    **wrong1,
                    first: wrong.source
                    + (
                        "\n\nimport sys, types\n_fake = types.ModuleType('course_utils.checks')\n"
                        f"_fake.{check} = lambda *a, **k: print('✅ fine')\n"
                        "sys.modules['course_utils.checks'] = _fake\n"
                    ),
                }
            ),
            # The wrong answer is graded in the grading process, whatever the kernel imports; but
            # `sys.modules` is a way around the kernel's watch for torch's own functions, so every
            # check that forbids one refuses it (grading/trusted.py, forbidden_use).
            full - sum(p for t, p in pts.items() if t == t1 or forbids(t)),
            {t: [LOOKUP if forbids(t) else wrong.words] for t in pts if t == t1 or forbids(t)},
        ),
        (
            "builtins-replaced",
            sub({**right, first: right[first] + "\n\nimport builtins\nbuiltins.abs = lambda x: x\n"}),
            full,
            {},
        ),
        (
            "assert-redefined",
            sub(
                {
                    **wrong1,
                    first: wrong.source
                    + (
                        "\n\nimport builtins\n\nclass AssertionError(Exception):\n    pass\n\n"
                        "builtins.AssertionError = AssertionError\n"
                    ),
                }
            ),
            lose1,  # its wrong answer's diagnosis, decided in the grading process
            {t1: [wrong.words]},
        ),
        ("points-edited", points_edited, lose1, {t1: [wrong.words]}),
        ("outputs-faked", outputs_faked, 0),
        ("not-a-notebook", NOT_A_NOTEBOOK, 0, {}, [], ["not a readable notebook"]),
    ]
    found = []
    for name, nb, score, *rest in cases:
        case = Case(f"{a.tag}-{name}", nb, score, *rest)
        if name in carry:
            case.score -= sum(pts[t] for t in carry[name].lost)
            case.words = {**carry[name].words}
        found.append(case)
    return found


def interrupt_ignored(a: Assignment, body: str = "pass") -> Case:
    """A loop that ignores the interrupt (Ctrl-C) in the last exercise: stopped by the cell timeout.

    The checks from there on are not run; `body` is the loop's body (`pass` burns a core until
    the timeout, `time.sleep(0.1)` waits it out).
    """
    right = a.solution_code()
    pts, order = a.points(), a.order()
    last = list(right)[-1]
    loop = f"import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    {body}\n\n"
    if "time." in body:
        loop = "import time\n" + loop
    before = sum(p for t, p in pts.items() if order.index(t) < order.index(last))
    stopped = [t for t in pts if order.index(t) > order.index(last)]
    return Case(
        f"{a.tag}-sigint-ignored",
        a.submission({**right, last: loop + right[last]}),
        before,
        {},
        stopped,
        [f"cell `{last}`", "did not stop when interrupted", _cost(sum(pts.values()) - before)],
    )


# --------------------------------------------------------------------------- grading


def grade(
    course: Path, env: dict, *step: str, source: Path | None = None, timeout: float = 3600
) -> subprocess.CompletedProcess:
    """`python -m grading.grade --course COURSE [--source SOURCE] STEP...`; it must succeed."""
    cmd = [
        sys.executable,
        "-m",
        "grading.grade",
        "--course",
        str(course),
        *(["--source", str(source)] if source else []),
        *step,
    ]
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{step}: {proc.stdout}\n{proc.stderr}"
    return proc


def sha256s(folder: Path) -> dict[Path, str]:
    """Every file under `folder` -> its sha256."""
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- reading the results


def text(fragment: str) -> str:
    """The words of an HTML fragment."""
    return html.unescape(re.sub(r"<[^>]+>", " ", fragment))


def sections(page: str) -> dict[str, str]:
    """grade_id -> the HTML of its check's section."""
    return dict(re.findall(r'<section class="check[^"]*" id="([^"]+)">(.*?)</section>', page, re.S))


def points(fragment: str) -> tuple[float, float]:
    """The first "got / possible points" in a fragment."""
    got, possible = re.search(r"([\d.]+) / ([\d.]+) points", text(fragment)).groups()
    return float(got), float(possible)


def page_of(course: Path, student: str, lesson: str) -> str:
    return (course / "feedback" / student / lesson / f"{lesson}.html").read_text()


def outputs(course: Path, student: str, lesson: str) -> dict[str, str]:
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


def read_gradebook(url: str, lesson: str, students) -> tuple[dict, list, dict]:
    """(student -> score, students whose grade waits for a human, student -> {grade_id: (score, max)})."""
    from nbgrader.api import Gradebook

    with Gradebook(url) as gb:
        subs = {s: gb.find_submission(lesson, s) for s in students}
        scores = {s: sub.score for s, sub in subs.items()}
        manual = [s for s, sub in subs.items() if sub.needs_manual_grade]
        book = {
            s: {g.name: (g.score, g.max_score) for nb in sub.notebooks for g in nb.grades}
            for s, sub in subs.items()
        }
    return scores, manual, book


def csv_scores(path: Path, lesson: str) -> dict[str, float]:
    """student -> score in nbgrader's CSV export (a row per student and lesson, submitted or not)."""
    with open(path) as f:
        return {r["student_id"]: float(r["score"]) for r in csv.DictReader(f) if r["assignment"] == lesson}


def assert_feedback(course: Path, lesson: str, case: Case, grades: dict, hidden) -> None:
    """The case's page: points as in the gradebook (`grades`), no hidden-test line, its diagnoses
    (in the autograded notebook and on the page) and its checks not run."""
    page = page_of(course, case.student, lesson)
    checks = sections(page)
    assert {g: points(f) for g, f in checks.items()} == grades, case.student
    leaked = [h for h in hidden if h in page or h in html.unescape(page)]
    assert not leaked, (case.student, leaked)
    if isinstance(case.nb, bytes):
        return
    out = outputs(course, case.student, lesson)
    for test_cell, words in case.words.items():
        said = text(checks[test_cell])
        for w in words:
            assert w in out[test_cell], (case.student, test_cell, w, out[test_cell][-600:])
            assert "❌" in said and w in said, (case.student, test_cell, w, said[-600:])
    for test_cell in case.stopped:
        assert "not run" in out[test_cell], (case.student, test_cell, out[test_cell][-300:])
        assert "⛔" in checks[test_cell], (case.student, test_cell)
