"""Shared fixtures: the repository layout, MNIST for the tests, executed notebooks."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from grading.course import is_grade
from tools.notebook_runner import execute

# Kernels started by the tests (and two pytest workers) share two cores: one OpenMP thread each,
# as torch's threads slow down many times over when they must share a core.
os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
SHARED_RAW = ROOT.parent / "shared" / "data" / "MNIST" / "raw"
DATA_RAW = ROOT / "data" / "MNIST" / "raw"


def lesson_names() -> list[str]:
    return sorted(p.stem for p in (ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))


def real_mnist_available() -> bool:
    """Copy ../shared's official files into data/ (never the other way); True if MNIST is there."""
    if SHARED_RAW.is_dir():
        DATA_RAW.mkdir(parents=True, exist_ok=True)
        for f in SHARED_RAW.glob("*.gz"):
            if not (DATA_RAW / f.name).exists():
                shutil.copy(f, DATA_RAW / f.name)
    return all((DATA_RAW / n).exists() for n in (
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"))


needs_mnist = pytest.mark.skipif(
    not real_mnist_available() and not os.environ.get("COURSE_DATA_DIR"),
    reason="real MNIST not found in data/MNIST/raw (nor ../shared/data): notebooks need it",
)


@pytest.fixture(scope="module")
def lesson(request):
    """The module's LESSON solution notebook, executed once; its kernel is closed with the module.

    A test file is one lesson, and pytest-xdist (`--dist loadfile`) keeps a file on one worker: each
    solution runs once per test run, and at most one lesson kernel per worker is alive at a time.
    """
    run = execute(ROOT / "solutions" / f"{request.module.LESSON}.ipynb", keep_kernel=True)
    yield run
    run.close()


def assert_runs_clean(run) -> None:
    """No cell raised, and every graded check printed its ✅."""
    assert run.errors() == []
    for cell in run.nb.cells:
        if is_grade(cell):
            assert "✅" in "".join(o.get("text", "") for o in cell.outputs), cell.id


# Scheduling (Makefile: `--dist loadgroup`): the tests of one xdist group run on one worker, in
# order. A lesson's group is its claims file (test_lessonNN.py: one execution of the solution, kept
# alive for the probes), its nbgrader round trip and, for lesson 04, the HTML page built from that
# same execution; every other file is a group of its own, so module-scoped fixtures (a JupyterLab
# server, a graded class) are set up once. Groups are handed out longest first.
LONGEST_FIRST = ("test_browser.py", "test_class_grading.py", "test_grading_hostile.py",
                 "test_feedback.py", "test_grading_rerun.py")


def _lesson_of(item) -> str | None:
    callspec = getattr(item, "callspec", None)
    if callspec and "lesson" in callspec.params:
        return callspec.params["lesson"]
    if item.path.name.startswith("test_lesson") or item.path.name == "test_html.py":
        return getattr(item.module, "LESSON", None)
    return None


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items):
    for item in items:
        if not any(item.iter_markers("xdist_group")):
            item.add_marker(pytest.mark.xdist_group(_lesson_of(item) or item.path.name))

    def rank(item) -> tuple:
        name = item.path.name
        lesson = _lesson_of(item)
        if name in LONGEST_FIRST:
            return (0, LONGEST_FIRST.index(name), "")
        if lesson:  # a lesson's claims first (they start its kernel), then its round trip, its page
            order = 0 if name.startswith("test_lesson") else 1 if name == "test_round_trip.py" else 2
            return (1, lesson, order)
        return (2, name, "")

    items.sort(key=rank)  # stable: a file's tests keep their order
