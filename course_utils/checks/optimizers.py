"""Lessons 03 and 04's checkers: a gradient check, gradient descent, heavy-ball momentum.

- gradient_check (03): centered differences are exact on a quadratic (the h² term vanishes) and
  off by O(h²) elsewhere; the autograd gradient is torch's; the relative error is recomputed from
  what the student returned.
- gradient_descent (03): the path is compared with torch.optim.SGD's on the same objective.
- momentum_step (04): run side by side with torch.optim.SGD(momentum=β) on two small models
  (`_check_optimizer_step`).
- beta_sweep (04): the rates are compared with those of torch.optim.SGD(momentum=β) runs.

The objectives handed to a student's function are objects of the classes below (`Quadratic`,
`SoftmaxRegressionLoss`): plain data (their tensors), so that they can cross to a grading kernel.
The known mistakes of each exercise are tables of candidates (reporting.Known), walked by
reporting._diagnose; the candidates are torch.optim.SGD runs with a flag changed, or the
two-term recurrence of one eigendirection (`_two_term`). No message holds a line of an answer.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from course_utils.checks.calling import _call, _where
from course_utils.checks.reporting import Known, _all_close, _close, _diagnose, _fail, _fmt, _pass, _rand

__all__ = [
    "Quadratic",
    "SoftmaxRegressionLoss",
    "check_gradient_check",
    "check_gradient_descent",
    "check_momentum_step",
    "check_beta_sweep",
]


# --------------------------------------------------------------------------- objectives


class Quadratic:
    """J(w) = ½ wᵀ A w − bᵀ w, with A symmetric positive definite: its gradient is A w − b."""

    def __init__(self, A: torch.Tensor, b: torch.Tensor):
        self.A = A
        self.b = b

    @classmethod
    def random(cls, d: int, gen: torch.Generator) -> Quadratic:
        M = torch.randn(d, d, generator=gen, dtype=torch.float64)
        A = M @ M.T / d + 0.5 * torch.eye(d, dtype=torch.float64)
        return cls(A, torch.randn(d, generator=gen, dtype=torch.float64))

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        return 0.5 * w @ (self.A @ w) - self.b @ w

    def __repr__(self) -> str:
        return f"Quadratic(d={self.b.numel()})"


class SoftmaxRegressionLoss:
    """The cross-entropy of softmax regression on (X, y), with W (k × d) and b (k) flattened into w."""

    def __init__(self, X: torch.Tensor, y: torch.Tensor, classes: int):
        self.X = X
        self.y = y
        self.classes = classes

    @classmethod
    def random(cls, gen: torch.Generator, n: int = 8, d: int = 3, classes: int = 3) -> SoftmaxRegressionLoss:
        X = torch.randn(n, d, generator=gen, dtype=torch.float64)
        return cls(X, torch.randint(0, classes, (n,), generator=gen), classes)

    @property
    def size(self) -> int:
        return self.classes * (self.X.shape[1] + 1)

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        k, d = self.classes, self.X.shape[1]
        W, b = w[: k * d].reshape(k, d), w[k * d :]
        return F.cross_entropy(self.X @ W.T + b, self.y)

    def __repr__(self) -> str:
        return f"SoftmaxRegressionLoss(n={self.X.shape[0]}, d={self.X.shape[1]}, classes={self.classes})"


# --------------------------------------------------------------------------- shared machinery

_SGD_FORBID = [(torch.optim, "SGD"), (torch.optim.SGD, "step")]


class _StudentError(RuntimeError):
    """A crash of the student's code that has a known cause: the message names it."""

    where: str | None = None  # the student's line, when it was raised in the grading kernel


# Crashes with a known cause: (words in torch's or Python's message, what it means).
_KNOWN_CRASHES = [
    (
        "leaf Variable that requires grad",
        "it updates a tensor that requires gradients in place while autograd is recording; an "
        "update step must run with gradient recording switched off (the torch.no_grad() context), "
        "since the step itself is not part of the function being differentiated.",
    ),
    (
        "does not require grad and does not have a grad_fn",
        "J(w) has no gradient at this step: the w it was computed from does not require "
        "gradients. A new tensor made by subtraction under torch.no_grad() is not tracked; update "
        "the tracked tensor itself in place, or make the new one require gradients again.",
    ),
    (
        "NoneType",
        "a gradient is None: .grad is only filled by backward() on a loss computed from that very "
        "tensor (a new tensor made by subtraction has no .grad of its own).",
    ),
]


def _guarded(fn: Callable) -> Callable:
    """Turn a crash with a known cause into a message that names the cause (and keeps the line)."""

    def guarded(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (RuntimeError, TypeError, AttributeError) as err:
            for words, meaning in _KNOWN_CRASHES:
                if words == "NoneType" and "grad" not in _where(err):
                    continue  # a None that is not a gradient: the plain crash says more
                if words in str(err):
                    new = _StudentError(meaning)
                    new.where = getattr(err, "where", None)
                    raise new.with_traceback(err.__traceback__) from None
            raise

    guarded.__name__ = getattr(fn, "__name__", "function")
    return guarded


def _as_tensor(x) -> torch.Tensor | None:
    """A returned value as a float64 tensor, or None if it is not numbers."""
    try:
        if isinstance(x, list | tuple) and x and all(isinstance(v, torch.Tensor) for v in x):
            return torch.stack([v.detach().double() for v in x])
        return torch.as_tensor(x.detach() if isinstance(x, torch.Tensor) else x, dtype=torch.float64)
    except Exception:
        return None


def _autograd(J: Callable, w: torch.Tensor) -> torch.Tensor:
    """torch's gradient of J at w."""
    x = w.detach().clone()
    x.requires_grad_(True)
    (g,) = torch.autograd.grad(J(x), x)
    return g.detach()


# --------------------------------------------------------------------------- lesson 03: gradient check

_RELATIVE = "‖g_num − g_auto‖ / (‖g_num‖ + ‖g_auto‖), Euclidean norms ‖v‖ = √(Σ v_i²)"


def _one_sided(J: Callable, w: torch.Tensor, h: float, forward: bool) -> torch.Tensor:
    """One-sided differences (J(w + h e_i) − J(w)) / h or (J(w) − J(w − h e_i)) / h: a known mistake."""
    center = J(w)
    rows = torch.eye(w.numel(), dtype=w.dtype) * h
    if forward:
        values = [(J(w + r.reshape(w.shape)) - center) / h for r in rows]
    else:
        values = [(center - J(w - r.reshape(w.shape))) / h for r in rows]
    return torch.stack(values).reshape(w.shape)


def _all_at_once(J: Callable, w: torch.Tensor, h: float) -> torch.Tensor:
    """Every coordinate moved together: the slope along (1, ..., 1), the same in every entry."""
    ones = torch.ones_like(w)
    return (J(w + h * ones) - J(w - h * ones)) / (2 * h) * ones


# The numerical gradient of a mistaken gradient check: candidate(J, w, h, true gradient).
_DIFFERENCE_MISTAKES: list[Known] = [
    (
        lambda J, w, h, g: _one_sided(J, w, h, forward=True),
        "these are forward differences (J(w + h·e_i) − J(w)) / h: their error is (h/2)·∂²J/∂w_i², of "
        "order h.",
        "centered differences (J(w + h·e_i) − J(w − h·e_i)) / (2h), whose error is of order h²: on "
        "this quadratic it is exactly zero.",
    ),
    (
        lambda J, w, h, g: _one_sided(J, w, h, forward=False),
        "these are backward differences (J(w) − J(w − h·e_i)) / h: their error is of order h.",
        "centered differences, one point on each side: (J(w + h·e_i) − J(w − h·e_i)) / (2h).",
    ),
    (
        lambda J, w, h, g: 2 * g,
        "the numerical gradient is twice the true one: the two points w ± h·e_i are 2h apart.",
        "the denominator of the centered difference: the distance between the two points.",
    ),
    (
        lambda J, w, h, g: _all_at_once(J, w, h),
        "every entry is the same number: all coordinates were moved at once, which measures the slope "
        "along (1, 1, …, 1), not a partial derivative.",
        "move one coordinate at a time: w ± h·e_i, where e_i is 1 in entry i and 0 elsewhere.",
    ),
]

# The relative error of a mistaken gradient check, from what it returned: candidate(n, a).
_RELATIVE_MISTAKES: list[tuple[Callable[[torch.Tensor, torch.Tensor], float], str, str]] = [
    (
        lambda n, a: float((n - a).norm()),
        "this is the absolute error ‖g_num − g_auto‖: without dividing by the size of the gradients "
        "it says nothing (the same code with a loss 1000 times larger would report 1000 times more).",
        f"the relative error {_RELATIVE}.",
    ),
    (
        lambda n, a: float((n - a).norm() / torch.maximum(n.norm(), a.norm())),
        "the difference is divided by one norm (‖g_num‖, ‖g_auto‖ or the larger of the two), not by "
        "their sum: about twice the relative error defined here.",
        f"the denominator is the sum of both norms: {_RELATIVE}.",
    ),
    (
        lambda n, a: float((n - a).abs().max() / (n.norm() + a.norm())),
        "the numerator is the largest difference of one coordinate, not the norm of the difference.",
        f"{_RELATIVE}: the norm of the whole difference vector.",
    ),
    (
        lambda n, a: float(((n - a) ** 2).sum() / (n.norm() + a.norm())),
        "the numerator is the squared norm Σ (difference_i)², without the square root.",
        f"{_RELATIVE}.",
    ),
]


def _gradient_check_cases(seed: int, h: float):
    """(objective, w, h, tolerance on the numerical gradient): a softmax regression, two quadratics.

    The softmax regression comes first: there the numerical and autograd gradients differ (by about
    (h²/6)·∂³J/∂w_i³), so a mistaken relative error or a copied gradient shows; on a quadratic
    centered differences are exact, so one-sided ones (off by (h/2)·∂²J/∂w_i²) show at any h.
    """
    gen = torch.Generator().manual_seed(seed)
    loss = SoftmaxRegressionLoss.random(gen)
    w = 0.5 * torch.randn(loss.size, generator=gen, dtype=torch.float64)
    cases: list[tuple[Callable, torch.Tensor, float, float]] = [(loss, w, max(h, 1e-3), 1e-5)]
    for d, step in ((3, 0.5), (5, h)):
        q = Quadratic.random(d, gen)
        cases.append((q, torch.randn(d, generator=gen, dtype=torch.float64), step, 1e-8))
    return cases


def check_gradient_check(gradient_check: Callable, seed: int = 0, h: float = 1e-4) -> None:
    """Check gradient_check(J, w, h) -> (numerical gradient, autograd gradient, relative error).

    The numerical gradient by centered differences, one coordinate at a time; the gradient from
    autograd; the relative error ‖n − a‖ / (‖n‖ + ‖a‖). On a quadratic, centered differences are
    exact for any h (checked with h = 0.5, where one-sided differences are far off).
    """
    __tracebackhide__ = True
    name = "gradient_check"
    fn = _guarded(gradient_check)
    for J, w, step, tol in _gradient_check_cases(seed, h):
        w_arg = w.clone()
        out = _call(name, fn, J, w_arg, step, purpose=f", J = {J!r}, h = {step}")
        if not isinstance(out, list | tuple) or len(out) != 3:
            _fail(
                name,
                f"returned {type(out).__name__}"
                + (f" of length {len(out)}" if isinstance(out, list | tuple) else "")
                + "; it should return three things: the numerical gradient, autograd's gradient and the "
                "relative error.",
                "the return statement: a tuple (numerical, autograd, relative error).",
            )
        numerical, analytic, rel = (_as_tensor(x) for x in out)
        if not torch.equal(w_arg, w) and not _close(w_arg, w, 1e-9):
            _fail(
                name,
                f"w changed during the call (first values {_fmt(w)} became {_fmt(w_arg)}): a coordinate "
                "was moved in place and not put back, so every later difference starts from the wrong "
                "point.",
                "evaluate J at perturbed copies of w, or put each coordinate back exactly.",
            )
        g = _autograd(J, w)
        for label, value in (("numerical gradient", numerical), ("autograd gradient", analytic)):
            if value is None or value.shape != w.shape:
                shape = "not numbers" if value is None else f"shape {tuple(value.shape)}"
                _fail(
                    name,
                    f"the {label} has {shape}; it should have w's shape {tuple(w.shape)}: one partial "
                    "derivative per coordinate.",
                    "one entry per coordinate of w, in w's shape.",
                )
        assert numerical is not None and analytic is not None
        if not _close(numerical, g, tol):
            _diagnose(
                name, numerical, _DIFFERENCE_MISTAKES, J, w, step, g, prefix=f"with h = {step}: ", tol=tol
            )
            _fail(
                name,
                f"with h = {step} on {J!r} the numerical gradient is {_fmt(numerical)}, centered "
                f"differences give {_fmt(g)} (to within {tol:g}).",
                "∂J/∂w_i ≈ (J(w + h·e_i) − J(w − h·e_i)) / (2h), for each coordinate i.",
            )
        if not _close(analytic, g, 1e-10):
            if _close(analytic, numerical, 1e-12):
                _fail(
                    name,
                    "the second value is the numerical gradient again, not autograd's: the check then "
                    "compares a thing with itself.",
                    "let autograd differentiate J at a copy of w that requires gradients.",
                )
            _fail(
                name,
                f"the autograd gradient is {_fmt(analytic)}, torch's is {_fmt(g)}.",
                "the gradient of J(w) itself, at the given w, by backward() or torch.autograd.grad.",
            )
        if rel is None or rel.numel() != 1:
            _fail(
                name,
                "the relative error should be one number.",
                f"{_RELATIVE}: a single number for the whole gradient.",
            )
        assert rel is not None
        got = float(rel)
        n, a = numerical, analytic
        right = float(
            torch.linalg.vector_norm(n - a) / (torch.linalg.vector_norm(n) + torch.linalg.vector_norm(a))
        )
        if abs(got - right) <= 1e-6 * abs(right) or (right < 1e-9 and abs(got) < 1e-6):
            continue  # (on a quadratic both gradients agree to rounding: only "small" is checked)
        for candidate, what, look in _RELATIVE_MISTAKES:
            wrong = candidate(numerical, analytic)
            if abs(got - wrong) <= 1e-6 * abs(wrong) and abs(wrong - right) > 1e-6 * abs(right):
                _fail(name, what, look)
        _fail(
            name,
            f"the relative error is {got:.3g}; from the two gradients it returned it is {right:.3g}.",
            f"{_RELATIVE}.",
        )
    _pass(
        name,
        f"centered differences within 1e-5 on a softmax regression (h = {max(h, 1e-3):g}), exact on two "
        f"quadratics (h = 0.5 and {h:g}); autograd's gradient and the relative error right.",
    )


# --------------------------------------------------------------------------- lesson 03: gradient descent


def _sgd_path(
    J: Callable, w0: torch.Tensor, lr: float, steps: int, maximize: bool = False, zero: bool = True
) -> torch.Tensor:
    """torch.optim.SGD's iterates w_0 .. w_steps (maximize: uphill; zero=False: gradients pile up)."""
    x = w0.detach().clone()
    x.requires_grad_(True)
    opt = torch.optim.SGD([x], lr=lr, maximize=maximize)
    rows = [x.detach().clone()]
    for _ in range(steps):
        if zero:
            opt.zero_grad()
        J(x).backward()
        opt.step()
        rows.append(x.detach().clone())
    return torch.stack(rows)


def _other_rate(J: Callable, path: torch.Tensor, lr: float, steps: int) -> torch.Tensor | None:
    """If the first step went along −∇J(w_0) by a factor other than lr: SGD's path at that factor."""
    g = _autograd(J, path[0])
    moved = path[1] - path[0]
    factor = -float(moved @ g / (g @ g))
    if (moved + factor * g).norm() > 1e-8 * moved.norm() or factor <= 0 or abs(factor - lr) < 1e-9 * lr:
        return None
    return _sgd_path(J, path[0], factor, steps)


# The path of a mistaken gradient descent: candidate(J, w0, lr, steps, path) -> its path.
_DESCENT_MISTAKES: list[Known] = [
    (
        lambda J, w0, lr, steps, path: _sgd_path(J, w0, lr, steps, maximize=True),
        "the iterates moved uphill (along +∇J): the gradient points uphill, a descent step goes the "
        "other way.",
        "the sign of the step: w_(t+1) = w_t − η ∇J(w_t).",
    ),
    (
        lambda J, w0, lr, steps, path: _sgd_path(J, w0, lr, steps, zero=False),
        "it used stale gradients: backward() adds to .grad, so from the second step on the step used "
        "the sum of all the gradients so far.",
        "empty .grad (set it to None, or to zero) after each update, before the next backward().",
    ),
    (
        lambda J, w0, lr, steps, path: _other_rate(J, path, lr, steps),
        "the steps go along −∇J but by another factor: it does not use the learning rate it is given.",
        "the step is the argument lr times the gradient, w_(t+1) = w_t − η ∇J(w_t).",
    ),
]


def _descent_cases(seed: int, settings: Sequence[tuple[float, int]]):
    gen = torch.Generator().manual_seed(seed)
    for lr, steps in settings:
        q = Quadratic.random(4, gen)
        yield q, torch.randn(4, generator=gen, dtype=torch.float64), lr, steps
        loss = SoftmaxRegressionLoss.random(gen)
        yield loss, 0.5 * torch.randn(loss.size, generator=gen, dtype=torch.float64), lr, steps


def check_gradient_descent(
    gradient_descent: Callable,
    seed: int = 0,
    settings: Sequence[tuple[float, int]] = ((0.1, 6), (0.5, 4)),
) -> None:
    """Check gradient_descent(J, w0, lr, steps) -> the path w_0, w_1, ..., w_steps, shape (steps + 1, d).

    w_(t+1) = w_t − lr ∇J(w_t), with the gradient from autograd; compared with torch.optim.SGD's
    path on a quadratic and a softmax regression for each (lr, steps). w0 must stay as it was.
    """
    __tracebackhide__ = True
    name = "gradient_descent"
    fn = _guarded(gradient_descent)
    for J, w0, lr, steps in _descent_cases(seed, settings):
        w_arg = w0.clone()
        out = _call(
            name,
            fn,
            J,
            w_arg,
            lr,
            steps,
            forbid=_SGD_FORBID,
            purpose=f", J = {J!r}, lr = {lr}, steps = {steps}",
        )
        if not _close(w_arg, w0, 1e-12):
            _fail(
                name,
                "it changed w0, the starting point it was given (the caller still needs it, and the "
                "first row of the path must be it).",
                "descend from a copy of w0 that requires gradients, and leave w0 itself alone.",
            )
        path = _as_tensor(out) if out is not None else None
        d = w0.numel()
        if path is None or path.dim() != 2 or path.shape[1] != d:
            what = (
                "None"
                if out is None
                else f"{type(out).__name__}" + (f" of shape {tuple(path.shape)}" if path is not None else "")
            )
            _fail(
                name,
                f"returned {what}; it should return the path: a tensor of shape (steps + 1, d) = "
                f"({steps + 1}, {d}), or a list of steps + 1 tensors of shape ({d},).",
                "collect w_0 and then the iterate after each step, as values (not tracked by autograd).",
            )
        if path.shape[0] != steps + 1:
            _fail(
                name,
                f"the path has {path.shape[0]} rows for steps = {steps}; it should have steps + 1 = "
                f"{steps + 1}: the start w_0, then w_1, …, w_steps.",
                "the first row is the start, then one row after each of the `steps` updates.",
            )
        expected = _sgd_path(J, w0, lr, steps)
        if _all_close(list(path), list(expected), 1e-8):
            continue
        if not _close(path[0], w0, 1e-12):
            _fail(
                name,
                f"path[0] is {_fmt(path[0])}, the start w0 is {_fmt(w0)}.",
                "the first row of the path is w0 itself.",
            )
        if steps > 1 and _all_close(list(path[1:]), [path[-1]] * steps, 0):
            _fail(
                name,
                "every row after the first is the same, the last iterate: the path holds the tensor w "
                "itself (or a view of its memory, as .detach() gives) at each step, and each in-place "
                "update changed all those rows.",
                "store a copy of the values of w at each step, with memory of its own.",
            )
        if _close(path[1], w0, 0):
            _fail(
                name,
                "w did not move at the first step: the update never reached the tensor that is "
                "stored (a new tensor made by subtraction was dropped, or the stored copy was taken "
                "before the update).",
                "update the iterate, then store its new values.",
            )
        _diagnose(name, list(path), _DESCENT_MISTAKES, J, w0, lr, steps, path, tol=1e-8)
        t = next(i for i in range(steps + 1) if not _close(path[i], expected[i], 1e-8))
        _fail(
            name,
            f"with lr = {lr} on {J!r}, w_{t} is {_fmt(path[t])}, gradient descent gives {_fmt(expected[t])}.",
            "w_(t+1) = w_t − η ∇J(w_t), with ∇J evaluated at the current iterate w_t.",
        )
    _pass(
        name,
        f"the path matches torch.optim.SGD's at (lr, steps) = {', '.join(map(str, settings))} on a "
        "quadratic and a softmax regression, and w0 is left as it was.",
    )


# --------------------------------------------------------------------------- lesson 04: momentum_step


def _check_problems(gen: torch.Generator):
    """Small models and data for the momentum check: (model, X, y) triples."""
    problems = []
    for n_in, hidden, n_out, n in [(4, None, 3, 8), (5, 6, 3, 10)]:
        model: torch.nn.Module
        if hidden is None:
            model = torch.nn.Linear(n_in, n_out).double()
        else:
            model = torch.nn.Sequential(
                torch.nn.Linear(n_in, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, n_out)
            ).double()
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(_rand(p.shape, gen, 0.5))
        X = _rand((n, n_in), gen, 1.0).double()
        y = torch.randint(0, n_out, (n,), generator=gen)
        problems.append((model, X, y))
    return problems


def _grads_at(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """The true gradient of the loss at the model's current parameters (on a copy)."""
    twin = copy.deepcopy(model)
    grads = torch.autograd.grad(F.cross_entropy(twin(X), y), list(twin.parameters()))
    return [d.detach().clone() for d in grads]


@dataclass
class _Step:
    """One step of a student's heavy-ball update, as the table of known mistakes sees it."""

    p0: list[torch.Tensor]  # the parameters before the step
    g: list[torch.Tensor]  # the true gradient at p0
    stale: list[torch.Tensor]  # what .grad held before the step (left over from earlier)
    lr: float
    beta: float = 0.0
    v0: list[torch.Tensor] = field(default_factory=list)  # the previous step w_t − w_(t−1)


def _heavy(s: _Step, grads=None, lr=None, on_step=None, on_grad=1.0) -> list[torch.Tensor]:
    """Where a heavy-ball step with these coefficients lands, from s.p0 (the defaults: the right one)."""
    grads = s.g if grads is None else grads
    lr = s.lr if lr is None else lr
    on_step = s.beta if on_step is None else on_step
    return [torch.add(p, v, alpha=on_step).sub(d, alpha=lr * on_grad) for p, d, v in zip(s.p0, grads, s.v0)]


_MOMENTUM_MISTAKES: list[Known] = [
    (
        lambda s: _heavy(s, on_step=1.0, on_grad=s.beta),
        "β multiplies the gradient instead of the previous step.",
        "w_(t+1) = w_t − η ∇J(w_t) + β (w_t − w_(t−1)): β weighs the previous step, η alone the gradient.",
    ),
    (
        lambda s: _heavy(s, on_step=-s.beta),
        "it subtracts the previous step; momentum keeps moving the way it went: + β (w_t − w_(t−1)).",
        "the sign of the momentum term.",
    ),
    (
        lambda s: _heavy(s, lr=-s.lr),
        "the parameters moved uphill (+η ∇J).",
        "the sign of the gradient term: − η ∇J(w_t).",
    ),
    (
        lambda s: _heavy(s, grads=[d + o for d, o in zip(s.g, s.stale)]),
        "it used stale gradients: backward() adds to .grad, so the previous step's gradient was still in it.",
        "empty each parameter's .grad (None or zero) before the new backward().",
    ),
    (
        lambda s: _heavy(s, on_step=1.0),
        "it adds the whole previous step, without the factor β.",
        "the momentum term is β times the previous step, β (w_t − w_(t−1)).",
    ),
    (
        lambda s: _heavy(s, on_step=0.0),
        "no momentum term: this is a plain gradient step.",
        "add β (w_t − w_(t−1)), the previous step that last_steps holds.",
    ),
]


def _check_optimizer_step(
    name: str,
    call: Callable,  # call(loss, params, t) runs the student's step
    reference: Callable,  # reference(params) -> a torch.optim optimizer
    mistakes: Sequence[Known],  # candidate(step: _Step) -> the parameters after that mistake
    context: Callable,  # context(p0, g, stale) -> the _Step the candidates see
    seed: int,
    steps: int,
    after_step: Callable | None = None,  # after_step(params, p0, t): extra checks (state)
) -> None:
    """Run the student's update and a torch.optim optimizer side by side; name the first mistake."""
    __tracebackhide__ = True
    gen = torch.Generator().manual_seed(seed)
    for model, X, y in _check_problems(gen):
        ref_model = copy.deepcopy(model)
        opt = reference(list(ref_model.parameters()))
        params = list(model.parameters())
        for p in params:  # gradients left over from an earlier backward pass
            p.grad = _rand(p.shape, gen, 1.0).double()
        for t in range(1, steps + 1):
            p0 = [p.detach().clone() for p in params]
            stale = [p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p) for p in params]
            g = _grads_at(model, X, y)
            loss = F.cross_entropy(model(X), y)
            call(loss, params, t)
            opt.zero_grad()
            F.cross_entropy(ref_model(X), y).backward()
            opt.step()
            got = [p.detach() for p in params]
            if after_step is not None:
                after_step(params, p0, t)
            expected = [p.detach() for p in ref_model.parameters()]
            if _all_close(got, expected):
                continue
            if _all_close(got, p0, 0):
                _fail(
                    name,
                    f"the parameters did not change at step {t}.",
                    "change the parameter tensors themselves (in place, with recording switched "
                    "off); assigning a new tensor to a loop variable only rebinds a local name.",
                )
            _diagnose(name, got, mistakes, context(p0, g, stale), prefix=f"at step {t}: ")
            _fail(
                name,
                f"after step {t} the parameters differ from torch.optim's: first values "
                f"{_fmt(got[0])}, expected {_fmt(expected[0])}.",
                "the update formula, and the order: empty the gradients, backward, then update.",
            )


def check_momentum_step(
    momentum_step: Callable,
    seed: int = 0,
    settings: Sequence[tuple[float, float]] = ((0.1, 0.9), (0.3, 0.5)),
    steps: int = 5,
) -> None:
    """Check momentum_step(loss, params, last_steps, lr, beta) against torch.optim.SGD(momentum=beta).

    Heavy ball: w_{t+1} = w_t - lr * grad + beta * (w_t - w_{t-1}); last_steps holds w_t - w_{t-1}
    for each parameter (zeros at the start) and must be overwritten with w_{t+1} - w_t.
    """
    __tracebackhide__ = True
    name = "momentum_step"
    fn = _guarded(momentum_step)
    for k, (lr, beta) in enumerate(settings):
        state: dict[str, list[torch.Tensor]] = {}  # "steps": last_steps, "before": its copy

        def call(loss, params, t, lr=lr, beta=beta, state=state):
            __tracebackhide__ = True
            if t == 1:
                state["steps"] = [torch.zeros_like(p) for p in params]
            state["before"] = [s.clone() for s in state["steps"]]
            out = _call(name, fn, loss, params, state["steps"], lr, beta, forbid=_SGD_FORBID)
            if out is not None and not isinstance(out, list | tuple):
                _fail(
                    name,
                    f"returned a {type(out).__name__}; it should change the parameters "
                    "and last_steps in place and return nothing.",
                    "the tensors in params and in last_steps themselves: the caller keeps those.",
                )

        def context(p0, g, stale, lr=lr, beta=beta, state=state):
            return _Step(p0, g, stale, lr, beta, state["before"])

        def after_step(params, p0, t, state=state):
            __tracebackhide__ = True
            _check_last_steps(name, state, [p.detach() - a for p, a in zip(params, p0)], t)

        _check_optimizer_step(
            name,
            call,
            lambda ps, lr=lr, beta=beta: torch.optim.SGD(ps, lr=lr, momentum=beta),
            _MOMENTUM_MISTAKES,
            context,
            seed=seed * 10 + k,
            steps=steps,
            after_step=after_step,
        )
    _pass(
        name,
        f"matches torch.optim.SGD(momentum=β) for {steps} steps at (lr, β) = "
        f"{', '.join(map(str, settings))} on two models, and stores each step in last_steps.",
    )


def _check_last_steps(name: str, state: dict, taken: list[torch.Tensor], t: int) -> None:
    """last_steps must hold the step just taken, w_(t+1) − w_t."""
    __tracebackhide__ = True
    if _all_close(state["steps"], taken):
        return
    if _all_close(state["steps"], state["before"], 0):
        _fail(
            name,
            f"after step {t}, last_steps still holds the old step: the new step is "
            "never stored, so the momentum term cannot build up.",
            "the new step must be written into the tensors of last_steps themselves (in place): "
            "assigning to the loop variable only rebinds a local name, and the caller never sees it.",
        )
    _fail(
        name,
        f"after step {t}, last_steps should hold the step just taken, w_(t+1) − w_t, "
        f"but it holds {_fmt(state['steps'][0])} while the step was {_fmt(taken[0])}.",
        "store exactly the amount by which each parameter moved at this step.",
    )


# --------------------------------------------------------------------------- lesson 04: beta_sweep


def _two_term(
    h: torch.Tensor, lr: float, steps: int, on_grad: float = 1.0, on_step: float = 0.0, start_zero=False
) -> torch.Tensor:
    """‖w_t‖ for t = 0..steps under x_(t+1) = (1 + on_step − on_grad·lr·h) x_t − on_step·x_(t−1).

    One eigendirection of J = ½ Σ h_i w_i² at a time, from w_0 = 1 and w_(−1) = w_0 (or 0)."""
    c = 1 + on_step - on_grad * lr * h
    x = torch.ones_like(h)
    before = torch.zeros_like(h) if start_zero else x.clone()
    norms = [x.norm()]
    for _ in range(steps):
        x, before = c * x - on_step * before, x
        norms.append(x.norm())
    return torch.stack(norms)


def _sgd_norms(h: torch.Tensor, lr: float, beta: float, steps: int, losses: bool = False) -> torch.Tensor:
    """‖w_t‖ (or J(w_t)) for t = 0..steps, torch.optim.SGD(momentum=beta) on J = ½ Σ h_i w_i² from 1."""
    w = torch.ones_like(h, requires_grad=True)
    opt = torch.optim.SGD([w], lr=lr, momentum=beta)
    out = []
    for t in range(steps + 1):
        J = 0.5 * (h * w**2).sum()
        out.append(J.detach() if losses else w.detach().norm())
        if t < steps:
            opt.zero_grad()
            J.backward()
            opt.step()
    return torch.stack(out)


def _rate(norms: torch.Tensor, power: float | None = None, start: int | None = None) -> float:
    """(‖w_T‖ / ‖w_(T/2)‖)^(2/T), or from another start, with another power."""
    T = len(norms) - 1
    s = T // 2 if start is None else start
    p = 1 / (T - s) if power is None else power
    return float((norms[T] / norms[s]) ** p)


_RATE = "ρ̂ = (‖w_T‖ / ‖w_(T/2)‖)^(2/T), with the Euclidean norm of w"

# The rates of a mistaken sweep: candidate(h, lr, beta, steps) -> its rate for one beta.
_SWEEP_MISTAKES: list[Known] = [
    (
        lambda h, lr, b, T: _rate(_two_term(h, lr, T, on_grad=b, on_step=1.0)),
        "β multiplies the gradient instead of the previous step.",
        "w_(t+1) = w_t − η ∇J(w_t) + β (w_t − w_(t−1)): β weighs the previous step, η alone the gradient.",
    ),
    (
        lambda h, lr, b, T: _rate(_two_term(h, lr, T, on_step=-b)),
        "it subtracts the previous step; momentum keeps moving the way it went: + β (w_t − w_(t−1)).",
        "the sign of the momentum term.",
    ),
    (
        lambda h, lr, b, T: _rate(_two_term(h, lr, T, on_step=1.0)),
        "it adds the whole previous step, without the factor β.",
        "the momentum term is β (w_t − w_(t−1)).",
    ),
    (
        lambda h, lr, b, T: _rate(_two_term(h, lr, T, on_step=0.0)),
        "no momentum term: these are gradient descent's rates, whatever β.",
        "add β (w_t − w_(t−1)), the step the iterate took last time.",
    ),
    (
        lambda h, lr, b, T: _rate(_two_term(h, lr, T, on_grad=-1.0, on_step=b)),
        "the iterates moved uphill (+η ∇J).",
        "the sign of the gradient term: − η ∇J(w_t), with ∇J(w) = h ⊙ w here.",
    ),
    (
        lambda h, lr, b, T: _rate(_two_term(h, lr, T, on_step=b, start_zero=True)),
        "the first step already carries a momentum term β·w_0: it took w_(−1) = 0.",
        "before the first step there is no previous step: w_(−1) = w_0, so w_0 − w_(−1) = 0.",
    ),
    (
        lambda h, lr, b, T: _rate(_sgd_norms(h, lr, b, T, losses=True)),
        "the rates are measured on J instead of on ‖w‖: J shrinks about like ‖w‖², so these rates "
        "are about squared.",
        f"{_RATE}.",
    ),
    (
        lambda h, lr, b, T: _rate(_sgd_norms(h, lr, b, T), power=1 / T),
        "the root has the wrong order: the ratio ‖w_T‖/‖w_(T/2)‖ spans T/2 steps, not T.",
        f"{_RATE}.",
    ),
    (
        lambda h, lr, b, T: _rate(_sgd_norms(h, lr, b, T), power=1.0),
        "that is the whole ratio ‖w_T‖/‖w_(T/2)‖, not the factor per step.",
        f"{_RATE}: the (T/2)-th root gives the factor per step.",
    ),
    (
        lambda h, lr, b, T: _rate(_sgd_norms(h, lr, b, T), start=0),
        "the rate is measured from the start w_0; it should be measured over the second half, after "
        "the slowest direction has taken over.",
        f"{_RATE}.",
    ),
]


def _sweep_cases(seed: int, kappa: float, d: int, lr_factors: Sequence[float]):
    gen = torch.Generator().manual_seed(seed)
    inner = torch.rand(d - 2, generator=gen, dtype=torch.float64)
    h = torch.cat([torch.tensor([1 / kappa, 1.0], dtype=torch.float64), kappa ** (inner - 1)])
    return [(h, factor / float(h.max())) for factor in lr_factors]


def check_beta_sweep(
    beta_sweep: Callable,
    seed: int = 0,
    kappa: float = 50.0,
    betas: Sequence[float] = (0.0, 0.5, 0.8, 0.95),
    lr_factors: Sequence[float] = (1.0, 2.5),
    steps: int = 60,
) -> None:
    """Check beta_sweep(curvatures, lr, betas, steps) -> one measured rate per β.

    Heavy ball on J(w) = ½ Σ h_i w_i² from w_0 = w_(−1) = (1, ..., 1), `steps` steps per β; the
    rate is (‖w_T‖ / ‖w_(T/2)‖)^(2/T), compared with torch.optim.SGD(momentum=β)'s run (the same
    iterates). lr = factor / L for each factor: 2.5 / L is where gradient descent diverges.
    """
    __tracebackhide__ = True
    name = "beta_sweep"
    fn = _guarded(beta_sweep)
    betas = list(betas)
    for h, lr in _sweep_cases(seed, kappa, 6, lr_factors):
        h_arg = h.clone()
        out = _call(name, fn, h_arg, lr, list(betas), steps, forbid=_SGD_FORBID, purpose=f", lr = {lr:.3g}")
        got = _as_tensor(out) if out is not None else None
        if got is None or got.numel() != len(betas):
            _fail(
                name,
                f"returned {'None' if out is None else type(out).__name__}; it should return one rate per "
                f"β: {len(betas)} numbers, in the order of `betas`.",
                "collect the rate of each β's run in a list.",
            )
        got = got.flatten()
        if not torch.equal(h_arg, h):
            _fail(name, "it changed the curvatures it was given.", "leave `curvatures` as it is.")
        right = [_rate(_sgd_norms(h, lr, b, steps)) for b in betas]
        for b, r, x in zip(betas, right, got.tolist()):
            if abs(x - r) <= 1e-6 * abs(r):
                continue
            for candidate, what, look in _SWEEP_MISTAKES:
                wrong = candidate(h, lr, b, steps)
                if abs(x - wrong) <= 1e-6 * abs(wrong) and abs(wrong - r) > 1e-6 * abs(r):
                    _fail(name, f"at β = {b}, lr = {lr:.3g}: {what}", look)
            _fail(
                name,
                f"at β = {b}, lr = {lr:.3g} the rate is {x:.6g}; heavy ball with these settings gives "
                f"{r:.6g}.",
                f"w_(t+1) = w_t − η ∇J(w_t) + β (w_t − w_(t−1)) with ∇J(w) = h ⊙ w, and {_RATE}.",
            )
    _pass(
        name,
        f"the rates match torch.optim.SGD(momentum=β)'s runs for β = {', '.join(map(str, betas))}, "
        f"at lr = {', '.join(f'{f:g}/L' for f in lr_factors)} on a quadratic with κ = {kappa:g}.",
    )
