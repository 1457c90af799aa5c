"""The nbgrader plumbing in one place: where the lessons are, course directories, running nbgrader.

Everything else (tools/release.py, grading/grade.py, the tests, the benchmarks) asks
this module rather than reading nbgrader's files or cell metadata by hand.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
from nbgrader.utils import is_grade, is_locked, is_solution

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"  # the one source of each lesson
NOTEBOOKS = ROOT / "notebooks"  # the student copies, generated
GRADING = ROOT / "grading"  # the default course directory, holding nbgrader_config.py

__all__ = [
    "ROOT",
    "SOLUTIONS",
    "NOTEBOOKS",
    "GRADING",
    "is_grade",
    "is_locked",
    "is_solution",
    "is_test",
    "grade_id",
    "points",
    "lessons",
    "make_course_dir",
    "run_nbgrader",
    "generate",
    "gradebook_url",
    "autograder_cells",
]


def is_test(cell) -> bool:
    """A graded cell the student does not write: an autograder test (its checker call)."""
    return is_grade(cell) and not is_solution(cell)


def grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def points(cell) -> float:
    """The points a graded cell is worth (0 for any other cell)."""
    return float(cell.metadata.get("nbgrader", {}).get("points", 0)) if is_grade(cell) else 0.0


def lessons(names: list[str] | None = None, source: Path = SOLUTIONS) -> list[str]:
    """The lesson names (NN_name) in source/, in order; `names` picks some, and must all exist."""
    found = sorted(p.stem for p in source.glob("[0-9][0-9]_*.ipynb"))
    unknown = sorted(set(names or []) - set(found))
    if unknown:
        sys.exit(f"no lesson {unknown[0]} in {source} (lessons: {', '.join(found)})")
    return [n for n in found if not names or n in names]


def make_course_dir(course_dir: Path) -> Path:
    """A course directory elsewhere (a test, a term's grading) that uses grading/'s configuration."""
    course_dir.mkdir(parents=True, exist_ok=True)
    if course_dir.resolve() != GRADING:
        (course_dir / "nbgrader_config.py").write_text(
            f"load_subconfig({str(GRADING / 'nbgrader_config.py')!r})  # noqa: F821\n"
        )
    return course_dir


def run_nbgrader(
    course_dir: Path, *args: str, timeout: float | None = None, env: dict | None = None
) -> subprocess.CompletedProcess:
    """`nbgrader ARGS` in course_dir with this Python, its output captured.

    nbgrader runs `alembic` as a subprocess: this Python's bin folder goes on PATH.
    """
    env = {**os.environ, **(env or {})}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return subprocess.run(
        [sys.executable, "-m", "nbgrader", *args, "--log-level=WARN"],
        cwd=course_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def generate(names: list[str], course_dir: Path, out_dir: Path, source: Path = SOLUTIONS) -> None:
    """nbgrader generate_assignment for each lesson in course_dir; the releases copied to out_dir.

    One nbgrader process for all the lessons (`python -m grading.course generate`): its 3 s of
    imports are paid once, not once per lesson.
    """
    make_course_dir(course_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        src = course_dir / "source" / name
        src.mkdir(parents=True, exist_ok=True)
        shutil.copy(source / f"{name}.ipynb", src / f"{name}.ipynb")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(
        [sys.executable, "-m", "grading.course", "generate", *names],
        cwd=course_dir,
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        sys.exit(f"nbgrader generate_assignment failed:\n{proc.stdout}\n{proc.stderr}")
    for name in names:
        shutil.copy(course_dir / "release" / name / f"{name}.ipynb", out_dir / f"{name}.ipynb")


def _generate_here(names: list[str]) -> int:
    """`nbgrader generate_assignment NAME --force` for each name, in this process (cwd: the course)."""
    from nbgrader.apps.generateassignmentapp import GenerateAssignmentApp

    for name in names:
        app = GenerateAssignmentApp()
        try:
            app.initialize([name, "--force", "--log-level=WARN"])
            app.start()
        except SystemExit as stop:
            if stop.code not in (0, None):
                print(f"generate_assignment {name} exited with {stop.code}", file=sys.stderr)
                return 1
        finally:
            for handler in list(app.log.handlers):  # each app adds its own: do not pile them up
                app.log.removeHandler(handler)
    return 0


def gradebook_url(course: Path) -> str:
    """SQLite in the course folder, waiting while a parallel worker writes; or $COURSE_GRADEBOOK_URL."""
    return os.environ.get("COURSE_GRADEBOOK_URL") or (
        f"sqlite:///{course.resolve() / 'gradebook.db'}?timeout=300"
    )


def autograder_cells(name: str, source: Path = SOLUTIONS) -> list[nbformat.NotebookNode]:
    """The lesson's autograder test cells, in order."""
    return [c for c in nbformat.read(source / f"{name}.ipynb", as_version=4).cells if is_test(c)]


if __name__ == "__main__":
    if sys.argv[1:2] == ["generate"]:
        sys.exit(_generate_here(sys.argv[2:]))
    sys.exit("usage: python -m grading.course generate LESSON ...   (in a course directory)")
