"""Generate the student notebooks from the instructor notebooks, with nbgrader.

    python tools/release.py            # stamp solutions/, regenerate every notebooks/ copy
    python tools/release.py 01_task_and_loss
    python tools/release.py --check    # exit 1 if solutions/ carry outputs or notebooks/ are stale

Each `solutions/NN_name.ipynb` is one nbgrader assignment `NN_name`. The tool
first stamps its first two cells, the "Open in Colab" badge and the setup
cell, from `[tool.course]` in pyproject.toml (the one place the repository
address lives); then it runs `nbgrader generate_assignment` in a course
directory and copies the release to `notebooks/NN_name.ipynb`.
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

import nbformat
import tomllib

from grading.course import GRADING, NOTEBOOKS, ROOT, SOLUTIONS, generate, lessons

BADGE_ID = "colab-badge"
SETUP_ID = "setup"

SETUP_CODE = """\
# Setup: run this cell first. In Colab it installs the course helpers
# (course_utils) without touching Colab's own torch; locally they are installed.
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("course_utils") is None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "git+{repository}@{branch}",
        ],
        check=True,
    )
%matplotlib inline
import torch

torch.set_num_threads(1)  # one thread: the same numbers on every machine, busy or idle
import course_utils
from course_utils.models import get_device

print(f"torch {{torch.__version__}} · course_utils {{course_utils.__version__}} · device {{get_device()}}")"""


def course_config() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["tool"]["course"]


def badge_markdown(name: str, cfg: dict) -> str:
    repo = cfg["repository"].removeprefix("https://github.com/")
    url = f"https://colab.research.google.com/github/{repo}/blob/{cfg['branch']}/notebooks/{name}.ipynb"
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"


def _a_badge(cell) -> bool:
    """A stray "Open in Colab" cell (one copied in with a lesson split): only the stamped one stays."""
    return cell.cell_type == "markdown" and "".join(cell.source).lstrip().startswith("[![Open In Colab]")


def stamped(nb: nbformat.NotebookNode, name: str, cfg: dict) -> nbformat.NotebookNode:
    """The notebook with its badge and setup cells (re)written from the course config."""
    nb = nbformat.from_dict(nb)
    cells = [c for c in nb.cells if c.get("id") not in (BADGE_ID, SETUP_ID) and not _a_badge(c)]
    badge = nbformat.v4.new_markdown_cell(badge_markdown(name, cfg))
    badge["id"] = BADGE_ID
    setup = nbformat.v4.new_code_cell(SETUP_CODE.format(**cfg))
    setup["id"] = SETUP_ID
    setup.metadata["nbgrader"] = {
        "grade": False,
        "grade_id": SETUP_ID,
        "locked": True,
        "schema_version": 3,
        "solution": False,
        "task": False,
    }
    nb.cells = [badge, setup, *cells]
    return nb


def with_outputs(names: list[str]) -> list[str]:
    """Solutions that carry outputs or execution counts: the source of a lesson is kept clean."""
    found = []
    for name in names:
        nb = nbformat.read(SOLUTIONS / f"{name}.ipynb", as_version=4)
        if any(c.get("outputs") or c.get("execution_count") for c in nb.cells if c.cell_type == "code"):
            found.append(name)
    return found


def stamp_solutions(names: list[str], check: bool) -> list[str]:
    """Stamp badge + setup cells; return the names that were (or would be) changed."""
    cfg = course_config()
    changed = []
    for name in names:
        path = SOLUTIONS / f"{name}.ipynb"
        nb = nbformat.read(path, as_version=4)
        new = stamped(nb, name, cfg)
        if nbformat.writes(new) != nbformat.writes(nb):
            changed.append(name)
            if not check:
                nbformat.write(new, path)
    return changed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("lessons", nargs="*", help="lesson names (default: all)")
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 if out of date")
    args = ap.parse_args(argv)
    names = lessons(args.lessons)
    unstamped = stamp_solutions(names, check=args.check)
    if not args.check:
        generate(names, GRADING, NOTEBOOKS)
        print(f"released {len(names)} lesson(s) to notebooks/: {', '.join(names)}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        generate(names, Path(tmp) / "course", Path(tmp) / "out")
        stale = [
            n
            for n in names
            if not (NOTEBOOKS / f"{n}.ipynb").exists()
            or not filecmp.cmp(Path(tmp) / "out" / f"{n}.ipynb", NOTEBOOKS / f"{n}.ipynb", False)
        ]
    dirty = with_outputs(names)
    for n in dirty:
        print(f"solutions/{n}.ipynb carries outputs: clear them (Edit > Clear Outputs of All Cells)")
    for n in unstamped:
        print(f"solutions/{n}.ipynb: badge or setup cell out of date")
    for n in stale:
        print(f"notebooks/{n}.ipynb differs from a fresh release of solutions/{n}.ipynb")
    if unstamped or stale or dirty:
        print("run: make notebooks")
        return 1
    print(f"{len(names)} lesson(s) in sync")
    return 0


if __name__ == "__main__":
    sys.exit(main())
