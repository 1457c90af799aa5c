"""The instructor's grading workflow, one command a step (see grading/README.md).

    python -m grading.grade release [LESSON ...]
    python -m grading.grade collect FOLDER [--lesson LESSON]
    python -m grading.grade autograde LESSON [--workers N | --scheduler tcp://HOST:PORT]
    python -m grading.grade feedback LESSON [--workers N | --scheduler tcp://HOST:PORT]
    python -m grading.grade export [--to grades.csv]

All take --course DIR (default: grading/) and --source DIR (the instructor notebooks,
default: solutions/). Every step can be rerun safely.
Submissions are only ever copied: the files in FOLDER are never changed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import nbformat

from grading import sandbox
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
from grading.files import fresh_dir, read_regular, real_dir, remove, write_new

PROBLEMS = "problems.json"  # per course dir: what went wrong with which submission


def _problems(course: Path) -> dict:
    data = read_regular(course / PROBLEMS)
    return json.loads(data) if data else {}


def _save_problems(course: Path, problems: dict) -> None:
    write_new(course / PROBLEMS, json.dumps(problems, indent=1, sort_keys=True).encode())


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


def _identity(path: Path) -> tuple[int, int]:
    st = os.lstat(path)
    return st.st_dev, st.st_ino


def _identities(*folders: Path) -> set[tuple[int, int]]:
    """(device, inode) of every file under the folders: a hard link shares them."""
    return {_identity(p) for folder in folders if folder.is_dir() for p in folder.rglob("*") if p.is_file()}


def collect(course: Path, folder: Path, lesson: str | None, source: Path = SOLUTIONS) -> list[str]:
    """Copy FOLDER/<student>/<lesson>.ipynb (or nbgrader's <student>/<lesson>/<lesson>.ipynb).

    Only real folders and regular files inside FOLDER are taken: a symbolic link anywhere on the
    way, a notebook that is a folder or a FIFO, a hard link to the course's own files, or a
    student id that is not safe for nbgrader (see SAFE_ID), is refused and listed; the
    return value is that list. A file that is not a readable notebook is kept beside the others as
    `<lesson>.ipynb.broken`: it is scored 0 and problems.json says why.
    """
    known = lessons(None, source) if lesson is None else [lesson]
    problems = _problems(course)
    count, refused = 0, []
    own = _identities(course / "source", course / "release", source)  # a hard link to these is refused
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
            for candidate, parent in (
                (entry / f"{name}.ipynb", entry),
                (entry / name / f"{name}.ipynb", entry / name),
            ):
                if candidate.is_symlink() or (parent is not entry and parent.is_symlink()):
                    refused.append(f"{student}/{candidate.relative_to(entry)}: a symbolic link")
                    data = None
                    break
                data = read_regular(candidate) if _real_dir(parent) else None
                if data is not None:
                    break
                if _real_dir(parent) and os.path.lexists(candidate):
                    refused.append(f"{student}/{candidate.relative_to(entry)}: not a regular file")
                    break
            if data is None:
                continue
            if _identity(candidate) in own:
                where = candidate.relative_to(entry)
                refused.append(f"{student}/{where}: a hard link to the course's own file")
                continue
            dest = real_dir(course, "submitted", student, name)
            for old in dest.glob(f"{name}.ipynb*"):
                remove(old)
            key = f"{name}/{student}"
            try:
                nbformat.validate(nbformat.reads(data.decode("utf-8"), as_version=4))
            except Exception as err:  # not UTF-8, not JSON, not a notebook, wrong schema
                write_new(dest / f"{name}.ipynb.broken", data)
                problems[key] = f"not a readable notebook ({type(err).__name__}: {err}); scored 0"
            else:
                write_new(dest / f"{name}.ipynb", data)
                problems.pop(key, None)
            count += 1
    _save_problems(course, problems)
    print(f"collected {count} submission(s) into {course / 'submitted'}")
    if refused:
        print(
            f"refused {len(refused)} entr{'y' if len(refused) == 1 else 'ies'} of {folder} "
            "(rename or replace them with real files, then collect again):"
        )
        for line in refused:
            print(f"  {line}")
    return refused


def _ensure_released(course: Path, name: str, source: Path) -> None:
    if not (course / "release" / name / f"{name}.ipynb").exists():
        generate([name], course, course / "release_copies", source)


def autograde(
    course: Path,
    name: str,
    workers: int | None = None,
    source: Path = SOLUTIONS,
    scheduler: str | None = None,
) -> int:
    """Autograde every submission of one lesson on a dask cluster; only this process writes the
    gradebook. `workers`: the LocalCluster's worker processes (default one per core); `scheduler`:
    tcp://HOST:PORT of a running cluster instead."""
    from nbgrader.api import Gradebook

    _ensure_released(course, name, source)
    folders = sorted((course / "submitted").glob(f"*/{name}"))
    if not folders:
        print(f"no submissions of {name} in {course / 'submitted'}")
        return 0
    if not scheduler:  # a cluster's workers are asked once it is reached (_grade_all)
        try:
            sandbox.require()
        except sandbox.SandboxUnavailable as err:
            print(f"autograde stopped, nothing graded: {err}", file=sys.stderr)
            return 2
    if not sandbox.enabled():
        print("WARNING: COURSE_GRADER_SANDBOX=off: submissions run unprotected (developers only)")
    students = [f.parent.name for f in folders if (f / f"{name}.ipynb").is_file()]
    broken = [f.parent.name for f in folders if f.parent.name not in students]
    _score_zero(course, name, broken)
    problems = _problems(course)
    db_url = gradebook_url(course)
    logs = real_dir(course, "autograde_logs")
    failed, retried, scores, costs = [], [], {}, []
    t0 = time.perf_counter()
    about: dict[str, str] = {}  # _grade_all says where it graded
    gb = None  # opened once the cluster runs, so that no forked worker holds a connection to it
    try:
        for result in _grade_all(course, name, students, workers, scheduler, about) if students else ():
            if gb is None:
                gb = Gradebook(db_url)
            student = result["student"]
            key = f"{name}/{student}"
            if result["log"].strip():  # nbgrader's and the kernel's messages, as a worker's log had them
                with _append(logs / f"{name}.log") as log:
                    log.write(
                        f"===== {student} (start {result['start']}, {result['worker']})\n{result['log']}\n"
                    )
            if result["start"] > 1:
                retried.append(student)
            if result["ok"]:
                try:
                    scores[student] = _record(course, name, student, result, gb)
                except Exception as err:  # noqa: BLE001 (this student fails; the class goes on)
                    gb.db.rollback()
                    result["ok"] = False
                    result["error"] = f"recording the grades failed: {type(err).__name__}: {err}"
            if not result["ok"]:
                failed.append(student)
                problems[key] = "autograde failed: " + result["error"]
                # As nbgrader --force: no old outputs stay, and no earlier marks: 0 on every check.
                remove(course / "autograded" / student / name)
                _zero(gb, name, student)
                _say(
                    f"  {student}: FAILED ({result['seconds']:.0f} s on {result['worker']}): "
                    f"{result['error']}"
                )
                continue
            if problems.get(key, "").startswith("autograde failed"):
                problems.pop(key)
            costs.append((result["seconds"], result["cpu"]))
            score, possible = scores[student]
            again = "; again, its first worker was lost" if result["start"] > 1 else ""
            _say(
                f"  {student}: {score:g}/{possible:g} "
                f"({result['seconds']:.0f} s on {result['worker']}{again})"
            )
    except sandbox.SandboxUnavailable as err:
        print(f"autograde stopped, nothing graded: {err}", file=sys.stderr)
        return 2
    finally:
        if gb is not None:
            gb.close()
    _save_problems(course, problems)
    total = time.perf_counter() - t0
    _summary(name, scores, broken, failed, retried)
    if costs:
        print(
            f"per submission on the workers: {sum(w for w, _ in costs) / len(costs):.1f} s, "
            f"{sum(c for _, c in costs) / len(costs):.1f} CPU s (mean of {len(costs)})"
        )
    print(
        f"autograded {len(students) - len(failed)}/{len(students)} submission(s) of {name} "
        f"in {total:.0f} s on {about.get('cluster', 'no cluster')}"
        + (f"; {len(broken)} unreadable one(s) scored 0" if broken else "")
    )
    return 1 if failed else 0


def _append(path: Path):
    """The log file, opened to append without following a link."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o644)
    return open(fd, "a", encoding="utf-8")


def _say(line: str) -> None:
    """A line of the report, above the progress bar."""
    from tqdm import tqdm

    tqdm.write(line, file=sys.stdout)


def _summary(
    name: str,
    scores: dict[str, tuple[float, float]],
    broken: list[str],
    failed: list[str],
    retried: list[str],
) -> None:
    """The class at a glance: the spread of scores, and what needs the instructor."""
    if scores:
        got = sorted(s for s, _ in scores.values())
        possible = max(p for _, p in scores.values())
        mid = len(got) // 2
        median = got[mid] if len(got) % 2 else (got[mid - 1] + got[mid]) / 2
        full = sum(1 for s, p in scores.values() if s >= p)
        zero = sum(1 for s in got if s == 0)
        print(
            f"scores of {name} ({len(got)} graded, out of {possible:g}): mean {sum(got) / len(got):.2f}, "
            f"median {median:g}, lowest {got[0]:g}, highest {got[-1]:g}; {full} full marks, {zero} zero"
        )
    named = ", ".join(failed[:10]) + (", ..." if len(failed) > 10 else "")
    said = [
        f"{len(broken)} unreadable file(s) scored 0" if broken else "",
        f"{len(failed)} failed to grade ({named})" if failed else "",
        f"{len(retried)} graded again after losing their worker" if retried else "",
    ]
    said = [s for s in said if s]
    print(f"problems: {'; '.join(said)} (see problems.json)" if said else "problems: none")


def _grade_all(
    course: Path,
    name: str,
    students: list[str],
    workers: int | None,
    scheduler: str | None,
    about: dict[str, str],
) -> Iterator[dict]:
    """Yield each student's result (grading/worker.py `grade`) as a dask cluster grades them;
    about["cluster"] says which cluster.

    The lesson goes to the cluster once; each task carries one student's submission. At most a
    few tasks per worker thread wait at a time, so a class of any size fits in memory. A task
    whose worker was lost is handed to another worker by the scheduler (the task itself counts
    its starts and gives up on the third); one that the scheduler gives up on (KilledWorker,
    when its allowed-failures is lower) is submitted once more here.
    """
    from distributed import KilledWorker, as_completed
    from tqdm import tqdm

    from grading import worker

    worker.dask_setup()  # nbgrader imported here: a LocalCluster's workers are forked with it

    lesson = worker.lesson_payload(course, name, gradebook_url(course))
    # torch threads per grading kernel: the cores shared out among the local workers (1 each with
    # 2 workers on 2 cores; a lone worker uses them all). COURSE_GRADER_THREADS overrides; a
    # cluster's machines set their own (see README).
    local = workers or worker.cores()
    settings = worker.grading_settings(None if scheduler else max(1, worker.cores() // local))
    run = uuid.uuid4().hex[:12]
    with (
        worker.cluster(workers, scheduler) as client,
        tqdm(
            total=len(students), desc=f"autograde {name}", unit="notebook", file=sys.stderr, disable=None
        ) as bar,
    ):
        if scheduler:  # every worker must be able to sandbox its kernels, or nothing is graded
            unable = {w: m for w, m in client.run(sandbox.check).items() if m}
            if unable:
                raise sandbox.SandboxUnavailable(
                    f"{len(unable)} worker(s) cannot start the sandbox, e.g. {next(iter(unable))}: "
                    + next(iter(unable.values()))
                )
        count = worker.threads_of(client)
        about["cluster"] = (
            f"the cluster at {scheduler} ({count} worker thread(s) at the start)"
            if scheduler
            else f"a LocalCluster of {count} worker process(es)"
        )
        held = client.submit(worker.hold, lesson, key=f"lesson-{name}-{run}")
        todo = list(reversed(students))  # popped from the end: in order
        owner: dict = {}
        resubmitted: set[str] = set()

        def submit(student: str, again: bool = False):
            files = worker.folder_files(course / "submitted" / student / name)
            future = client.submit(
                worker.grade,
                held,
                student,
                files,
                settings,
                run,
                pure=False,
                key=f"grade-{name}-{student}-{run}" + ("-again" if again else ""),
            )
            owner[future] = student
            return future

        window = max(4, 2 * count)
        pending = as_completed([submit(todo.pop()) for _ in range(min(window, len(todo)))])
        for future in pending:
            student = owner.pop(future)
            try:
                result = future.result()
            except KilledWorker as err:
                if student not in resubmitted:
                    resubmitted.add(student)
                    pending.add(submit(student, again=True))
                    continue
                result = _failure(student, f"its workers were lost while grading it ({err})")
            except Exception as err:  # noqa: BLE001 (this student fails; the class goes on)
                result = _failure(student, f"{type(err).__name__}: {err}")
            future.release()
            while todo and len(owner) < max(window, 2 * worker.threads_of(client)):
                pending.add(submit(todo.pop()))
            bar.update()
            yield result
        held.release()
        client.set_metadata(worker.start_counter(run), None)  # the run's counts of starts


def _failure(student: str, error: str) -> dict:
    return {
        "student": student,
        "ok": False,
        "error": error,
        "seconds": 0.0,
        "cpu": 0.0,
        "start": 1,
        "worker": "no worker",
        "notebooks": {},
        "grades": {},
        "penalties": {},
        "log": "",
    }


def _record(course: Path, name: str, student: str, result: dict, gb) -> tuple[float, float]:
    """Write one student's autograde into autograded/ and the gradebook `gb` (open for the whole
    class), as `nbgrader autograde --force` would have in this course directory; (score, possible).

    nbgrader's own steps, on the coordinator: autograded/<student>/<lesson>/ made afresh with the
    submission's other files, the source folder's files and the autograded notebook (read-only);
    the student and the submission (with its timestamp.txt); per graded cell the score that
    nbgrader's SaveAutoGrades reads off the notebook (nbgrader.utils.determine_grade), with its
    comments; the late penalty the worker's nbgrader assigned. The scores must be the ones the
    worker's throwaway gradebook got: the notebook that came back is the one that was graded.
    """
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.preprocessors import SaveAutoGrades
    from nbgrader.utils import find_all_files
    from sqlalchemy.exc import SAWarning

    submitted = course / "submitted" / student / name
    dest = fresh_dir(course, "autograded", student, name)  # no link followed (grading/files.py)
    coursedir = CourseDirectory()
    for folder in (submitted, course / "source" / name):  # nbgrader copies both, notebooks aside
        for path in find_all_files(str(folder), coursedir.ignore + ["*.ipynb"]):
            rel = Path(path).relative_to(folder)
            data = read_regular(Path(path))
            if data is not None:  # nbgrader's permissions for autograded files: read-only
                write_new(real_dir(dest, *rel.parent.parts) / rel.name, data, 0o444)
    for filename, text in result["notebooks"].items():
        write_new(dest / Path(filename).name, text.encode("utf-8"), 0o444)
    timestamp = coursedir.get_existing_timestamp(str(submitted))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)  # nbgrader's own, on a first submission
        gb.update_or_create_student(student)
        gb.update_or_create_submission(name, student, **({"timestamp": timestamp} if timestamp else {}))
        for notebook in gb.find_assignment(name).notebooks:
            submitted_nb = gb.find_submission_notebook(notebook.name, name, student)
            submitted_nb.late_submission_penalty = result["penalties"].get(notebook.name)
            if f"{notebook.name}.ipynb" not in result["notebooks"]:  # not handed in: 0
                for grade in submitted_nb.grades:
                    grade.auto_score, grade.needs_manual_grade = 0, False
        gb.db.commit()
        save = SaveAutoGrades()  # its steps, on the open gradebook rather than one per notebook
        save.gradebook, save.assignment_id, save.student_id = gb, name, student
        for filename, text in result["notebooks"].items():
            save.notebook_id = Path(filename).stem
            for index, cell in enumerate(nbformat.reads(text, as_version=4).cells):
                save.preprocess_cell(cell, {}, index)
        sub = gb.find_submission(name, student)
        written = {g.name: g.auto_score for nb in sub.notebooks for g in nb.grades}
        score, possible = sub.score, sub.max_score
    graded = {g: s for g, (s, _) in result["grades"].items()}
    if written != graded:
        raise RuntimeError(f"the gradebook got {written}, the worker's grading {graded}")
    return score, possible


def _score_zero(course: Path, name: str, students: list[str]) -> None:
    """Give 0 on every test to submissions that are no notebook (see problems.json).

    A student who resubmits a broken file after a readable one gets 0 too, not the old grade.
    """
    if not students:
        return
    from nbgrader.api import Gradebook

    with Gradebook(gradebook_url(course)) as gb:
        for student in students:
            # The grading of an earlier, readable file: its outputs must not speak for this one on
            # the feedback page.
            remove(course / "autograded" / student / name)
            _zero(gb, name, student)
            print(f"  {student}: not a readable notebook, scored 0")


def _zero(gb, name: str, student: str) -> None:
    """0 on every check of the lesson for the student, whatever an earlier grading gave."""
    from sqlalchemy.exc import SAWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)  # nbgrader's own, on a first submission
        gb.update_or_create_student(student)
        submission = gb.update_or_create_submission(name, student)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                grade.auto_score = 0
                grade.needs_manual_grade = False
        gb.db.commit()


def feedback(course: Path, name: str, workers: int | None = None, scheduler: str | None = None) -> int:
    """One HTML page per student: points, the checks' diagnoses, no hidden test (grading/feedback.py),
    built on a LocalCluster of `workers` processes (default one per core) or the cluster at `scheduler`.

    Not nbgrader's generate_feedback: its pages show the hidden tests' source.
    """
    from grading.feedback import write_pages

    return write_pages(course, name, gradebook_url(course), _problems(course), workers, scheduler)


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
    ap.add_argument(
        "--source",
        type=Path,
        default=SOLUTIONS,
        help="folder of the instructor notebooks NN_name.ipynb (default solutions/)",
    )
    sub = ap.add_subparsers(dest="step", required=True)
    p = sub.add_parser("release", help="generate the student versions")
    p.add_argument("lessons", nargs="*")
    p = sub.add_parser("collect", help="take in a folder of submissions")
    p.add_argument("folder", type=Path)
    p.add_argument("--lesson")
    for step, what in (("autograde", "autograde one lesson"), ("feedback", "HTML feedback per student")):
        p = sub.add_parser(step, help=what)
        p.add_argument("lesson")
        p.add_argument(
            "--workers",
            type=int,
            default=None,
            help="worker processes of the LocalCluster (default: one per core)",
        )
        p.add_argument(
            "--scheduler",
            metavar="tcp://HOST:PORT",
            help="use the dask cluster at this scheduler instead (see grading/README.md)",
        )
    p = sub.add_parser("export", help="grades as CSV")
    p.add_argument("--to", type=Path, default=Path("grades.csv"))
    args = ap.parse_args(argv)
    course = make_course_dir(args.course)
    if args.step == "release":
        release(course, args.lessons, args.source)
    elif args.step == "collect":
        collect(course, args.folder, args.lesson, args.source)
    elif args.step == "autograde":
        return autograde(course, args.lesson, args.workers, args.source, args.scheduler)
    elif args.step == "feedback":
        return feedback(course, args.lesson, args.workers, args.scheduler)
    elif args.step == "export":
        return export(course, args.to)
    return 0


if __name__ == "__main__":
    sys.exit(main())
