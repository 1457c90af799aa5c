"""The instructor's grading workflow, one command a step (see grading/README.md).

    python -m grading.grade release [LESSON ...]
    python -m grading.grade collect FOLDER [--lesson LESSON]
    python -m grading.grade autograde LESSON [--workers N]
    python -m grading.grade feedback LESSON
    python -m grading.grade export [--to grades.csv]

All take --course DIR (default: grading/) and --source DIR (the instructor notebooks,
default: solutions/). Every step can be rerun safely.
Submissions are only ever copied: the files in FOLDER are never changed.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import shutil
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat

from grading.course import (
    GRADING,
    NOTEBOOKS,
    SOLUTIONS,
    generate,
    gradebook_url,
    lessons,
    make_course_dir,
    run_nbgrader,
)

PROBLEMS = "problems.json"  # per course dir: what went wrong with which submission


def _problems(course: Path) -> dict:
    path = course / PROBLEMS
    return json.loads(path.read_text()) if path.exists() else {}


def _save_problems(course: Path, problems: dict) -> None:
    (course / PROBLEMS).write_text(json.dumps(problems, indent=1, sort_keys=True))


def release(course: Path, names: list[str], source: Path = SOLUTIONS) -> None:
    """Generate the student versions (course/release/, and notebooks/ for the default course)."""
    names = lessons(names, source)
    out = NOTEBOOKS if course.resolve() == GRADING else course / "release_copies"
    generate(names, course, out, source)
    print(f"released {', '.join(names)}")


# A student id becomes a folder name and an nbgrader argument: letters, digits and . _ @ + - only
# (no glob characters, no path separators, no leading dot or dash).
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}")


def _real_dir(path: Path) -> bool:
    """A directory that is not a symbolic link."""
    return not path.is_symlink() and path.is_dir()


def _read_regular(path: Path) -> bytes | None:
    """The bytes of a regular file reached without following a link; None for anything else."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None  # a link (ELOOP), a missing file, a FIFO we may not open
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return None
        return f.read()


def _write_new(path: Path, data: bytes) -> None:
    """Write data to path as a new file: through a temporary name and a rename, so a link that
    stands at `path` is replaced, never followed."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def collect(course: Path, folder: Path, lesson: str | None, source: Path = SOLUTIONS) -> list[str]:
    """Copy FOLDER/<student>/<lesson>.ipynb (or nbgrader's <student>/<lesson>/<lesson>.ipynb).

    Only real folders and regular files inside FOLDER are taken: a symbolic link anywhere on the
    way, or a student id that is not safe for nbgrader (see SAFE_ID), is refused and listed; the
    return value is that list. A file that is not a readable notebook is kept beside the others as
    `<lesson>.ipynb.broken`: it is scored 0 and problems.json says why.
    """
    known = lessons(None, source) if lesson is None else [lesson]
    problems = _problems(course)
    count, refused = 0, []
    for entry in sorted(folder.iterdir()):
        student = entry.name
        if entry.is_symlink():
            refused.append(f"{student}: a symbolic link, not a folder of the inbox")
            continue
        if not entry.is_dir():
            continue
        if not SAFE_ID.fullmatch(student):
            refused.append(f"{student!r}: not a safe student id (letters, digits and . _ @ + - only)")
            continue
        for name in known:
            for candidate, parent in ((entry / f"{name}.ipynb", entry),
                                      (entry / name / f"{name}.ipynb", entry / name)):
                if candidate.is_symlink() or (parent is not entry and parent.is_symlink()):
                    refused.append(f"{student}/{candidate.relative_to(entry)}: a symbolic link")
                    data = None
                    break
                data = _read_regular(candidate) if _real_dir(parent) else None
                if data is not None:
                    break
            if data is None:
                continue
            dest = course / "submitted" / student / name
            dest.mkdir(parents=True, exist_ok=True)
            for old in dest.glob(f"{name}.ipynb*"):
                old.unlink()
            key = f"{name}/{student}"
            try:
                nbformat.validate(nbformat.reads(data.decode("utf-8"), as_version=4))
            except Exception as err:  # not UTF-8, not JSON, not a notebook, wrong schema
                _write_new(dest / f"{name}.ipynb.broken", data)
                problems[key] = f"not a readable notebook ({type(err).__name__}: {err}); scored 0"
            else:
                _write_new(dest / f"{name}.ipynb", data)
                problems.pop(key, None)
            count += 1
    _save_problems(course, problems)
    print(f"collected {count} submission(s) into {course / 'submitted'}")
    if refused:
        print(f"refused {len(refused)} entr{'y' if len(refused) == 1 else 'ies'} of {folder} "
              "(rename or replace them with real files, then collect again):")
        for line in refused:
            print(f"  {line}")
    return refused


def _ensure_released(course: Path, name: str, source: Path) -> None:
    if not (course / "release" / name / f"{name}.ipynb").exists():
        generate([name], course, course / "release_copies", source)


def autograde(course: Path, name: str, workers: int, source: Path = SOLUTIONS) -> int:
    """Autograde every submission of one lesson, `workers` students at a time."""
    _ensure_released(course, name, source)
    folders = sorted((course / "submitted").glob(f"*/{name}"))
    if not folders:
        print(f"no submissions of {name} in {course / 'submitted'}")
        return 0
    students = [f.parent.name for f in folders if (f / f"{name}.ipynb").is_file()]
    broken = [f.parent.name for f in folders if f.parent.name not in students]
    _score_zero(course, name, broken)
    problems = _problems(course)
    failed = 0
    t0 = time.perf_counter()
    for student, ok, seconds, error in _grade_all(course, name, students, workers):
        key = f"{name}/{student}"
        if not ok:
            failed += 1
            problems[key] = "autograde failed: " + error
            print(f"  {student}: FAILED ({seconds:.0f} s): {error}")
        else:
            if problems.get(key, "").startswith("autograde failed"):
                problems.pop(key)
            print(f"  {student}: graded ({seconds:.0f} s)")
    _save_problems(course, problems)
    total = time.perf_counter() - t0
    print(f"autograded {len(students) - failed}/{len(students)} submission(s) of {name} "
          f"in {total:.0f} s with {workers} worker(s)"
          + (f"; {len(broken)} unreadable one(s) scored 0" if broken else ""))
    return 1 if failed else 0


def _grade_all(course: Path, name: str, students: list[str], workers: int):
    """Yield (student, ok, seconds, error) as `workers` processes (grading/worker.py) grade them.

    Each worker grades one student after another, in turn taking the next one not yet
    taken. If a worker process dies, its student is reported as failed and a fresh
    worker takes over the rest.
    """
    todo: queue.Queue[str] = queue.Queue()
    for student in students:
        todo.put(student)
    done: queue.Queue = queue.Queue()
    logs = course / "autograde_logs"
    logs.mkdir(exist_ok=True)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    # torch threads per grading kernel: the cores shared out among the workers (1 each with 2
    # workers on 2 cores; a lone worker uses them all). COURSE_GRADER_THREADS overrides.
    env.setdefault("COURSE_GRADER_THREADS", str(max(1, _cores() // max(1, workers))))

    def serve(k: int) -> None:
        log_path = logs / f"{name}-worker{k}.log"
        proc = None
        with open(log_path, "a") as log:
            while True:
                try:
                    student = todo.get_nowait()
                except queue.Empty:
                    break
                if proc is None:
                    proc = subprocess.Popen([sys.executable, "-m", "grading.worker", name],
                                            cwd=course, env=env, stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, stderr=log, text=True)
                t0 = time.perf_counter()
                assert proc.stdin is not None and proc.stdout is not None  # both are pipes
                try:
                    proc.stdin.write(student + "\n")
                    proc.stdin.flush()
                    answer = proc.stdout.readline()
                except OSError:
                    answer = ""
                if answer:
                    r = json.loads(answer)
                    done.put((student, r["ok"], r["seconds"], r["error"]))
                    continue
                proc.wait()  # the worker died: this student fails, a fresh worker goes on
                log.flush()
                tail = " | ".join(log_path.read_text().strip().splitlines()[-3:])
                done.put((student, False, time.perf_counter() - t0,
                          f"the grading process died (exit {proc.returncode}): {tail}"))
                proc = None
            if proc is not None and proc.stdin is not None:
                proc.stdin.close()
                proc.wait()
        done.put(None)

    threads = [threading.Thread(target=serve, args=(k,), daemon=True) for k in range(max(1, workers))]
    for t in threads:
        t.start()
    finished = 0
    while finished < len(threads):
        item = done.get()
        if item is None:
            finished += 1
        else:
            yield item


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _score_zero(course: Path, name: str, students: list[str]) -> None:
    """Give 0 on every test to submissions that are no notebook (see problems.json).

    A student who resubmits a broken file after a readable one gets 0 too, not the old grade.
    """
    if not students:
        return
    from nbgrader.api import Gradebook

    with Gradebook(gradebook_url(course)) as gb:
        for student in students:
            stale = course / "autograded" / student / name  # the grading of an earlier, readable file:
            if stale.exists():  # its outputs must not speak for this one on the feedback page
                shutil.rmtree(stale)
            gb.update_or_create_student(student)
            submission = gb.update_or_create_submission(name, student)
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    grade.auto_score = 0
                    grade.needs_manual_grade = False
            gb.db.commit()
            print(f"  {student}: not a readable notebook, scored 0")


def feedback(course: Path, name: str, workers: int) -> int:
    """One HTML page per student: points, the checks' diagnoses, no hidden test (grading/feedback.py).

    Not nbgrader's generate_feedback: its pages show the hidden tests' source.
    """
    from grading.feedback import write_pages

    return write_pages(course, name, gradebook_url(course), _problems(course), workers)


def export(course: Path, to: Path) -> int:
    proc = run_nbgrader(course, "export", f"--to={to.resolve()}")
    if proc.returncode == 0:
        print(f"grades written to {to}")
    else:
        print(proc.stdout + proc.stderr)
    return proc.returncode


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--course", type=Path, default=GRADING, help="course directory (default grading/)")
    ap.add_argument("--source", type=Path, default=SOLUTIONS,
                    help="folder of the instructor notebooks NN_name.ipynb (default solutions/)")
    sub = ap.add_subparsers(dest="step", required=True)
    p = sub.add_parser("release", help="generate the student versions")
    p.add_argument("lessons", nargs="*")
    p = sub.add_parser("collect", help="take in a folder of submissions")
    p.add_argument("folder", type=Path)
    p.add_argument("--lesson")
    p = sub.add_parser("autograde", help="autograde one lesson")
    p.add_argument("lesson")
    p.add_argument("--workers", type=int, default=2)
    p = sub.add_parser("feedback", help="HTML feedback per student")
    p.add_argument("lesson")
    p.add_argument("--workers", type=int, default=2)
    p = sub.add_parser("export", help="grades as CSV")
    p.add_argument("--to", type=Path, default=Path("grades.csv"))
    args = ap.parse_args(argv)
    course = make_course_dir(args.course)
    if args.step == "release":
        release(course, args.lessons, args.source)
    elif args.step == "collect":
        collect(course, args.folder, args.lesson, args.source)
    elif args.step == "autograde":
        return autograde(course, args.lesson, args.workers, args.source)
    elif args.step == "feedback":
        return feedback(course, args.lesson, args.workers)
    elif args.step == "export":
        return export(course, args.to)
    return 0


if __name__ == "__main__":
    sys.exit(main())
