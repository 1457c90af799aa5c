"""The grading sandbox (grading/sandbox.py) against hostile submissions, on the fixture assignment.

One class of tests/fixtures/00_fixture.ipynb goes through release, collect, autograde (two
workers) and feedback, as in test_grading_hostile.py, with a submission per attack of issue 16,
each built on the right answer with a cell of its own (after the checks, unless its point is to
stop them), which prints what it achieved as a `SANDBOX-REPORT {json}` line:

- escape: its capabilities, `mount -o remount,rw /`, a nested user namespace, writing anywhere;
- daemon: a double-forked `setsid` process that waits for its notebook to end, then tries to
  edit the gradebook and kill every process it can (the next student's kernel);
- fork-bomb: forks until refused; disk-filler: writes until the disk is full (scratch, /dev/shm);
- notebook-clock: cells that each sleep just under the cell timeout, more of them than the
  notebook's time limit allows: stopped by COURSE_GRADER_NOTEBOOK_S, the page says so;
- reads-secrets: opens the course's source/ notebook (hidden tests), the gradebook, release/,
  another student's submission, the inbox, the fixture, and any notebook in its own folder, and
  prints what it read reversed (a form the feedback's line filter would not catch);
- symlinks: replaces the files of its folder with links to a file outside.

Each gets exactly its score, nothing outside the grading folders changes, no process of a
sandbox uid outlives the grading, and the student a worker grades after a hostile one gets
exactly their own score. Also: grading stops when no sandbox can start, and a failed autograde
leaves 0 and a problems.json entry, never earlier marks, writing through no planted link.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from grading import sandbox
from grading.catalogue import add_cell, edited, write_inbox
from grading.course import ROOT, gradebook_url
from tests.grading_cases import (
    Assignment,
    grade,
    outputs,
    page_of,
    read_gradebook,
    sha256s,
    text,
)

pytestmark = pytest.mark.slow
FIXTURES = ROOT / "tests" / "fixtures"
LESSON = "00_fixture"
WORKERS = 2
CELL_TIMEOUT = 30  # s, as test_grading_hostile.py (a first import of torch in CI took over 10 s)
NOTEBOOK_S = 60  # the whole notebook: the fixture's needs a few seconds idle, its import alone 10+ in CI
SLEEPERS = 8  # cells of SLEEP_S each: 64 s, past NOTEBOOK_S
SLEEP_S = 8  # each under CELL_TIMEOUT: only the notebook's clock can stop them
DISK_MB = 32
PROCESSES = 64
UID_BASE = 2_100_000_000 + (os.getpid() % 1000) * 100  # this run's own uids: no other grader's
UID_SLOTS = 16
PROBE = (
    "import os, time\nprint('graded by worker', os.environ['COURSE_GRADER_WORKER_PID'], 'at', time.time())"
)
SECRET = "COURSE_TEST_SECRET"  # in the grader's environment: must not reach a kernel

REPORT = "import json\nprint('SANDBOX-REPORT', json.dumps(r))\n"

ESCAPE = """\
import os, subprocess
r = {"capeff": [l.split()[1] for l in open("/proc/self/status") if l.startswith("CapEff")][0]}
r["uid"] = os.getuid()
r["remount"] = subprocess.run(["mount", "-o", "remount,rw", "/"], capture_output=True).returncode
r["remount_usr"] = subprocess.run(["mount", "-o", "remount,bind,rw", "/usr"], capture_output=True).returncode
r["nested_userns"] = subprocess.run(["unshare", "-Ur", "true"], capture_output=True).returncode
r["wrote"] = []
course = os.path.dirname(os.path.dirname(__import__("course_utils").__file__))
for d in ["/", "/usr", "/tmp", "/etc", "/run/course-grader", "/dev", os.path.dirname(os.__file__),
          course, os.environ["COURSE_DATA_DIR"]]:
    try:
        with open(os.path.join(d, "pwned"), "w") as f:
            f.write("x")
        r["wrote"].append(d)
    except OSError:
        pass
r["processes"] = [p for p in os.listdir("/proc") if p.isdigit()]
r["environment"] = sorted(os.environ)
"""

DAEMON = """\
import os, signal, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(s, signal.SIG_IGN)
        time.sleep(15)  # its own notebook is over: the next students are being graded
        for _ in range(600):
            try:
                open({gradebook!r}, "ab").write(b"pwned")
            except OSError:
                pass
            try:
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
            time.sleep(0.1)
    os._exit(0)
time.sleep(0.5)
r = {{"daemon": "started"}}
"""

FORK_BOMB = """\
import os, time
r = {"forked": 0}
while True:
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        while True:
            time.sleep(1)
    r["forked"] += 1
"""

DISK_FILLER = """\
import os

def fill(path):
    mb = 0
    try:
        with open(path, "wb") as f:
            while True:
                f.write(b"x" * (1 << 20))
                f.flush()
                mb += 1
    except OSError:
        pass
    return mb

r = {"scratch": fill(os.path.join(os.environ["TMPDIR"], "fill")), "work": fill("fill"),
     "shm": fill("/dev/shm/fill")}
"""

READS = """\
import glob, os
r = {{"read": {{}}, "tried": 0}}
for p in {paths!r} + glob.glob("*.ipynb") + glob.glob("/sandbox/**/*.ipynb", recursive=True):
    r["tried"] += 1
    try:
        with open(p, "rb") as f:
            data = f.read()
    except OSError:
        continue
    r["read"][p] = len(data)
    print(data.decode(errors="replace")[::-1])
"""

LINKS = """\
import os
for name in ("00_fixture.ipynb", "timestamp.txt", "00_fixture.html", "escape"):
    if os.path.lexists(name):
        os.remove(name)
    os.symlink({target!r} if name != "escape" else "/", name)
r = {{"links": sorted(os.listdir("."))}}
"""


def report(course: Path, student: str) -> dict:
    """The SANDBOX-REPORT its own cell printed."""
    for out in outputs(course, student, LESSON).values():
        for line in out.splitlines():
            if line.startswith("SANDBOX-REPORT "):
                return json.loads(line.split(" ", 1)[1])
    raise AssertionError(f"{student}: no SANDBOX-REPORT in {outputs(course, student, LESSON)}")


def sandbox_processes() -> list[int]:
    """Processes running as one of this run's sandbox uids."""
    return [pid for pid, uid in sandbox.live_processes().items() if UID_BASE <= uid < UID_BASE + UID_SLOTS]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    if os.geteuid() != 0 or sandbox.check():
        pytest.fail(f"the sandbox tests run as root on a machine that can sandbox: {sandbox.check()}")
    tmp = tmp_path_factory.mktemp("sandbox")
    course, inbox = tmp / "course", tmp / "inbox"
    precious = tmp / "precious.txt"
    precious.write_text("must survive")
    precious.chmod(0o600)
    outside_dir = tmp / "outside"
    outside_dir.mkdir()
    (outside_dir / "keep.txt").write_text("keep")
    env = {
        **os.environ,
        "COURSE_GRADER_TIMEOUT": str(CELL_TIMEOUT),
        "COURSE_GRADER_NOTEBOOK_S": str(NOTEBOOK_S),
        "COURSE_GRADER_DISK_MB": str(DISK_MB),
        "COURSE_GRADER_PROCESSES": str(PROCESSES),
        "COURSE_GRADER_UID_BASE": str(UID_BASE),
        "COURSE_GRADER_UID_SLOTS": str(UID_SLOTS),
        "COURSE_GRADER_MEMORY_MB": "6144",
        "COURSE_GRADER_CPU_S": "120",
        "OMP_NUM_THREADS": "1",
        SECRET: "hunter2",
    }
    env.pop("COURSE_GRADEBOOK_URL", None)
    grade(course, env, "release", LESSON, source=FIXTURES)
    a = Assignment(LESSON, FIXTURES / f"{LESSON}.ipynb", course / "release_copies" / f"{LESSON}.ipynb")
    right = a.solution_code()
    secrets = [
        course / "source" / LESSON / f"{LESSON}.ipynb",
        course / "release" / LESSON / f"{LESSON}.ipynb",
        course / "gradebook.db",
        course / "submitted" / "00-correct" / LESSON / f"{LESSON}.ipynb",
        inbox / "00-correct" / f"{LESSON}.ipynb",
        FIXTURES / f"{LESSON}.ipynb",
        precious,
    ]

    def own(source: str, after: str = "cross_entropy_check"):
        return edited(a.submission(right), add_cell(source + REPORT, after=after))

    sleepers = a.submission(right)
    for i in range(SLEEPERS):
        edited(sleepers, add_cell(f"import time\ntime.sleep({SLEEP_S})  # {i}", after="softmax_check"))
    cases = {
        "00-correct": (a.submission(right), 5),
        "00-escape": (own(ESCAPE), 5),
        "00-daemon": (own(DAEMON.format(gradebook=str(course / "gradebook.db"))), 5),
        "00-fork-bomb": (own(FORK_BOMB), 5),
        "00-disk-filler": (own(DISK_FILLER), 5),
        "00-notebook-clock": (sleepers, 2),  # softmax_check ran; cross_entropy's time never came
        "00-reads-secrets": (own(READS.format(paths=[str(p) for p in secrets])), 5),
        "00-symlinks": (own(LINKS.format(target=str(precious))), 5),
        "00-blank": (a.submission({}), 0),
        "00-correct-too": (a.submission(right), 5),
    }
    for nb, _ in cases.values():
        edited(nb, add_cell(PROBE, after="setup"))
    write_inbox(inbox, LESSON, {s: nb for s, (nb, _) in cases.items()})
    grade(course, env, "collect", str(inbox), "--lesson", LESSON, source=FIXTURES)
    before = {
        "inbox": sha256s(inbox),
        "fixtures": sha256s(FIXTURES),
        "course": sha256s(course / "source") | sha256s(course / "release") | sha256s(course / "submitted"),
        "outside": sha256s(outside_dir),
    }
    auto = grade(course, env, "autograde", LESSON, "--workers", str(WORKERS), source=FIXTURES)
    left = sandbox_processes()  # right after grading: every sandbox must be gone already
    # A link planted where a page goes (feedback/<student>) is replaced, not written through.
    (course / "feedback").mkdir(exist_ok=True)
    (course / "feedback" / "00-symlinks").symlink_to(outside_dir, target_is_directory=True)
    grade(course, env, "feedback", LESSON, "--workers", str(WORKERS), source=FIXTURES)
    scores, manual, book = read_gradebook(gradebook_url(course), LESSON, list(cases))
    return SimpleNamespace(
        a=a,
        course=course,
        inbox=inbox,
        env=env,
        cases=cases,
        scores=scores,
        manual=manual,
        autograde=auto.stdout,
        before=before,
        left=left,
        precious=precious,
        outside_dir=outside_dir,
        tmp=tmp,
    )


def test_every_score_is_exact(graded):
    assert "FAILED" not in graded.autograde, graded.autograde
    assert graded.scores == {s: score for s, (_, score) in graded.cases.items()}
    assert graded.manual == []


def test_no_capability_no_mount_no_nested_namespace_no_write_outside_scratch(graded):
    r = report(graded.course, "00-escape")
    assert r["capeff"] == "0" * 16
    assert UID_BASE <= r["uid"] < UID_BASE + UID_SLOTS
    assert r["remount"] != 0 and r["remount_usr"] != 0 and r["nested_userns"] != 0
    assert r["wrote"] == []
    assert len(r["processes"]) <= 6  # its own PID namespace: bwrap's two, the kernel, `subprocess`
    assert SECRET not in r["environment"] and "COURSE_GRADEBOOK_URL" not in r["environment"]


def test_limits_hold(graded):
    assert 0 < report(graded.course, "00-fork-bomb")["forked"] < PROCESSES
    filled = report(graded.course, "00-disk-filler")
    assert filled["scratch"] + filled["work"] <= DISK_MB and filled["shm"] <= sandbox.SHM_MB
    assert report(graded.course, "00-daemon") == {"daemon": "started"}


def test_the_notebook_time_limit_stops_a_slow_notebook_and_says_so(graded):
    out = outputs(graded.course, "00-notebook-clock", LESSON)
    assert "NotebookTimeout" in "".join(out.values())
    assert "not run" in out["cross_entropy_check"] and "notebook time limit" in out["cross_entropy_check"]
    page = text(page_of(graded.course, "00-notebook-clock", LESSON))
    assert "notebook time limit" in page and f"{NOTEBOOK_S} s" in page


def test_secrets_cannot_be_opened(graded):
    r = report(graded.course, "00-reads-secrets")
    assert r["read"] == {} and r["tried"] >= 7
    hidden = graded.a.hidden_test_lines()
    said = "".join(outputs(graded.course, "00-reads-secrets", LESSON).values())
    assert not [h for h in hidden if h in said or h[::-1] in said]


def test_links_planted_by_a_kernel_or_in_the_course_are_not_followed(graded):
    assert report(graded.course, "00-symlinks")["links"] == [
        "00_fixture.html",
        "00_fixture.ipynb",
        "escape",
        "timestamp.txt",
    ]
    assert graded.precious.read_text() == "must survive"
    assert stat.S_IMODE(graded.precious.stat().st_mode) == 0o600  # not chmod-ed through a link
    for kind, name in (("autograded", f"{LESSON}.ipynb"), ("feedback", f"{LESSON}.html")):
        folder = graded.course / kind / "00-symlinks"
        assert not folder.is_symlink() and not (folder / LESSON).is_symlink()
        assert stat.S_ISREG(os.lstat(folder / LESSON / name).st_mode)
    assert sha256s(graded.outside_dir) == graded.before["outside"]


def test_nothing_outside_changed_and_no_process_outlived_grading(graded):
    assert graded.left == [], "sandbox processes outlived grading"
    assert sandbox_processes() == []
    assert sha256s(graded.inbox) == graded.before["inbox"]
    assert sha256s(FIXTURES) == graded.before["fixtures"]
    course = graded.course
    assert (
        sha256s(course / "source") | sha256s(course / "release") | sha256s(course / "submitted")
    ) == graded.before["course"]
    import course_utils

    for folder in ("/", "/usr", "/tmp", "/etc", os.path.dirname(os.__file__), ROOT, ROOT / "data"):
        assert not Path(folder, "pwned").exists(), folder  # what 00-escape tried to write
    assert not Path(course_utils.__file__).parent.parent.joinpath("pwned").exists()
    assert not list(Path("/tmp").glob("course-grader-ipc-*/pwned"))


def test_the_next_student_of_a_worker_is_graded_right(graded):
    graded_by = {}
    for student in graded.cases:
        probe = next(
            o for o in outputs(graded.course, student, LESSON).values() if o.startswith("graded by worker")
        )
        _, _, _, pid, _, when = probe.split()
        graded_by[student] = (int(pid), float(when))
    hostile = {s for s in graded.cases if s not in ("00-correct", "00-correct-too", "00-blank")}
    followed = 0
    for pid in {p for p, _ in graded_by.values()}:
        in_turn = sorted((when, s) for s, (p, when) in graded_by.items() if p == pid)
        for (_, student), (_, after) in zip(in_turn, in_turn[1:]):
            if student in hostile:
                followed += 1
                assert graded.scores[after] == graded.cases[after][1], (student, after)
    assert followed >= len(hostile) - WORKERS


def test_grading_stops_where_no_sandbox_can_start(graded):
    env = {**graded.env, "COURSE_GRADER_BWRAP": "/bin/false"}
    cmd = [sys.executable, "-m", "grading.grade", "--course", str(graded.course), "--source", str(FIXTURES)]
    proc = subprocess.run(
        [*cmd, "autograde", LESSON], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "nothing graded" in proc.stderr and "bubblewrap" in proc.stderr
    assert "user namespaces" in proc.stderr and "COURSE_GRADER_SANDBOX=off" in proc.stderr
    assert read_gradebook(gradebook_url(graded.course), LESSON, list(graded.cases))[0] == graded.scores


def test_a_failed_autograde_leaves_zero_and_a_problem_never_earlier_marks(graded, tmp_path, monkeypatch):
    """On a copy of the graded course, every student's grading fails: their earlier marks go."""
    from grading import grade as grade_module

    course = tmp_path / "course"
    shutil.copytree(graded.course, course, symlinks=True)
    outside = tmp_path / "outside.json"
    outside.write_text("{}")
    (course / "problems.json").unlink(missing_ok=True)
    (course / "problems.json").symlink_to(outside)  # a link planted where problems.json goes
    stale = course / "autograded" / "00-correct" / LESSON
    shutil.rmtree(stale)
    stale.symlink_to(graded.outside_dir, target_is_directory=True)  # and where an output goes

    def failing(course, name, students, workers, scheduler, about):
        about["cluster"] = "no cluster (simulated)"
        for student in students:
            yield grade_module._failure(student, "simulated failure")

    monkeypatch.setattr(grade_module, "_grade_all", failing)
    monkeypatch.chdir(ROOT)
    assert grade_module.autograde(course, LESSON, source=FIXTURES) == 1
    scores = read_gradebook(gradebook_url(course), LESSON, list(graded.cases))[0]
    assert scores == {s: 0 for s in graded.cases}
    problems = json.loads((course / "problems.json").read_text())
    assert set(problems) == {f"{LESSON}/{s}" for s in graded.cases}
    assert all(p.startswith("autograde failed: simulated failure") for p in problems.values())
    assert not (course / "problems.json").is_symlink() and outside.read_text() == "{}"
    assert not list((course / "autograded").glob(f"*/{LESSON}"))
    assert sha256s(graded.outside_dir) == graded.before["outside"]
