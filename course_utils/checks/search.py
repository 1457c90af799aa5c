"""Lesson 02's checker: one step of random search, tested by its properties."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from course_utils.checks.calling import _call
from course_utils.checks.reporting import _fail, _pass, _rand, _rel_close, _require_tensor

__all__ = ["check_random_search_step"]


def _as_number(name: str, value, what: str) -> float:
    """A loss value the student returned: a Python number or a one-element tensor."""
    __tracebackhide__ = True
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    _fail(
        name,
        f"returned {type(value).__name__} as {what}; expected a number.",
        "return the pair (new_w, new_J), where new_J is the value J(new_w).",
    )


class _Probe:
    """The student's step on J(v) = |v − target|², recording every point J is evaluated at."""

    def __init__(self, name: str, fn: Callable, target: torch.Tensor):
        self.name, self.fn, self.target = name, fn, target
        self.calls: list[torch.Tensor] = []  # the points J was evaluated at, during one step

    def J(self, v) -> float:
        self.calls.append(v.detach().clone())
        return float(((v - self.target) ** 2).sum())

    def _portable_sync(self, state: dict) -> None:
        """When grading, J runs in the kernel: the points it was evaluated at come back (as tensors
        only); the target stays the checker's."""
        calls = state.get("calls")
        self.calls = (
            [c.detach().clone() for c in calls if isinstance(c, torch.Tensor)]
            if isinstance(calls, list)
            else []
        )

    def step(self, w, J_w, scale, step_seed, global_seed=0) -> tuple[torch.Tensor, float]:
        __tracebackhide__ = True
        name, d = self.name, len(self.target)
        self.calls.clear()
        torch.manual_seed(global_seed)
        w_before = w.clone()
        out = _call(
            name,
            self.fn,
            self.J,
            w,
            J_w,
            scale,
            torch.Generator().manual_seed(step_seed),
            purpose=f", d = {d}",
        )
        if not torch.equal(w, w_before):
            _fail(
                name,
                "it changed w in place, so the old point is lost when the new one is worse.",
                "build the candidate w' as a new tensor: an in-place update (`+=`, or a method whose "
                "name ends in `_`) overwrites the w you may have to return.",
            )
        if not (isinstance(out, tuple | list) and len(out) == 2):
            _fail(
                name,
                f"returned {type(out).__name__}, expected the pair (new_w, new_J).",
                "the value you return: always a pair, (w', J(w')) when the sample is better, else (w, J_w).",
            )
        new_w, new_J = out
        new_w = _require_tensor(name, new_w, (d,), "new_w has the shape of w")
        return new_w.detach().double(), _as_number(name, new_J, "new_J")


def check_random_search_step(
    random_search_step: Callable,
    seed: int = 0,
    dims: Sequence[int] = (1, 5, 50),
    steps: int = 200,
) -> None:
    """Check random_search_step(J, w, J_w, scale, generator) -> (new_w, new_J).

    Properties: J is evaluated once per step, at a Gaussian sample around w with
    standard deviation `scale`; the sample is kept only when it is better; the
    step depends only on the generator; w is not changed in place. In d dimensions a step
    gives d sample coordinates: `steps` steps, or fewer where 1,000 coordinates (and 30
    steps) are reached sooner (each step is a round trip to the kernel when grading).
    """
    __tracebackhide__ = True
    name = "random_search_step"
    gen = torch.Generator().manual_seed(seed)
    for d in dims:
        probe = _Probe(name, random_search_step, _rand((d,), gen, 1.0))
        _check_reproducible(probe, gen, seed)
        # Many steps from random points: one evaluation, at a Gaussian sample around w.
        outcomes = [
            _check_one_step(probe, gen, [0.05, 0.3, 2.0][k % 3] / d**0.5, seed * 1000 + k)
            for k in range(min(steps, max(30, -(-1000 // d))))
        ]
        offsets, better = zip(*outcomes, strict=True)
        if all(better) or not any(better):  # pragma: no cover - the test points ensure both
            _fail(name, "the check could not test both cases; try another seed.")
        _check_samples(name, torch.stack(offsets))
    _check_stays_at_minimum(name, random_search_step, dims[-1], seed)
    _pass(
        name,
        f"one evaluation per step, Gaussian samples around w with the given scale, "
        f"accepts only better points ({len(dims)} dimensions), reproducible with a generator.",
    )


def _check_reproducible(probe: _Probe, gen: torch.Generator, seed: int) -> None:
    """The same generator seed gives the same step, whatever the global seed."""
    __tracebackhide__ = True
    name, d = probe.name, len(probe.target)
    w = probe.target + _rand((d,), gen, 1.0)
    J_w = float(((w - probe.target) ** 2).sum())
    a = probe.step(w, J_w, 0.3, step_seed=seed + 11, global_seed=1)
    b = probe.step(w, J_w, 0.3, step_seed=seed + 11, global_seed=2)
    c = probe.step(w, J_w, 0.3, step_seed=seed + 11, global_seed=1)
    if not (torch.equal(a[0], c[0]) and a[1] == c[1]):
        _fail(
            name,
            "two calls with identically seeded generators returned different points.",
            "draw the noise only from the `generator` passed in: torch's random functions take `generator=`.",
        )
    if not (torch.equal(a[0], b[0]) and a[1] == b[1]):
        _fail(
            name,
            "it ignores the generator it is given: its result changes with torch's "
            "global seed, so a seeded run cannot be reproduced.",
            "pass the `generator` you are given to the function that draws ξ, instead of using torch's "
            "global random state.",
        )


def _check_one_step(probe: _Probe, gen: torch.Generator, scale: float, step_seed: int):
    """One step from a random point: returns ((w' − w) / scale, whether w' was better)."""
    __tracebackhide__ = True
    name, target = probe.name, probe.target
    w = target + _rand((len(target),), gen, 1.0)
    J_w = float(((w - target) ** 2).sum())
    new_w, new_J = probe.step(w, J_w, scale, step_seed=step_seed)
    if len(probe.calls) == 0:
        _fail(
            name,
            "it never evaluates J, so it cannot know whether w' is better.",
            "compute J(candidate) once per step.",
        )
    if len(probe.calls) > 1:
        _fail(
            name,
            f"it evaluates J {len(probe.calls)} times per step; one evaluation, at the "
            "new point, is enough (J(w) is given as J_w). Evaluations are what random "
            "search pays for.",
            "call J only on the candidate w'.",
        )
    cand = probe.calls[0].double()
    J_cand = float(((cand - target.double()) ** 2).sum())
    kept, moved = torch.allclose(new_w, w.double()), torch.allclose(new_w, cand)
    if J_cand < J_w and not (moved and _rel_close(new_J, J_cand, 1e-5)):
        if kept:
            _fail(
                name,
                f"it kept w although the sample was better (J(w') = {J_cand:.4g} < J(w) = {J_w:.4g}).",
                "the comparison: accept w' when J(w') < J_w.",
            )
        if moved:
            _fail(
                name,
                f"it moved to the better sample but returned the value {new_J:.4g}"
                f" instead of J(w') = {J_cand:.4g}.",
                "return the pair (w', J(w')).",
            )
        _fail(
            name,
            "after a better sample it returned a point that is neither w' (the "
            "point J was evaluated at) nor w.",
            "return the very candidate you evaluated: (candidate, J(candidate)).",
        )
    if J_cand > J_w:
        if not kept:
            _fail(
                name,
                f"it accepted a worse point: J(w') = {J_cand:.4g} > J(w) = {J_w:.4g}"
                ". Random search only ever moves downhill.",
                "the comparison: keep w' only if J(w') < J_w, else return (w, J_w).",
            )
        if not _rel_close(new_J, J_w, 1e-6):
            _fail(
                name,
                f"it kept w but returned the value {new_J:.4g}, not J_w = {J_w:.4g}.",
                "when the sample is worse, return (w, J_w) unchanged.",
            )
    return (cand - w.double()) / scale, J_cand < J_w


def _check_samples(name: str, xi: torch.Tensor) -> None:
    """The standardized offsets (w' − w) / scale must look like standard normal noise."""
    __tracebackhide__ = True
    mean, std = xi.mean().item(), xi.std().item()
    # Four standard errors: the mean of n standard normals has sd 1/√n, their rms about 1/√(2n).
    # (2.4 standard errors, as before, failed 1 correct sampler in 80 seeds.)
    centre_error = 4 / xi.numel() ** 0.5
    spread_error = max(0.15, 4 / (2 * xi.numel()) ** 0.5)
    spread = xi.pow(2).mean().sqrt().item()  # root mean square of (w' − w) / scale
    if abs(mean) > centre_error:
        _fail(
            name,
            f"its samples are not centred on w: on average w' − w = {mean:.2f}·scale. "
            "torch.rand draws from [0, 1), which only looks one way.",
            "ξ ~ N(0, I): standard normal noise, centred at 0 (torch.rand is uniform on [0, 1); "
            "torch.randn is the standard normal).",
        )
    if not abs(spread - 1) < spread_error:
        _fail(
            name,
            f"its samples are not spread by `scale`: the coordinates of w' − w have a "
            f"root mean square of {spread:.2f}·scale (std {std:.2f}·scale), it should be 1·scale.",
            "w' = w + σξ with σ = `scale`: the standard normal noise ξ times the scale.",
        )


class _Bowl:
    """J(v) = |v|²: an object, not a local function, so it can cross to the grading kernel."""

    def __call__(self, v) -> float:
        return float((v**2).sum())


def _check_stays_at_minimum(name: str, random_search_step: Callable, d: int, seed: int) -> None:
    """At the minimum every sample is worse: many steps must never move."""
    __tracebackhide__ = True
    target = torch.zeros(d)

    bowl = _Bowl()
    w, J_w = target.clone(), 0.0
    for k in range(20):
        out = _call(name, random_search_step, bowl, w, J_w, 0.1, torch.Generator().manual_seed(seed + k))
        w, J_w = out[0], _as_number(name, out[1], "new_J")
    if not torch.equal(w.detach(), target):
        _fail(
            name,
            "started at the minimum, it moved away: it accepts points that are not better.",
            "accept w' only if J(w') < J_w.",
        )
