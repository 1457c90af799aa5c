"""A whole class of lesson 01 submissions, broken and hostile ones included, autograded.

Each submission is the student copy with its exercise cells filled in (right,
wrong, or with something nasty); the test asserts every score, that the run
finishes, and that no submission and no file outside the grading folder changed.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys

import nbformat
import pytest

from tests.conftest import ROOT, needs_mnist

pytestmark = [needs_mnist, pytest.mark.slow]
LESSON = "01_task_and_loss"
FULL = 5  # softmax 2 + cross_entropy 3


def _solution_code(cell_id: str) -> str:
    nb = nbformat.read(ROOT / "solutions" / f"{LESSON}.ipynb", as_version=4)
    src = next(c.source for c in nb.cells if c.get("id") == cell_id)
    return re.sub(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*(\n|$)", "", src, flags=re.M)


SOFTMAX = _solution_code("softmax")
CE = _solution_code("cross_entropy")
CE_SIGN = CE.replace("return -log_probs", "return log_probs")
SOFTMAX_UNSTABLE = SOFTMAX.replace("    z = z - z.max(dim=1, keepdim=True).values\n", "")
assert SOFTMAX_UNSTABLE != SOFTMAX
CE_VISIBLE_ONLY = CE.replace(
    '    """Mean over', '    if len(targets) not in (8, 1, 100, 5, 3, 6):\n'
    '        return logits.sum() * 0\n    """Mean over')
FAKE_CHECK = "def check_cross_entropy(*args, **kwargs):\n    print('✅ cross_entropy: fine')\n"
IGNORE_SIGINT = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass\n"


def submission(softmax=SOFTMAX, ce=CE, edit=None) -> nbformat.NotebookNode:
    nb = nbformat.read(ROOT / "notebooks" / f"{LESSON}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.get("id") == "softmax" and softmax is not None:
            cell.source = softmax
        if cell.get("id") == "cross_entropy" and ce is not None:
            cell.source = ce
    if edit:
        edit(nb)
    return nb


def add_cell(source: str, after: str = "cross_entropy_check"):
    def edit(nb):
        i = next(i for i, c in enumerate(nb.cells) if c.get("id") == after)
        cell = nbformat.v4.new_code_cell(source)
        cell["id"] = f"student-{len(nb.cells)}"
        nb.cells.insert(i + 1, cell)
    return edit


def set_cell(cell_id: str, source: str | None):
    def edit(nb):
        if source is None:
            nb.cells = [c for c in nb.cells if c.get("id") != cell_id]
        else:
            next(c for c in nb.cells if c.get("id") == cell_id).source = source
    return edit


def move(cell_id: str, after: str):
    def edit(nb):
        cell = next(c for c in nb.cells if c.get("id") == cell_id)
        nb.cells.remove(cell)
        nb.cells.insert(next(i for i, c in enumerate(nb.cells) if c.get("id") == after) + 1, cell)
    return edit


def build_class(outside) -> dict[str, tuple[object, int]]:
    """student -> (notebook or raw bytes, expected score)."""
    return {
        "correct": (submission(), FULL),
        "blank": (submission(softmax=None, ce=None), 0),
        "ce_sign_flipped": (submission(ce=CE_SIGN), 2),
        "softmax_unstable": (submission(softmax=SOFTMAX_UNSTABLE), 3),
        "os_exit": (submission(ce="import os\nos._exit(1)\n" + CE), 2),
        "sigint_ignored_loop": (submission(ce=IGNORE_SIGINT + CE), 2),
        "test_cell_emptied": (submission(ce=CE_SIGN, edit=set_cell("cross_entropy_check", "pass")), 2),
        "test_cell_deleted": (submission(ce=CE_SIGN, edit=set_cell("cross_entropy_check", None)), 2),
        "test_cell_deleted_right_answer": (submission(edit=set_cell("cross_entropy_check", None)), FULL),
        "test_cell_moved_up": (submission(edit=move("cross_entropy_check", after="softmax_check")), FULL),
        "checker_redefined": (submission(ce=CE_SIGN + "\n" + FAKE_CHECK), 2),
        "memory_bomb": (submission(ce="hoard = bytearray(64 * 1024**3)\n" + CE), 2),
        "visible_tests_only": (submission(ce=CE_VISIBLE_ONLY), 2),
        "writes_outside": (submission(edit=add_cell(
            f"open({str(ROOT / 'HACKED.txt')!r}, 'w').write('x')\n"
            f"import os\nos.remove({str(outside)!r})")), FULL),
        "raises_elsewhere": (submission(edit=add_cell("raise ValueError('oops')")), FULL),
        "sys_exit": (submission(edit=add_cell("import sys\nsys.exit(0)")), FULL),
        "huge_output": (submission(edit=add_cell("for i in range(200_000):\n    print(i)")), FULL),
        "not_a_notebook": (b'{"cells": [ this is not json', 0),
    }


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_hostile_class_is_graded_right(tmp_path):
    from nbgrader.api import Gradebook

    outside = tmp_path / "precious.txt"
    outside.write_text("must survive")
    inbox = tmp_path / "inbox"
    expected = {}
    for student, (nb, score) in build_class(outside).items():
        (inbox / student).mkdir(parents=True)
        path = inbox / student / f"{LESSON}.ipynb"
        if isinstance(nb, bytes):
            path.write_bytes(nb)
        else:
            nbformat.write(nb, path)
        expected[student] = score
    before = {p: sha(p) for p in inbox.rglob("*.ipynb")}

    course = tmp_path / "course"
    grade = [sys.executable, str(ROOT / "grading" / "grade.py"), "--course", str(course)]
    env_timeout = {"COURSE_GRADER_TIMEOUT": "120"}
    import os

    env = {**os.environ, **env_timeout}
    for step in (["release", LESSON], ["collect", str(inbox)],
                 ["autograde", LESSON, "--workers", "2"], ["export", "--to", str(tmp_path / "g.csv")]):
        proc = subprocess.run([*grade, *step], env=env, capture_output=True, text=True, timeout=3600)
        assert proc.returncode == 0, f"{step}: {proc.stdout}\n{proc.stderr}"

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        subs = {s: gb.find_submission(LESSON, s) for s in expected}
        scores = {s: sub.score for s, sub in subs.items()}
        manual = [s for s, sub in subs.items() if sub.needs_manual_grade]
    assert scores == expected
    assert manual == []  # every score is final: nothing waits for a human
    for student, cell_id, words in [("softmax_unstable", "softmax_check", "not numerically stable"),
                                    ("ce_sign_flipped", "cross_entropy_check", "❌ cross_entropy")]:
        graded = nbformat.read(course / "autograded" / student / LESSON / f"{LESSON}.ipynb", as_version=4)
        cell = next(c for c in graded.cells if c.get("id") == cell_id)
        assert words in "".join(o.get("text", "") for o in cell.outputs), student  # failed for that reason
    assert {p: sha(p) for p in inbox.rglob("*.ipynb")} == before  # nothing changed
    assert outside.read_text() == "must survive" and not (ROOT / "HACKED.txt").exists()
    problems = json.loads((course / "problems.json").read_text())
    assert "not a readable notebook" in problems[f"{LESSON}/not_a_notebook"]
    assert len(problems) == 1
    csv = (tmp_path / "g.csv").read_text()
    assert csv.count(LESSON) == len(expected)
