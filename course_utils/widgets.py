"""Interactive figures from core ipywidgets only (they work in JupyterLab and Colab).

`interactive_figure(draw, lr=log_slider(...), ...)` redraws a matplotlib
figure whenever a control moves. The first drawing happens at once, so a
notebook run headless (nbclient, nbgrader) still shows a plot and never waits
for input.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import display

_LAYOUT = widgets.Layout(width="420px")
_STYLE = {"description_width": "120px"}


def slider(description: str, value: float, min: float, max: float, step: float | None = None):
    """A float slider (an int slider when all numbers are ints)."""
    if all(isinstance(v, int) for v in (value, min, max)) and (step is None or isinstance(step, int)):
        return widgets.IntSlider(
            value=value,
            min=min,
            max=max,
            step=step or 1,
            description=description,
            continuous_update=False,
            layout=_LAYOUT,
            style=_STYLE,
        )
    return widgets.FloatSlider(
        value=value,
        min=min,
        max=max,
        step=step or (max - min) / 100,
        description=description,
        continuous_update=False,
        layout=_LAYOUT,
        style=_STYLE,
        readout_format=".3g",
    )


def log_slider(description: str, value: float, min_exp: float, max_exp: float, step: float = 0.1):
    """A slider over value = 10**x for x in [min_exp, max_exp]: for learning rates and the like."""
    return widgets.FloatLogSlider(
        value=value,
        base=10,
        min=min_exp,
        max=max_exp,
        step=step,
        description=description,
        continuous_update=False,
        layout=_LAYOUT,
        style=_STYLE,
        readout_format=".3g",
    )


def dropdown(description: str, options, value=None):
    return widgets.Dropdown(
        options=options,
        value=value if value is not None else list(options)[0],
        description=description,
        layout=_LAYOUT,
        style=_STYLE,
    )


def interactive_figure(draw: Callable[..., object], **controls: widgets.ValueWidget) -> widgets.VBox:
    """Controls above a plot; `draw(**values)` makes the figure each time a control changes.

    `draw` gets the controls' current values by name and draws with matplotlib
    (it may create its own figure or return one). Returns the widget box, which
    is also displayed.
    """
    out = widgets.Output()

    def redraw(_change=None):
        values = {name: c.value for name, c in controls.items()}
        with out:
            out.clear_output(wait=True)
            fig = draw(**values)
            fig = fig if fig is not None else plt.gcf()
            display(fig)
            plt.close(fig)

    for c in controls.values():
        c.observe(redraw, names="value")
    box = widgets.VBox([*controls.values(), out])
    redraw()
    display(box)
    return box
