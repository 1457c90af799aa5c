"""Lesson 09's challenge is graded in a kernel of its own (grading/challenge.py).

Its budget is counted here and the test labels never leave this process: attacks that read the
data folder, reset the count, reach into the notebook or paste in a model move no grade. Each case
is decided by grading.trusted.verdict as GuardedExecute does, with a small budget and bar (the
test cell's own arguments) so that a right answer trains in seconds.
"""

from __future__ import annotations

import concurrent.futures
import os
import textwrap

import pytest
from jupyter_client.manager import start_new_kernel

from grading import sandbox
from grading.challenge_kernels import ChallengeKernels, challenge_calls, prepare_challenge
from grading.course import GRADING
from grading.trusted import KernelTransport, verdict

pytestmark = pytest.mark.slow
TEST = "check_challenge(train_challenge, budget=3000, threshold=0.5)"
BLANK = "def train_challenge(data, generator):\n    raise NotImplementedError()\n"

RIGHT = """
def train_challenge(data, generator):
    model = MLP(hidden=(64,))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(data.budget // 50):
        xb, yb = data.batch(torch.randperm(data.n, generator=generator)[:50])
        optimizer.zero_grad()
        F.cross_entropy(model(xb), yb).backward()
        optimizer.step()
    return model
"""


# This module's own uids: the tests below count the processes of the grading uids, and pytest's
# other worker may be grading in the default range meanwhile (a lesson's round trip).
UIDS = {
    "COURSE_GRADER_UID_BASE": str(2_050_000_000 + (os.getpid() % 1000) * 100),  # under 2**31
    "COURSE_GRADER_UID_SLOTS": "16",
}


@pytest.fixture(scope="module", autouse=True)
def own_uids():
    saved = {k: os.environ.get(k) for k in UIDS}
    os.environ.update(UIDS)
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def transport():
    """The notebook's kernel (a plain one: the challenge does not run in it)."""
    if sandbox.check():
        pytest.fail(f"the challenge is graded in a sandbox; this machine cannot start one: {sandbox.check()}")
    saved = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(GRADING / "jupyter")  # the course-grader kernel, as nbgrader_config.py
    km, kc = start_new_kernel(kernel_name="python3", env={**os.environ, "OMP_NUM_THREADS": "1"})
    yield KernelTransport(kc, km, timeout=120)
    kc.stop_channels()
    km.shutdown_kernel(now=True)
    if saved is None:
        os.environ.pop("JUPYTER_PATH")
    else:
        os.environ["JUPYTER_PATH"] = saved


def grade(transport, *cells: str) -> tuple[list[str], str]:
    outputs = verdict(TEST, transport, [textwrap.dedent(c) for c in cells])
    errors = [o.ename for o in outputs if o.output_type == "error"]
    return errors, "".join(o.get("text", "") for o in outputs if o.output_type == "stream")


def test_a_right_answer_trains_on_batches_counted_by_the_grader(transport):
    errors, printed = grade(transport, RIGHT)
    assert errors == [], printed
    assert "✅" in printed and "using 3,000 of the 3,000 training examples" in printed


def test_a_blank_answer_gets_the_reminder(transport):
    errors, printed = grade(transport, BLANK)
    assert errors and "⏳" in printed


def test_the_last_cell_that_defines_it_is_the_one_graded(transport):
    errors, printed = grade(transport, RIGHT, BLANK)
    assert errors and "⏳" in printed


# Looks for MNIST's files where the course keeps them (its data folder, the repository, /tmp).
LOOKS_FOR_LABELS = """
    import os

    def train_challenge(data, generator):
        found = []
        roots = [os.environ.get("COURSE_DATA_DIR", "/"), os.getcwd(), "/tmp", "/work", "/root"]
        for root in roots:
            for here, folders, files in os.walk(root):
                found += [
                    os.path.join(here, f)
                    for f in files
                    if f.startswith(("t10k-", "train-")) or here.endswith("course_cache")
                ]
        raise RuntimeError(f"found {sorted(set(found))}")
    """

ATTACKS = {
    # Resetting the kernel's count: the grader counts every batch it sends.
    "resets data.used and draws past the budget": """
        def train_challenge(data, generator):
            model = MLP(hidden=(64,))
            optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
            for _ in range(10 * data.budget // 50):
                data.used = 0
                xb, yb = data.batch(torch.randperm(data.n, generator=generator)[:50])
                optimizer.zero_grad()
                F.cross_entropy(model(xb), yb).backward()
                optimizer.step()
            return model
        """,
    # The training set and the test labels from the data folder: the kernel's is empty.
    "reads MNIST from the data folder": """
        from course_utils.data import load_mnist

        def train_challenge(data, generator):
            X, y = load_mnist("test")
            model = MLP(hidden=(64,))
            optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
            for _ in range(300):
                optimizer.zero_grad()
                F.cross_entropy(model(X), y).backward()
                optimizer.step()
            return model
        """,
    "opens the raw files itself": LOOKS_FOR_LABELS,
    # A model trained elsewhere, pasted in: refused by size.
    "pastes in a model": "WEIGHTS = '" + "A" * 30_000 + "'\n" + RIGHT,
}


@pytest.mark.parametrize("attack", ATTACKS)
def test_an_attack_earns_no_points(transport, attack):
    errors, printed = grade(transport, ATTACKS[attack])
    assert errors, printed
    assert "✅" not in printed


def test_no_mnist_file_is_within_reach(transport):
    errors, printed = grade(transport, LOOKS_FOR_LABELS)
    assert "found []" in printed, printed


def test_over_budget_is_named(transport):
    errors, printed = grade(transport, ATTACKS["resets data.used and draws past the budget"])
    assert "more than its budget of 3,000" in printed


def test_names_from_another_cell_are_not_there(transport):
    helper = "def make_model():\n    return MLP(hidden=(64,))\n"
    uses = RIGHT.replace("model = MLP(hidden=(64,))", "model = make_model()")
    errors, printed = grade(transport, helper, uses)
    assert errors and "make_model" in printed, printed


# ------------------------------------------------------------------ kernels made ready ahead
# GuardedExecute has the challenge's kernels started, and the student's cell run in them, while
# the notebook's earlier cells run (grading/challenge_kernels.py). Each call still gets a kernel
# of its own, and every kernel is gone once grading says it is over.


def grading_uids() -> set[int]:
    base, slots = sandbox.setting("COURSE_GRADER_UID_BASE"), sandbox.setting("COURSE_GRADER_UID_SLOTS")
    return {u for u in sandbox.live_processes().values() if base <= u < base + slots}


# As lesson 09's test cell: the visible call, then a hidden one.
TWO_CALLS = TEST + "\n" + TEST.replace("train_challenge,", "train_challenge, seed=1,")


# Module-level state: a kernel reused for the second call would remember the first.
REMEMBERS = "calls = []\n" + RIGHT.replace(
    "    model = MLP",
    "    calls.append(1)\n    assert len(calls) == 1, 'a kernel used twice'\n    model = MLP",
)


def test_kernels_made_ready_ahead_are_used_one_per_call_and_all_stopped(transport):
    cell = textwrap.dedent(REMEMBERS)
    before = grading_uids()
    kernels = ChallengeKernels(cell, 3, timeout=120)  # one more than the calls: it is stopped unused
    try:
        ready = list(kernels._ready)
        concurrent.futures.wait(ready, timeout=120)
        assert all(f.done() and f.exception() is None for f in ready)  # made ready before any call
        assert len(grading_uids() - before) == 3  # three kernels alive, waiting
        transport.challenge_kernels = kernels
        outputs = verdict(TWO_CALLS, transport, [cell])
        printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
        assert [o.ename for o in outputs if o.output_type == "error"] == [], printed
        assert printed.count("✅") == 2  # each call in a fresh kernel: the cell's list held one call
        assert len(kernels._ready) == 1  # both calls took a kernel made ready ahead
    finally:
        transport.challenge_kernels = None
        kernels.close()
    assert grading_uids() <= before  # every kernel, used or not, is gone
    assert not any(os.path.exists(k.scratch) for k in kernels._kernels)


def test_a_cell_that_never_ends_is_stopped_when_grading_ends(transport):
    import time

    before = grading_uids()
    kernels = ChallengeKernels("while True:\n    pass\n" + textwrap.dedent(RIGHT), 1, timeout=600)
    time.sleep(3)  # the kernel starts and enters the loop
    t = time.monotonic()
    kernels.close()
    assert time.monotonic() - t < 10
    assert grading_uids() <= before


def test_only_a_cell_a_call_would_run_is_prepared():
    assert (
        challenge_calls(
            TEST + "\nimport importlib\nimportlib.reload(x).check_challenge(train_challenge, seed=1)"
        )
        == 2
    )
    assert challenge_calls("check_softmax(softmax)") == 0
    assert challenge_calls("print(1)") == 0  # not a test cell the grader runs
    assert prepare_challenge(["x = 1"], 2, 60) is None  # no train_challenge: the call says so
    assert prepare_challenge(["W = '" + "A" * 30_000 + "'\n" + RIGHT], 2, 60) is None  # refused by size


def grade_twice(transport, cell: str) -> tuple[list[str], str]:
    """The visible and a hidden call, as lesson 09's test cell, on two kernels made ready ahead."""
    kernels = ChallengeKernels(cell, 2, timeout=120)
    try:
        concurrent.futures.wait(list(kernels._ready), timeout=120)  # both alive, both cells run
        transport.challenge_kernels = kernels
        outputs = verdict(TWO_CALLS, transport, [cell])
    finally:
        transport.challenge_kernels = None
        kernels.close()
    errors = [o.ename for o in outputs if o.output_type == "error"]
    return errors, "".join(o.get("text", "") for o in outputs if o.output_type == "stream")


# Two kernels made ready are alive at once: each looks for what the other left where a kernel can
# write (its folder, /tmp, /dev/shm, home) and on an abstract Unix socket. Neither finds anything.
SEES_ANOTHER = """
import os, socket

seen = [p for p in ("marker", "/tmp/marker", "/dev/shm/marker", os.path.expanduser("~/marker"))
        if os.path.exists(p)]
for p in ("marker", "/tmp/marker", "/dev/shm/marker", os.path.expanduser("~/marker")):
    try:
        open(p, "w").close()
    except OSError:
        pass
listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    listener.bind("\\0course-challenge-marker")
    listener.listen(1)
except OSError:
    seen.append("the abstract socket")
""" + RIGHT.replace("    model = MLP", "    assert not seen, f'another kernel left {seen}'\n    model = MLP")


def test_kernels_alive_at_once_cannot_see_each_other(transport):
    errors, printed = grade_twice(transport, textwrap.dedent(SEES_ANOTHER))
    assert errors == [], printed
    assert printed.count("✅") == 2


# Threads of the student's own that spin from the cell on: both kernels crawl, and the grader still
# serves each batch whole (it once gave up on a reply the kernel took over 0.5 s to read).
SPINS = (
    "import threading\n\n"
    "threading.Thread(target=lambda: [None for _ in iter(int, 1)], daemon=True).start()\n" + RIGHT
)
# Processes forked from the kernel write on its sockets: 0 points, said so, nothing left behind.
FORKS = (
    "import os\n\nfor _ in range(400):\n    try:\n        if os.fork() == 0:\n"
    "            import time\n\n            time.sleep(600)\n    except OSError:\n        break\n" + RIGHT
)


def test_a_kernel_busy_with_its_own_threads_still_gets_every_batch(transport):
    errors, printed = grade_twice(transport, SPINS)
    assert errors == [], printed
    assert printed.count("✅") == 2


def test_a_kernel_whose_forks_garble_its_messages_earns_nothing_and_leaves_nothing(transport):
    before = grading_uids()
    errors, printed = grade_twice(transport, FORKS)
    assert errors and "✅" not in printed
    assert "cannot read" in printed or "died" in printed, printed
    assert grading_uids() <= before
