"""The lessons in a real client: JupyterLab in headless Chromium, as a learner uses them.

One JupyterLab server (on loopback, a free port, a token) serves a temporary copy of
notebooks/ and solutions/ for the whole module; one browser tab opens each notebook in
turn, runs it, and reads the saved .ipynb back from disk. The widgets are operated as
a learner does (arrow keys on a slider, another option in a dropdown, a click on a
button), and a screenshot of each lesson's widget is kept in build/screenshots/ for
a reviewer to look at.
"""

from __future__ import annotations

import base64
import contextlib
import shutil
import struct

import nbformat
import numpy as np
import pytest

from grading.course import is_grade
from tests.browser import LabPage, chromium_page, ensure_chromium, jupyterlab
from tests.conftest import ROOT, lesson_names, needs_mnist

pytestmark = [pytest.mark.slow, needs_mnist]
playwright = pytest.importorskip("playwright.sync_api")

LESSONS = lesson_names()
SCREENSHOTS = ROOT / "build" / "screenshots"
VALIDATE_LESSON = "04_momentum"  # the quickest lesson to run: Validate executes it again
REDRAW_TIMEOUT_S = 120

# A control is anything a learner can operate; the test knows how to operate these three.
CONTROL = ".jupyter-widgets.widget-inline-hbox, .jupyter-widgets.jupyter-button"
SLIDER, DROPDOWN, BUTTON = ".widget-slider", ".widget-dropdown", ".jupyter-button"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    ensure_chromium()
    root = tmp_path_factory.mktemp("lab")
    for folder in ("notebooks", "solutions"):
        (root / folder).mkdir()
        for nb in (ROOT / folder).glob("*.ipynb"):
            shutil.copy(nb, root / folder / nb.name)
    with jupyterlab(root) as server, chromium_page() as page:
        yield LabPage(page, server)


@contextlib.contextmanager
def opened(lab: LabPage, path: str):
    lab.open(path)
    try:
        yield lab
    finally:
        lab.close()


def _saved(lab: LabPage, path: str) -> nbformat.NotebookNode:
    lab.save()
    return nbformat.read(lab.server.root / path, as_version=4)


def _errors(nb) -> dict[str, str]:
    return {
        c.id: o.ename
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error"
    }


def _shown(cell) -> str:
    """Everything a code cell shows as text: printed lines, text results, tracebacks."""
    parts = []
    for o in cell.outputs:
        if o.output_type == "stream":
            parts.append(o.text)
        elif o.output_type == "error":
            parts.append("\n".join(o.traceback))
        else:
            parts.append(o.get("data", {}).get("text/plain", ""))
    return "".join(parts)


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _widget_cells(nb) -> list:
    """The code cells whose saved outputs show an ipywidget (a live kernel's, gone on reopening)."""
    return [
        c
        for c in nb.cells
        if c.cell_type == "code" and any(WIDGET_VIEW in o.get("data", {}) for o in c.outputs)
    ]


def _plot_srcs(box) -> list[str]:
    """The images in the widget's Output area (data: URLs), in order."""
    return [img.get_attribute("src") or "" for img in box.locator(":scope > .widget-output img").all()]


def _redraw(lab: LabPage, box, action) -> tuple[str, bool]:
    """Do `action` (a control's move); wait until the kernel has handled it and the widget shows a
    freshly drawn PNG. Returns what was done and whether the picture differs from the one before."""
    plots = box.locator(":scope > .widget-output img")
    before = _plot_srcs(box)
    plots.evaluate_all("imgs => imgs.forEach(img => { img.dataset.old = '1'; })")
    seen = lab.idle_count()
    what = action()
    try:
        lab.wait_handled(seen, REDRAW_TIMEOUT_S)
        box.locator(":scope > .widget-output img:not([data-old])").first.wait_for(timeout=30_000)
    except playwright.TimeoutError:
        shown = box.locator(":scope > .widget-output").inner_text()[-2000:]
        pytest.fail(f"{what}: no new plot within {REDRAW_TIMEOUT_S} s; the widget shows:\n{shown}")
    now = _plot_srcs(box)
    assert now and all(src.startswith("data:image/png") for src in now), f"{what}: not a PNG plot"
    return what, now != before


def _moves(control):
    """(moves, undo) for a control: each move takes it one step further from the lesson's setting
    (a slider's next step, the next option, a press); undo(k) lists the steps back after k moves.

    Trying a few settings keeps the test about the widget, not about one value that happens to
    draw the same picture (two confident models give the same bars for an easy digit).
    """
    classes = control.get_attribute("class") or ""
    label = control.locator(".widget-label").first.inner_text() if "widget-inline-hbox" in classes else ""
    if SLIDER[1:] in classes:
        handle = control.locator(".noUi-handle")
        at_max = float(handle.get_attribute("aria-valuenow")) >= float(handle.get_attribute("aria-valuemax"))
        ahead, back = ("ArrowLeft", "ArrowRight") if at_max else ("ArrowRight", "ArrowLeft")

        def press(key):
            before = control.locator(".widget-readout").inner_text()
            handle.focus()
            handle.press(key)
            after = control.locator(".widget-readout").inner_text()
            assert after != before, f"slider {label!r}: {key} did not move it from {before}"
            return f"slider {label!r} {before} -> {after}"

        return [lambda: press(ahead)] * 3, lambda k: [lambda: press(back)] * k
    if DROPDOWN[1:] in classes:
        select = control.locator("select")
        options = select.locator("option").all_inner_texts()
        current = select.evaluate("s => s.selectedIndex")

        def pick(index):
            select.select_option(index=index)
            return f"dropdown {label!r} -> {options[index]}"

        moves = [lambda i=i: pick((current + i) % len(options)) for i in range(1, len(options))]
        return moves, lambda k: [lambda: pick(current)]
    if BUTTON[1:] in classes:

        def press_button():
            control.click()
            return f"button {control.inner_text()!r}"

        return [press_button], lambda k: []
    raise AssertionError(f"a control the test cannot operate: {classes}")


def _try(lab: LabPage, box, control) -> tuple[list[str], bool]:
    """Move the control up to three steps until the picture changes, then put it back."""
    moves, undo = _moves(control)
    tried, changed = [], False
    for move in moves:
        what, changed = _redraw(lab, box, move)
        tried.append(what)
        if changed:
            break
    for step in undo(len(tried)):
        _redraw(lab, box, step)
    return tried, changed


def _check_control(lab: LabPage, box, control, others) -> str:
    """Every move redraws the plot, and the control changes the picture: from the lesson's own
    setting, or else once another control of the widget has moved one step (lesson 01: at its
    first digit all four models draw the same bars, and the plot does not name the model)."""
    tried, changed = _try(lab, box, control)
    for other in others:
        if changed:
            break
        moves, undo = _moves(other)
        first, _ = _redraw(lab, box, moves[0])
        tried_there, changed = _try(lab, box, control)
        tried += [f"{t} (after {first})" for t in tried_there]
        for step in undo(1):
            _redraw(lab, box, step)
    assert changed, f"the picture stayed the same after: {'; '.join(tried)}"
    return tried[-1]


def _png_size(src: str) -> tuple[int, int, int]:
    """(bytes, width, height) of a data:image/png URL."""
    data = base64.b64decode(src.split(",", 1)[1])
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return len(data), width, height


def _distinct_colours(png_path) -> int:
    import matplotlib.image

    pixels = matplotlib.image.imread(png_path)
    return len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0))


# `make test` drives four lessons' widgets (a slider, a dropdown, a button among them); the slow tier
# (`make test-full`) the other four, and the first lesson's blank copy.
FAST = ("01_task_and_loss", "04_momentum", "06_minibatches", "09_tuning")


def _tiered(names) -> list:
    return [n if n in FAST else pytest.param(n, marks=pytest.mark.full) for n in names]


@pytest.mark.parametrize("name", _tiered(LESSONS))
def test_solution_runs_in_jupyterlab_and_its_widgets_redraw(lab, name):
    """Run All on the solution: no error; then every control of every widget changes its plot."""
    path = f"solutions/{name}.ipynb"
    with opened(lab, path):
        lab.run_all()
        nb = _saved(lab, path)
        assert _errors(nb) == {}
        assert all(c.execution_count for c in nb.cells if c.cell_type == "code"), "Run All stopped early"
        for cell in nb.cells:
            if is_grade(cell):
                assert "✅" in "".join(o.get("text", "") for o in cell.outputs), cell.id
        shown = "".join(_shown(c) for c in nb.cells if c.cell_type == "code")
        assert "❌" not in shown and "⏳" not in shown, "a solved copy shows only ✅"

        boxes = lab.notebook.locator(".widget-vbox:has(> .widget-output)").all()
        assert boxes, "no interactive widget rendered"
        all_controls = lab.notebook.locator(CONTROL).count()
        operated = []
        for box in boxes:
            controls = box.locator(f":scope > :is({CONTROL})").all()
            assert controls, "a widget with no controls"
            operated += [_check_control(lab, box, c, [o for o in controls if o != c]) for c in controls]
        assert len(operated) == all_controls, f"controls outside the widgets: {all_controls} vs {operated}"

        box = boxes[0]
        size, width, height = _png_size(_plot_srcs(box)[0])
        assert size > 5_000 and width > 300 and height > 150, (size, width, height)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shot = SCREENSHOTS / f"{name}_widget.png"
        box.screenshot(path=shot)
        assert shot.stat().st_size > 10_000
        assert _distinct_colours(shot) > 100, "the screenshot looks blank, not like a plot"


# Run All on every blank student copy, as a student does first: `make test` the first lesson,
# `make test-full` the others. (The grader runs every blank copy headless too, and there each
# check fails its cell: tests/test_round_trip.py.)
@pytest.mark.parametrize(
    "name", [LESSONS[0], *(pytest.param(n, marks=pytest.mark.full) for n in LESSONS[1:])]
)
def test_run_all_on_a_blank_copy_reaches_the_end_with_a_diagnosis_under_each_check(lab, name):
    """Run > Run All Cells on the student's copy: nothing stops it, no cell shows a traceback,
    every check shows its diagnosis (❌, or ⏳ for an exercise not written yet) and no ✅; the
    progress bars are saved as text (the only widgets are the interactive figures)."""
    path = f"notebooks/{name}.ipynb"
    with opened(lab, path):
        lab.run_all()
        nb = _saved(lab, path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), "Run All stopped before the last cell"
    assert _errors(nb) == {}, "a cell shows a traceback"
    checks = [c for c in code if is_grade(c)]
    assert checks
    for cell in checks:
        shown = _shown(cell)
        assert "⏳" in shown or "❌" in shown, (cell.id, shown)
        assert "✅" not in shown and "Traceback" not in shown, (cell.id, shown)
    for cell in _widget_cells(nb):
        assert "interactive_figure(" in cell.source, (cell.id, "a widget that is not an interactive figure")


def test_nbgrader_validate_passes_on_a_solution(lab):
    """The Validate button of nbgrader's JupyterLab extension: the solution passes every test."""
    with opened(lab, f"solutions/{VALIDATE_LESSON}.ipynb"):
        lab.notebook.locator(".validate-button").click()
        dialog = lab.page.locator(".jp-Dialog")
        dialog.locator(".validation-success, .validation-failed, pre").first.wait_for(timeout=300_000)
        text = dialog.inner_text()
        assert dialog.locator(".validation-success").count() == 1, text
        assert "passes all the tests" in text
        dialog.locator(".jp-mod-accept").click()
