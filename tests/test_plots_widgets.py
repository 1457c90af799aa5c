"""course_utils.plots and course_utils.widgets draw what they say, headless."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from course_utils import plots, widgets  # noqa: E402
from course_utils.training import History  # noqa: E402


def teardown_function():
    plt.close("all")


def test_plot_losses_of_histories_and_lists():
    h = History(step=[1, 2, 3], loss=[3.0, 2.0, 1.0], time=[0.1, 0.2, 0.3], eval_step=[3], test_acc=[0.9])
    fig = plots.plot_losses({"a": h, "b": [2.0, 1.5, 1.2]})
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines] == ["a", "b"]
    assert ax.get_yscale() == "log"
    fig = plots.plot_losses({"a": h}, x="time", y="test_acc", logy=False)
    line = fig.axes[0].lines[0]
    assert np.allclose(line.get_xdata(), [0.3]) and np.allclose(line.get_ydata(), [0.9])
    assert fig.axes[0].get_ylabel() == "test accuracy"


def test_contours_with_trajectories():
    def bowl(a, b):
        return a**2 + 10 * b**2

    path = torch.tensor([[1.5, 1.0], [1.0, -0.5], [0.5, 0.2]])
    fig = plots.plot_contours(bowl, {"GD": path}, minimum=(0, 0))
    ax = fig.axes[0]
    assert np.allclose(ax.lines[0].get_xdata(), path[:, 0])
    assert ax.collections  # the contour lines


def test_digit_and_template_grids():
    X = torch.randn(30, 784)
    fig = plots.show_digits(X, torch.arange(30) % 10, n=12, cols=6, pred=torch.zeros(30))
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0] == "0 → 0" and titles[1] == "1 → 0"
    assert fig.axes[0].title.get_color() == "green" and fig.axes[1].title.get_color() == "red"
    fig = plots.show_weight_templates(torch.randn(10, 784))
    assert len(fig.axes) == 11  # ten templates and a colour bar
    fig = plots.show_probabilities(torch.softmax(torch.randn(10), 0), label=3)
    assert len(fig.axes[0].patches) == 10


def test_interactive_figure_draws_at_once_and_on_every_change():
    calls = []

    def draw(lr, kind):
        calls.append((lr, kind))
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, lr])
        return fig

    lr = widgets.log_slider("lr", 0.1, -3, 0)
    kind = widgets.dropdown("kind", ["a", "b"])
    box = widgets.interactive_figure(draw, lr=lr, kind=kind)
    assert calls == [(0.1, "a")]
    lr.value = 0.01
    kind.value = "b"
    assert calls[1:] == [(0.01, "a"), (0.01, "b")]
    assert box.children[:2] == (lr, kind)
    assert isinstance(widgets.slider("n", 3, 1, 10), widgets.widgets.IntSlider)
    assert isinstance(widgets.slider("x", 0.5, 0.0, 1.0), widgets.widgets.FloatSlider)
