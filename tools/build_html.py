"""Executed HTML copies of the lessons, for learners who only want to read them.

    python tools/build_html.py                       # every lesson -> build/html/
    python tools/build_html.py 03_gradient_descent --out /tmp/html

Each lesson's solution notebook is run headless, so every plot is the one the
correct code draws; then every cell's source is taken from the student copy
(notebooks/), so readers see the exercises, not their answers, and no hidden
tests. Exercise cells and their checks keep no output: a check's ✅ line can give
an answer away (the quiz's does). A widget cannot move without a kernel: its
plot is shown as drawn, with the values of its controls. The pages embed their
images; index.html links them.
"""

from __future__ import annotations

import argparse
import html
import os
import sys
import time
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter

from grading.course import NOTEBOOKS, ROOT, SOLUTIONS, is_grade, is_solution, lessons
from tools import notebook_runner

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def execute(name: str, timeout: int) -> nbformat.NotebookNode:
    """The solution notebook as run from a fresh kernel in solutions/ (the copy this run of the
    tests already executed, if any); exits if a cell fails."""
    path = SOLUTIONS / f"{name}.ipynb"
    # One torch thread, as the lessons and the tests use (see the setup cell).
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    nb = notebook_runner.cached(path)
    if nb is None:
        nb = notebook_runner.execute(path, timeout=timeout).nb
    errors = [
        f"{c.get('id')}: {o.ename}: {o.evalue}"
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error"
    ]
    if errors:
        sys.exit(f"solutions/{name}.ipynb fails, no HTML written:\n" + "\n".join(errors))
    return nb


def _static_widget(model_id: str, states: dict) -> list[nbformat.NotebookNode]:
    """A widget's plot(s) as drawn, after the values its controls had; [] for a widget without an
    Output area (a progress bar: nothing to read once the run is over)."""
    controls, outputs, has_output = [], [], False

    def walk(mid: str) -> None:
        nonlocal has_output
        model = states.get(mid, {})
        state = model.get("state", {})
        if model.get("model_name") == "OutputModel":
            has_output = True
            outputs.extend(nbformat.from_dict(o) for o in state.get("outputs", []))
        elif state.get("description") and ("index" in state or "value" in state):
            value = state["_options_labels"][state["index"]] if "index" in state else state["value"]
            controls.append(f"{state['description']} = {value}")
        for child in state.get("children", []):
            walk(child.removeprefix("IPY_MODEL_"))

    walk(model_id)
    if not has_output:
        return []
    note = (
        "Interactive in JupyterLab or Colab; drawn here for "
        + (", ".join(html.escape(str(c)) for c in controls) or "its first setting")
        + "."
    )
    return [
        nbformat.v4.new_output("display_data", {"text/html": f"<p><em>{note}</em></p>", "text/plain": note}),
        *outputs,
    ]


def reader_copy(executed: nbformat.NotebookNode, student: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Student sources with the solution run's outputs; no output under exercises and checks."""
    by_id = {c.get("id"): c for c in student.cells}
    states = executed.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    cells = []
    for cell in executed.cells:
        if cell.get("id") not in by_id:
            sys.exit(f"cell {cell.get('id')} is not in the student copy: run `make notebooks`")
        copy = nbformat.from_dict(by_id[cell.get("id")])
        if copy.cell_type == "code":
            copy.outputs, copy.execution_count = [], None
            if not (is_solution(cell) or is_grade(cell)):
                copy.execution_count = cell.execution_count
                for out in cell.outputs:
                    if WIDGET_VIEW in out.get("data", {}):
                        copy.outputs.extend(_static_widget(out.data[WIDGET_VIEW]["model_id"], states))
                    else:
                        copy.outputs.append(out)
        cells.append(copy)
    reader = nbformat.v4.new_notebook(cells=cells, metadata=dict(student.metadata))
    reader.metadata.pop("widgets", None)  # static page: no widget JavaScript to fetch
    return reader


def title(nb: nbformat.NotebookNode, name: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return name


def write_index(out: Path) -> Path:
    """index.html linking every lesson page in `out` (also those built by an earlier run)."""
    items = []
    for name in lessons():
        if (out / f"{name}.html").exists():
            label = title(nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4), name)
            items.append(f'<li><a href="{name}.html">{html.escape(label)}</a></li>')
    page = (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>Optimization for deep learning, "
        "on MNIST</title>\n"
        "<style>body { font-family: sans-serif; max-width: 48em; margin: 2em auto; }</style>"
        "</head>\n<body><h1>Optimization for deep learning, on MNIST</h1>\n"
        "<p>The lessons as run, to read without a kernel. To run them and do the exercises, "
        "open <code>notebooks/</code> in JupyterLab or Colab.</p>\n<ol>\n"
        + "\n".join(items)
        + "\n</ol>\n</body></html>\n"
    )
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def build(name: str, out: Path, timeout: int = 300) -> Path:
    executed = execute(name, timeout)
    student = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(reader_copy(executed, student))
    out.mkdir(parents=True, exist_ok=True)
    page = out / f"{name}.html"
    page.write_text(body, encoding="utf-8")
    return page


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("lessons", nargs="*", help="lesson names (default: all)")
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "html", help="default: build/html")
    ap.add_argument("--timeout", type=int, default=300, help="seconds a cell may run (default: 300)")
    args = ap.parse_args(argv)
    for name in lessons(args.lessons):
        start = time.perf_counter()
        page = build(name, args.out, args.timeout)
        print(f"{page} ({page.stat().st_size // 1024} kB, {time.perf_counter() - start:.0f} s)")
    print(write_index(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
