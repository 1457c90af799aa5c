"""Lesson 07's checker: a learning-rate schedule, linear warm-up then cosine decay, against torch.

lr_at(t, eta0, warmup, total) is called at every step t = 0, 1, ..., total of a few settings
(plain numbers in, one float out) and compared with what torch's own schedulers give an
optimizer whose base learning rate is eta0: torch.optim.lr_scheduler.LinearLR for the warm-up,
then CosineAnnealingLR. The known mistakes are a table of wrong schedules (reporting.Known),
each a list of learning rates, walked by reporting._diagnose.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from course_utils.checks.calling import _call
from course_utils.checks.reporting import Known, _diagnose, _fail, _pass

__all__ = ["check_lr_at"]


def _torch_rates(eta0: float, warmup: int, total: int) -> list[float]:
    """The learning rates torch's schedulers give at steps 0 … total (warm-up, then cosine to 0)."""
    rates = []
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=eta0)
    warm = torch.optim.lr_scheduler.LinearLR(
        opt, start_factor=1 / warmup, end_factor=1.0, total_iters=warmup - 1
    )
    for _ in range(warmup):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        warm.step()
    opt = torch.optim.SGD([p], lr=eta0)
    decay = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total - warmup, eta_min=0.0)
    for _ in range(warmup, total + 1):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        decay.step()
    return rates


def _torch_cosine(eta0: float, span: int, steps: int) -> list[float]:
    """CosineAnnealingLR's learning rates over `steps` steps, from eta0 to 0 in `span` steps."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=eta0)
    decay = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=span, eta_min=0.0)
    rates = []
    for _ in range(steps):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        decay.step()
    return rates


# The learning rates of a mistaken schedule at steps 0 … total; s = (eta0, warmup, total). Each
# is built from torch's own rates (the checker holds no formula of the answer).
def _mistake(s, kind: str) -> torch.Tensor:
    eta0, w, total = s
    right = _torch_rates(eta0, w, total)
    warm, decay = right[:w], right[w:]  # decay[k]: the rate k steps after the warm-up
    if kind == "warm-up from 0":
        rates = [0.0, *warm[:-1], *decay]
    elif kind == "cosine over the whole run":
        rates = [*warm, *_torch_cosine(eta0, total, total + 1)[w:]]
    elif kind == "rising cosine":
        rates = [*warm, *(eta0 - r for r in decay)]
    elif kind == "no half":
        rates = [*warm, *(2 * r for r in decay)]
    elif kind == "warm-up one step too long":
        rates = [*warm, warm[-1] + eta0 / w, *decay[1:]]
    else:  # "no warm-up": the decay's curve, its mirror image before t = warmup
        rates = [decay[min(w - t, len(decay) - 1)] for t in range(w)] + decay
    return torch.tensor(rates, dtype=torch.float64)


_LR_AT_MISTAKES: list[Known] = [
    (
        lambda s: _mistake(s, "warm-up from 0"),
        "the warm-up starts at 0: at t = 0 the learning rate is 0, so the first step does not move.",
        "the warm-up climbs in `warmup` equal steps and reaches η₀ at the last warm-up step, "
        "t = warmup − 1: at t = 0 it is already η₀/warmup.",
    ),
    (
        lambda s: _mistake(s, "cosine over the whole run"),
        "the cosine is measured from t = 0 over the whole run: the learning rate drops abruptly when the "
        "warm-up ends, and the decay is not over the steps that are left.",
        "the cosine's own clock: it starts at 0 when the warm-up ends and runs for total − warmup steps.",
    ),
    (
        lambda s: _mistake(s, "rising cosine"),
        "after the warm-up the learning rate climbs from 0 to η₀ instead of falling from η₀ to 0.",
        "the sign in front of the cosine: at the start of the decay cos(0) = 1 must give η₀.",
    ),
    (
        lambda s: _mistake(s, "no half"),
        "the decay starts at 2·η₀: the factor ½ in front of (1 + cos) is missing.",
        "the cosine part, ½·η₀·(1 + cos(·)), lies between 0 and η₀.",
    ),
    (
        lambda s: _mistake(s, "warm-up one step too long"),
        "at t = warmup the warm-up line goes on past η₀: the step where the decay starts is on the "
        "wrong side of the switch.",
        "which branch t = warmup belongs to: the decay starts there, at η₀.",
    ),
    (
        lambda s: _mistake(s, "no warm-up"),
        "there is no warm-up: the cosine is used from t = 0.",
        "the steps t < warmup: the learning rate climbs linearly to η₀ there.",
    ),
]


def check_lr_at(
    lr_at: Callable,
    seed: int = 0,
    settings: Sequence[tuple[float, int, int]] = ((0.1, 5, 40), (2.0, 3, 25)),
) -> None:
    """Check lr_at(t, eta0, warmup, total) -> float at every step t = 0 … total of each setting.

    Linear warm-up, η₀·(t + 1)/warmup for t < warmup (η₀ at t = warmup − 1), then cosine decay
    from η₀ at t = warmup to 0 at t = total: the learning rates torch's LinearLR and
    CosineAnnealingLR give. `seed` only picks the order of the settings' checks.
    """
    __tracebackhide__ = True
    name = "lr_at"
    order = torch.randperm(len(settings), generator=torch.Generator().manual_seed(seed)).tolist()
    for k, i in enumerate(order):
        eta0, warmup, total = settings[i]
        expected = torch.tensor(_torch_rates(eta0, warmup, total), dtype=torch.float64)
        got = []
        for t in range(total + 1):
            out = _call(
                name,
                lr_at,
                t,
                eta0,
                warmup,
                total,
                purpose=f" (t={t}, eta0={eta0}, warmup={warmup}, total={total})",
                tamper_check=k == 0 and t == 0,
            )
            if isinstance(out, torch.Tensor):
                _fail(
                    name,
                    f"returned a tensor at t = {t}; a learning rate is a plain number.",
                    "keep the schedule in Python numbers and the math module (math.cos, math.pi).",
                )
            if isinstance(out, bool) or not isinstance(out, int | float):
                _fail(
                    name,
                    f"returned {type(out).__name__} at t = {t}; return the learning rate, a float.",
                    "the return statement of every branch of your function.",
                )
            got.append(float(out))
        rates = torch.tensor(got, dtype=torch.float64)
        if torch.allclose(rates, expected, rtol=1e-9, atol=1e-12):
            continue
        _diagnose(name, rates, _LR_AT_MISTAKES, (eta0, warmup, total), tol=1e-9)
        bad = int((rates - expected).abs().argmax())
        _fail(
            name,
            f"with eta0={eta0}, warmup={warmup}, total={total}: at t = {bad} it gives {rates[bad]:.6g}, "
            f"the schedule is {expected[bad]:.6g}.",
            "warm-up η₀·(t + 1)/warmup for t < warmup, then ½·η₀·(1 + cos(π·(t − warmup)/(total − warmup))).",
        )
    _pass(
        name,
        "matches torch's LinearLR warm-up and CosineAnnealingLR decay at every step of "
        + ", ".join(f"(η₀={e}, warmup={w}, total={n})" for e, w, n in settings)
        + ".",
    )
