"""Lesson 01's checkers: softmax and cross-entropy, against torch's own."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from course_utils.checks.calling import _call
from course_utils.checks.reporting import Known, _close, _diagnose, _fail, _fmt, _pass, _rand, _require_tensor

__all__ = ["check_softmax", "check_cross_entropy"]

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

# What a mistaken softmax returns for logits z (N, K), in float64.
_SOFTMAX_MISTAKES: list[Known] = [
    (
        lambda z: torch.log_softmax(z, dim=1),
        "returned log-probabilities.",
        "return the probabilities themselves.",
    ),
    (
        lambda z: torch.softmax(z, dim=0) if len(z) > 1 else None,
        "normalized each column (over the examples), not each row. A row holds one example's K logits "
        "and must sum to 1.",
        "the dimension of your sum: each row (one example's K classes) must sum to 1, and the sum must keep "
        "its axis so that the division broadcasts row by row.",
    ),
    (
        lambda z: z.exp() / z.exp().sum(),
        "divided by the sum over the whole tensor, so only the grand total is 1.",
        "the denominator: one sum per row, over that example's classes, not one sum over everything.",
    ),
]


def _picked_log_p(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """log p(correct class) of each example (torch's own cross-entropy, per example)."""
    return -F.cross_entropy(z, y, reduction="none")


# What a mistaken cross-entropy returns for logits z (N, K) and targets y (N,), in float64;
# each diagnosis follows "for this batch of N examples your loss ".
_CROSS_ENTROPY_MISTAKES: list[Known] = [
    (
        lambda z, y: -F.cross_entropy(z, y),
        "has the wrong sign: cross-entropy is −log p(correct class), a positive number.",
        "the minus sign in −log p.",
    ),
    (
        lambda z, y: F.cross_entropy(z, y, reduction="sum"),
        "is the sum over the batch, not the mean.",
        "the empirical risk is the mean: divide the sum by the number of examples N.",
    ),
    (
        lambda z, y: -torch.log_softmax(z, dim=1).mean(),
        "averages −log p over all classes; only the correct class counts.",
        "in row i keep only the entry of the correct class y_i: one value per example, "
        "chosen by the targets.",
    ),
    (
        lambda z, y: F.nll_loss(torch.log_softmax(z, dim=0), y),
        "normalizes over the batch (dim=0), not over the classes.",
        "the log-sum-exp runs over each row: dim=1.",
    ),
    (
        lambda z, y: F.nll_loss(z, y),
        "returns −z[correct class] without the normalizer.",
        "−log p_y = −z_y + log Σ_j e^{z_j}: add the log-sum-exp term.",
    ),
    (
        lambda z, y: -_picked_log_p(z, y).exp().mean(),
        "averages −p(correct class), not −log p.",
        "take the log.",
    ),
    (
        lambda z, y: (-_picked_log_p(z, y)).exp().mean(),
        "averages 1/p(correct class), not −log p.",
        "take the log of the probability.",
    ),
    (
        lambda z, y: -_picked_log_p(z, y)[0] if len(y) > 1 else None,
        "is the loss of the first example only.",
        "average over all rows.",
    ),
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
        if not _close(out, torch.softmax(z.double(), dim=1)):
            _softmax_mistake(name, out.detach().double(), z.double())

    # Large logits: exp(1000) overflows float32, so a correct softmax must shift first.
    big = torch.tensor([[1000.0, 1001.0, 1002.0], [-1000.0, -1000.0, -999.0], [0.0, 0.0, 90.0]])
    out = _require_tensor(
        name, _call(name, softmax, big.clone(), forbid=_SOFTMAX_IMPLS), big.shape, "one probability per logit"
    )
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


def _softmax_mistake(name: str, got: torch.Tensor, z: torch.Tensor) -> None:
    """Name what is wrong with a softmax output `got` (float64) for logits z: always fails."""
    __tracebackhide__ = True
    if not torch.isfinite(got).all():
        _fail(
            name,
            f"returned inf or nan for ordinary logits of shape {tuple(z.shape)}.",
            "the division: the denominator is the sum of exp over each row.",
        )
    _diagnose(name, got, _SOFTMAX_MISTAKES, z)
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
    expected = torch.softmax(z, dim=1)
    _fail(
        name,
        f"rows sum to 1 but the values are off: for z[0] = {_fmt(z[0])} you return "
        f"{_fmt(got[0])}, softmax gives {_fmt(expected[0])}.",
        "the formula σ(z)_i = e^{z_i} / Σ_j e^{z_j}.",
    )


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
        _cross_entropy_shape(name, out, logits, targets)
        out = _require_tensor(name, out, (), "one number: the mean loss over the batch")
        if not (torch.equal(logits, before[0]) and torch.equal(targets, before[1])):
            _fail(name, "it changed its inputs in place.", "in-place operations such as `-=`.")
        expected = F.cross_entropy(logits.double(), targets)
        if _close(out, expected):
            continue
        got = out.detach().double()
        _diagnose(
            name,
            got,
            _CROSS_ENTROPY_MISTAKES,
            logits.double(),
            targets,
            prefix=f"for this batch of {n} examples your loss ",
        )
        _fail(
            name,
            f"for logits of shape ({n}, {k}) you return {got.item():.5f}, "
            f"torch's F.cross_entropy gives {expected.item():.5f}.",
            "the formula: mean over examples of −log softmax(z_i)[y_i].",
        )
    _cross_entropy_stable(name, cross_entropy)
    _cross_entropy_gradient(name, cross_entropy, gen)
    _pass(
        name,
        f"matches F.cross_entropy on {len(shapes)} shapes, stable for huge logits, "
        "and its gradient is (softmax − one-hot)/N.",
    )


def _cross_entropy_shape(name: str, out, logits: torch.Tensor, targets: torch.Tensor) -> None:
    """A float, or one loss per example, instead of the mean as a tensor."""
    __tracebackhide__ = True
    n = len(targets)
    if isinstance(out, float):
        _fail(
            name,
            "returned a Python float; training needs a tensor to call .backward() on.",
            "drop .item() or float(...) at the end.",
        )
    if isinstance(out, torch.Tensor) and out.shape == (n,) and n > 1:
        per_example = F.cross_entropy(logits.double(), targets, reduction="none")
        hint = "these are the right per-example losses; " if _close(out, per_example) else ""
        _fail(
            name,
            f"returned one value per example (shape ({n},)); {hint}the empirical risk is a single number.",
            "average over the examples: .mean().",
        )


def _cross_entropy_stable(name: str, cross_entropy: Callable) -> None:
    """Large logit gaps: log(softmax) underflows to log(0) = −inf; log-sum-exp does not."""
    __tracebackhide__ = True
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
            "the log-sum-exp trick of section 4: work with log-probabilities directly, shifting by "
            "each row's max inside the log of the sum, and never take the log of a probability "
            "that can round to 0.",
        )


def _cross_entropy_gradient(name: str, cross_entropy: Callable, gen: torch.Generator) -> None:
    """The gradient autograd computes through it must be (softmax − one-hot) / N."""
    __tracebackhide__ = True
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
