"""Lesson 03's checker: the right answer passes, each typical mistake is named."""

from __future__ import annotations

import pytest
import torch

from course_utils import checks


def gd_ok(loss, params, lr):
    for p in params:
        p.grad = None
    loss.backward()
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad


def gd_zero_after(loss, params, lr):  # also right: zero the gradients after the update
    for p in params:
        if p.grad is not None:
            p.grad.zero_()
    loss.backward()
    with torch.no_grad():
        for p in params:
            p.sub_(lr * p.grad)


def _uphill(loss, params, lr):
    for p in params:
        p.grad = None
    loss.backward()
    with torch.no_grad():
        for p in params:
            p += lr * p.grad


def _not_zeroed(loss, params, lr):
    loss.backward()
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad


def _no_backward(loss, params, lr):
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad


def _rebinds(loss, params, lr):
    for p in params:
        p.grad = None
    loss.backward()
    with torch.no_grad():
        for p in params:
            p = p - lr * p.grad  # noqa: PLW2901


def _no_no_grad(loss, params, lr):
    for p in params:
        p.grad = None
    loss.backward()
    for p in params:
        p -= lr * p.grad


def _fixed_lr(loss, params, lr):
    gd_ok(loss, params, 0.01)


def _uses_sgd(loss, params, lr):
    opt = torch.optim.SGD(params, lr=lr)
    opt.zero_grad()
    loss.backward()
    opt.step()


def _blank(loss, params, lr):
    raise NotImplementedError()


WRONG = {
    "sign flipped": (_uphill, "moved uphill"),
    "gradients not zeroed": (_not_zeroed, "stale gradients"),
    "no backward": (_no_backward, "loss.backward() was never called"),
    "not in place": (_rebinds, "did not change"),
    "no torch.no_grad": (_no_no_grad, "inside `with torch.no_grad():`"),
    "ignores lr": (_fixed_lr, "does not use the learning rate"),
    "uses torch.optim.SGD": (_uses_sgd, "torch's own"),
}


def test_correct_versions_pass(capsys):
    checks.check_gradient_step(gd_ok)
    checks.check_gradient_step(gd_zero_after, seed=3, lrs=(0.05, 1.0), steps=6)
    assert capsys.readouterr().out.count("✅") == 2


@pytest.mark.parametrize("mistake", list(WRONG))
def test_mistakes_are_named(mistake, capsys):
    fn, words = WRONG[mistake]
    with pytest.raises(AssertionError) as err:
        checks.check_gradient_step(fn)
    assert words in str(err.value)
    assert "❌" in capsys.readouterr().out


def test_blank_raises_not_implemented(capsys):
    with pytest.raises(NotImplementedError):
        checks.check_gradient_step(_blank)
    assert "not written yet" in capsys.readouterr().out
