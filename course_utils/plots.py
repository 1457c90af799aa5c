"""Plots the lessons share: loss curves, contours with trajectories, digit grids.

Each function draws on `ax` when given one (so widgets and subplots can reuse
it) and returns the matplotlib Figure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from .data import to_images


def _axes(ax=None, figsize=(6, 4)):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    return ax.figure, ax


_LABELS = {
    "loss": "training loss",
    "acc": "training accuracy",
    "test_loss": "test loss",
    "test_acc": "test accuracy",
}


def plot_losses(
    runs: Mapping[str, object],
    x: str = "step",
    y: str = "loss",
    logy: bool = True,
    ax=None,
    title: str | None = None,
):
    """Curves of several runs: `runs` maps a label to a History or to a list of values.

    x: "step", "time" (seconds) or "examples" (examples seen, i.e. gradient cost).
    y: "loss", "acc", "test_loss" or "test_acc".
    """
    fig, ax = _axes(ax)
    for label, run in runs.items():
        if isinstance(run, Sequence | np.ndarray | torch.Tensor):
            ys = np.asarray(run, dtype=float)
            xs = np.arange(1, len(ys) + 1)
        else:
            ys = np.asarray(getattr(run, y), dtype=float)
            xs = np.asarray(getattr(run, "eval_step" if y.startswith("test") else x), dtype=float)
            if y.startswith("test") and x != "step":
                xs = np.asarray(getattr(run, x), dtype=float)[xs.astype(int) - 1]
        ax.plot(xs, ys, label=label)
    ax.set_xlabel({"step": "step", "time": "seconds", "examples": "examples seen"}.get(x, x))
    ax.set_ylabel(_LABELS.get(y, y))
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if len(runs) > 1:
        ax.legend()
    return fig


def plot_contours(
    f: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    trajectories: Mapping[str, object] | None = None,
    xlim: tuple[float, float] = (-2, 2),
    ylim: tuple[float, float] = (-2, 2),
    levels: int | Sequence[float] = 30,
    ax=None,
    n: int = 200,
    minimum: tuple[float, float] | None = None,
    title: str | None = None,
):
    """Contour lines of f(w1, w2) and optimizer paths on top.

    f takes two tensors of the same shape (a grid) and returns a tensor of values.
    trajectories maps a label to a sequence of 2-D points (list, array or tensor of shape (T, 2)).
    """
    fig, ax = _axes(ax, figsize=(5.5, 5))
    w1, w2 = torch.meshgrid(
        torch.linspace(*xlim, n, dtype=torch.float64),
        torch.linspace(*ylim, n, dtype=torch.float64),
        indexing="xy",
    )
    with torch.no_grad():
        z = f(w1, w2).numpy()
    ax.contour(w1.numpy(), w2.numpy(), z, levels=levels, cmap="viridis", linewidths=0.8)
    for label, path in (trajectories or {}).items():
        p = np.asarray(torch.as_tensor(np.asarray(path, dtype=float)))
        ax.plot(p[:, 0], p[:, 1], ".-", ms=3, lw=1.2, label=label)
        ax.plot(p[0, 0], p[0, 1], "ko", ms=4)
    if minimum is not None:
        ax.plot(*minimum, "r*", ms=12, label="minimum")
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xlabel("$w_1$")
    ax.set_ylabel("$w_2$")
    if title:
        ax.set_title(title)
    if trajectories or minimum is not None:
        ax.legend(loc="upper right", fontsize=8)
    return fig


def show_digits(
    X: torch.Tensor,
    y: torch.Tensor | None = None,
    n: int = 24,
    cols: int = 8,
    pred: torch.Tensor | None = None,
):
    """A grid of the first `n` digits of X (N, 784), titled with labels (and predictions)."""
    n = min(n, len(X))
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.5 * rows), squeeze=False)
    images = to_images(X[:n]).numpy()
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(images[i], cmap="gray_r")
        title = "" if y is None else f"{int(y[i])}"
        color = "black"
        if pred is not None:
            title += f" → {int(pred[i])}"
            color = "green" if y is not None and int(pred[i]) == int(y[i]) else "red"
        ax.set_title(title, fontsize=9, color=color)
    fig.tight_layout()
    return fig


def show_weight_templates(W: torch.Tensor, titles: Sequence[str] | None = None):
    """Each row of W (10, 784) as a 28x28 image: red pixels vote for the class, blue against."""
    images = W.detach().cpu().reshape(-1, 28, 28).numpy()
    k = len(images)
    vmax = float(np.abs(images).max())
    fig, axes = plt.subplots(1, k, figsize=(1.3 * k, 1.6), squeeze=False)
    for i, ax in enumerate(axes.flat):
        im = ax.imshow(images[i], cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        ax.set_title(titles[i] if titles else str(i), fontsize=9)
        ax.axis("off")
    fig.colorbar(im, ax=list(axes.flat), shrink=0.8, pad=0.01)
    return fig


def show_probabilities(probs: torch.Tensor, label: int | None = None, ax=None):
    """Bar chart of one example's 10 class probabilities, the true class highlighted."""
    fig, ax = _axes(ax, figsize=(4, 2.5))
    p = probs.detach().cpu().numpy()
    colors = ["tab:green" if label is not None and i == label else "tab:blue" for i in range(len(p))]
    ax.bar(range(len(p)), p, color=colors)
    ax.set_xticks(range(len(p)))
    ax.set_ylim(0, 1)
    ax.set_xlabel("class")
    ax.set_ylabel("probability")
    return fig
