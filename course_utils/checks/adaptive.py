"""Lesson 08's checkers: one Adagrad, RMSprop or Adam step, fed the same gradients as torch.optim.

adagrad_step, rmsprop_step and adam_step are fed the same gradients as torch.optim.Adagrad,
torch.optim.RMSprop and torch.optim.Adam (`_opt_run`). The known mistakes of each are tables of
candidate updates (reporting.Known), walked by reporting._diagnose. No message holds a line of
code: each names the mistake and where to look, in words and math.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import SimpleNamespace

import torch

from course_utils.checks.calling import _call
from course_utils.checks.reporting import Known, _all_close, _diagnose, _fail, _fmt, _pass

__all__ = ["check_adagrad_step", "check_rmsprop_step", "check_adam_step"]


# ---------------------------------------------------------------------- lesson 08: Adagrad, RMSprop, Adam


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

_ADAGRAD_IMPLS = [(torch.optim, "Adagrad"), (torch.optim.Adagrad, "step")]

# What `sums` holds after a mistaken Adagrad step (c: the step's context, see check_adagrad_step).
_ADAGRAD_SUM_MISTAKES: list[Known] = [
    (
        lambda c: [v + gi for v, gi in zip(c.v_before, c.g, strict=True)],
        "`sums` adds up the gradients themselves; Adagrad adds up their squares.",
        "v_t = v_(t−1) + g_t², squared elementwise.",
    ),
    (
        lambda c: [gi**2 for gi in c.g],
        "`sums` holds only this step's squared gradient: the earlier ones were dropped.",
        "v_t = v_(t−1) + g_t²: the sum keeps every earlier square.",
    ),
]

# How far the parameters move in a mistaken Adagrad step.
_ADAGRAD_STEP_MISTAKES: list[Known] = [
    (
        lambda c: c.torch_step,
        "you put ε outside the square root, g / (√v + ε): that is torch's form "
        "(torch.optim.Adagrad). This exercise follows the slides: g / √(v + ε).",
        "where ε goes: inside the square root, √(v_t + ε).",
    ),
    (
        lambda c: _rms(c, sign=1.0),
        "the parameters moved uphill (along +g): the sign of the step is flipped.",
        "w_t = w_(t−1) − η · g_t / √(v_t + ε): the step goes against the gradient.",
    ),
    (
        lambda c: _rms(c, root=False),
        "the step divides by v + ε, not by its square root.",
        "g_t / √(v_t + ε): v is a sum of SQUARED gradients, the root brings it back to the scale of g.",
    ),
    (
        lambda c: _rms(c, v=c.v_before),
        "the step divides by the sum before this step's square was added.",
        "the order: v_t includes g_t², and the step divides by √(v_t + ε) of the same t.",
    ),
]


def check_adagrad_step(
    adagrad_step: Callable,
    seed: int = 0,
    shapes: Sequence[tuple[int, ...]] = ((4, 3), (5,)),
    steps: int = 5,
    lr: float = 0.1,
    eps: float = 1e-3,
) -> None:
    """Check adagrad_step(params, sums, lr, eps): the slides' Adagrad, ε inside the root.

    v_t = v_(t−1) + g_t²  (written into `sums`),  w_t = w_(t−1) − lr · g_t / √(v_t + ε)  (in place).
    The running sums are compared with torch.optim.Adagrad's; the step with the property that it
    equals −lr · g / √(v + ε).
    """
    __tracebackhide__ = True
    name = "adagrad_step"
    grads, start = _make_problem(seed, shapes, steps)
    ref = _opt_run(torch.optim.Adagrad, grads, shapes, lr=lr, eps=eps)
    sums = [torch.zeros(s, dtype=torch.float64) for s in shapes]
    zeros = [torch.zeros(s, dtype=torch.float64) for s in shapes]
    for t in range(steps):
        params = _params_with_grads(start, grads[t])
        before = [p.detach().clone() for p in params]
        v_before = [v.clone() for v in sums]
        _step_call(
            name, adagrad_step, params, sums, lr, eps, forbid=_ADAGRAD_IMPLS, purpose=f", lr={lr}, eps={eps}"
        )
        step = _difference([p.detach().clone() for p in params], before)
        c = SimpleNamespace(
            g=grads[t],
            lr=lr,
            eps=eps,
            v=ref[t][1]["sum"],
            v_before=v_before,
            torch_step=_difference(ref[t][0], ref[t - 1][0] if t else zeros),
        )
        if _all_close(step, zeros, 0):
            _fail(
                name,
                f"step {t + 1}: the parameters did not change. Giving the name p a new tensor inside "
                "your function does not change the tensor the caller holds.",
                "change each tensor of params in place (the caller runs your function under "
                "torch.no_grad()).",
            )
        _check_state(
            name,
            "sums",
            sums,
            c,
            t,
            [torch.Size(s) for s in shapes],
            _ADAGRAD_SUM_MISTAKES,
            "v_t = v_(t−1) + g_t².",
        )
        if _all_close(
            [s * (v + eps).sqrt() / lr for s, v in zip(step, c.v, strict=True)], [-gi for gi in c.g]
        ):
            continue
        _diagnose(name, step, _ADAGRAD_STEP_MISTAKES, c)
        _fail(
            name,
            f"step {t + 1}: the parameters moved by {_fmt(step[0])}, the slides' Adagrad "
            f"step is {_fmt(-lr * c.g[0] / (c.v[0] + eps).sqrt())}.",
            "w_t = w_(t−1) − η · g_t / √(v_t + ε), with the sum v_t of this step.",
        )
    _pass(
        name,
        f"{steps} steps match the slides' Adagrad (running sums as in torch.optim.Adagrad, ε inside "
        "the square root).",
    )


def _check_state(name, label, state, c, t, shapes, mistakes, rule) -> None:
    """The per-weight state (`sums`, `squares`) after step t + 1 must hold torch's."""
    __tracebackhide__ = True
    if not all(torch.is_tensor(v) and v.shape == s for v, s in zip(state, shapes, strict=True)):
        _fail(
            name,
            f"`{label}` must keep one tensor per parameter, of the parameter's shape.",
            f"what you store in {label}[i]: one tensor like the i-th parameter.",
        )
    if _all_close(state, c.v):
        return
    if _all_close(state, c.v_before, 0):
        _fail(
            name,
            f"step {t + 1}: `{label}` did not change: the state was not written back, so the next "
            "step starts from the old value again.",
            f"the list {label} itself must hold the new values after your function returns: change "
            f"its tensors in place, or put the new tensor into the list at index i. Giving a new "
            "tensor to a local name changes nothing the caller sees.",
        )
    _diagnose(name, state, mistakes, c, prefix=f"step {t + 1}: ")
    _fail(name, f"step {t + 1}: {label}[0] is {_fmt(state[0])}, torch's is {_fmt(c.v[0])}.", rule)


# What `squares` holds after a mistaken RMSprop step (c: the step's context, see check_rmsprop_step).
_RMSPROP_AVERAGE_MISTAKES: list[Known] = [
    (
        lambda c: c.swapped,
        "the moving average gives weight ρ to the new squared gradient and 1 − ρ to the old "
        "average: the weights are swapped.",
        "v_t = ρ·v_(t−1) + (1 − ρ)·g_t²: the old average keeps the large weight ρ.",
    ),
    (
        lambda c: c.adagrad,
        "`squares` holds the running SUM of squared gradients: that is Adagrad, not RMSprop's "
        "moving average.",
        "v_t = ρ·v_(t−1) + (1 − ρ)·g_t²: the old average is shrunk by ρ before the new square comes in.",
    ),
    (
        lambda c: [(1 - c.rho) * gi**2 for gi in c.g],
        "the average forgets the previous value of v.",
        "v_t = ρ·v_(t−1) + (1 − ρ)·g_t² uses the v of the previous step.",
    ),
]


def _rms(c, sign=-1.0, v=None, root=True) -> list[torch.Tensor]:
    """A step sign·lr·g / sqrt(v + ε) (the slides' form); by default the right one."""
    v = c.v if v is None else v
    return [
        sign * c.lr * gi / ((vi + c.eps).sqrt() if root else vi + c.eps)
        for gi, vi in zip(c.g, v, strict=True)
    ]


# How far the parameters move in a mistaken RMSprop step.
_RMSPROP_STEP_MISTAKES: list[Known] = [
    (
        lambda c: c.torch_step,
        "you put ε outside the square root, g / (√v + ε): that is torch's form "
        "(torch.optim.RMSprop). This exercise follows the slides: g / √(v + ε).",
        "where ε goes: inside the square root, √(v_t + ε).",
    ),
    (
        lambda c: _rms(c, sign=1.0),
        "the parameters moved uphill (along +g): the sign of the step is flipped.",
        "w_t = w_(t−1) − η · g_t / √(v_t + ε): the step goes against the gradient.",
    ),
    (
        lambda c: [-s for s in c.torch_step],
        "the parameters moved uphill (along +g): the sign of the step is flipped.",
        "w_t = w_(t−1) − η · g_t / √(v_t + ε): the step goes against the gradient.",
    ),
    (
        lambda c: _rms(c, root=False),
        "the step divides by v + ε, not by its square root.",
        "g_t / √(v_t + ε): v is an average of SQUARED gradients, the root brings it back to the scale of g.",
    ),
    (
        lambda c: _rms(c, v=c.v_before),
        "the step divides by the previous average (before this step's update).",
        "the order: v_t includes g_t², and the step divides by √(v_t + ε) of the same t.",
    ),
]


def check_rmsprop_step(
    rmsprop_step: Callable,
    seed: int = 0,
    shapes: Sequence[tuple[int, ...]] = ((4, 3), (5,)),
    steps: int = 5,
    lr: float = 0.01,
    rho: float = 0.9,
    eps: float = 1e-3,
) -> None:
    """Check rmsprop_step(params, squares, lr, rho, eps): the slides' RMSprop, ε inside the root.

    v_t = ρ v_(t−1) + (1 − ρ) g_t²  (written into `squares`),  w_t = w_(t−1) − lr · g_t / √(v_t + ε)
    (in place). ρ is torch's `alpha`. The running averages are compared with torch.optim.RMSprop's;
    the step with the property that it equals −lr · g / √(v + ε).
    """
    __tracebackhide__ = True
    name = "rmsprop_step"
    grads, start = _make_problem(seed, shapes, steps)
    ref = _opt_run(torch.optim.RMSprop, grads, shapes, lr=lr, alpha=rho, eps=eps)
    swapped = _opt_run(torch.optim.RMSprop, grads, shapes, lr=lr, alpha=1 - rho, eps=eps)
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
            rho,
            eps,
            forbid=_RMSPROP_IMPLS,
            purpose=f", lr={lr}, rho={rho}, eps={eps}",
        )
        step = _difference([p.detach().clone() for p in params], before)
        c = SimpleNamespace(
            g=grads[t],
            lr=lr,
            rho=rho,
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
                f"step {t + 1}: the parameters did not change. Giving the name p a new tensor inside "
                "your function does not change the tensor the caller holds.",
                "change each tensor of params in place (the caller runs your function under "
                "torch.no_grad()).",
            )
        _check_state(
            name,
            "squares",
            squares,
            c,
            t,
            [torch.Size(s) for s in shapes],
            _RMSPROP_AVERAGE_MISTAKES,
            "v_t = ρ·v_(t−1) + (1 − ρ)·g_t².",
        )
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
            "w_t = w_(t−1) − η · g_t / √(v_t + ε), with the v_t of this step.",
        )
    _pass(
        name,
        f"{steps} steps match the slides' RMSprop (running averages as in "
        "torch.optim.RMSprop, ε inside the square root).",
    )


# What the moment m or v holds after a mistaken Adam step (c.swapped: with the β weights swapped).
def _adam_moment_mistakes(label: str) -> list[Known]:
    return [
        (
            lambda c: c.swapped,
            f"in the moving average {label}, the β weight is on the new gradient term: the weights "
            "are swapped.",
            f"{label}_t = β·{label}_(t−1) + (1 − β)·(this step's term): the old value keeps the "
            "large weight β.",
        ),
    ]


# How far the parameters move in a mistaken Adam step, any step.
_ADAM_STEP_MISTAKES: list[Known] = [
    (
        lambda torch_step: [-s for s in torch_step],
        "the parameters moved uphill: the sign of the step is flipped.",
        "the direction of the step: it goes against m̂_t, the average gradient.",
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

_ADAM_LOOK = (
    "the bias correction: m_t is divided by 1 − β1^t and v_t by 1 − β2^t, with t = 1 at the first step "
    "and the t of this step."
)


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
    and below (at |g| = 1e-5 inside moves about 0.1 lr, outside about lr; see lesson 08).
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
                f"step {t}: the parameters did not change. Giving the name p a new tensor inside your "
                "function does not change the tensor the caller holds.",
                "change each tensor of params in place (the caller runs your function under "
                "torch.no_grad()).",
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
                "the power in the bias correction: t = 1 at the first step, so 1 − β^t is not 0.",
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
            f"the list {label} itself must hold the new moments after your function returns: change "
            "its tensors in place, or put the new tensor into the list at index i. Giving a new "
            "tensor to a local name changes nothing the caller sees.",
        )
    _diagnose(
        name, moments, _adam_moment_mistakes(label), SimpleNamespace(swapped=swapped), prefix=f"step {t}: "
    )
    _fail(
        name,
        f"step {t}: {label}[0] is {_fmt(moments[0])}, torch.optim.Adam's is {_fmt(right[0])}.",
        "the moving averages: m_t = β1·m_(t−1) + (1 − β1)·g_t, and v_t the same with β2 and g_t², "
        "with this step's gradient g_t.",
    )


def _adam_first_step(name: str, step: list, lr: float, b1: float, b2: float) -> None:
    """Name a mistaken bias correction by how much the first step moved each weight."""
    __tracebackhide__ = True
    ratio = torch.cat([(s.abs() / lr).flatten() for s in step]).median().item()
    for factor, what in _ADAM_FIRST_STEP_MISTAKES:
        if abs(ratio / factor(b1, b2) - 1) < 1e-3:
            _fail(name, f"step 1 moved each weight by {ratio:.3g}·lr instead of lr: {what}", _ADAM_LOOK)
