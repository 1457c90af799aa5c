"""Lesson 05's checker: many one-hidden-layer MLPs at once, with batched matrix products."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from course_utils.checks.calling import _call
from course_utils.checks.reporting import Known, _close, _diagnose, _fail, _fmt, _pass, _require_tensor

__all__ = ["check_stacked_mlp"]


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


# What a mistaken stacked_mlp returns for X (B, D), W1 (S, D, H), b1 (S, H), W2 (S, H, K), b2 (S, K),
# in float64; None where the mistake cannot be told apart on these shapes.
_STACKED_MLP_MISTAKES: list[Known] = [
    (
        lambda X, W1, b1, W2, b2: (
            _mlp_oracle(X, W1, b1, W2, b2).transpose(0, 1) if len(W1) == len(X) else None
        ),
        "out[s, b] holds model b on example s: the models come first, (S, B, K), and the axes are swapped.",
        "the order of your dimensions.",
    ),
    (
        lambda X, W1, b1, W2, b2: _mlp_oracle(X, W1, b1, W2, b2, torch.nn.Identity),
        "no nonlinearity between the layers: the hidden layer must go through a ReLU.",
        "a ReLU on the hidden pre-activations, before the second product.",
    ),
    (
        lambda X, W1, b1, W2, b2: torch.relu(X @ W1 + b1) @ W2 + b2 if len(W1) == len(X) > 1 else None,
        "the biases are added per example instead of per model: b1 of shape (S, H) broadcast against "
        "(S, B, H) lines up with the examples.",
        "the shapes: the hidden layer is (S, B, H) and b1 is (S, H); give each model's bias row an axis "
        "of length 1 for the examples, so that model s adds b₁[s] to all its B rows (the same for b2).",
    ),
]


def check_stacked_mlp(
    stacked_mlp: Callable,
    seed: int = 0,
    shapes: Sequence[tuple[int, int, int, int, int]] = (
        (4, 4, 7, 3, 10),
        (3, 5, 4, 6, 2),
        (1, 8, 784, 16, 10),
        (6, 2, 3, 5, 4),
    ),
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
        out = _call(name, stacked_mlp, *args, purpose=f" (S={S} models, B={B}, D={D}, H={H}, K={K})")
        if not all(torch.equal(a, b) for a, b in zip(args, before, strict=True)):
            _fail(
                name,
                "it changed its inputs in place.",
                "in-place operations such as += or relu_ on the weights or on X.",
            )
        _check_shape(name, out, S, B, K)
        got = out.detach().double()
        expected = _mlp_oracle(*args)
        if _close(got, expected, 1e-4):
            continue
        _diagnose(name, got, _STACKED_MLP_MISTAKES, *(a.double() for a in args), tol=1e-4)
        if S > 1 and _close(got[0], expected[0], 1e-4):
            _fail(
                name,
                "model 0 is right but the others are not: every model must use its own weights and biases.",
                "model s must use its own W₁[s], b₁[s], W₂[s] and b₂[s]: look for a weight or a bias "
                "taken from model 0 (index 0, or a shape that broadcasts one model's row to all).",
            )
        _fail(
            name,
            f"for S={S}, B={B}, D={D}, H={H}, K={K}: out[0, 0] is {_fmt(got[0, 0])}, "
            f"model 0 on example 0 gives {_fmt(expected[0, 0])}.",
            "the formula out[s] = relu(X W₁[s] + b₁[s]) W₂[s] + b₂[s], for every model s at once, and "
            "which axis of each tensor is the models', the examples' and the units'.",
        )
    _pass(name, f"matches the course's MLP module, model by model, on {len(shapes)} shapes.")


def _check_shape(name: str, out, S: int, B: int, K: int) -> None:
    """The output must be (S, B, K): name the axes swapped, or the models summed away."""
    __tracebackhide__ = True
    if isinstance(out, torch.Tensor) and S not in (1, B) and tuple(out.shape) == (B, S, K):
        _fail(
            name,
            f"returned shape (B, S, K) = {tuple(out.shape)}; the models come first: (S, B, K) = {(S, B, K)}.",
            "the order of your dimensions (no transpose "
            "needed if X is multiplied by the stacked weights directly).",
        )
    if isinstance(out, torch.Tensor) and tuple(out.shape) == (B, K) and S > 1:
        _fail(
            name,
            f"returned shape {(B, K)}: one output for all {S} models together (a "
            "sum or mean over the models?).",
            "keep the models axis: (S, B, K).",
        )
    _require_tensor(name, out, (S, B, K), "one row of K logits per model and example")
