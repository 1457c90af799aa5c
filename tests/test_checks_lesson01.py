"""Lesson 01's checkers: the right answer passes, each typical mistake is named."""

from __future__ import annotations

import pytest
import torch

from course_utils import checks


def softmax_ok(z):
    z = z - z.max(dim=1, keepdim=True).values
    e = z.exp()
    return e / e.sum(dim=1, keepdim=True)


def ce_ok(z, y):
    c = z.max(dim=1, keepdim=True).values
    logp = z - c - (z - c).exp().sum(dim=1, keepdim=True).log()
    return -logp[torch.arange(len(y)), y].mean()


def _per_example(z, y):
    c = z.max(dim=1, keepdim=True).values
    logp = z - c - (z - c).exp().sum(dim=1, keepdim=True).log()
    return -logp[torch.arange(len(y)), y]


def _inplace_softmax(z):
    z -= z.max(dim=1, keepdim=True).values
    return z.exp() / z.exp().sum(dim=1, keepdim=True)


SOFTMAX_WRONG = {
    "not stable": (lambda z: z.exp() / z.exp().sum(1, keepdim=True), "not numerically stable"),
    "wrong dim": (lambda z: softmax_ok(z.T).T, "normalized each column"),
    "whole tensor": (lambda z: (z - z.max()).exp() / (z - z.max()).exp().sum(), "whole tensor"),
    "log-probs": (lambda z: softmax_ok(z).log(), "log-probabilities"),
    "uses torch": (lambda z: torch.softmax(z, dim=1), "torch's own"),
    "in place": (_inplace_softmax, "in place"),
    "no return": (lambda z: None, "returned None"),
    "detached": (lambda z: softmax_ok(z).detach(), "cut off from autograd"),
    "numpy": (lambda z: softmax_ok(z).numpy(), "not a torch.Tensor"),
    "no exp": (lambda z: z / z.sum(1, keepdim=True), None),
}

CE_WRONG = {
    "sign": (lambda z, y: -ce_ok(z, y), "wrong sign"),
    "sum": (lambda z, y: ce_ok(z, y) * len(y), "sum over the batch"),
    "per example": (_per_example, "one value per example"),
    "item": (lambda z, y: ce_ok(z, y).item(), "Python float"),
    "all classes": (lambda z, y: _per_example(z, torch.zeros_like(y)).mean() * 0
                    + (-(z - z.logsumexp(1, keepdim=True))).mean(), "all classes"),
    "no normalizer": (lambda z, y: -z[torch.arange(len(y)), y].mean(), "without the normalizer"),
    "log of softmax": (lambda z, y: -softmax_ok(z)[torch.arange(len(y)), y].log().mean(),
                       "not numerically stable"),
    "no log": (lambda z, y: -softmax_ok(z)[torch.arange(len(y)), y].mean(), "not −log p"),
    "uses torch": (lambda z, y: torch.nn.functional.cross_entropy(z, y), "torch's own"),
    "detached": (lambda z, y: ce_ok(z, y).detach(), "cut off from autograd"),
}


def test_correct_versions_pass(capsys):
    checks.check_softmax(softmax_ok)
    checks.check_cross_entropy(ce_ok)
    for seed in range(3):
        checks.check_softmax(softmax_ok, seed=seed, shapes=[(3, 7), (128, 10)])
        checks.check_cross_entropy(ce_ok, seed=seed, shapes=[(9, 4), (1, 10)])
    assert capsys.readouterr().out.count("✅") == 8


@pytest.mark.parametrize("mistake", list(SOFTMAX_WRONG))
def test_softmax_mistakes_are_named(mistake, capsys):
    fn, words = SOFTMAX_WRONG[mistake]
    with pytest.raises(AssertionError) as err:
        checks.check_softmax(fn)
    if words:
        assert words in str(err.value)
    assert "❌" in capsys.readouterr().out


@pytest.mark.parametrize("mistake", list(CE_WRONG))
def test_cross_entropy_mistakes_are_named(mistake, capsys):
    fn, words = CE_WRONG[mistake]
    with pytest.raises(AssertionError) as err:
        checks.check_cross_entropy(fn)
    assert words in str(err.value)
    assert "Look at:" in str(err.value)


def test_not_implemented_is_a_reminder_not_a_failure(capsys):
    def blank(z):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        checks.check_softmax(blank)
    assert "not written yet" in capsys.readouterr().out


def test_torch_is_restored_after_a_forbidden_call():
    with pytest.raises(AssertionError):
        checks.check_softmax(lambda z: torch.softmax(z, dim=1))
    assert torch.softmax(torch.zeros(1, 2), dim=1).sum() == 1


def test_a_crash_inside_the_function_is_reported_with_the_input_shape():
    with pytest.raises(AssertionError, match=r"(?s)raised IndexError.*shape \(5, 10\).*z\[:, 99\]"):
        checks.check_softmax(lambda z: z[:, 99])
