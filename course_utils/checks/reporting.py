"""Reporting a check's outcome, and the comparisons and inputs every checker shares.

A check that finds a mistake prints ❌ and its diagnosis, what is wrong and where to look, and
raises CheckFailure (an AssertionError, so nbgrader marks the cell as failed); a passed check
prints ✅. A checker's known mistakes are tables of (candidate, what, look), walked by
`_diagnose`: the first candidate whose output matches the student's names the mistake.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import torch

__all__ = ["CheckFailure"]


class CheckFailure(AssertionError):
    """A check found a mistake; its message is the diagnosis."""


def _fail(name: str, what: str, look: str | None = None) -> NoReturn:
    """Print the diagnosis and raise it: the printout reads well, the raise grades."""
    __tracebackhide__ = True
    msg = f"{name}: {what}"
    if look:
        msg += f"\n   Look at: {look}"
    print(f"❌ {msg}")
    raise CheckFailure(msg) from None


# How many checks have passed in this process: the grader counts a graded check as passed only
# when this moved during its call (no error is not a pass). See grading/trusted.py.
PASSED = [0]


def _pass(name: str, detail: str) -> None:
    PASSED[0] += 1
    print(f"✅ {name}: {detail}")


def _fmt(t: torch.Tensor, n: int = 4) -> str:
    flat = t.detach().double().flatten()[:n].tolist()
    more = ", …" if t.numel() > n else ""
    return "[" + ", ".join(f"{v:.4g}" for v in flat) + more + "]"


def _close(a: torch.Tensor, b: torch.Tensor, tol: float = 1e-5) -> bool:
    return a.shape == b.shape and bool(
        torch.allclose(a.double(), b.double(), rtol=tol, atol=tol, equal_nan=False)
    )


def _all_close(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor], tol: float = 1e-5) -> bool:
    """Every pair of tensors close (see _close); the sequences must have the same length."""
    return all(_close(x, z, tol) for x, z in zip(a, b, strict=True))


def _rel_close(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol * max(abs(a), abs(b), 1e-12)


# One row of a table of known mistakes: (candidate, what, look). candidate(*inputs) computes what
# that mistake returns (a tensor, or a list of tensors), or None where it cannot be told apart on
# these inputs; `what` names the mistake, `look` says where to look, in words and math.
Known = tuple[Callable[..., Any], str, str]


def _diagnose(
    name: str, got: Any, known: Sequence[Known], *inputs, prefix: str = "", tol: float = 1e-5
) -> None:
    """Fail with the first known mistake whose candidate output matches `got`; return if none does."""
    __tracebackhide__ = True
    for candidate, what, look in known:
        wrong = candidate(*inputs)
        if wrong is None:
            continue
        same = _all_close(got, wrong, tol) if isinstance(got, list | tuple) else _close(got, wrong, tol)
        if same:
            _fail(name, prefix + what, look)


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
