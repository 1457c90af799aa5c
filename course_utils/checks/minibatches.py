"""Lesson 06's checker: sampling a minibatch, tested by its properties."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from course_utils.checks.calling import _call, _untampered
from course_utils.checks.reporting import _fail, _pass

__all__ = ["check_sample_minibatch"]


def _chi2_threshold(df: int, z: float = 4.75) -> float:
    """The chi-square value exceeded with probability ~1e-6 (Wilson-Hilferty approximation)."""
    a = 2.0 / (9.0 * df)
    return df * (1.0 - a + z * a**0.5) ** 3


def _minibatch_call(name, fn, X, y, batch_size, generator, tamper_check=True):
    __tracebackhide__ = True
    out = _call(
        name,
        fn,
        X,
        y,
        batch_size,
        generator,
        purpose=f", batch_size={batch_size}, generator",
        tamper_check=tamper_check,
    )
    return _a_batch(name, out, X, batch_size)


def _minibatch_calls(name, fn, X, y, batch_size, generator, times):
    """`times` draws with one generator: one round trip when grading (see remote.py)."""
    __tracebackhide__ = True
    outs = _call(
        name,
        fn,
        X,
        y,
        batch_size,
        generator,
        purpose=f", batch_size={batch_size}, generator",
        tamper_check=False,
        times=times,
    )
    return [_a_batch(name, out, X, batch_size) for out in outs]


def _a_batch(name, out, X, batch_size):
    """The pair (X_batch, y_batch) a call returned, with its types and shapes checked."""
    __tracebackhide__ = True
    if not isinstance(out, tuple | list) or len(out) != 2:
        _fail(
            name,
            f"returned {type(out).__name__}, expected a pair (X_batch, y_batch).",
            "the return statement: a pair, the rows of X first, then their labels.",
        )
    Xb, yb = out
    expected = ((Xb, (batch_size, X.shape[1]), "X_batch"), (yb, (batch_size,), "y_batch"))
    for got, want, what in expected:
        if not isinstance(got, torch.Tensor):
            _fail(
                name,
                f"{what} is a {type(got).__name__}, not a torch.Tensor.",
                "index the tensors X and y themselves.",
            )
        if tuple(got.shape) != want:
            _fail(
                name,
                f"asked for batch_size={batch_size} from n={len(X)} examples, {what} has shape "
                f"{tuple(got.shape)}, expected {want}.",
                "return (X_batch, y_batch) in that order, batch_size rows each, drawn from all n "
                "indices 0 … n−1.",
            )
    return Xb, yb


def _numbered(n: int, d: int, gen: torch.Generator | None = None) -> torch.Tensor:
    """n rows of d features whose column 0 names each row: its index."""
    X = torch.randn(n, d, generator=gen) if gen is not None else torch.zeros(n, d)
    X[:, 0] = torch.arange(n, dtype=X.dtype)
    return X


def check_sample_minibatch(
    sample_minibatch: Callable,
    seed: int = 0,
    sizes: Sequence[tuple[int, int, int]] = ((100, 5, 1), (100, 5, 32), (50, 3, 50), (300, 784, 64)),
    draws: int = 4000,
) -> None:
    """Check sample_minibatch(X, y, batch_size, generator) -> (X_batch, y_batch).

    A batch must be a uniformly random subset: batch_size distinct rows of X with their own labels
    (draws without repeats are not independent, so not strictly IID),
    drawn with `generator` (same seed, same batch), every example equally likely.
    """
    __tracebackhide__ = True
    name = "sample_minibatch"
    gen = torch.Generator().manual_seed(seed)
    for n, d, bs in sizes:
        _check_one_batch(name, sample_minibatch, n, d, bs, gen, torch.Generator().manual_seed(seed + n + bs))
    _check_generator_use(name, sample_minibatch, gen, seed)
    chi2, limit = _check_uniform(name, sample_minibatch, draws, seed)
    _pass(
        name,
        f"batches of the right size, distinct rows kept with their labels, reproducible with the "
        f"generator, and uniform over {draws} draws (chi-square {chi2:.0f} < {limit:.0f}).",
    )


def _check_one_batch(
    name: str, fn: Callable, n: int, d: int, bs: int, gen: torch.Generator, g: torch.Generator
) -> None:
    """One batch of bs from n examples: whole distinct rows of X, each with its own label."""
    __tracebackhide__ = True
    X = _numbered(n, d, gen)
    y = torch.randint(0, 10, (n,), generator=gen)
    X_before, y_before = X.clone(), y.clone()
    Xb, yb = _minibatch_call(name, fn, X, y, bs, g)
    if not (torch.equal(X, X_before) and torch.equal(y, y_before)):
        _fail(
            name,
            "it changed X or y in place (the training set must stay as it is).",
            "an in-place shuffle (assigning into X[...] or y[...]); select the rows into a new "
            "tensor instead.",
        )
    ids = Xb[:, 0].round().long()
    if ((ids < 0) | (ids >= n)).any() or not torch.equal(Xb, X[ids.clamp(0, n - 1)]):
        _fail(
            name,
            f"with n={n}, batch_size={bs}, some rows of X_batch are not rows of X.",
            "select whole rows of X by their row numbers, not a shuffle of individual values.",
        )
    if len(torch.unique(ids)) < bs:
        _fail(
            name,
            f"the same example appears more than once in one batch of {bs} (n={n}): "
            "this is sampling with repeats (with replacement).",
            "how you draw the row numbers: without replacement, no index may come twice in one batch "
            "(a random ordering of all n indices has no repeats).",
        )
    if not torch.equal(yb, y[ids]):
        same_multiset = torch.equal(torch.sort(yb).values, torch.sort(y[ids]).values)
        what = (
            "holds the right labels in the wrong order" if same_multiset else "holds labels of other examples"
        )
        _fail(
            name,
            f"y_batch {what}: the labels were shuffled apart from the images, so an image is "
            "paired with another example's label.",
            "select the images and the labels with the SAME row numbers, in the same order.",
        )
    if bs < n and torch.equal(torch.sort(ids).values, torch.arange(bs)):
        _fail(
            name,
            f"returns the first {bs} rows of X, not a random subset.",
            "draw random indices with the generator.",
        )


def _check_generator_use(name: str, fn: Callable, gen: torch.Generator, seed: int) -> None:
    """Reproducible with the generator, and a fresh batch at each call."""
    __tracebackhide__ = True
    n, bs = 200, 20
    X = _numbered(n, 4, gen)
    y = torch.randint(0, 10, (n,), generator=gen)
    first = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)  # a function that ignores `generator` sees this change
        g = torch.Generator().manual_seed(seed + 7)
        first.append(_minibatch_call(name, fn, X, y, bs, g)[0][:, 0])
        again = _minibatch_call(name, fn, X, y, bs, g)[0][:, 0]
    if not torch.equal(first[0], first[1]):
        _fail(
            name,
            "two generators with the same seed gave different batches: the function ignores "
            "`generator` and uses torch's global random state, so runs are not reproducible.",
            "pass the `generator` you are given to every torch random function you call.",
        )
    if torch.equal(first[1], again):
        _fail(
            name,
            "two calls with the same generator returned the same batch: every step would see "
            "the same examples.",
            "do not re-seed or create a new generator inside the function; draw from the one given.",
        )


def _check_uniform(name: str, fn: Callable, draws: int, seed: int) -> tuple[float, float]:
    """Over many draws every example is drawn equally often (a chi-square test at a fixed seed)."""
    __tracebackhide__ = True
    n, bs = 40, 10
    X = _numbered(n, 2)
    y = torch.arange(n) % 10
    g = torch.Generator().manual_seed(seed + 11)
    counts = torch.zeros(n)
    _untampered(name)  # before the draws and after them, not before each of them
    for Xb, _yb in _minibatch_calls(name, fn, X, y, bs, g, draws):
        counts += torch.bincount(Xb[:, 0].round().long().clamp(0, n - 1), minlength=n)
    _untampered(name)
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
    return chi2, limit
