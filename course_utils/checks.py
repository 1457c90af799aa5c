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


def _call(name: str, fn: Callable, *args, forbid=(), purpose: str = "", **kwargs):
    """Run the student's function and turn every way it can break into a diagnosis."""
    __tracebackhide__ = True
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
