"""What a grading worker runs: one student's autograde, on whichever dask worker the task lands on.

grade.py's `autograde` hands every student to a dask.distributed cluster (a LocalCluster of one
single-threaded worker process per core, or `--scheduler tcp://HOST:PORT`); the task is `grade()`
below. A worker may be another machine, so a task carries what it needs as plain data and
touches nothing of the instructor's course directory:

- the lesson (`lesson_payload()`, built once per run and held by the cluster, fetched once per
  worker): the files of source/<lesson>/ (the instructor notebook, with the hidden tests) and
  the gradebook's record of the assignment (its cells, points and checksums);
- the student's submission folder, as bytes;
- the grading settings of the coordinating process (COURSE_GRADER_*; the thread variables).

The worker grades in a scratch course directory of its own, with a throwaway SQLite gradebook
made from that record: nbgrader's own `autograde` app, in this process (nbgrader's 3 s import
is paid once per worker process, not per student), the course's nbgrader_config.py, the
sandbox kernel `course-grader` and the preprocessors of grading/guard.py, exactly as
`nbgrader autograde LESSON --student=ID --create --force` in the course directory would. It
returns the autograded notebook and its grades; only the coordinating process writes the
instructor's gradebook and autograded/ folder (grade.py `_record`).

A worker lost while grading (its machine or process gone) costs a retry of that student on
another worker, once: each start is counted on the scheduler (in its metadata store, per run
and student), and a third start gives up at once, so the coordinator lists the student in
problems.json.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from grading import sandbox
from grading.files import read_regular

MAX_STARTS = 2  # the first try and one retry elsewhere after a lost worker
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
LOG_CHARS = 20_000  # of nbgrader's log kept per student

_ONE_AT_A_TIME = threading.Lock()  # grading changes the working directory and the environment
_TEMPLATES: dict[str, Path] = {}  # lesson digest -> a scratch course with its gradebook, per process


# --------------------------------------------------------------------------- the coordinator's side


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@contextmanager
def cluster(workers: int | None = None, scheduler: str | None = None) -> Iterator:
    """A dask.distributed Client: to the cluster at `scheduler` (tcp://HOST:PORT), or to a
    LocalCluster of `workers` single-threaded worker processes (default: one per core) that
    lives as long as the block. Grading tasks run one at a time per worker process."""
    import dask
    from distributed import Client, LocalCluster

    # On Linux, workers forked from this process rather than spawned: each starts in a fraction of a
    # second with what this process has imported (nbgrader included), rather than importing it again.
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    with dask.config.set({"distributed.worker.multiprocessing-method": method}):
        if scheduler:
            with Client(scheduler, timeout="30s") as client:
                yield client
            return
        with (
            LocalCluster(
                n_workers=workers or cores(),
                threads_per_worker=1,
                processes=True,
                memory_limit=0,
                dashboard_address=None,
            ) as local,
            Client(local) as client,
        ):
            yield client


def threads_of(client) -> int:
    """The threads of the cluster's workers now: how many tasks it runs at once."""
    return sum(client.nthreads().values())


def assignment_record(db_url: str, name: str) -> dict:
    """The gradebook's record of an assignment as plain data: what nbgrader's generate_assignment
    stored (per notebook its grade, solution, task and source cells, points and checksums)."""
    from nbgrader.api import Gradebook
    from sqlalchemy import text

    with Gradebook(db_url) as gb:
        a = gb.find_assignment(name)
        alembic = gb.db.execute(text("SELECT version_num FROM alembic_version")).scalar()
        return {
            "name": name,
            "course_id": a.course_id,
            "alembic": alembic,
            "duedate": a.duedate.isoformat() if a.duedate else None,
            "notebooks": [
                {
                    "name": nb.name,
                    "kernelspec": nb.kernelspec,
                    "grade_cells": {c.name: _graded(c) for c in nb.grade_cells},
                    "solution_cells": [c.name for c in nb.solution_cells],
                    "task_cells": {c.name: _graded(c) for c in nb.task_cells},
                    "source_cells": {
                        c.name: {
                            "cell_type": c.cell_type,
                            "locked": c.locked,
                            "source": c.source,
                            "checksum": c.checksum,
                        }
                        for c in nb.source_cells
                    },
                }
                for nb in a.notebooks
            ],
        }


def _graded(cell) -> dict:
    return {"max_score": cell.max_score, "cell_type": cell.cell_type}


def folder_files(folder: Path) -> dict[str, bytes]:
    """Every regular file under folder, by its path relative to it (what crosses the wire)."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def lesson_payload(course: Path, name: str, db_url: str) -> dict:
    """What every task of a lesson needs: the source folder's files and the gradebook's record."""
    source = folder_files(course / "source" / name)
    record = assignment_record(db_url, name)
    digest = hashlib.sha256(
        json.dumps(
            [sorted((k, hashlib.sha256(v).hexdigest()) for k, v in source.items()), record], sort_keys=True
        ).encode()
    ).hexdigest()
    return {"name": name, "digest": digest, "source": source, "assignment": record}


def grading_settings(threads: int | None = None) -> dict[str, str]:
    """The coordinating process's grading settings, which every task applies on its worker:
    COURSE_GRADER_* (limits, timeout, torch threads per kernel) and the thread variables.
    `threads`: COURSE_GRADER_THREADS when the environment does not set it."""
    settings = {k: v for k, v in os.environ.items() if k.startswith("COURSE_GRADER_") or k in THREAD_VARS}
    if threads is not None:
        settings.setdefault("COURSE_GRADER_THREADS", str(threads))
    return settings


def hold(value):
    """The identity: `client.submit(hold, payload)` keeps one copy of a lesson on the cluster,
    which the grading tasks depend on (fetched once per worker, recomputed if lost)."""
    return value


# --------------------------------------------------------------------------- the worker's side


def dask_setup(worker=None) -> None:
    """`dask worker ... --preload grading.worker`: import nbgrader and the course's grading steps
    as the worker starts, rather than when its first student arrives."""
    import nbgrader.apps.autogradeapp  # noqa: F401

    import grading.guard  # noqa: F401


def grade(
    lesson: dict, student: str, submission: dict[str, bytes], settings: dict[str, str], run: str = ""
) -> dict:
    """Autograde one student's submission on this worker; the results as plain data.

    {"student", "ok", "error", "seconds", "cpu" (seconds, the kernel's included), "start" (1, or 2
     after a lost worker), "worker",
     "notebooks": {file name: autograded notebook JSON}, "grades": {grade id: [auto score, max]},
     "penalties": {notebook: late penalty or None}, "log": nbgrader's and the kernel's messages}
    """
    t0, cpu0 = time.perf_counter(), _cpu()
    name = lesson["name"]
    out = {
        "student": student,
        "ok": False,
        "error": "",
        "seconds": 0.0,
        "cpu": 0.0,
        "start": 1,
        "worker": _where(),
        "notebooks": {},
        "grades": {},
        "penalties": {},
        "log": "",
    }
    with _ONE_AT_A_TIME:
        out["start"] = start = _count_start(run, student)
        if start > MAX_STARTS:
            out["error"] = (
                f"the worker grading it was lost {start - 1} times (machine or process gone); not tried again"
            )
            return out
        if sandbox.enabled(settings):
            unable = sandbox.check()
            if unable:  # never graded unprotected
                out["error"] = f"this worker cannot start the grading sandbox: {unable}"
                return out
        work = Path(tempfile.mkdtemp(prefix="grading-", dir=scratch()))
        try:
            shutil.copytree(_template(lesson), work, dirs_exist_ok=True)
            folder = work / "submitted" / student / name
            for rel, data in submission.items():
                (folder / rel).parent.mkdir(parents=True, exist_ok=True)
                (folder / rel).write_bytes(data)
            log = work / "autograde.log"
            with _environment(settings), _inside(work), _stderr_to(log):
                out["ok"], out["error"] = _autograde(name, student, work)
            out["log"] = log.read_text(errors="replace")[-LOG_CHARS:]
            graded = work / "autograded" / student / name
            out["notebooks"] = {  # regular files only, read without following a link
                p.name: raw.decode("utf-8")
                for p in sorted(graded.glob("*.ipynb"))
                if (raw := read_regular(p)) is not None
            }
            if out["ok"]:
                out["grades"], out["penalties"] = _grades(work, name, student)
                if not out["notebooks"]:
                    out["ok"], out["error"] = False, "nbgrader wrote no autograded notebook"
        except Exception as err:  # noqa: BLE001 (reported for this student; the worker goes on)
            out["ok"], out["error"] = False, f"{type(err).__name__}: {err}"
        finally:
            shutil.rmtree(work, ignore_errors=True)
        out["seconds"], out["cpu"] = time.perf_counter() - t0, _cpu() - cpu0
    return out


def _cpu() -> float:
    """CPU seconds of this process and of its children that have ended (the grading kernels)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _autograde(name: str, student: str, work: Path) -> tuple[bool, str]:
    """nbgrader's autograde app in this process, in the scratch course (the working directory)."""
    from nbgrader.apps.autogradeapp import AutogradeApp

    app = AutogradeApp()
    path = list(sys.path)  # nbgrader puts the course directory on sys.path: one per student here
    try:
        app.initialize(
            [
                name,
                f"--student={student}",
                "--create",
                "--force",
                "--log-level=WARN",
                f"--CourseDirectory.db_url={_db_url(work)}",
            ]
        )
        app.start()
    except SystemExit as stop:  # nbgrader exits 1 when a submission could not be graded
        if stop.code not in (0, None):
            return False, f"nbgrader autograde exited with {stop.code} (its log: autograde_logs/)"
    except Exception as err:  # noqa: BLE001 (reported for this student; the worker goes on)
        return False, f"{type(err).__name__}: {err}"
    finally:
        for handler in list(app.log.handlers):  # each app adds its own: do not pile them up
            app.log.removeHandler(handler)
            handler.close()
        sys.path[:] = path
    return True, ""


def _db_url(course: Path) -> str:
    return f"sqlite:///{course / 'gradebook.db'}"


def _grades(work: Path, name: str, student: str) -> tuple[dict[str, list], dict[str, float | None]]:
    """What the throwaway gradebook got: per graded cell [auto score, max], per notebook its late
    penalty (nbgrader's AssignLatePenalties with the course's configuration)."""
    from nbgrader.api import Gradebook

    with Gradebook(_db_url(work)) as gb:
        sub = gb.find_submission(name, student)
        return (
            {g.name: [g.auto_score, g.max_score] for nb in sub.notebooks for g in nb.grades},
            {nb.name: nb.late_submission_penalty for nb in sub.notebooks},
        )


def _template(lesson: dict) -> Path:
    """A scratch course for the lesson, made once per worker process: nbgrader_config.py (the
    course's, from this machine's checkout), source/<lesson>/ and a gradebook holding the
    assignment as the instructor's gradebook has it."""
    from grading.course import make_course_dir

    digest = lesson["digest"]
    path = _TEMPLATES.get(digest)
    if path is not None and path.is_dir():
        return path
    path = scratch() / f"lesson-{lesson['name']}-{digest[:12]}"
    shutil.rmtree(path, ignore_errors=True)
    make_course_dir(path)
    for rel, data in lesson["source"].items():
        target = path / "source" / lesson["name"] / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    _make_gradebook(path / "gradebook.db", lesson["assignment"])
    _TEMPLATES[digest] = path
    return path


def _make_gradebook(path: Path, record: dict) -> None:
    """A gradebook holding the assignment of `record` and nothing else."""
    from nbgrader.api import Gradebook

    # Stamped with the schema version of the instructor's gradebook first: nbgrader would
    # otherwise run `alembic` in a new process to find it.
    db = sqlite3.connect(path)
    try:
        db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        db.execute("INSERT INTO alembic_version (version_num) VALUES (?)", (record["alembic"],))
        db.commit()
    finally:
        db.close()
    name = record["name"]
    with Gradebook(f"sqlite:///{path}", record["course_id"]) as gb:
        due = record["duedate"]
        gb.update_or_create_assignment(name, duedate=datetime.fromisoformat(due) if due else None)
        for nb in record["notebooks"]:
            gb.add_notebook(nb["name"], name, kernelspec=nb["kernelspec"])
            for cell, info in nb["grade_cells"].items():
                gb.add_grade_cell(cell, nb["name"], name, **info)
            for cell in nb["solution_cells"]:
                gb.add_solution_cell(cell, nb["name"], name)
            for cell, info in nb["task_cells"].items():
                gb.add_task_cell(cell, nb["name"], name, **info)
            for cell, info in nb["source_cells"].items():
                gb.add_source_cell(cell, nb["name"], name, **info)


@contextmanager
def _environment(settings: dict[str, str]) -> Iterator[None]:
    """The coordinator's grading settings for the kernels this task starts; the worker's own
    environment back afterwards. The thread variables are the coordinator's, not those a dask
    nanny sets for its worker (so COURSE_GRADER_THREADS decides, as in grading/jupyter/kernels/),
    and no gradebook address reaches a kernel: a worker never needs one."""
    saved = {var: os.environ.get(var) for var in (*THREAD_VARS, "COURSE_GRADEBOOK_URL", "PATH", *settings)}
    for var in (*THREAD_VARS, "COURSE_GRADEBOOK_URL"):
        os.environ.pop(var, None)
    os.environ.update(settings)
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{saved['PATH'] or os.defpath}"
    try:
        yield
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


@contextmanager
def _stderr_to(log: Path) -> Iterator[None]:
    """This process's standard error, which the kernels inherit, into log while grading: nbgrader's
    warnings and each kernel's own messages go with the student's results (autograde_logs/),
    not to the terminal of the worker (for a LocalCluster, the instructor's)."""
    sys.stderr.flush()
    saved = os.dup(2)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 2)
    os.close(fd)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


@contextmanager
def _inside(folder: Path) -> Iterator[None]:
    here = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(here)


def _worker():
    try:
        from distributed import get_worker

        return get_worker()
    except (ImportError, ValueError):  # not running as a dask task
        return None


def _where() -> str:
    worker = _worker()
    return f"{worker.address} (pid {os.getpid()})" if worker is not None else f"pid {os.getpid()}"


def scratch() -> Path:
    """This worker's scratch space (dask removes it with the worker), or a temporary folder."""
    worker = _worker()
    if worker is not None:
        path = Path(worker.local_directory) / "course-grading"
    else:
        path = Path(tempfile.gettempdir()) / f"course-grading-{os.getpid()}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _count_start(run: str, student: str) -> int:
    """How many times this student's grading has started in this run, this one included.

    Counted on the scheduler (its metadata store), so that a start on a worker that is then
    lost still counts when the scheduler hands the task to another worker."""
    if not run or _worker() is None:
        return 1
    from distributed import get_client

    client = get_client()
    count = int(client.get_metadata(start_counter(run, student), default=0)) + 1
    client.set_metadata(start_counter(run, student), count)
    return count


def start_counter(run: str, student: str | None = None) -> list[str]:
    """Where the scheduler's metadata counts a student's starts in a run (the run's, without one)."""
    return ["course-grading", run] + ([student] if student is not None else [])
