"""Shared fixtures: the repository layout, MNIST for the tests, executed notebooks."""

from __future__ import annotations

import os
import re
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
    return all(
        (DATA_RAW / n).exists()
        for n in (
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
        )
    )


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


# Scheduling (Makefile: `-n 2 --dist loadscope`, with the scheduler below): the tests of one group
# run on one worker, in order. A lesson's group is its claims file (test_lessonNN.py: one execution
# of the solution, kept alive for the probes), its nbgrader round trip and, for lesson 04, the HTML
# page built from that same execution; every other file is a group of its own, so module-scoped
# fixtures (a JupyterLab server, a graded class) are set up once. Groups are handed out in the
# order below: the longest first. (xdist's own `loadgroup` does not group under pytest 9.)
LONGEST_FIRST = (
    "test_browser.py",
    "test_class_grading.py",
    "test_grading_hostile.py",
    "test_grading_dask.py",
    "test_feedback.py",
    "test_grading_rerun.py",
    "test_regrade.py",
)
HTML_LESSON = "04_momentum"  # the lesson test_html.py builds a page of


def _lesson_of(nodeid: str) -> str | None:
    """The lesson a test's node id belongs to, or None for a test of no lesson."""
    path, _, rest = nodeid.partition("::")
    name = path.rsplit("/", 1)[-1]
    lesson = re.fullmatch(r"test_lesson(\d\d)\.py", name)
    if lesson:
        return next((n for n in lesson_names() if n.startswith(lesson.group(1))), None)
    if name == "test_round_trip.py":
        param = re.search(r"\[(\d\d_\w+)\]", rest)
        return param.group(1) if param else None
    return HTML_LESSON if name == "test_html.py" else None


def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class LessonScheduling(LoadScopeScheduling):
        """xdist's loadscope, with a lesson's tests from several files as one scope."""

        def _split_scope(self, nodeid: str) -> str:
            return _lesson_of(nodeid) or nodeid.partition("::")[0]

    return LessonScheduling(config, log)


def pytest_collection_modifyitems(items):
    def rank(item) -> tuple:
        name = item.path.name
        lesson = _lesson_of(item.nodeid)
        if name in LONGEST_FIRST:
            return (0, LONGEST_FIRST.index(name), "")
        if lesson:  # a lesson's claims first (they start its kernel), then its round trip, its page
            order = 0 if name.startswith("test_lesson") else 1 if name == "test_round_trip.py" else 2
            return (1, lesson, order)
        return (2, name, "")

    items.sort(key=rank)  # stable: a file's tests keep their order
