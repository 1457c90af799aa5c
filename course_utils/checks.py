"""Checks that teach and grade.

Each `check_<exercise>(fn, seed=0, ...)` runs the student's function on random
inputs, compares it with an independent oracle (torch's own implementation, or
a property the answer must have) and either prints a ✅ line or prints a
diagnosis in plain words, "what is wrong" and "what to look at", and raises
AssertionError. A function that still raises NotImplementedError gets a
reminder and the NotImplementedError itself. The same call is the nbgrader
graded cell; hidden tests call it again with other seeds and sizes.

A checker holds no solution: it calls torch, or tests properties.
"""

from __future__ import annotations

import contextlib
import os
import traceback
from collections.abc import Callable, Iterable, Sequence

import torch
import torch.nn.functional as F

__all__ = ["CheckFailure", "check_softmax", "check_cross_entropy"]


class CheckFailure(AssertionError):
    """A check found a mistake; its message is the diagnosis."""


# --------------------------------------------------------------------------- #
# The shared machinery: calling the student's function, reporting, comparing.
# --------------------------------------------------------------------------- #


def _fail(name: str, what: str, look: str | None = None) -> None:
    """Print the diagnosis and raise it: the printout reads well, the raise grades."""
    __tracebackhide__ = True
    msg = f"{name}: {what}"
    if look:
        msg += f"\n   Look at: {look}"
    print(f"❌ {msg}")
    raise CheckFailure(msg) from None


def _pass(name: str, detail: str) -> None:
    print(f"✅ {name}: {detail}")


class _Forbidden(Exception):
    def __init__(self, what: str):
        super().__init__(what)
        self.what = what


@contextlib.contextmanager
def _forbid(targets: Iterable[tuple[object, str]]):
    """Make torch's own versions of the exercise raise while the student's code runs."""
    saved = []
    for owner, attr in targets:
        if hasattr(owner, attr):
            original = getattr(owner, attr)
            qualname = f"{getattr(owner, '__name__', type(owner).__name__)}.{attr}"

            def blocked(*args, _q=qualname, **kwargs):
                raise _Forbidden(_q)

            saved.append((owner, attr, original))
            setattr(owner, attr, blocked)
    try:
        yield
    finally:
        for owner, attr, original in reversed(saved):
            setattr(owner, attr, original)


def _trusted_dirs() -> tuple[str, ...]:
    import site
    import sysconfig

    dirs = {os.path.dirname(os.path.abspath(__file__)), os.path.dirname(torch.__file__),
            sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"],
            sysconfig.get_paths()["platlib"], *site.getsitepackages()}
    return tuple(os.path.realpath(d) + os.sep for d in dirs)


_TRUSTED = _trusted_dirs()
_TRUSTED_CODE: set = set()  # code objects already found in a trusted file


def _replaced(value) -> bool:
    """True if `value` is a function or object the notebook itself defined (not torch's, not Python's)."""
    func = getattr(value, "__func__", value)
    code = getattr(func, "__code__", None)
    if code is not None:
        if code in _TRUSTED_CODE:
            return False
        where = code.co_filename  # Python's frozen modules (importlib) have no file on disk
        if where.startswith("<frozen ") or os.path.realpath(where).startswith(_TRUSTED):
            _TRUSTED_CODE.add(code)
            return False
        return True
    return type(value).__module__ == "__main__" or getattr(value, "__module__", None) == "__main__"


def _untampered(name: str) -> None:
    """Refuse to grade when notebook code has replaced a function the checks rely on.

    `torch.allclose = lambda *a, **k: True` would make every comparison pass; this
    names the replaced function instead, so a student who did it by accident learns why.
    """
    __tracebackhide__ = True
    import builtins
    import importlib
    import sys

    spaces = {"torch": torch, "torch.nn.functional": F, "torch.Tensor": torch.Tensor,
              "builtins": builtins, "importlib": importlib}
    for label, space in spaces.items():
        for attr, value in list(vars(space).items()):
            if callable(value) and _replaced(value):
                _fail(name, f"`{label}.{attr}` was replaced by code in this notebook, so no check "
                      "can trust it.", f"remove the line that assigns to `{label}.{attr}`, "
                      "restart the kernel (Kernel → Restart) and run the notebook again.")
    for mod_name in ("torch", "torch.nn.functional", "course_utils", "course_utils.checks"):
        mod = sys.modules.get(mod_name)
        path = getattr(mod, "__file__", None)
        if mod is not None and not (path and os.path.realpath(path).startswith(_TRUSTED)):
            _fail(name, f"the module `{mod_name}` was replaced by code in this notebook.",
                  "remove the line that assigns to it or to sys.modules, restart the kernel and "
                  "run the notebook again.")


def _call(name: str, fn: Callable, *args, forbid=(), purpose: str = "", **kwargs):
    """Run the student's function and turn every way it can break into a diagnosis."""
    __tracebackhide__ = True
    _untampered(name)
    if not callable(fn):
        _fail(name, f"expected a function, got {type(fn).__name__}.", f"pass `{name}` itself.")
    try:
        with _forbid(forbid):
            return fn(*args, **kwargs)
    except NotImplementedError:
        print(
            f"⏳ {name} is not written yet: replace `raise NotImplementedError()` "
            "with your code, run that cell, then run this one again."
        )
        raise
    except _Forbidden as err:
        _fail(
            name,
            f"it calls torch's own `{err.what}`, which is what this exercise asks you to write.",
            "build it from basic operations (torch.exp, .sum, .max, torch.log, indexing); "
            "this check compares your result with torch's.",
        )
    except Exception as err:  # the student's code raised: say where and on what input
        shapes = ", ".join(
            f"shape {tuple(a.shape)}" if isinstance(a, torch.Tensor) else type(a).__name__
            for a in args
        )
        _fail(
            name,
            f"raised {type(err).__name__}: {err}\n   (called with {shapes}{purpose})",
            _where(err),
        )


def _where(err: BaseException) -> str:
    """The student's line that raised: the last frame outside torch and this module."""
    frames = [
        f for f in traceback.extract_tb(err.__traceback__)
        if f.filename != __file__ and "site-packages" not in f.filename
    ]
    if not frames:
        return "the first line of your function."
    f = frames[-1]
    return f"line {f.lineno} of your cell: `{(f.line or '').strip()}`"


def _close(a: torch.Tensor, b: torch.Tensor, tol: float = 1e-5) -> bool:
    return a.shape == b.shape and bool(
        torch.allclose(a.double(), b.double(), rtol=tol, atol=tol, equal_nan=False)
    )


def _fmt(t: torch.Tensor, n: int = 4) -> str:
    flat = t.detach().double().flatten()[:n].tolist()
    more = ", …" if t.numel() > n else ""
    return "[" + ", ".join(f"{v:.4g}" for v in flat) + more + "]"


def _require_tensor(name: str, out, expected_shape: Sequence[int], what: str) -> torch.Tensor:
    __tracebackhide__ = True
    if out is None:
        _fail(name, "returned None.", "the `return` statement at the end of your function.")
    if not isinstance(out, torch.Tensor):
        _fail(
            name,
            f"returned a {type(out).__name__}, not a torch.Tensor.",
            "keep the computation in torch (no .item(), .tolist() or numpy) so autograd can "
            "differentiate it.",
        )
    if tuple(out.shape) != tuple(expected_shape):
        _fail(
            name,
            f"returned shape {tuple(out.shape)}, expected {tuple(expected_shape)} ({what}).",
            "which dimension you reduce over, and keepdim= in your sums and maxes.",
        )
    return out


def _rand(shape: Sequence[int], gen: torch.Generator, scale: float = 3.0) -> torch.Tensor:
    return torch.randn(*shape, generator=gen) * scale


# --------------------------------------------------------------------------- #
# Lesson 01: softmax and cross-entropy
# --------------------------------------------------------------------------- #

_SOFTMAX_IMPLS = [
    (torch, "softmax"),
    (torch.special, "softmax"),
    (F, "softmax"),
    (torch.Tensor, "softmax"),
    (torch, "log_softmax"),
    (F, "log_softmax"),
    (torch.Tensor, "log_softmax"),
]
_CROSS_ENTROPY_IMPLS = [
    *_SOFTMAX_IMPLS,
    (F, "cross_entropy"),
    (F, "nll_loss"),
    (torch.nn, "CrossEntropyLoss"),
    (torch.nn, "NLLLoss"),
]


def check_softmax(
    softmax: Callable[[torch.Tensor], torch.Tensor],
    seed: int = 0,
    shapes: Sequence[tuple[int, int]] = ((5, 10), (1, 3), (64, 10), (3, 1)),
) -> None:
    """Check softmax(z) for logits z of shape (N, K) against torch.softmax(z, dim=1)."""
    __tracebackhide__ = True
    name = "softmax"
    gen = torch.Generator().manual_seed(seed)
    for shape in shapes:
        z = _rand(shape, gen)
        z_before = z.clone()
        out = _call(name, softmax, z, forbid=_SOFTMAX_IMPLS)
        out = _require_tensor(name, out, shape, "one probability per logit")
        if not torch.equal(z, z_before):
            _fail(
                name,
                "it changed its input z in place.",
                "an in-place operation such as `z -= ...` or `z.exp_()`; write `z = z - ...`.",
            )
        expected = torch.softmax(z.double(), dim=1)
        if _close(out, expected):
            continue
        got = out.detach().double()
        if not torch.isfinite(got).all():
            _fail(
                name,
                f"returned inf or nan for ordinary logits of shape {shape}.",
                "the division: the denominator is the sum of exp over each row.",
            )
        if _close(got, torch.log_softmax(z.double(), dim=1)):
            _fail(name, "returned log-probabilities.", "return the probabilities themselves.")
        if shape[0] > 1 and _close(got, torch.softmax(z.double(), dim=0)):
            _fail(
                name,
                "normalized each column (over the examples), not each row. "
                "A row holds one example's K logits and must sum to 1.",
                "the dimension of your sum: dim=1 (with keepdim=True to broadcast the division).",
            )
        if _close(got, z.double().exp() / z.double().exp().sum()):
            _fail(
                name,
                "divided by the sum over the whole tensor, so only the grand total is 1.",
                "sum over each row: .sum(dim=1, keepdim=True).",
            )
        if (got < 0).any():
            _fail(
                name,
                "returned negative values; probabilities are never negative.",
                "exponentiate the logits before normalizing: e^z is always positive.",
            )
        row_sums = got.sum(dim=1)
        if not torch.allclose(row_sums, torch.ones_like(row_sums), atol=1e-4):
            _fail(
                name,
                f"the rows should sum to 1, yours sum to {_fmt(row_sums)}.",
                "the normalization: divide exp(z) by its row sum.",
            )
        _fail(
            name,
            f"rows sum to 1 but the values are off: for z[0] = {_fmt(z[0])} you return "
            f"{_fmt(got[0])}, softmax gives {_fmt(expected[0])}.",
            "the formula σ(z)_i = e^{z_i} / Σ_j e^{z_j}.",
        )

    # Large logits: exp(1000) overflows float32, so a correct softmax must shift first.
    big = torch.tensor([[1000.0, 1001.0, 1002.0], [-1000.0, -1000.0, -999.0], [0.0, 0.0, 90.0]])
    out = _require_tensor(name, _call(name, softmax, big.clone(), forbid=_SOFTMAX_IMPLS), big.shape,
                          "one probability per logit")
    if not torch.isfinite(out).all() or not _close(out, torch.softmax(big.double(), dim=1), 1e-4):
        _fail(
            name,
            f"not numerically stable: for logits {big[0].tolist()} you return {_fmt(out[0])} "
            "(exp(1000) is inf in float32).",
            "subtract each row's max before exp: softmax(z) = softmax(z − max(z)), "
            "and the largest exponent becomes e^0 = 1.",
        )
    # Autograd must be able to differentiate through it.
    z = _rand((4, 5), gen).requires_grad_()
    out = _call(name, softmax, z, forbid=_SOFTMAX_IMPLS)
    if not out.requires_grad:
        _fail(
            name,
            "its output is cut off from autograd (no gradient can flow back to z).",
            ".detach(), .item(), .numpy() or torch.tensor(...) inside your function.",
        )
    _pass(name, f"matches torch.softmax on {len(shapes)} shapes, stable for logits of ±1000.")


def check_cross_entropy(
    cross_entropy: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    seed: int = 0,
    shapes: Sequence[tuple[int, int]] = ((8, 10), (1, 3), (100, 10), (5, 2)),
) -> None:
    """Check cross_entropy(logits, targets): the mean of −log softmax(logits)[i, targets[i]]."""
    __tracebackhide__ = True
    name = "cross_entropy"
    gen = torch.Generator().manual_seed(seed)
    for n, k in shapes:
        logits = _rand((n, k), gen)
        targets = torch.randint(0, k, (n,), generator=gen)
        before = logits.clone(), targets.clone()
        out = _call(name, cross_entropy, logits, targets, forbid=_CROSS_ENTROPY_IMPLS)
        if isinstance(out, float):
            _fail(
                name,
                "returned a Python float; training needs a tensor to call .backward() on.",
                "drop .item() or float(...) at the end.",
            )
        if isinstance(out, torch.Tensor) and out.shape == (n,) and n > 1:
            per_example = F.cross_entropy(logits.double(), targets, reduction="none")
            hint = (
                "these are the right per-example losses; "
                if _close(out, per_example)
                else ""
            )
            _fail(
                name,
                f"returned one value per example (shape ({n},)); {hint}"
                "the empirical risk is a single number.",
                "average over the examples: .mean().",
            )
        out = _require_tensor(name, out, (), "one number: the mean loss over the batch")
        if not (torch.equal(logits, before[0]) and torch.equal(targets, before[1])):
            _fail(name, "it changed its inputs in place.", "in-place operations such as `-=`.")
        expected = F.cross_entropy(logits.double(), targets)
        if _close(out, expected):
            continue
        got = out.detach().double()
        logp = torch.log_softmax(logits.double(), dim=1)
        picked = logp[torch.arange(n), targets]
        diagnoses = [
            (-expected, "has the wrong sign: cross-entropy is −log p(correct class), "
             "a positive number.", "the minus sign in −log p."),
            (expected * n, "is the sum over the batch, not the mean.", "divide by the number "
             "of examples, or use .mean()."),
            (-logp.mean(), "averages −log p over all classes; only the correct class counts.",
             "pick each example's own class: logp[torch.arange(N), targets]."),
            (-torch.log_softmax(logits.double(), dim=0)[torch.arange(n), targets].mean(),
             "normalizes over the batch (dim=0), not over the classes.",
             "the log-sum-exp runs over each row: dim=1."),
            (-logits.double()[torch.arange(n), targets].mean(),
             "returns −z[correct class] without the normalizer.",
             "−log p_y = −z_y + log Σ_j e^{z_j}: add the log-sum-exp term."),
            (-picked.exp().mean(), "averages −p(correct class), not −log p.", "take the log."),
            (torch.exp(-picked).mean(), "averages 1/p(correct class), not −log p.",
             "take the log of the probability."),
        ]
        for value, what, look in diagnoses:
            if _close(got, value):
                _fail(name, f"for this batch of {n} examples your loss {what}", look)
        if n > 1 and _close(got, -picked[0]):
            _fail(name, "returns the loss of the first example only.", "average over all rows.")
        _fail(
            name,
            f"for logits of shape ({n}, {k}) you return {got.item():.5f}, "
            f"torch's F.cross_entropy gives {expected.item():.5f}.",
            "the formula: mean over examples of −log softmax(z_i)[y_i].",
        )

    # Large logit gaps: log(softmax) underflows to log(0) = −inf; log-sum-exp does not.
    logits = torch.tensor([[0.0, 200.0], [1000.0, 0.0], [3.0, 1.0]])
    targets = torch.tensor([0, 1, 0])
    out = _require_tensor(
        name,
        _call(name, cross_entropy, logits.clone(), targets.clone(), forbid=_CROSS_ENTROPY_IMPLS),
        (),
        "one number",
    )
    expected = F.cross_entropy(logits.double(), targets)
    if not torch.isfinite(out) or not _close(out, expected, 1e-4):
        _fail(
            name,
            f"not numerically stable: for logits {logits.tolist()} with targets "
            f"{targets.tolist()} you return {out.item()}, the true value is {expected.item():.4f}. "
            "exp(1000) overflows and log(softmax) of a tiny probability is log(0) = −inf.",
            "compute log-probabilities directly: log p = z − max(z) − log Σ_j e^{z_j − max(z)}.",
        )

    # The gradient autograd computes through it must be (softmax − one-hot) / N.
    logits = _rand((6, 4), gen).requires_grad_()
    targets = torch.randint(0, 4, (6,), generator=gen)
    out = _call(name, cross_entropy, logits, targets, forbid=_CROSS_ENTROPY_IMPLS)
    if not out.requires_grad:
        _fail(
            name,
            "its output is cut off from autograd, so .backward() cannot train with it.",
            ".detach(), .item(), .numpy() or torch.tensor(...) inside your function.",
        )
    out.backward()
    expected_grad = (torch.softmax(logits.detach(), 1) - F.one_hot(targets, 4)) / 6
    if logits.grad is None or not _close(logits.grad, expected_grad, 1e-4):
        _fail(
            name,
            "its value is right but its gradient is not (an operation autograd cannot follow).",
            "in-place edits of intermediate tensors, or constants built from the logits.",
        )
    _pass(
        name,
        f"matches F.cross_entropy on {len(shapes)} shapes, stable for huge logits, "
        "and its gradient is (softmax − one-hot)/N.",
    )


# --------------------------------------------------------------------------- #
# Lessons 02-04: random search, gradient descent, momentum
# --------------------------------------------------------------------------- #


__all__ += ["check_random_search_step"]


def _rel_close(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol * max(abs(a), abs(b), 1e-12)


def _as_number(name: str, value, what: str) -> float:
    """A loss value the student returned: a Python number or a one-element tensor."""
    __tracebackhide__ = True
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    _fail(name, f"returned {type(value).__name__} as {what}; expected a number.",
          "return the pair (new_w, new_J), where new_J is the value J(new_w).")


def check_random_search_step(
    random_search_step: Callable,
    seed: int = 0,
    dims: Sequence[int] = (1, 5, 50),
    steps: int = 200,
) -> None:
    """Check random_search_step(J, w, J_w, scale, generator) -> (new_w, new_J).

    Properties: J is evaluated once per step, at a Gaussian sample around w with
    standard deviation `scale`; the sample is kept only when it is better; the
    step depends only on the generator; w is not changed in place.
    """
    __tracebackhide__ = True
    name = "random_search_step"
    gen = torch.Generator().manual_seed(seed)
    calls: list[torch.Tensor] = []  # the points J was evaluated at, during one step
    for d in dims:
        target = _rand((d,), gen, 1.0)

        def J(v, _t=target):
            calls.append(v.detach().clone())
            return float(((v - _t) ** 2).sum())

        def one_step(w, J_w, scale, step_seed, global_seed=0, J=J, d=d):
            __tracebackhide__ = True
            calls.clear()
            torch.manual_seed(global_seed)
            w_before = w.clone()
            out = _call(name, random_search_step, J, w, J_w, scale,
                        torch.Generator().manual_seed(step_seed), purpose=f", d = {d}")
            if not torch.equal(w, w_before):
                _fail(name, "it changed w in place, so the old point is lost when the new one "
                      "is worse.", "write `new_w = w + ...` instead of `w += ...` or `w.add_(...)`.")
            if not (isinstance(out, tuple | list) and len(out) == 2):
                _fail(name, f"returned {type(out).__name__}, expected the pair (new_w, new_J).",
                      "`return candidate, J_candidate` or `return w, J_w`.")
            new_w, new_J = out
            new_w = _require_tensor(name, new_w, (d,), "new_w has the shape of w")
            return new_w.detach().double(), _as_number(name, new_J, "new_J")

        # 1. Reproducible: the same generator seed gives the same step, whatever the global seed.
        w = target + _rand((d,), gen, 1.0)
        J_w = float(((w - target) ** 2).sum())
        a = one_step(w, J_w, 0.3, step_seed=seed + 11, global_seed=1)
        b = one_step(w, J_w, 0.3, step_seed=seed + 11, global_seed=2)
        c = one_step(w, J_w, 0.3, step_seed=seed + 11, global_seed=1)
        if not (torch.equal(a[0], c[0]) and a[1] == c[1]):
            _fail(name, "two calls with identically seeded generators returned different points.",
                  "draw the noise only from `generator`: torch.randn(w.shape, generator=generator).")
        if not (torch.equal(a[0], b[0]) and a[1] == b[1]):
            _fail(name, "it ignores the generator it is given: its result changes with torch's "
                  "global seed, so a seeded run cannot be reproduced.",
                  "pass the generator: torch.randn(w.shape, generator=generator).")

        # 2. Many steps from random points: one evaluation, at a Gaussian sample around w.
        offsets = []
        worse_kept = better_taken = 0
        for k in range(steps):
            w = target + _rand((d,), gen, 1.0)
            J_w = float(((w - target) ** 2).sum())
            scale = [0.05, 0.3, 2.0][k % 3] / d**0.5
            new_w, new_J = one_step(w, J_w, scale, step_seed=seed * 1000 + k)
            if len(calls) == 0:
                _fail(name, "it never evaluates J, so it cannot know whether w' is better.",
                      "compute J(candidate) once per step.")
            if len(calls) > 1:
                _fail(name, f"it evaluates J {len(calls)} times per step; one evaluation, at the "
                      "new point, is enough (J(w) is given as J_w). Evaluations are what random "
                      "search pays for.", "call J only on the candidate w'.")
            cand = calls[0].double()
            offsets.append((cand - w.double()) / scale)
            J_cand = float(((cand - target.double()) ** 2).sum())
            if J_cand < J_w:
                better_taken += 1
                if not (torch.allclose(new_w, cand) and _rel_close(new_J, J_cand, 1e-5)):
                    if torch.allclose(new_w, w.double()):
                        _fail(name, f"it kept w although the sample was better (J(w') = {J_cand:.4g}"
                              f" < J(w) = {J_w:.4g}).",
                              "the comparison: accept w' when J(w') < J_w.")
                    if torch.allclose(new_w, cand):
                        _fail(name, f"it moved to the better sample but returned the value {new_J:.4g}"
                              f" instead of J(w') = {J_cand:.4g}.", "return the pair (w', J(w')).")
                    _fail(name, "after a better sample it returned a point that is neither w' (the "
                          "point J was evaluated at) nor w.",
                          "return the very candidate you evaluated: (candidate, J(candidate)).")
            elif J_cand > J_w:
                worse_kept += 1
                if not torch.allclose(new_w, w.double()):
                    _fail(name, f"it accepted a worse point: J(w') = {J_cand:.4g} > J(w) = {J_w:.4g}"
                          ". Random search only ever moves downhill.",
                          "the comparison: keep w' only if J(w') < J_w, else return (w, J_w).")
                if not _rel_close(new_J, J_w, 1e-6):
                    _fail(name, f"it kept w but returned the value {new_J:.4g}, not J_w = {J_w:.4g}.",
                          "when the sample is worse, return (w, J_w) unchanged.")
        xi = torch.stack(offsets)
        mean, std = xi.mean().item(), xi.std().item()
        centre_error = 0.25 if xi.numel() < 400 else 0.12
        spread = xi.pow(2).mean().sqrt().item()  # root mean square of (w' − w) / scale
        if abs(mean) > centre_error:
            _fail(name, f"its samples are not centred on w: on average w' − w = {mean:.2f}·scale. "
                  "torch.rand draws from [0, 1), which only looks one way.",
                  "draw Gaussian noise centred at 0: torch.randn(w.shape, generator=generator).")
        if not 0.85 < spread < 1.15:
            _fail(name, f"its samples are not spread by `scale`: the coordinates of w' − w have a "
                  f"root mean square of {spread:.2f}·scale (std {std:.2f}·scale), it should be 1·scale.",
                  "multiply the standard normal noise by `scale`: w + scale * torch.randn(...).")
        if better_taken == 0 or worse_kept == 0:  # pragma: no cover - the test points ensure both
            _fail(name, "the check could not test both cases; try another seed.")

    # 3. At the minimum every sample is worse: many steps must never move.
    d = dims[-1]
    target = torch.zeros(d)

    def bowl(v):
        return float((v**2).sum())

    w, J_w = target.clone(), 0.0
    for k in range(20):
        out = _call(name, random_search_step, bowl, w, J_w, 0.1,
                    torch.Generator().manual_seed(seed + k))
        w, J_w = out[0], _as_number(name, out[1], "new_J")
    if not torch.equal(w.detach(), target):
        _fail(name, "started at the minimum, it moved away: it accepts points that are not better.",
              "accept w' only if J(w') < J_w.")
    _pass(name, f"one evaluation per step, Gaussian samples around w with the given scale, "
          f"accepts only better points ({len(dims)} dimensions), reproducible with a generator.")


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


def _clone_model(model: torch.nn.Module) -> torch.nn.Module:
    import copy

    return copy.deepcopy(model)


def _grads_at(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """The true gradient of the loss at the model's current parameters (on a copy)."""
    twin = _clone_model(model)
    for p in twin.parameters():
        p.grad = None
    F.cross_entropy(twin(X), y).backward()
    return [p.grad.detach().clone() for p in twin.parameters()]


def _all_close(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor], tol: float = 1e-5) -> bool:
    """Every pair of tensors close (see _close); the sequences must have the same length."""
    return all(_close(x, z, tol) for x, z in zip(a, b, strict=True))


def _check_optimizer_step(
    name: str,
    call: Callable,  # call(loss, params, t) runs the student's step
    reference: Callable,  # reference(params) -> a torch.optim optimizer
    mistakes: Callable,  # mistakes(p0, g, stale, t) -> [(params after the mistake, what, look)]
    seed: int,
    steps: int,
    after_step: Callable | None = None,  # after_step(params, p0, t): extra checks (state)
) -> None:
    """Run the student's update and a torch.optim optimizer side by side; name the first mistake."""
    __tracebackhide__ = True
    gen = torch.Generator().manual_seed(seed)
    for model, X, y in _check_problems(gen):
        ref_model = _clone_model(model)
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
                _fail(name, f"the parameters did not change at step {t}.",
                      "update each parameter in place (`p -= ...` inside torch.no_grad()); "
                      "`p = p - ...` only rebinds a local name.")
            for candidate, what, look in mistakes(p0, g, stale, t):
                if _all_close(got, candidate):
                    _fail(name, f"at step {t}: {what}", look)
            _fail(name, f"after step {t} the parameters differ from torch.optim's: first values "
                  f"{_fmt(got[0])}, expected {_fmt(expected[0])}.",
                  "the update formula, and the order: zero the gradients, backward, then update.")


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
    forbid = [(torch.optim, "SGD"), (torch.optim.SGD, "step")]
    # lr must be used as given: a different factor along the gradient is named.
    gen = torch.Generator().manual_seed(seed + 99)
    model, X, y = _check_problems(gen)[0]
    params = list(model.parameters())
    for p in params:
        p.grad = _rand(p.shape, gen, 1.0).double()
    p0 = [p.detach().clone() for p in params]
    g = _grads_at(model, X, y)
    _call(name, fn, F.cross_entropy(model(X), y), params, 0.25, forbid=forbid)
    moved = torch.cat([(a - p.detach()).flatten() for a, p in zip(p0, params)])
    gflat = torch.cat([d.flatten() for d in g])
    factor = float(moved @ gflat / (gflat @ gflat))
    along = (moved - factor * gflat).norm() <= 1e-6 * moved.norm()  # a step along the gradient
    if along and abs(factor) > 1e-9 and min(abs(factor - 0.25), abs(factor + 0.25)) > 1e-6:
        _fail(name, f"with lr = 0.25 it moved {factor:.4g} × the gradient: it does not use the "
              "learning rate it is given.", "multiply the gradient by the argument `lr`.")
    for k, lr in enumerate(lrs):

        def call(loss, params, t, lr=lr):
            __tracebackhide__ = True
            out = _call(name, fn, loss, params, lr, forbid=forbid)
            if out is not None and not isinstance(out, list | tuple):
                _fail(name, f"returned a {type(out).__name__}; it should update the parameters in "
                      "place and return nothing.", "the parameters themselves: `p -= lr * p.grad`.")

        def mistakes(p0, g, stale, t, lr=lr):
            up = [p + lr * d for p, d in zip(p0, g)]
            accumulated = [p - lr * (d + s) for p, d, s in zip(p0, g, stale)]
            only_stale = [p - lr * s for p, s in zip(p0, stale)]
            found = [
                (up, "the parameters moved uphill (+lr·grad): the gradient points uphill, "
                 "a descent step goes the other way.", "the sign: p -= lr * p.grad."),
                (accumulated, "it used stale gradients: backward() adds to .grad, so the gradient "
                 "of an earlier step was still in it.",
                 "clear the gradients (p.grad = None, or p.grad.zero_()) before loss.backward()."),
                (only_stale, "it stepped with the old gradient in .grad; loss.backward() was never "
                 "called on the new loss.", "call loss.backward() before the update."),
            ]
            return found

        _check_optimizer_step(name, call, lambda ps, lr=lr: torch.optim.SGD(ps, lr=lr), mistakes,
                              seed=seed * 10 + k, steps=steps)
    _pass(name, f"matches torch.optim.SGD for {steps} steps at lr = {', '.join(map(str, lrs))} "
          "on two models, and leaves no stale gradients.")


__all__ += ["check_gradient_step"]


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
    forbid = [(torch.optim, "SGD"), (torch.optim.SGD, "step")]
    for k, (lr, beta) in enumerate(settings):
        state: dict[str, list[torch.Tensor]] = {}

        def call(loss, params, t, lr=lr, beta=beta, state=state):
            __tracebackhide__ = True
            if t == 1:
                state["steps"] = [torch.zeros_like(p) for p in params]
            state["before"] = [s.clone() for s in state["steps"]]
            out = _call(name, fn, loss, params, state["steps"], lr, beta, forbid=forbid)
            if out is not None and not isinstance(out, list | tuple):
                _fail(name, f"returned a {type(out).__name__}; it should update the parameters "
                      "and last_steps in place and return nothing.", "`p += step` and `step.copy_(...)`.")

        def after_step(params, p0, t, state=state):
            __tracebackhide__ = True
            taken = [p.detach() - a for p, a in zip(params, p0)]
            if _all_close(state["steps"], taken):
                return
            if _all_close(state["steps"], state["before"], 0):
                _fail(name, f"after step {t}, last_steps still holds the old step: the new step is "
                      "never stored, so the momentum term cannot build up.",
                      "write the step back in place: `step.copy_(new_step)` or `step.mul_(beta).add_(...)`"
                      "; `step = ...` only rebinds a local name.")
            _fail(name, f"after step {t}, last_steps should hold the step just taken, w_(t+1) − w_t, "
                  f"but it holds {_fmt(state['steps'][0])} while the step was {_fmt(taken[0])}.",
                  "store exactly the amount you added to each parameter.")

        def mistakes(p0, g, stale, t, lr=lr, beta=beta, state=state):
            v0 = state["before"]

            def heavy(grads, lr_=lr, b_on_step=beta, b_on_grad=1.0):
                return [p - lr_ * b_on_grad * d + b_on_step * v for p, d, v in zip(p0, grads, v0)]

            found = [
                (heavy(g, b_on_step=1.0, b_on_grad=beta), "β multiplies the gradient instead of the "
                 "previous step.", "w − lr·∇J + β·(w_t − w_(t−1)): β goes on the previous step."),
                (heavy(g, b_on_step=-beta), "it subtracts the previous step; momentum keeps moving the "
                 "way it went: + β·(w_t − w_(t−1)).", "the sign of the momentum term."),
                (heavy(g, lr_=-lr), "the parameters moved uphill (+lr·grad).",
                 "the sign of the gradient term: − lr·∇J."),
                (heavy([d + s for d, s in zip(g, stale)]), "it used stale gradients: backward() adds "
                 "to .grad, so the previous step's gradient was still in it.",
                 "clear the gradients (p.grad = None) before loss.backward()."),
                (heavy(g, b_on_step=1.0), "it adds the whole previous step, without the factor β.",
                 "multiply the previous step by beta."),
                (heavy(g, b_on_step=0.0), "no momentum term: this is a plain gradient step.",
                 "add β·(w_t − w_(t−1)), the step stored in last_steps."),
            ]
            return found

        _check_optimizer_step(
            name, call, lambda ps, lr=lr, beta=beta: torch.optim.SGD(ps, lr=lr, momentum=beta),
            mistakes, seed=seed * 10 + k, steps=steps, after_step=after_step,
        )
    _pass(name, f"matches torch.optim.SGD(momentum=β) for {steps} steps at (lr, β) = "
          f"{', '.join(map(str, settings))} on two models, and stores each step in last_steps.")


__all__ += ["check_momentum_step"]


# --------------------------------------------------------------------------- #
# Lessons 05-08: minibatches, adaptive methods, tuning
# --------------------------------------------------------------------------- #

__all__ += ["check_sample_minibatch"]


def _chi2_threshold(df: int, z: float = 4.75) -> float:
    """The chi-square value exceeded with probability ~1e-6 (Wilson-Hilferty approximation)."""
    a = 2.0 / (9.0 * df)
    return df * (1.0 - a + z * a**0.5) ** 3


def _minibatch_call(name, fn, X, y, batch_size, generator):
    __tracebackhide__ = True
    out = _call(name, fn, X, y, batch_size, generator,
                purpose=f", batch_size={batch_size}, generator")
    if not isinstance(out, tuple | list) or len(out) != 2:
        _fail(name, f"returned {type(out).__name__}, expected a pair (X_batch, y_batch).",
              "the return statement: `return X[idx], y[idx]`-style, images first.")
    Xb, yb = out
    expected = ((Xb, (batch_size, X.shape[1]), "X_batch"), (yb, (batch_size,), "y_batch"))
    for got, want, what in expected:
        if not isinstance(got, torch.Tensor):
            _fail(name, f"{what} is a {type(got).__name__}, not a torch.Tensor.",
                  "index the tensors X and y themselves.")
        if tuple(got.shape) != want:
            _fail(
                name,
                f"asked for batch_size={batch_size} from n={len(y)} examples, {what} has shape "
                f"{tuple(got.shape)}, expected {want}.",
                "return (X_batch, y_batch) in that order, batch_size rows each, drawn from all n "
                "indices 0 … n−1.",
            )
    return Xb, yb


def check_sample_minibatch(
    sample_minibatch: Callable,
    seed: int = 0,
    sizes: Sequence[tuple[int, int, int]] = (
        (100, 5, 1), (100, 5, 32), (50, 3, 50), (300, 784, 64)),
    draws: int = 4000,
) -> None:
    """Check sample_minibatch(X, y, batch_size, generator) -> (X_batch, y_batch).

    A batch must be an IID subset: batch_size distinct rows of X with their own labels,
    drawn with `generator` (same seed, same batch), every example equally likely.
    """
    __tracebackhide__ = True
    name = "sample_minibatch"
    gen = torch.Generator().manual_seed(seed)
    for n, d, bs in sizes:
        X = torch.randn(n, d, generator=gen)
        X[:, 0] = torch.arange(n, dtype=X.dtype)  # column 0 names each row: its index
        y = torch.randint(0, 10, (n,), generator=gen)
        X_before, y_before = X.clone(), y.clone()
        g = torch.Generator().manual_seed(seed + n + bs)
        Xb, yb = _minibatch_call(name, sample_minibatch, X, y, bs, g)
        if not (torch.equal(X, X_before) and torch.equal(y, y_before)):
            _fail(name, "it changed X or y in place (the training set must stay as it is).",
                  "in-place shuffles such as X[:] = X[perm]; index into a copy instead.")
        ids = Xb[:, 0].round().long()
        if ((ids < 0) | (ids >= n)).any() or not torch.equal(Xb, X[ids.clamp(0, n - 1)]):
            _fail(name, f"with n={n}, batch_size={bs}, some rows of X_batch are not rows of X.",
                  "select whole rows: X[idx] with one index tensor idx, not a shuffle of values.")
        if len(torch.unique(ids)) < bs:
            _fail(
                name,
                f"the same example appears more than once in one batch of {bs} (n={n}): "
                "this is sampling with repeats (with replacement).",
                "draw indices without replacement: "
                "torch.randperm(n, generator=generator)[:batch_size].",
            )
        if not torch.equal(yb, y[ids]):
            same_multiset = torch.equal(torch.sort(yb).values, torch.sort(y[ids]).values)
            what = ("holds the right labels in the wrong order" if same_multiset
                    else "holds labels of other examples")
            _fail(
                name,
                f"y_batch {what}: the labels were shuffled apart from the images, so an image is "
                "paired with another example's label.",
                "use the SAME index tensor for X and y: X[idx], y[idx].",
            )
        if bs < n and torch.equal(torch.sort(ids).values, torch.arange(bs)):
            _fail(name, f"returns the first {bs} rows of X, not a random subset.",
                  "draw random indices with the generator.")

    # Reproducible with the generator, and a fresh batch at each call.
    n, bs = 200, 20
    X = torch.randn(n, 4, generator=gen)
    X[:, 0] = torch.arange(n, dtype=X.dtype)
    y = torch.randint(0, 10, (n,), generator=gen)
    first = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)  # a function that ignores `generator` sees this change
        g = torch.Generator().manual_seed(seed + 7)
        first.append(_minibatch_call(name, sample_minibatch, X, y, bs, g)[0][:, 0])
        again = _minibatch_call(name, sample_minibatch, X, y, bs, g)[0][:, 0]
    if not torch.equal(first[0], first[1]):
        _fail(
            name,
            "two generators with the same seed gave different batches: the function ignores "
            "`generator` and uses torch's global random state, so runs are not reproducible.",
            "pass generator=generator to torch.randperm (or torch.rand).",
        )
    if torch.equal(first[1], again):
        _fail(
            name,
            "two calls with the same generator returned the same batch: every step would see "
            "the same examples.",
            "do not re-seed or create a new generator inside the function; "
            "draw from the one given.",
        )

    # Over many draws every example is drawn equally often (a chi-square test at a fixed seed).
    n, bs = 40, 10
    X = torch.zeros(n, 2)
    X[:, 0] = torch.arange(n, dtype=X.dtype)
    y = torch.arange(n) % 10
    g = torch.Generator().manual_seed(seed + 11)
    counts = torch.zeros(n)
    for _ in range(draws):
        Xb, _yb = _minibatch_call(name, sample_minibatch, X, y, bs, g)
        counts += torch.bincount(Xb[:, 0].round().long().clamp(0, n - 1), minlength=n)
    expected = draws * bs / n
    never = (counts == 0).nonzero().flatten().tolist()
    if never:
        _fail(
            name,
            f"over {draws} batches of {bs} from n={n} examples, example(s) {never} were never "
            "drawn: not every example can be sampled.",
            "the range of your indices: they must cover 0 … n−1 (an off-by-one such as n−1?).",
        )
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    limit = _chi2_threshold(n - 1)
    if chi2 > limit:
        lo, hi = int(counts.min()), int(counts.max())
        _fail(
            name,
            f"not uniform: over {draws} batches each example should be drawn about "
            f"{expected:.0f} times, yours range from {lo} to {hi} (chi-square {chi2:.0f} > "
            f"{limit:.0f}).",
            "every example must be equally likely: a uniform random permutation or uniform draws.",
        )
    _pass(
        name,
        f"batches of the right size, distinct rows kept with their labels, reproducible with the "
        f"generator, and uniform over {draws} draws (chi-square {chi2:.0f} < {limit:.0f}).",
    )


# Lesson 07: RMSprop and Adam, one step at a time, against torch.optim.

__all__ += ["check_rmsprop_step", "check_adam_step"]


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
        state = {k: [opt.state[p][k].clone() for p in params]
                 for k in opt.state[params[0]] if torch.is_tensor(opt.state[params[0]][k])}
        out.append(([p.detach().clone() for p in params], state))
    return out


def _step_call(name, fn, params, *args, forbid=(), **kwargs):
    __tracebackhide__ = True
    with torch.no_grad():
        return _call(name, fn, params, *args, forbid=forbid, **kwargs)


def _make_problem(seed, shapes, steps, scale=1.0):
    gen = torch.Generator().manual_seed(seed)
    grads = [[torch.randn(s, generator=gen, dtype=torch.float64) * scale for s in shapes]
             for _ in range(steps)]
    start = [torch.randn(s, generator=gen, dtype=torch.float64) for s in shapes]
    return grads, start


def _params_with_grads(values, grads):
    params = [v.clone().requires_grad_() for v in values]
    for p, g in zip(params, grads, strict=True):
        p.grad = g.clone()
    return params


_RMSPROP_IMPLS = [(torch.optim, "RMSprop"), (torch.optim.RMSprop, "step")]
_ADAM_IMPLS = [(torch.optim, "Adam"), (torch.optim, "AdamW"), (torch.optim.Adam, "step"),
               (torch.optim.AdamW, "step")]


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
    values = [s.clone() for s in start]
    squares = [torch.zeros(s, dtype=torch.float64) for s in shapes]
    for t in range(steps):
        params = _params_with_grads(values, grads[t])
        before = [p.detach().clone() for p in params]
        v_before = [v.clone() for v in squares]
        _step_call(name, rmsprop_step, params, squares, lr, alpha, eps, forbid=_RMSPROP_IMPLS,
                   purpose=f", lr={lr}, alpha={alpha}, eps={eps}")
        after = [p.detach().clone() for p in params]
        v_torch = ref[t][1]["square_avg"]
        g = grads[t]
        if _all_close(after, before, 0):
            _fail(
                name,
                f"step {t + 1}: the parameters did not change. `p = p - ...` only gives the name p "
                "a new tensor inside your function; the model's tensor stays the same.",
                "update in place: p -= ... (or p.sub_(...)), under torch.no_grad() as given.",
            )
        if not all(torch.is_tensor(v) and v.shape == s for v, s in
                   zip(squares, [torch.Size(s) for s in shapes], strict=True)):
            _fail(name, "`squares` must keep one tensor per parameter, of the parameter's shape.",
                  "update squares[i] in place (v.mul_(...).add_(...)) or assign squares[i] = ...")
        if t == 0 and _all_close(squares, v_before, 0):
            _fail(
                name,
                "the running averages in `squares` are still zero after a step: the state was "
                "not written back, so the next step starts from v = 0 again.",
                "write v back: squares[i] = new_v, or update it in place with v.mul_(alpha)"
                ".add_(...); `v = ...` inside the loop only renames.",
            )
        if not _all_close(squares, v_torch):
            if _all_close(squares, swapped[t][1]["square_avg"]):
                _fail(name, f"step {t + 1}: the moving average gives weight α to the new squared "
                      "gradient and 1 − α to the old average: the weights are swapped.",
                      "v ← α·v + (1 − α)·g²: the old average keeps the large weight α.")
            if _all_close(squares, adagrad[t][1]["sum"]):
                _fail(name, f"step {t + 1}: `squares` holds the running SUM of squared gradients: "
                      "that is Adagrad, not RMSprop's moving average.",
                      "v ← α·v + (1 − α)·g²")
            if t > 0 and _all_close(squares, v_before, 0):
                _fail(name, f"step {t + 1}: `squares` did not change after step 1: the state "
                      "is not written back at every step.",
                      "update every squares[i] at every call.")
            if _all_close(squares, [(1 - alpha) * gi**2 for gi in g]):
                _fail(name, f"step {t + 1}: the average forgets the previous value of v.",
                      "v ← α·v + (1 − α)·g² uses the v from the previous step.")
            _fail(name, f"step {t + 1}: squares[0] is {_fmt(squares[0])}, torch.optim.RMSprop's "
                  f"running average is {_fmt(v_torch[0])}.", "v ← α·v + (1 − α)·g².")
        # The step itself: slides' form, ε inside the root.
        step = [a - b for a, b in zip(after, before, strict=True)]
        torch_step = [a - b for a, b in zip(ref[t][0], ref[t - 1][0] if t else
                                            [torch.zeros_like(x) for x in ref[t][0]], strict=True)]
        if _all_close([s * (v + eps).sqrt() / lr for s, v in zip(step, v_torch, strict=True)],
                      [-gi for gi in g]):
            continue
        if _all_close(step, torch_step):
            _fail(
                name,
                "you put ε outside the square root, g / (sqrt(v) + ε): that is torch's form "
                "(torch.optim.RMSprop). This exercise follows the slides: g / sqrt(v + ε).",
                "move ε inside: (v + eps).sqrt().",
            )
        if _all_close(step, [-s for s in torch_step], 1e-3) or _all_close(
                [s * (v + eps).sqrt() / lr for s, v in zip(step, v_torch, strict=True)], g):
            _fail(name, "the parameters moved uphill (along +g): the sign of the step is flipped.",
                  "w ← w − lr · g / sqrt(v + ε): subtract.")
        if _all_close([s * (v + eps) / lr for s, v in zip(step, v_torch, strict=True)],
                      [-gi for gi in g]):
            _fail(name, "the step divides by v + ε, not by its square root.",
                  "g / sqrt(v + ε): v is an average of SQUARED gradients, the root brings it "
                  "back to the scale of g.")
        if _all_close([s * (v + eps).sqrt() / lr for s, v in zip(step, v_before, strict=True)],
                      [-gi for gi in g]):
            _fail(name, "the step divides by the previous average (before this step's update).",
                  "update v first, then divide by sqrt(v + ε) with the new v.")
        _fail(name, f"step {t + 1}: the parameters moved by {_fmt(step[0])}, the slides' RMSprop "
              f"step is {_fmt(-lr * g[0] / (v_torch[0] + eps).sqrt())}.",
              "w ← w − lr · g / sqrt(v + ε), with the v of this step.")
    _pass(name, f"{steps} steps match the slides' RMSprop (running averages as in "
          "torch.optim.RMSprop, ε inside the square root).")


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
    step number, 1 at the first step; the parameters are updated in place. With ε = 1e-8,
    ε inside or outside the root gives the same numbers to many digits; both pass.
    """
    __tracebackhide__ = True
    name = "adam_step"
    b1, b2 = betas
    grads, start = _make_problem(seed, shapes, steps)
    ref = _opt_run(torch.optim.Adam, grads, shapes, lr=lr, betas=betas, eps=eps)
    swapped = _opt_run(torch.optim.Adam, grads, shapes, lr=lr, betas=(1 - b1, 1 - b2), eps=eps)
    values = [s.clone() for s in start]
    m = [torch.zeros(s, dtype=torch.float64) for s in shapes]
    v = [torch.zeros(s, dtype=torch.float64) for s in shapes]
    for t in range(1, steps + 1):
        params = _params_with_grads(values, grads[t - 1])
        before = [p.detach().clone() for p in params]
        m_before, v_before = [x.clone() for x in m], [x.clone() for x in v]
        _step_call(name, adam_step, params, m, v, t, lr, b1, b2, eps, forbid=_ADAM_IMPLS,
                   purpose=f", t={t}, lr={lr}, beta1={b1}, beta2={b2}, eps={eps}")
        after = [p.detach().clone() for p in params]
        values = after
        state = ref[t - 1][1]
        if _all_close(after, before, 0):
            _fail(name, f"step {t}: the parameters did not change.",
                  "update in place: p -= ... (or p.sub_(...)); `p = p - ...` only renames.")
        for moments, label, key, was in ((m, "m", "exp_avg", m_before),
                                         (v, "v", "exp_avg_sq", v_before)):
            if _all_close(moments, state[key]):
                continue
            if _all_close(moments, was, 0):
                _fail(name, f"step {t}: the moment {label} did not change: the state was not "
                      "written back, so every step starts from zero moments again.",
                      f"write it back: {label}[i] = ..., or update it in place "
                      f"({label}[i].mul_(...).add_(...)); a plain `{label}_i = ...` only renames.")
            if _all_close(moments, swapped[t - 1][1][key]):
                _fail(name, f"step {t}: in the moving average {label}, the β weight is on the new "
                      "gradient term: the weights are swapped.",
                      f"{label} ← β·{label} + (1 − β)·(new term): the old value keeps the large "
                      "weight β.")
            _fail(name, f"step {t}: {label}[0] is {_fmt(moments[0])}, torch.optim.Adam's is "
                  f"{_fmt(state[key][0])}.",
                  "m ← β1·m + (1 − β1)·g and v ← β2·v + (1 − β2)·g², with this step's g.")
        torch_step = [a - b for a, b in zip(ref[t - 1][0], ref[t - 2][0] if t > 1 else
                                            [torch.zeros_like(x) for x in ref[0][0]], strict=True)]
        step = [a - b for a, b in zip(after, before, strict=True)]
        if _all_close(step, torch_step, 1e-4):
            continue
        if not all(torch.isfinite(s).all() for s in step):
            _fail(name, f"step {t}: the parameters became inf or nan. With t = {t}, a bias "
                  "correction 1 − β^(t−1) is 0 at the first step.",
                  "the correction is m / (1 − β1^t), v / (1 − β2^t) with t = 1 at the first step.")
        if _all_close(step, [-s for s in torch_step], 1e-4):
            _fail(name, "the parameters moved uphill: the sign of the step is flipped.",
                  "θ ← θ − lr · m̂ / (sqrt(v̂) + ε): subtract.")
        if t == 1:
            # At the first step m̂/sqrt(v̂) = g/|g|: a correct step has size lr in every coordinate.
            ratio = torch.cat([(s.abs() / lr).flatten() for s in step]).median().item()
            known = [
                ((1 - b1) / (1 - b2) ** 0.5, "there is no bias correction: m and v start at 0, so "
                 "the first steps are too large (or too small) by 1 − β1 over sqrt(1 − β2)."),
                (1 / (1 - b2) ** 0.5, "only m is bias-corrected, v is not."),
                (1 - b1, "only v is bias-corrected, m is not."),
                (((1 - b1) / (1 - b1**2)) / ((1 - b2) / (1 - b2**2)) ** 0.5,
                 "the bias correction uses the wrong power: at the first step it must divide "
                 "by 1 − β^1 (t starts at 1)."),
            ]
            for value, what in known:
                if abs(ratio / value - 1) < 1e-3:
                    _fail(name, f"step 1 moved each weight by {ratio:.3g}·lr instead of lr: {what}",
                          "m̂ = m / (1 − β1^t), v̂ = v / (1 − β2^t), θ ← θ − lr·m̂/(sqrt(v̂) + ε).")
        _fail(name, f"step {t}: the parameters moved by {_fmt(step[0])}, torch.optim.Adam moves "
              f"them by {_fmt(torch_step[0])}"
              + (" (step 1 was right: does the bias correction use this step's t?)" if t > 1
                 else "."),
              "m̂ = m / (1 − β1^t), v̂ = v / (1 − β2^t), θ ← θ − lr·m̂/(sqrt(v̂) + ε).")
    _pass(name, f"{steps} steps match torch.optim.Adam (moments and parameters).")


# Lesson 05: many MLPs at once, with batched matrix products.

__all__ += ["check_stacked_mlp"]


def _mlp_oracle(X, W1, b1, W2, b2, activation=torch.nn.ReLU):
    """Each model s through the course's own MLP module, one at a time."""
    from course_utils.models import MLP

    S, D, H = W1.shape
    K = W2.shape[2]
    outs = []
    for s in range(S):
        net = MLP(hidden=(H,), n_inputs=D, n_classes=K, activation=activation).double()
        with torch.no_grad():
            net.net[0].weight.copy_(W1[s].T)
            net.net[0].bias.copy_(b1[s])
            net.net[2].weight.copy_(W2[s].T)
            net.net[2].bias.copy_(b2[s])
            outs.append(net(X.double()))
    return torch.stack(outs)


def check_stacked_mlp(
    stacked_mlp: Callable,
    seed: int = 0,
    shapes: Sequence[tuple[int, int, int, int, int]] = ((4, 4, 7, 3, 10), (3, 5, 4, 6, 2),
                                                         (1, 8, 784, 16, 10), (6, 2, 3, 5, 4)),
) -> None:
    """Check stacked_mlp(X, W1, b1, W2, b2) -> logits (S, B, K) of S one-hidden-layer MLPs.

    X (B, D) is shared; model s has W1[s] (D, H), b1[s] (H,), W2[s] (H, K), b2[s] (K,) and
    computes relu(X W1[s] + b1[s]) W2[s] + b2[s]. Each (S, B, D, H, K) in `shapes` is compared
    with the course's MLP module run on each model separately.
    """
    __tracebackhide__ = True
    name = "stacked_mlp"
    gen = torch.Generator().manual_seed(seed)
    for S, B, D, H, K in shapes:
        X = torch.randn(B, D, generator=gen)
        W1, b1 = torch.randn(S, D, H, generator=gen), torch.randn(S, H, generator=gen)
        W2, b2 = torch.randn(S, H, K, generator=gen), torch.randn(S, K, generator=gen)
        args = [X, W1, b1, W2, b2]
        before = [a.clone() for a in args]
        out = _call(name, stacked_mlp, *args, purpose=f" (S={S} models, B={B}, D={D}, H={H}, "
                    f"K={K})")
        if not all(torch.equal(a, b) for a, b in zip(args, before, strict=True)):
            _fail(name, "it changed its inputs in place.", "in-place operations such as += or "
                  "relu_ on the weights or on X.")
        expected = _mlp_oracle(X, W1, b1, W2, b2)
        if isinstance(out, torch.Tensor) and S not in (1, B) and tuple(out.shape) == (B, S, K):
            _fail(name, f"returned shape (B, S, K) = {tuple(out.shape)}; the models come first: "
                  f"(S, B, K) = {(S, B, K)}.", "the order of your dimensions (no transpose "
                  "needed if X is multiplied by the stacked weights directly).")
        if isinstance(out, torch.Tensor) and tuple(out.shape) == (B, K) and S > 1:
            _fail(name, f"returned shape {(B, K)}: one output for all {S} models together (a "
                  "sum or mean over the models?).", "keep the models axis: (S, B, K).")
        out = _require_tensor(name, out, (S, B, K), "one row of K logits per model and example")
        got = out.detach().double()
        if _close(got, expected, 1e-4):
            continue
        if S == B and _close(got, expected.transpose(0, 1), 1e-4):
            _fail(name, "out[s, b] holds model b on example s: the models come first, "
                  "(S, B, K), and the axes are swapped.", "the order of your dimensions.")
        if _close(got, _mlp_oracle(X, W1, b1, W2, b2, torch.nn.Identity), 1e-4):
            _fail(name, "no nonlinearity between the layers: the hidden layer must go through a "
                  "ReLU.", "torch.relu(...) on the hidden pre-activations.")
        if S > 1 and _close(got[0], expected[0], 1e-4):
            _fail(name, "model 0 is right but the others are not: every model must use its own "
                  "weights and biases.", "index or broadcast per model: W1 is (S, D, H), "
                  "b1 is (S, H) and must be added as b1[:, None, :].")
        if S == B and S > 1:
            shuffled = X.double() @ W1.double() + b1.double()  # bias indexed by example
            wrong = torch.relu(shuffled) @ W2.double() + b2.double()
            if _close(got, wrong, 1e-4):
                _fail(name, "the biases are added per example instead of per model: b1 of shape "
                      "(S, H) broadcast against (S, B, H) lines up with the examples.",
                      "add b1[:, None, :] (and b2[:, None, :]): one bias row per model.")
        _fail(name, f"for S={S}, B={B}, D={D}, H={H}, K={K}: out[0, 0] is {_fmt(got[0, 0])}, "
              f"model 0 on example 0 gives {_fmt(expected[0, 0])}.",
              "relu(X @ W1[s] + b1[s]) @ W2[s] + b2[s] for every model s, all at once.")
    _pass(name, f"matches the course's MLP module, model by model, on {len(shapes)} shapes.")


# Lesson 08: the challenge (a training function under a counted budget) and the quiz.

__all__ += ["BudgetExceeded", "CountedData", "check_challenge", "check_quiz"]


class BudgetExceeded(RuntimeError):
    """The training function asked for more examples than its budget allows."""


class CountedData:
    """The training set, seen only through `batch(idx)`, which counts every example drawn.

    data.n is the number of training examples; data.batch(idx) returns (X[idx], y[idx]) and
    adds len(idx) to data.used; asking for more than data.budget examples in total raises
    BudgetExceeded. One example drawn = one example-gradient of the budget (a forward pass
    alone costs the same).
    """

    def __init__(self, X: torch.Tensor, y: torch.Tensor, budget: int):
        self._X, self._y = X, y
        self.n = len(y)
        self.budget = int(budget)
        self.used = 0

    @property
    def left(self) -> int:
        return self.budget - self.used

    def batch(self, idx) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.as_tensor(idx, dtype=torch.long).flatten()
        if self.used + len(idx) > self.budget:
            raise BudgetExceeded(
                f"the budget of {self.budget:,} examples is used up ({self.used:,} drawn, "
                f"this batch asks for {len(idx):,} more)")
        self.used += len(idx)
        return self._X[idx].clone(), self._y[idx].clone()


def check_challenge(
    train_challenge: Callable,
    seed: int = 0,
    budget: int = 60_000,
    threshold: float = 0.95,
) -> None:
    """Run train_challenge(data, generator) under a counted budget; grade its test accuracy.

    `data` is a CountedData over the 60,000 MNIST training images (budget examples at most);
    the function returns a model (any callable mapping (N, 784) images to (N, 10) logits).
    It passes when the model's accuracy on the 10,000 test images reaches `threshold`.
    """
    __tracebackhide__ = True
    from course_utils.data import load_mnist

    name = "train_challenge"
    X, y = load_mnist("train")
    X_test, y_test = load_mnist("test")
    data = CountedData(X, y, budget)
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    over = object()

    def under_budget(data, generator):
        try:
            return train_challenge(data, generator)
        except BudgetExceeded:
            return over

    model = _call(name, under_budget, data, gen, purpose=f", a budget of {budget:,}")
    if model is over:
        _fail(name, f"it asked for more than its budget of {budget:,} training examples.",
              "count your steps: steps × batch size must stay within data.budget "
              "(data.left tells what is left).")
    if model is None or not callable(model):
        _fail(name, f"returned {type(model).__name__}; return the trained model.",
              "the return statement at the end of your function.")
    was_training = getattr(model, "training", None)
    if hasattr(model, "eval"):
        model.eval()
    with torch.no_grad():
        logits = model(X_test)
    if was_training and hasattr(model, "train"):
        model.train()
    if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (len(y_test), 10):
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        _fail(name, f"the model maps the (10000, 784) test images to {shape}, expected "
              "(10000, 10) logits.", "the model's output layer.")
    acc = (logits.argmax(dim=1) == y_test).float().mean().item()
    if not acc >= threshold:
        _fail(name, f"test accuracy {acc:.2%} with {data.used:,} of {budget:,} training "
              f"examples: below the {threshold:.0%} the challenge asks for.",
              "the learning rate first (lesson 08), then the optimizer (Adam, lesson 07), the "
              "batch size (lesson 06) and the width of the network (lesson 05).")
    _pass(name, f"test accuracy {acc:.2%} ≥ {threshold:.0%} using {data.used:,} of the "
          f"{budget:,} training examples allowed.")


# Salted hashes of the right answers: the check can tell right from wrong without holding
# the answer in readable form.
_QUIZ = {
    "q1": ("e5920cc12241618a", "lesson 01, section 4 (the 0-1 loss and its surrogates)"),
    "q2": ("5486c1ab756d6279", "lesson 02 (random search and the curse of dimensionality)"),
    "q3": ("cbde0a1730211791", "lesson 03 (the gradient descent update)"),
    "q4": ("a4d12318f084c93d", "lesson 04 (momentum on a badly conditioned valley)"),
    "q5": ("40d9818b9c8eb829", "lesson 05, the lab (width against initialization)"),
    "q6": ("5a534484604ffae5", "lesson 06, section 3 (gradient noise)"),
    "q7": ("ad1ad72f92e8d86f", "lesson 06, section 2 (epochs and shuffling)"),
    "q8": ("6dc10b0081a65a8f", "lesson 07, sections 3 and 4 (Adagrad and RMSprop)"),
    "q9": ("f621eb2696f78b63", "lesson 07, section 5 (Adam's bias correction)"),
    "q10": ("009ddadc3245edee", "lesson 08, section 1 (what to tune first)"),
}


def check_quiz(answer_fn: Callable[[], str], question: str) -> None:
    """Check a quiz answer: answer_fn() returns one letter, a, b, c or d."""
    __tracebackhide__ = True
    import hashlib

    name = f"quiz {question}"
    if question not in _QUIZ:
        _fail(name, f"there is no question {question!r}.", f"one of {list(_QUIZ)}.")
    answer = _call(name, answer_fn)
    if not isinstance(answer, str) or answer.strip().lower() not in ("a", "b", "c", "d"):
        _fail(name, f"answer with one letter, \"a\", \"b\", \"c\" or \"d\"; got {answer!r}.",
              "the return statement: return \"a\" (for example).")
    letter = answer.strip().lower()
    digest = hashlib.sha256(f"optim-course|{question}|{letter}".encode()).hexdigest()[:16]
    expected, where = _QUIZ[question]
    if digest != expected:
        _fail(name, f"\"{letter}\" is not the right answer.", where)
    _pass(name, f"\"{letter}\" is right.")
