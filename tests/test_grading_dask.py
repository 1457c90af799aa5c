"""Grading on a dask cluster of separate processes, one of which is lost in the middle of the run.

A scheduler and two workers are started with dask's own command line on loopback, as an
instructor starts them on several machines (grading/README.md), each worker single-threaded and
without a nanny, so that a killed worker stays dead. A small class of the fixture assignment
(tests/fixtures/00_fixture.ipynb: softmax 2 points, cross_entropy 3) is autograded through
`grade.py autograde --scheduler`; as soon as one worker has started a grading kernel, that worker
is killed (SIGKILL). Its student must be graded once more on the other worker and nowhere else:
every score exact, each student recorded once, the gradebook holding one submission per student
and nothing from the lost worker; then `feedback --scheduler` writes every page. A fast test
checks that a student whose worker is lost twice is not tried a third time.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from grading.catalogue import add_cell, edited, write_inbox
from grading.course import ROOT, gradebook_url
from tests.grading_cases import Assignment, outputs, page_of, points, read_gradebook

FIXTURES = ROOT / "tests" / "fixtures"
LESSON = "00_fixture"
DASK = Path(sys.executable).parent / "dask"
# Its dask worker: the process that started the kernel's sandbox (grading/sandbox.py says which).
PROBE = "import os\nprint('graded by worker', os.environ['COURSE_GRADER_WORKER_PID'])"
UNSTABLE = "def softmax(z):\n    return z.exp() / z.exp().sum(1, keepdim=True)\n"  # fails on huge logits


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _grading_kernel(pid: int) -> bool:
    """Whether the process has a child that runs a grading kernel (launch.py, then ipykernel)."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return False
    for child in children:
        try:
            if any("launch.py" in part or "ipykernel" in part for part in child.cmdline()):
                return True
        except psutil.Error:
            continue
    return False


def _step(course: Path, env: dict, *step: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "grading.grade", "--course", str(course), "--source", str(FIXTURES), *step]
    return subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_a_lost_worker_costs_one_retry_and_nothing_is_graded_twice(tmp_path):
    from distributed import Client

    course, inbox = tmp_path / "course", tmp_path / "inbox"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COURSE_GRADER_TIMEOUT": "60"}
    env.pop("COURSE_GRADEBOOK_URL", None)  # SQLite in the course folder
    address = f"tcp://127.0.0.1:{_free_port()}"
    started: list[subprocess.Popen] = []

    def start(*args: str, log: str) -> subprocess.Popen:
        with open(tmp_path / log, "w") as out:
            started.append(
                subprocess.Popen(
                    [str(DASK), *args], cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT
                )
            )
        return started[-1]

    try:
        start(
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            address.rsplit(":", 1)[1],
            "--no-dashboard",
            log="scheduler.log",
        )
        workers = [
            start(
                "worker",
                address,
                "--nthreads",
                "1",
                "--no-nanny",
                "--memory-limit",
                "0",
                "--no-dashboard",
                "--name",
                f"w{k}",
                "--local-directory",
                str(tmp_path / f"w{k}"),
                log=f"worker{k}.log",
            )
            for k in range(2)
        ]

        # The class, meanwhile: each kernel prints its worker's pid.
        assert _step(course, env, "release", LESSON).returncode == 0
        a = Assignment(LESSON, FIXTURES / f"{LESSON}.ipynb", course / "release_copies" / f"{LESSON}.ipynb")
        right = a.solution_code()
        expected = {
            "00-correct": 5,
            "00-blank": 0,
            "00-softmax-only": 2,
            "00-cross-entropy-only": 3,
            "00-unstable-softmax": 3,
        }
        code = {
            "00-correct": right,
            "00-blank": {},
            "00-softmax-only": {"softmax": right["softmax"]},
            "00-cross-entropy-only": {"cross_entropy": right["cross_entropy"]},
            "00-unstable-softmax": {**right, "softmax": UNSTABLE},
        }
        write_inbox(
            inbox,
            LESSON,
            {s: edited(a.submission(c), add_cell(PROBE, after="setup")) for s, c in code.items()},
        )
        assert _step(course, env, "collect", str(inbox), "--lesson", LESSON).returncode == 0
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=60)

        # Kill the first worker seen grading, while it grades.
        killed: list[int] = []

        def kill_one() -> None:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not killed:
                for w in workers:
                    if _grading_kernel(w.pid):
                        os.kill(w.pid, signal.SIGKILL)
                        killed.append(w.pid)
                        return
                time.sleep(0.05)

        killer = threading.Thread(target=kill_one)
        killer.start()
        t0 = time.perf_counter()
        auto = _step(course, env, "autograde", LESSON, "--scheduler", address)
        seconds = time.perf_counter() - t0
        killer.join()
        assert auto.returncode == 0, auto.stdout + auto.stderr
        assert killed, "no worker was seen grading"
        survivor = next(w.pid for w in workers if w.pid not in killed)
        print(
            f"autograded {len(expected)} submissions in {seconds:.1f} s, worker {killed[0]} killed "
            f"mid-run; {auto.stdout.strip().splitlines()[-1]}"
        )

        # Every grade right; nothing from the lost worker; every student recorded exactly once.
        scores, manual, _ = read_gradebook(gradebook_url(course), LESSON, list(expected))
        assert scores == expected
        assert manual == []
        said = auto.stdout.splitlines()
        lines = {s: [line for line in said if line.startswith(f"  {s}: ")] for s in expected}
        assert all(len(found) == 1 for found in lines.values()), lines
        again = [s for s, found in lines.items() if "its first worker was lost" in found[0]]
        assert len(again) == 1, auto.stdout
        graded_by = {}
        for student in expected:
            printed = outputs(course, student, LESSON).values()
            probe = next(o for o in printed if o.startswith("graded by worker"))
            graded_by[student] = int(probe.split()[-1])
        assert graded_by[again[0]] == survivor
        assert killed[0] not in graded_by.values()
        assert "FAILED" not in auto.stdout
        assert not [k for k in json.loads((course / "problems.json").read_text()) if k.startswith(LESSON)]
        with sqlite3.connect(course / "gradebook.db") as db:  # one submission and one grade per check each
            (submissions,) = db.execute("select count(*) from submitted_assignment").fetchone()
            (grades,) = db.execute("select count(*) from grade").fetchone()
        assert (submissions, grades) == (len(expected), 2 * len(expected))
        assert re.search(r"1 graded again after losing their worker", auto.stdout), auto.stdout

        # The pages, built on what is left of the cluster.
        fb = _step(course, env, "feedback", LESSON, "--scheduler", address)
        assert fb.returncode == 0, fb.stdout + fb.stderr
        for student, score in expected.items():
            summary = page_of(course, student, LESSON).split('<section class="check', 1)[0]
            assert points(summary) == (score, 5), student
    finally:
        for proc in reversed(started):
            if proc.poll() is None:
                proc.terminate()
        for proc in started:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_a_student_whose_worker_is_lost_twice_is_not_tried_a_third_time():
    """The scheduler hands a lost worker's task to another worker (up to its allowed-failures, 3 by
    default); the task counts its own starts and gives up at once on the third."""
    from distributed import Client, LocalCluster

    from grading import worker

    lesson = {"name": LESSON, "digest": "0" * 64, "source": {}, "assignment": {}}
    with (
        LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as local,
        Client(local) as client,
    ):
        client.set_metadata(worker.start_counter("run", "00-unlucky"), 2)  # two starts, both lost
        result = client.submit(worker.grade, lesson, "00-unlucky", {}, {}, "run").result()
        assert client.get_metadata(worker.start_counter("run", "00-unlucky")) == 3
    assert not result["ok"] and result["start"] == 3
    assert "lost 2 times" in result["error"] and "not tried again" in result["error"]
