"""Lessons 03, 04 and 07's checkers: one optimizer step, against torch.optim.

gradient_step and momentum_step run side by side with torch.optim.SGD on two small models
(`_check_optimizer_step`); rmsprop_step and adam_step are fed the same gradients as
torch.optim.RMSprop and torch.optim.Adam (`_opt_run`). The known mistakes of each are tables of
candidate updates (reporting.Known), walked by reporting._diagnose.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace

import torch
import torch.nn.functional as F

from course_utils.checks.calling import _call
from course_utils.checks.reporting import Known, _all_close, _diagnose, _fail, _fmt, _pass, _rand

__all__ = ["check_gradient_step", "check_momentum_step", "check_rmsprop_step", "check_adam_step"]


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


# --------------------------------------------------------------------------- lesson 07: RMSprop and Adam


def _opt_run(cls, grads_per_step, shapes, **kwargs):
    """Run torch optimizer `cls` on zero-initialised parameters fed the given gradients.

    Returns, per step, (params after the step, the optimizer's state tensors by name).
    """
    params = [torch.zeros(s, dtype=torch.float64, requires_grad=True) for s in shapes]
    opt = cls(params, **kwargs)
    out = []
    for grads in grads_per_step:
        for p, g in zip(params, grads, strict=True):
            p.grad = g.clone()
        opt.step()
        state = {
            k: [opt.state[p][k].clone() for p in params]
            for k in opt.state[params[0]]
            if torch.is_tensor(opt.state[params[0]][k])
        }
        out.append(([p.detach().clone() for p in params], state))
    return out


def _step_call(name, fn, params, *args, forbid=(), **kwargs):
    __tracebackhide__ = True
    with torch.no_grad():
        return _call(name, fn, params, *args, forbid=forbid, **kwargs)


def _make_problem(seed, shapes, steps, scale=1.0):
    gen = torch.Generator().manual_seed(seed)
    grads = [
        [torch.randn(s, generator=gen, dtype=torch.float64) * scale for s in shapes] for _ in range(steps)
    ]
    start = [torch.randn(s, generator=gen, dtype=torch.float64) for s in shapes]
    return grads, start


def _params_with_grads(values, grads):
    params = [v.clone().requires_grad_() for v in values]
    for p, g in zip(params, grads, strict=True):
        p.grad = g.clone()
    return params


def _difference(after, before):
    return [a - b for a, b in zip(after, before, strict=True)]


_RMSPROP_IMPLS = [(torch.optim, "RMSprop"), (torch.optim.RMSprop, "step")]
_ADAM_IMPLS = [
    (torch.optim, "Adam"),
    (torch.optim, "AdamW"),
    (torch.optim.Adam, "step"),
    (torch.optim.AdamW, "step"),
]

# What `squares` holds after a mistaken RMSprop step (c: the step's context, see check_rmsprop_step).
_RMSPROP_AVERAGE_MISTAKES: list[Known] = [
    (
        lambda c: c.swapped,
        "the moving average gives weight α to the new squared gradient and 1 − α to the old "
        "average: the weights are swapped.",
        "v ← α·v + (1 − α)·g²: the old average keeps the large weight α.",
    ),
    (
        lambda c: c.adagrad,
        "`squares` holds the running SUM of squared gradients: that is Adagrad, not RMSprop's "
        "moving average.",
        "v ← α·v + (1 − α)·g²",
    ),
    (
        lambda c: [(1 - c.alpha) * gi**2 for gi in c.g],
        "the average forgets the previous value of v.",
        "v ← α·v + (1 − α)·g² uses the v from the previous step.",
    ),
]


def _rms(c, sign=-1.0, v=None, root=True) -> list[torch.Tensor]:
    """An RMSprop step sign·lr·g / sqrt(v + ε) (the slides' form); by default the right one."""
    v = c.v if v is None else v
    return [
        sign * c.lr * gi / ((vi + c.eps).sqrt() if root else vi + c.eps)
        for gi, vi in zip(c.g, v, strict=True)
    ]


# How far the parameters move in a mistaken RMSprop step.
_RMSPROP_STEP_MISTAKES: list[Known] = [
    (
        lambda c: c.torch_step,
        "you put ε outside the square root, g / (sqrt(v) + ε): that is torch's form "
        "(torch.optim.RMSprop). This exercise follows the slides: g / sqrt(v + ε).",
        "move ε inside: (v + eps).sqrt().",
    ),
    (
        lambda c: _rms(c, sign=1.0),
        "the parameters moved uphill (along +g): the sign of the step is flipped.",
        "w ← w − lr · g / sqrt(v + ε): subtract.",
    ),
    (
        lambda c: [-s for s in c.torch_step],
        "the parameters moved uphill (along +g): the sign of the step is flipped.",
        "w ← w − lr · g / sqrt(v + ε): subtract.",
    ),
    (
        lambda c: _rms(c, root=False),
        "the step divides by v + ε, not by its square root.",
        "g / sqrt(v + ε): v is an average of SQUARED gradients, the root brings it back to the scale of g.",
    ),
    (
        lambda c: _rms(c, v=c.v_before),
        "the step divides by the previous average (before this step's update).",
        "update v first, then divide by sqrt(v + ε) with the new v.",
    ),
]


def check_rmsprop_step(
    rmsprop_step: Callable,
    seed: int = 0,
    shapes: Sequence[tuple[int, ...]] = ((4, 3), (5,)),
    steps: int = 5,
    lr: float = 0.01,
    alpha: float = 0.9,
    eps: float = 1e-3,
) -> None:
    """Check rmsprop_step(params, squares, lr, alpha, eps): the slides' RMSprop, ε inside the root.

    v ← α v + (1 − α) g²  (written into `squares`),  w ← w − lr · g / sqrt(v + ε)  (in place).
    The running averages are compared with torch.optim.RMSprop's; the step with the property
    that it equals −lr · g / sqrt(v + ε).
    """
    __tracebackhide__ = True
    name = "rmsprop_step"
    grads, start = _make_problem(seed, shapes, steps)
    ref = _opt_run(torch.optim.RMSprop, grads, shapes, lr=lr, alpha=alpha, eps=eps)
    swapped = _opt_run(torch.optim.RMSprop, grads, shapes, lr=lr, alpha=1 - alpha, eps=eps)
    adagrad = _opt_run(torch.optim.Adagrad, grads, shapes, lr=lr, eps=eps)
    squares = [torch.zeros(s, dtype=torch.float64) for s in shapes]
    zeros = [torch.zeros(s, dtype=torch.float64) for s in shapes]
    for t in range(steps):
        params = _params_with_grads(start, grads[t])
        before = [p.detach().clone() for p in params]
        v_before = [v.clone() for v in squares]
        _step_call(
            name,
            rmsprop_step,
            params,
            squares,
            lr,
            alpha,
            eps,
            forbid=_RMSPROP_IMPLS,
            purpose=f", lr={lr}, alpha={alpha}, eps={eps}",
        )
        step = _difference([p.detach().clone() for p in params], before)
        c = SimpleNamespace(
            g=grads[t],
            lr=lr,
            alpha=alpha,
            eps=eps,
            v=ref[t][1]["square_avg"],
            v_before=v_before,
            swapped=swapped[t][1]["square_avg"],
            adagrad=adagrad[t][1]["sum"],
            torch_step=_difference(ref[t][0], ref[t - 1][0] if t else zeros),
        )
        if _all_close(step, zeros, 0):
            _fail(
                name,
                f"step {t + 1}: the parameters did not change. `p = p - ...` only gives the name p "
                "a new tensor inside your function; the model's tensor stays the same.",
                "update in place: p -= ... (or p.sub_(...)), under torch.no_grad() as given.",
            )
        _check_squares(name, squares, c, t, [torch.Size(s) for s in shapes])
        # The step itself: slides' form, ε inside the root.
        if _all_close(
            [s * (v + eps).sqrt() / lr for s, v in zip(step, c.v, strict=True)], [-gi for gi in c.g]
        ):
            continue
        _diagnose(name, step, _RMSPROP_STEP_MISTAKES, c)
        _fail(
            name,
            f"step {t + 1}: the parameters moved by {_fmt(step[0])}, the slides' RMSprop "
            f"step is {_fmt(-lr * c.g[0] / (c.v[0] + eps).sqrt())}.",
            "w ← w − lr · g / sqrt(v + ε), with the v of this step.",
        )
    _pass(
        name,
        f"{steps} steps match the slides' RMSprop (running averages as in "
        "torch.optim.RMSprop, ε inside the square root).",
    )


def _check_squares(name: str, squares: list, c: SimpleNamespace, t: int, shapes: list) -> None:
    """`squares` after step t + 1 must hold torch.optim.RMSprop's running averages."""
    __tracebackhide__ = True
    if not all(torch.is_tensor(v) and v.shape == s for v, s in zip(squares, shapes, strict=True)):
        _fail(
            name,
            "`squares` must keep one tensor per parameter, of the parameter's shape.",
            "update squares[i] in place (v.mul_(...).add_(...)) or assign squares[i] = ...",
        )
    if _all_close(squares, c.v):
        return
    if _all_close(squares, c.v_before, 0):
        if t == 0:
            _fail(
                name,
                "the running averages in `squares` are still zero after a step: the state was "
                "not written back, so the next step starts from v = 0 again.",
                "write v back: squares[i] = new_v, or update it in place with v.mul_(alpha)"
                ".add_(...); `v = ...` inside the loop only renames.",
            )
        _fail(
            name,
            f"step {t + 1}: `squares` did not change after step 1: the state "
            "is not written back at every step.",
            "update every squares[i] at every call.",
        )
    _diagnose(name, squares, _RMSPROP_AVERAGE_MISTAKES, c, prefix=f"step {t + 1}: ")
    _fail(
        name,
        f"step {t + 1}: squares[0] is {_fmt(squares[0])}, torch.optim.RMSprop's "
        f"running average is {_fmt(c.v[0])}.",
        "v ← α·v + (1 − α)·g².",
    )


# What the moment m or v holds after a mistaken Adam step (c.swapped: with the β weights swapped).
def _adam_moment_mistakes(label: str) -> list[Known]:
    return [
        (
            lambda c: c.swapped,
            f"in the moving average {label}, the β weight is on the new gradient term: the weights "
            "are swapped.",
            f"{label} ← β·{label} + (1 − β)·(new term): the old value keeps the large weight β.",
        ),
    ]


# How far the parameters move in a mistaken Adam step, any step.
_ADAM_STEP_MISTAKES: list[Known] = [
    (
        lambda torch_step: [-s for s in torch_step],
        "the parameters moved uphill: the sign of the step is flipped.",
        "θ ← θ − lr · m̂ / (sqrt(v̂) + ε): subtract.",
    ),
]

# At the first step m̂/sqrt(v̂) = g/|g|: a right step moves every weight by lr. A mistaken bias
# correction scales that by a factor of β1 and β2 alone: (factor, what).
_ADAM_FIRST_STEP_MISTAKES: list[tuple[Callable[[float, float], float], str]] = [
    (
        lambda b1, b2: (1 - b1) / (1 - b2) ** 0.5,
        "there is no bias correction: m and v start at 0, so the first steps are too large (or too "
        "small) by 1 − β1 over sqrt(1 − β2).",
    ),
    (lambda b1, b2: 1 / (1 - b2) ** 0.5, "only m is bias-corrected, v is not."),
    (lambda b1, b2: 1 - b1, "only v is bias-corrected, m is not."),
    (
        lambda b1, b2: ((1 - b1) / (1 - b1**2)) / ((1 - b2) / (1 - b2**2)) ** 0.5,
        "the bias correction uses the wrong power: at the first step it must divide by 1 − β^1 "
        "(t starts at 1).",
    ),
]

_ADAM_LOOK = "m̂ = m / (1 − β1^t), v̂ = v / (1 − β2^t), θ ← θ − lr·m̂/(sqrt(v̂) + ε)."


def check_adam_step(
    adam_step: Callable,
    seed: int = 0,
    shapes: Sequence[tuple[int, ...]] = ((4, 3), (5,)),
    steps: int = 6,
    lr: float = 0.01,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
) -> None:
    """Check adam_step(params, m, v, t, lr, beta1, beta2, eps) against torch.optim.Adam.

    m and v (lists of tensors) are the first and second moments, updated in place; t is the
    step number, 1 at the first step; the parameters are updated in place. ε outside the root
    (torch's form) and inside it both pass here, because the test gradients are of order 1: there
    the two steps differ by about ε/2 of a step. They do not agree for gradients near √ε = 1e-4
    and below (at |g| = 1e-5 inside moves about 0.1 lr, outside about lr; see lesson 07).
    """
    __tracebackhide__ = True
    name = "adam_step"
    b1, b2 = betas
    grads, start = _make_problem(seed, shapes, steps)
    ref = _opt_run(torch.optim.Adam, grads, shapes, lr=lr, betas=betas, eps=eps)
    swapped = _opt_run(torch.optim.Adam, grads, shapes, lr=lr, betas=(1 - b1, 1 - b2), eps=eps)
    zeros = [torch.zeros(s, dtype=torch.float64) for s in shapes]
    values = [s.clone() for s in start]
    m = [torch.zeros(s, dtype=torch.float64) for s in shapes]
    v = [torch.zeros(s, dtype=torch.float64) for s in shapes]
    for t in range(1, steps + 1):
        params = _params_with_grads(values, grads[t - 1])
        before = [p.detach().clone() for p in params]
        m_before, v_before = [x.clone() for x in m], [x.clone() for x in v]
        _step_call(
            name,
            adam_step,
            params,
            m,
            v,
            t,
            lr,
            b1,
            b2,
            eps,
            forbid=_ADAM_IMPLS,
            purpose=f", t={t}, lr={lr}, beta1={b1}, beta2={b2}, eps={eps}",
        )
        values = [p.detach().clone() for p in params]
        step = _difference(values, before)
        if _all_close(step, zeros, 0):
            _fail(
                name,
                f"step {t}: the parameters did not change.",
                "update in place: p -= ... (or p.sub_(...)); `p = p - ...` only renames.",
            )
        for moments, label, key, was in ((m, "m", "exp_avg", m_before), (v, "v", "exp_avg_sq", v_before)):
            _check_moment(name, t, moments, label, was, ref[t - 1][1][key], swapped[t - 1][1][key])
        torch_step = _difference(ref[t - 1][0], ref[t - 2][0] if t > 1 else zeros)
        if _all_close(step, torch_step, 1e-4):
            continue
        if not all(torch.isfinite(s).all() for s in step):
            _fail(
                name,
                f"step {t}: the parameters became inf or nan. With t = {t}, a bias "
                "correction 1 − β^(t−1) is 0 at the first step.",
                "the correction is m / (1 − β1^t), v / (1 − β2^t) with t = 1 at the first step.",
            )
        _diagnose(name, step, _ADAM_STEP_MISTAKES, torch_step, tol=1e-4)
        if t == 1:
            _adam_first_step(name, step, lr, b1, b2)
        _fail(
            name,
            f"step {t}: the parameters moved by {_fmt(step[0])}, torch.optim.Adam moves "
            f"them by {_fmt(torch_step[0])}"
            + (" (step 1 was right: does the bias correction use this step's t?)" if t > 1 else "."),
            _ADAM_LOOK,
        )
    _pass(name, f"{steps} steps match torch.optim.Adam (moments and parameters).")


def _check_moment(
    name: str, t: int, moments: list, label: str, was: list, right: list, swapped: list
) -> None:
    """The moment m or v after step t must hold torch.optim.Adam's moving average."""
    __tracebackhide__ = True
    if _all_close(moments, right):
        return
    if _all_close(moments, was, 0):
        _fail(
            name,
            f"step {t}: the moment {label} did not change: the state was not "
            "written back, so every step starts from zero moments again.",
            f"write it back: {label}[i] = ..., or update it in place "
            f"({label}[i].mul_(...).add_(...)); a plain `{label}_i = ...` only renames.",
        )
    _diagnose(
        name, moments, _adam_moment_mistakes(label), SimpleNamespace(swapped=swapped), prefix=f"step {t}: "
    )
    _fail(
        name,
        f"step {t}: {label}[0] is {_fmt(moments[0])}, torch.optim.Adam's is {_fmt(right[0])}.",
        "m ← β1·m + (1 − β1)·g and v ← β2·v + (1 − β2)·g², with this step's g.",
    )


def _adam_first_step(name: str, step: list, lr: float, b1: float, b2: float) -> None:
    """Name a mistaken bias correction by how much the first step moved each weight."""
    __tracebackhide__ = True
    ratio = torch.cat([(s.abs() / lr).flatten() for s in step]).median().item()
    for factor, what in _ADAM_FIRST_STEP_MISTAKES:
        if abs(ratio / factor(b1, b2) - 1) < 1e-3:
            _fail(name, f"step 1 moved each weight by {ratio:.3g}·lr instead of lr: {what}", _ADAM_LOOK)
