"""The known-wrong catalogue: every typical mistake of every exercise, as notebook code.

The mistakes are plain data, one module per lesson in grading/known_wrong/ (exercise cell id,
label, the exercise cell's whole source, the words its diagnosis must contain). The checker tests
(tests/test_checks_lessonNN.py) run each one through its checker with `wrong_functions`; the
grading tests build whole submissions from them (`submission`) and autograde them.
"""

from __future__ import annotations

import importlib
import linecache
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]

# lesson -> the data module of its known-wrong answers
SOURCES = {
    "01_task_and_loss": "grading.known_wrong.lesson01",
    "02_random_search": "grading.known_wrong.lesson02",
    "03_gradient_descent": "grading.known_wrong.lesson03",
    "04_momentum": "grading.known_wrong.lesson04",
    "05_overparameterization": "grading.known_wrong.lesson05",
    "06_minibatches": "grading.known_wrong.lesson06",
    "07_schedules": "grading.known_wrong.lesson07",
    "08_adaptive_methods": "grading.known_wrong.lesson08",
    "09_tuning": "grading.known_wrong.lesson09",
}


@dataclass(frozen=True)
class Mistake:
    lesson: str
    exercise: str  # the exercise cell id (and the function's name)
    label: str
    source: str  # the exercise cell's code
    words: str  # the diagnosis must contain these (may be empty: only "fails")

    def function(self) -> Callable:
        """The wrong function itself: the cell's code run as a notebook would run it."""
        return define(self.source, self.exercise, f"<known wrong {self.lesson}: {self.label}>")


def define(source: str, name: str, filename: str = "<cell>") -> Callable:
    """Run a cell's code in a fresh namespace and return what it defines as `name`.

    The source is registered with linecache, so a traceback through it shows its lines.
    """
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    scope: dict = {"__name__": "__main__"}
    exec(compile(source, filename, "exec"), scope)
    return scope[name]


def mistakes(lesson: str) -> list[Mistake]:
    """Every known-wrong version of every exercise of `lesson`, as exercise-cell code."""
    module = importlib.import_module(SOURCES[lesson])
    assert module.LESSON == lesson, (module.__name__, module.LESSON)
    return [Mistake(lesson, m["exercise"], m["label"], m["source"], m["words"]) for m in module.MISTAKES]


def wrong_functions(lesson: str, exercise: str) -> dict[str, tuple[Callable, str]]:
    """label -> (the wrong function, the words its diagnosis must contain), for one exercise."""
    return {m.label: (m.function(), m.words) for m in mistakes(lesson) if m.exercise == exercise}


# --------------------------------------------------------------------------- notebooks


def solution_code(lesson: str) -> dict[str, str]:
    """Exercise cell id -> the solution's code (markers removed): a right answer."""
    nb = nbformat.read(ROOT / "solutions" / f"{lesson}.ipynb", as_version=4)
    return {
        c.id: re.sub(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*(\n|$)", "", c.source, flags=re.M)
        for c in nb.cells
        if c.get("metadata", {}).get("nbgrader", {}).get("solution")
    }


def notebook_imports(lesson: str) -> str:
    """The import lines of the lesson's import cell (the code cell that imports its checkers)."""
    nb = nbformat.read(ROOT / "solutions" / f"{lesson}.ipynb", as_version=4)
    cell = next(
        c for c in nb.cells if c.cell_type == "code" and "from course_utils.checks import" in c.source
    )
    lines = cell.source.splitlines(keepends=True)
    return "".join(line for line in lines if line.startswith(("import ", "from ")))


def solution_function(lesson: str, exercise: str) -> Callable:
    """The solution's function for `exercise`, defined after the notebook's own imports."""
    source = notebook_imports(lesson) + "\n" + solution_code(lesson)[exercise]
    return define(source, exercise, f"<solution {lesson}: {exercise}>")


def points(lesson: str) -> dict[str, float]:
    """Test cell id -> its points, in notebook order."""
    nb = nbformat.read(ROOT / "solutions" / f"{lesson}.ipynb", as_version=4)
    return {
        c.id: c.metadata["nbgrader"]["points"]
        for c in nb.cells
        if c.get("metadata", {}).get("nbgrader", {}).get("grade")
        and not c.metadata["nbgrader"].get("solution")
    }


def test_cell_of(lesson: str, exercise: str) -> str:
    """The test cell that grades `exercise` (the first one after it)."""
    nb = nbformat.read(ROOT / "solutions" / f"{lesson}.ipynb", as_version=4)
    ids = [c.id for c in nb.cells]
    tests = points(lesson)
    return next(i for i in ids[ids.index(exercise) :] if i in tests)


def submission(lesson: str, code: dict[str, str]) -> nbformat.NotebookNode:
    """The student copy with the given exercise cells filled in (others stay blank)."""
    nb = nbformat.read(ROOT / "notebooks" / f"{lesson}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.get("id") in code:
            cell.source = code[cell.id]
    return nb


def hidden_test_lines(lesson: str) -> set[str]:
    """The non-trivial stripped lines of the solution's hidden-test blocks."""
    return hidden_lines_of(nbformat.read(ROOT / "solutions" / f"{lesson}.ipynb", as_version=4).cells)


def hidden_lines_of(cells) -> set[str]:
    """The non-trivial stripped lines of the cells' hidden-test blocks: the tests' own reading, made
    without grading/feedback.py (whose filter they check)."""
    lines, inside = set(), False
    for cell in cells:
        for line in cell.source.splitlines():
            if "### BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "### END HIDDEN TESTS" in line:
                inside = False
            elif inside and len(line.strip()) > 3:
                lines.add(line.strip())
    return lines


# --------------------------------------------------------------------------- editing submissions


def add_cell(source: str, after: str):
    """An edit: a code cell of the student's own, right after cell `after`."""

    def edit(nb):
        i = next(i for i, c in enumerate(nb.cells) if c.get("id") == after)
        cell = nbformat.v4.new_code_cell(source)
        cell["id"] = f"student-{len(nb.cells)}"
        nb.cells.insert(i + 1, cell)

    return edit


def set_cell(cell_id: str, source: str | None):
    """An edit: the cell's source replaced, or (None) the cell deleted."""

    def edit(nb):
        if source is None:
            nb.cells = [c for c in nb.cells if c.get("id") != cell_id]
        else:
            next(c for c in nb.cells if c.get("id") == cell_id).source = source

    return edit


def move(cell_id: str, *, after: str | None = None, before: str | None = None):
    """An edit: the cell moved right after `after` or right before `before`."""

    def edit(nb):
        cell = next(c for c in nb.cells if c.get("id") == cell_id)
        nb.cells.remove(cell)
        i = next(i for i, c in enumerate(nb.cells) if c.get("id") == (after or before))
        nb.cells.insert(i + 1 if after else i, cell)

    return edit


def edited(nb: nbformat.NotebookNode, *edits) -> nbformat.NotebookNode:
    for edit in edits:
        edit(nb)
    return nb


def write_inbox(inbox: Path, lesson: str, students: dict[str, nbformat.NotebookNode | bytes]) -> None:
    """A folder of submissions as a class hands them in: inbox/<student>/<lesson>.ipynb."""
    for student, nb in students.items():
        (inbox / student).mkdir(parents=True)
        path = inbox / student / f"{lesson}.ipynb"
        if isinstance(nb, bytes):
            path.write_bytes(nb)
        else:
            nbformat.write(nb, path)
