"""Lessons 03 and 04's checkers: one optimizer step, against torch.optim.

gradient_step and momentum_step run side by side with torch.optim.SGD on two small models
(`_check_optimizer_step`). The known mistakes of each are tables of candidate updates
(reporting.Known), walked by reporting._diagnose. The adaptive methods' checkers are in adaptive.py.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from course_utils.checks.calling import _call
from course_utils.checks.reporting import Known, _all_close, _diagnose, _fail, _fmt, _pass, _rand

__all__ = ["check_gradient_step", "check_momentum_step"]


# --------------------------------------------------------------------------- shared machinery


class _LeafInPlace(RuntimeError):
    """The student updated a leaf that requires grad outside torch.no_grad()."""


def _guard_no_grad(fn: Callable) -> Callable:
    """Turn torch's 'leaf Variable ... in-place' error into a message that names the mistake."""

    def guarded(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except RuntimeError as err:
            if "leaf Variable that requires grad" in str(err):
                raise _LeafInPlace(
                    "it updates a parameter in place while autograd is recording; do the update "
                    "inside `with torch.no_grad():`"
                ).with_traceback(err.__traceback__) from None
            raise

    return guarded


def _check_problems(gen: torch.Generator):
    """Small models and data for the optimizer checks: (model, X, y) triples."""
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
    """One step of a student's SGD-style update, as the tables of known mistakes see it."""

    p0: list[torch.Tensor]  # the parameters before the step
    g: list[torch.Tensor]  # the true gradient at p0
    stale: list[torch.Tensor]  # what .grad held before the step (left over from earlier)
    lr: float
    beta: float = 0.0
    v0: list[torch.Tensor] = field(default_factory=list)  # momentum: the previous step w_t − w_(t−1)


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
                    "update each parameter in place (`p -= ...` inside torch.no_grad()); "
                    "`p = p - ...` only rebinds a local name.",
                )
            _diagnose(name, got, mistakes, context(p0, g, stale), prefix=f"at step {t}: ")
            _fail(
                name,
                f"after step {t} the parameters differ from torch.optim's: first values "
                f"{_fmt(got[0])}, expected {_fmt(expected[0])}.",
                "the update formula, and the order: zero the gradients, backward, then update.",
            )


# --------------------------------------------------------------------------- lesson 03: gradient descent

_SGD_FORBID = [(torch.optim, "SGD"), (torch.optim.SGD, "step")]

# The parameters after a mistaken gradient step (the right one: p − lr·g).
_GRADIENT_STEP_MISTAKES: list[Known] = [
    (
        lambda s: [p + s.lr * d for p, d in zip(s.p0, s.g)],
        "the parameters moved uphill (+lr·grad): the gradient points uphill, a descent step goes the "
        "other way.",
        "the sign: p -= lr * p.grad.",
    ),
    (
        lambda s: [p - s.lr * (d + o) for p, d, o in zip(s.p0, s.g, s.stale)],
        "it used stale gradients: backward() adds to .grad, so the gradient of an earlier step was "
        "still in it.",
        "clear the gradients (p.grad = None, or p.grad.zero_()) before loss.backward().",
    ),
    (
        lambda s: [p - s.lr * o for p, o in zip(s.p0, s.stale)],
        "it stepped with the old gradient in .grad; loss.backward() was never called on the new loss.",
        "call loss.backward() before the update.",
    ),
]


def check_gradient_step(
    gradient_step: Callable,
    seed: int = 0,
    lrs: Sequence[float] = (0.1, 0.5),
    steps: int = 4,
) -> None:
    """Check gradient_step(loss, params, lr) against torch.optim.SGD(params, lr) over several steps."""
    __tracebackhide__ = True
    name = "gradient_step"
    fn = _guard_no_grad(gradient_step)
    _check_uses_lr(name, fn, seed)
    for k, lr in enumerate(lrs):

        def call(loss, params, t, lr=lr):
            __tracebackhide__ = True
            out = _call(name, fn, loss, params, lr, forbid=_SGD_FORBID)
            if out is not None and not isinstance(out, list | tuple):
                _fail(
                    name,
                    f"returned a {type(out).__name__}; it should update the parameters in "
                    "place and return nothing.",
                    "the parameters themselves: `p -= lr * p.grad`.",
                )

        _check_optimizer_step(
            name,
            call,
            lambda ps, lr=lr: torch.optim.SGD(ps, lr=lr),
            _GRADIENT_STEP_MISTAKES,
            lambda p0, g, stale, lr=lr: _Step(p0, g, stale, lr),
            seed=seed * 10 + k,
            steps=steps,
        )
    _pass(
        name,
        f"matches torch.optim.SGD for {steps} steps at lr = {', '.join(map(str, lrs))} "
        "on two models, and leaves no stale gradients.",
    )


def _check_uses_lr(name: str, fn: Callable, seed: int) -> None:
    """lr must be used as given: a step along the gradient by another factor is named."""
    __tracebackhide__ = True
    gen = torch.Generator().manual_seed(seed + 99)
    model, X, y = _check_problems(gen)[0]
    params = list(model.parameters())
    for p in params:
        p.grad = _rand(p.shape, gen, 1.0).double()
    p0 = [p.detach().clone() for p in params]
    g = _grads_at(model, X, y)
    _call(name, fn, F.cross_entropy(model(X), y), params, 0.25, forbid=_SGD_FORBID)
    moved = torch.cat([(a - p.detach()).flatten() for a, p in zip(p0, params)])
    gflat = torch.cat([d.flatten() for d in g])
    factor = float(moved @ gflat / (gflat @ gflat))
    along = (moved - factor * gflat).norm() <= 1e-6 * moved.norm()  # a step along the gradient
    if along and abs(factor) > 1e-9 and min(abs(factor - 0.25), abs(factor + 0.25)) > 1e-6:
        _fail(
            name,
            f"with lr = 0.25 it moved {factor:.4g} × the gradient: it does not use the "
            "learning rate it is given.",
            "multiply the gradient by the argument `lr`.",
        )


# --------------------------------------------------------------------------- lesson 04: momentum


def _heavy(s: _Step, grads=None, lr=None, on_step=None, on_grad=1.0) -> list[torch.Tensor]:
    """A heavy-ball step from s.p0, p − lr·on_grad·g + on_step·v; by default the right one."""
    grads = s.g if grads is None else grads
    lr = s.lr if lr is None else lr
    on_step = s.beta if on_step is None else on_step
    return [p - lr * on_grad * d + on_step * v for p, d, v in zip(s.p0, grads, s.v0)]


_MOMENTUM_MISTAKES: list[Known] = [
    (
        lambda s: _heavy(s, on_step=1.0, on_grad=s.beta),
        "β multiplies the gradient instead of the previous step.",
        "w − lr·∇J + β·(w_t − w_(t−1)): β goes on the previous step.",
    ),
    (
        lambda s: _heavy(s, on_step=-s.beta),
        "it subtracts the previous step; momentum keeps moving the way it went: + β·(w_t − w_(t−1)).",
        "the sign of the momentum term.",
    ),
    (
        lambda s: _heavy(s, lr=-s.lr),
        "the parameters moved uphill (+lr·grad).",
        "the sign of the gradient term: − lr·∇J.",
    ),
    (
        lambda s: _heavy(s, grads=[d + o for d, o in zip(s.g, s.stale)]),
        "it used stale gradients: backward() adds to .grad, so the previous step's gradient was still in it.",
        "clear the gradients (p.grad = None) before loss.backward().",
    ),
    (
        lambda s: _heavy(s, on_step=1.0),
        "it adds the whole previous step, without the factor β.",
        "multiply the previous step by beta.",
    ),
    (
        lambda s: _heavy(s, on_step=0.0),
        "no momentum term: this is a plain gradient step.",
        "add β·(w_t − w_(t−1)), the step stored in last_steps.",
    ),
]


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
    fn = _guard_no_grad(momentum_step)
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
                    f"returned a {type(out).__name__}; it should update the parameters "
                    "and last_steps in place and return nothing.",
                    "`p += step` and `step.copy_(...)`.",
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
            "write the step back in place: `step.copy_(new_step)` or `step.mul_(beta).add_(...)`"
            "; `step = ...` only rebinds a local name.",
        )
    _fail(
        name,
        f"after step {t}, last_steps should hold the step just taken, w_(t+1) − w_t, "
        f"but it holds {_fmt(state['steps'][0])} while the step was {_fmt(taken[0])}.",
        "store exactly the amount you added to each parameter.",
    )
