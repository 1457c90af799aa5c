"""Edit a lesson notebook as plain text, and turn it back into the notebook.

The source of a lesson is its instructor notebook, `solutions/NN_name.ipynb`.
This tool is only a convenience for editing it in a text editor: `export`
writes the notebook as text, `build` writes the notebook from text. The text
is not kept in the repository.

Cell headers, one per cell:

    # %% [markdown]              markdown, each line written as a comment: "# text"
    # %%                         plain code
    # %% [solution id=softmax]   code the student writes (### BEGIN/END SOLUTION inside)
    # %% [answer id=q3]          a markdown answer the student writes (manually graded)
    # %% [tests id=softmax_check points=2]   a graded check (### BEGIN/END HIDDEN TESTS inside)
    # %% [locked id=setup]       code students may not change

Usage:
    python tools/nbtext.py export solutions/01_task_and_loss.ipynb > /tmp/01.py
    python tools/nbtext.py build /tmp/01.py solutions/01_task_and_loss.ipynb
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

HEADER = re.compile(r"^# %%(?: \[(?P<kind>\w+)(?P<attrs>[^\]]*)\])?\s*$")
KINDS = {"markdown", "solution", "answer", "tests", "locked"}


def _nbgrader(kind: str, attrs: dict[str, str]) -> dict:
    meta = {
        "grade": kind in ("tests", "answer"),
        "grade_id": attrs["id"],
        "locked": kind in ("tests", "locked"),
        "schema_version": 3,
        "solution": kind in ("solution", "answer"),
        "task": False,
    }
    if meta["grade"]:
        meta["points"] = int(attrs.get("points", 1))
    return meta


def _uncomment(line: str) -> str:
    """Markdown lines are kept as Python comments: '# text' -> 'text', '#' -> ''."""
    if line.startswith("# "):
        return line[2:]
    if line.rstrip() == "#":
        return ""
    if line.strip():
        raise ValueError(f"a markdown line must start with '# ': {line!r}")
    return line


def to_notebook(text: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    cells: list[tuple[str, dict, list[str]]] = []
    for line in text.splitlines():
        m = HEADER.match(line)
        if m:
            kind = m.group("kind") or "code"
            if kind != "code" and kind not in KINDS:
                raise ValueError(f"unknown cell kind [{kind}] in: {line}")
            attrs = dict(a.split("=", 1) for a in (m.group("attrs") or "").split())
            cells.append((kind, attrs, []))
        elif cells:
            cells[-1][2].append(line)
        elif line.strip():
            raise ValueError("the text must start with a '# %%' cell header")
    ids: set[str] = set()
    for i, (kind, attrs, lines) in enumerate(cells):
        if kind in ("markdown", "answer"):
            lines = [_uncomment(line) for line in lines]
        source = "\n".join(lines).strip("\n")
        if kind in ("markdown", "answer"):
            cell = nbformat.v4.new_markdown_cell(source)
        else:
            cell = nbformat.v4.new_code_cell(source)
        if kind not in ("markdown", "code"):
            if "id" not in attrs:
                raise ValueError(f"cell {i}: a [{kind}] cell needs id=")
            cell.metadata["nbgrader"] = _nbgrader(kind, attrs)
        cell_id = attrs.get("id", f"cell-{i:03d}")
        if cell_id in ids:
            raise ValueError(f"duplicate cell id {cell_id}")
        ids.add(cell_id)
        cell["id"] = cell_id
        if "tags" in attrs:
            cell.metadata["tags"] = attrs["tags"].split(",")
        nb.cells.append(cell)
    return nb


def to_text(nb: nbformat.NotebookNode) -> str:
    parts = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        tags = cell.metadata.get("tags")
        extra = f" tags={','.join(tags)}" if tags else ""
        if meta:
            if meta.get("grade") and not meta.get("solution"):
                kind = "tests"
            elif meta.get("solution"):
                kind = "answer" if cell.cell_type == "markdown" else "solution"
            else:
                kind = "locked"
            pts = f" points={meta['points']}" if meta.get("grade") else ""
            header = f"# %% [{kind} id={meta['grade_id']}{pts}{extra}]"
        elif cell.cell_type == "markdown":
            header = f"# %% [markdown{extra}]"
        else:
            header = "# %%" if not extra else f"# %% [code{extra}]"
        body = cell.source
        if cell.cell_type == "markdown":
            body = "\n".join(f"# {line}".rstrip() for line in body.splitlines())
        parts.append(f"{header}\n{body}\n")
    return "\n".join(parts)


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "export":
        sys.stdout.write(to_text(nbformat.read(argv[1], as_version=4)))
        return 0
    if len(argv) == 3 and argv[0] == "build":
        nb = to_notebook(Path(argv[1]).read_text())
        nbformat.validate(nb)
        nbformat.write(nb, argv[2])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
