"""Training loops (full-batch and minibatch), evaluation, and a stopwatch.

One loop serves every lesson: `train(model, X, y, optimizer, steps=...)` is
full-batch gradient descent; add `batch_size=` and it draws shuffled
minibatches by indexing the data tensor (no DataLoader). The optimizer is a
`torch.optim` optimizer or one the student wrote: any object with `step()`
(and optionally `zero_grad()`), or a plain function `update(params)` called
after the gradients are computed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from course_utils.progress import progress


class Stopwatch:
    """Wall-clock seconds spent training, with pauses for work that should not count.

    >>> watch = Stopwatch()
    >>> with watch.paused():   # e.g. evaluation on the test set
    ...     pass
    >>> watch.elapsed() < 1
    True
    """

    def __init__(self):
        self._start = time.perf_counter()
        self._paused_total = 0.0

    def elapsed(self) -> float:
        return time.perf_counter() - self._start - self._paused_total

    def out_of(self, budget: float | None) -> bool:
        """True once `budget` seconds are spent (never, for None)."""
        return budget is not None and self.elapsed() >= budget

    @contextmanager
    def paused(self):
        t0 = time.perf_counter()
        try:
            yield self
        finally:
            self._paused_total += time.perf_counter() - t0


@dataclass
class History:
    """What a training run records: one entry per step, and per evaluation."""

    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)  # training loss of the step's batch
    acc: list[float] = field(default_factory=list)  # training accuracy of the step's batch
    time: list[float] = field(default_factory=list)  # seconds of training so far
    examples: list[int] = field(default_factory=list)  # examples seen so far (gradient cost)
    eval_step: list[int] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)

    @property
    def final_loss(self) -> float:
        return self.loss[-1] if self.loss else math.nan

    def __repr__(self) -> str:
        parts = [f"{len(self.step)} steps", f"final loss {self.final_loss:.4f}"]
        if self.time:
            parts.append(f"{self.time[-1]:.2f} s")
        if self.test_acc:
            parts.append(f"test accuracy {self.test_acc[-1]:.2%}")
        return f"History({', '.join(parts)})"


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    return (logits.argmax(dim=1) == y).float().mean().item()


@torch.no_grad()
def evaluate(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    loss_fn: Callable = F.cross_entropy,
    batch_size: int = 10_000,
) -> tuple[float, float]:
    """Mean loss and accuracy of `model` on (X, y), in chunks, without building a graph."""
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    for i in range(0, len(y), batch_size):
        logits = model(X[i : i + batch_size])
        yb = y[i : i + batch_size]
        total_loss += loss_fn(logits, yb).item() * len(yb)
        correct += (logits.argmax(dim=1) == yb).sum().item()
    model.train(was_training)
    return total_loss / len(y), correct / len(y)


def epoch_batches(
    n: int, batch_size: int, generator: torch.Generator | None = None, device=None
) -> Iterator[torch.Tensor]:
    """Endless minibatches of row numbers of 0, ..., n-1: each epoch a fresh random permutation
    from `generator`, cut into consecutive batches (a ragged last batch is dropped), so every
    example is seen once per epoch (lesson 06 explains why to shuffle)."""
    while True:
        perm = torch.randperm(n, generator=generator).to(device)
        for i in range(0, n - batch_size + 1, batch_size):
            yield perm[i : i + batch_size]


_progress_bar = progress  # `train` has an argument of that name (progress is course_utils.progress's)


def train(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    optimizer,
    steps: int | None = None,
    *,
    epochs: float | None = None,
    batch_size: int | None = None,
    loss_fn: Callable = F.cross_entropy,
    X_test: torch.Tensor | None = None,
    y_test: torch.Tensor | None = None,
    eval_every: int | None = None,
    time_budget: float | None = None,
    generator: torch.Generator | None = None,
    progress: bool = True,
    desc: str | None = None,
) -> History:
    """Train `model` on (X, y) and return its History.

    batch_size=None means full-batch gradient descent: every step sees all of X.
    Stop after `steps` updates, or `epochs` passes over the data, or
    `time_budget` seconds of training (evaluation time excluded), whichever
    comes first. With X_test/y_test, evaluate every `eval_every` steps and at
    the end.
    """
    n = len(y)
    bs = n if batch_size is None or batch_size >= n else batch_size
    if epochs is not None:
        by_epochs = max(1, round(epochs * (n // bs)))
        steps = by_epochs if steps is None else min(steps, by_epochs)
    if steps is None and time_budget is None:
        raise ValueError("say when to stop: steps=, epochs= or time_budget=")
    total = steps if steps is not None else 10**9
    params = [p for p in model.parameters() if p.requires_grad]
    step_fn, zero_fn = _as_update(optimizer, params)
    batches = None if bs == n else epoch_batches(n, bs, generator, X.device)
    hist = History()
    watch = Stopwatch()
    bar = _progress_bar(total=steps, desc=desc, disable=not progress)
    model.train()
    for t in range(1, total + 1):
        if batches is None:
            xb, yb = X, y
        else:
            idx = next(batches)
            xb, yb = X[idx], y[idx]
        zero_fn()
        logits = model(xb)
        loss = loss_fn(logits, yb)
        loss.backward()
        step_fn()
        loss_value = loss.item()
        hist.step.append(t)
        hist.loss.append(loss_value)
        hist.acc.append((logits.detach().argmax(dim=1) == yb).float().mean().item())
        hist.time.append(watch.elapsed())
        hist.examples.append(t * bs)
        bar.update(1)
        if t % 10 == 0 or t == total:
            bar.set_postfix(loss=f"{loss_value:.4f}", refresh=False)
        done = t == total or watch.out_of(time_budget) or not math.isfinite(loss_value)
        if X_test is not None and y_test is not None and (done or (eval_every and t % eval_every == 0)):
            with watch.paused():
                test_loss, test_acc = evaluate(model, X_test, y_test)
            hist.eval_step.append(t)
            hist.test_loss.append(test_loss)
            hist.test_acc.append(test_acc)
        if done:
            break
    bar.close()
    return hist


def _as_update(optimizer, params: Sequence[torch.Tensor]):
    """(step, zero_grad) callables for a torch optimizer, an object with step(), or a function."""
    if hasattr(optimizer, "step"):
        zero = getattr(optimizer, "zero_grad", None) or (lambda: _zero_grads(params))
        return optimizer.step, zero

    if callable(optimizer):

        def step():
            with torch.no_grad():
                optimizer(params)

        return step, lambda: _zero_grads(params)
    raise TypeError(
        "optimizer must be a torch.optim optimizer, an object with a step() method, "
        f"or a function update(params); got {type(optimizer).__name__}"
    )


def _zero_grads(params: Iterable[torch.Tensor]) -> None:
    for p in params:
        p.grad = None
