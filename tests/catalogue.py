"""The known-wrong catalogue: every typical mistake of every exercise, as notebook code.

The mistakes live once, in the `*_WRONG` dicts of tests/test_checks_lessonNN.py
(name -> (function, words the diagnosis must contain)), where the checker tests
call them directly. This module turns each into the source of an exercise cell
(the function renamed to the exercise's name, with the helpers and imports it
uses), so that whole submissions can be built from them and autograded.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]

# lesson -> {exercise cell id: the test module's dict of wrong versions}
SOURCES = {
    "01_task_and_loss": {"softmax": "SOFTMAX_WRONG", "cross_entropy": "CE_WRONG"},
    "02_random_search": {"random_search_step": "WRONG"},
    "03_gradient_descent": {"gradient_step": "WRONG"},
    "04_momentum": {"momentum_step": "WRONG"},
    "05_overparameterization": {"stacked_mlp": "WRONG"},
    "06_minibatches": {"sample_minibatch": "WRONG"},
    "07_adaptive_methods": {"rmsprop_step": "RMSPROP_WRONG", "adam_step": "ADAM_WRONG"},
    "08_tuning": {"train_challenge": "CHALLENGE_WRONG"},
}
_SKIP_IMPORTS = ("pytest", "tests", "course_utils.checks", "__future__")


@dataclass(frozen=True)
class Mistake:
    lesson: str
    exercise: str  # the exercise cell id (and the function's name)
    label: str
    source: str  # the exercise cell's code
    words: str  # the diagnosis must contain these (may be empty: only "fails")


def _module_parts(module) -> tuple[list[str], dict[str, ast.AST], ast.Module]:
    source = inspect.getsource(module)
    tree = ast.parse(source)
    imports, defs = [], {}
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            if not any(n == s or n.startswith(s + ".") for n in names for s in _SKIP_IMPORTS):
                if not (isinstance(node, ast.ImportFrom) and node.module == "course_utils"
                        and any(a.name == "checks" for a in node.names)):
                    imports.append(ast.unparse(node))
        elif isinstance(node, ast.FunctionDef):
            defs[node.name] = node
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            defs[node.targets[0].id] = node
    return imports, defs, tree


def _dict_node(tree: ast.Module, name: str) -> ast.Dict:
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == name:
            return node.value
    raise KeyError(name)


def _helpers(node: ast.AST, defs: dict[str, ast.AST], skip: str) -> list[ast.AST]:
    """Module-level functions and constants `node` uses, transitively, in module order."""
    seen: dict[str, ast.AST] = {}
    todo = [node]
    while todo:
        for n in ast.walk(todo.pop()):
            if isinstance(n, ast.Name) and n.id in defs and n.id not in seen and n.id != skip:
                seen[n.id] = defs[n.id]
                todo.append(defs[n.id])
    order = list(defs)
    return sorted(seen.values(), key=lambda d: order.index(next(k for k, v in defs.items() if v is d)))


def _as_def(value: ast.AST, name: str, defs: dict[str, ast.AST]) -> tuple[str, ast.AST]:
    """Source defining `name`: from a lambda, a module-level function, or a call of a factory."""
    if isinstance(value, ast.Lambda):
        return f"def {name}({ast.unparse(value.args)}):\n    return {ast.unparse(value.body)}\n", value
    if isinstance(value, ast.Name) and isinstance(defs.get(value.id), ast.FunctionDef):
        fn = defs[value.id]
        src = ast.unparse(fn)
        return re.sub(rf"^def {re.escape(fn.name)}\(", f"def {name}(", src, count=1) + "\n", fn
    if isinstance(value, ast.Call):  # a factory that builds the function
        return f"{name} = {ast.unparse(value)}\n", value
    raise TypeError(f"cannot turn {ast.unparse(value)} into a notebook function")


def mistakes(lesson: str) -> list[Mistake]:
    """Every known-wrong version of every exercise of `lesson`, as exercise-cell code."""
    module = importlib.import_module(f"tests.test_checks_lesson{lesson[:2]}")
    imports, defs, tree = _module_parts(module)
    found = []
    for exercise, dict_name in SOURCES[lesson].items():
        for key, value in zip(_dict_node(tree, dict_name).keys, _dict_node(tree, dict_name).values):
            label = ast.literal_eval(key)
            fn_node, words_node = value.elts
            body, origin = _as_def(fn_node, exercise, defs)
            helpers = [ast.unparse(h) for h in _helpers(origin, defs, skip=getattr(origin, "name", ""))]
            source = "\n".join([*imports, "", *helpers, "", body]).strip() + "\n"
            found.append(Mistake(lesson, exercise, label, source, ast.literal_eval(words_node) or ""))
    if lesson == "08_tuning":  # the quiz: every wrong letter is a mistake
        right = module.RIGHT
        for q, letter in right.items():
            wrong = "abcd".replace(letter, "")[int(q[1:]) % 3]
            found.append(Mistake(lesson, f"quiz_{q}", f"quiz {q} answered {wrong}",
                                 f'def quiz_{q}():\n    return "{wrong}"\n', "not the right answer"))
    return found


# --------------------------------------------------------------------------- notebooks

def solution_code(lesson: str) -> dict[str, str]:
    """Exercise cell id -> the solution's code (markers removed): a right answer."""
    nb = nbformat.read(ROOT / "solutions" / f"{lesson}.ipynb", as_version=4)
    return {
        c.id: re.sub(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*(\n|$)", "", c.source, flags=re.M)
        for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("solution")
    }


def points(lesson: str) -> dict[str, float]:
    """Test cell id -> its points, in notebook order."""
    nb = nbformat.read(ROOT / "solutions" / f"{lesson}.ipynb", as_version=4)
    return {c.id: c.metadata["nbgrader"]["points"] for c in nb.cells
            if c.get("metadata", {}).get("nbgrader", {}).get("grade")
            and not c.metadata["nbgrader"].get("solution")}


def test_cell_of(lesson: str, exercise: str) -> str:
    """The test cell that grades `exercise` (the first one after it)."""
    nb = nbformat.read(ROOT / "solutions" / f"{lesson}.ipynb", as_version=4)
    ids = [c.id for c in nb.cells]
    tests = points(lesson)
    return next(i for i in ids[ids.index(exercise):] if i in tests)


def submission(lesson: str, code: dict[str, str]) -> nbformat.NotebookNode:
    """The student copy with the given exercise cells filled in (others stay blank)."""
    nb = nbformat.read(ROOT / "notebooks" / f"{lesson}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.get("id") in code:
            cell.source = code[cell.id]
    return nb


def hidden_test_lines(lesson: str) -> set[str]:
    """The non-trivial stripped lines of the solution's hidden-test blocks (read without grading/)."""
    nb = nbformat.read(ROOT / "solutions" / f"{lesson}.ipynb", as_version=4)
    lines, inside = set(), False
    for cell in nb.cells:
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
