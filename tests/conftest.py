"""Shared fixtures: the repository layout, MNIST for the tests, executed notebooks."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

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
        if cell.metadata.get("nbgrader", {}).get("grade"):
            assert "✅" in "".join(o.get("text", "") for o in cell.outputs), cell.id


# With `--dist loadfile --no-loadscope-reorder` (Makefile), pytest-xdist hands out test files in
# this order, two per worker to start with: the class grading (most of an hour) starts at once on
# one worker with a seconds-long file queued behind it; the browser tests start on the other.
FIRST = ("test_class_grading.py", "test_browser.py", "test_lint.py")


def pytest_collection_modifyitems(items):
    def rank(item) -> int:
        name = item.path.name
        return FIRST.index(name) if name in FIRST else len(FIRST)

    items.sort(key=rank)  # stable: the rest keep their order
