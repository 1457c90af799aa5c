"""Lesson 04's checker: the right answer passes, each typical mistake is named."""

from __future__ import annotations

import pytest
import torch

from course_utils import checks


def _grads(loss, params, zero=True):
    if zero:
        for p in params:
            p.grad = None
    loss.backward()


def mom_ok(loss, params, last_steps, lr, beta):
    _grads(loss, params)
    with torch.no_grad():
        for p, step in zip(params, last_steps):
            step.mul_(beta).add_(p.grad, alpha=-lr)
            p += step


def mom_ok_copy(loss, params, last_steps, lr, beta):
    _grads(loss, params)
    with torch.no_grad():
        for p, step in zip(params, last_steps):
            new = -lr * p.grad + beta * step
            p.add_(new)
            step.copy_(new)


def _beta_on_grad(loss, params, last_steps, lr, beta):
    _grads(loss, params)
    with torch.no_grad():
        for p, step in zip(params, last_steps):
            new = -lr * beta * p.grad + step
            p += new
            step.copy_(new)


def _momentum_sign(loss, params, last_steps, lr, beta):
    _grads(loss, params)
    with torch.no_grad():
        for p, step in zip(params, last_steps):
            new = -lr * p.grad - beta * step
            p += new
            step.copy_(new)


def _not_stored(loss, params, last_steps, lr, beta):
    _grads(loss, params)
    with torch.no_grad():
        for p, step in zip(params, last_steps):
            new = -lr * p.grad + beta * step
            p += new
            step = new  # noqa: PLW2901 (rebinds the name only)


def _not_zeroed(loss, params, last_steps, lr, beta):
    _grads(loss, params, zero=False)
    with torch.no_grad():
        for p, step in zip(params, last_steps):
            step.mul_(beta).add_(p.grad, alpha=-lr)
            p += step


def _no_beta(loss, params, last_steps, lr, beta):
    _grads(loss, params)
    with torch.no_grad():
        for p, step in zip(params, last_steps):
            step.add_(p.grad, alpha=-lr)
            p += step


def _uphill(loss, params, last_steps, lr, beta):
    _grads(loss, params)
    with torch.no_grad():
        for p, step in zip(params, last_steps):
            step.mul_(beta).add_(p.grad, alpha=lr)
            p += step


def _stores_gradient(loss, params, last_steps, lr, beta):  # velocity buffer, but of the wrong thing
    _grads(loss, params)
    with torch.no_grad():
        for p, step in zip(params, last_steps):
            p += -lr * p.grad + beta * step
            step.copy_(p.grad)


def _no_no_grad(loss, params, last_steps, lr, beta):
    _grads(loss, params)
    for p, step in zip(params, last_steps):
        step.mul_(beta).add_(p.grad.detach(), alpha=-lr)
        p += step


def _uses_sgd(loss, params, last_steps, lr, beta):
    torch.optim.SGD(params, lr=lr, momentum=beta).step()


def _blank(loss, params, last_steps, lr, beta):
    raise NotImplementedError()


WRONG = {
    "beta on the gradient": (_beta_on_grad, "β multiplies the gradient"),
    "momentum sign flipped": (_momentum_sign, "subtracts the previous step"),
    "state not written back": (_not_stored, "never stored"),
    "gradients not zeroed": (_not_zeroed, "stale gradients"),
    "no beta": (_no_beta, "without the factor β"),
    "gradient sign flipped": (_uphill, "uphill"),
    "stores the gradient": (_stores_gradient, "should hold the step just taken"),
    "no torch.no_grad": (_no_no_grad, "torch.no_grad()"),
    "uses torch.optim.SGD": (_uses_sgd, "torch's own"),
}


def test_correct_versions_pass(capsys):
    checks.check_momentum_step(mom_ok)
    checks.check_momentum_step(mom_ok_copy, seed=4, settings=[(0.05, 0.99), (1.0, 0.1)], steps=7)
    assert capsys.readouterr().out.count("✅") == 2


@pytest.mark.parametrize("mistake", list(WRONG))
def test_mistakes_are_named(mistake, capsys):
    fn, words = WRONG[mistake]
    with pytest.raises(AssertionError) as err:
        checks.check_momentum_step(fn)
    assert words in str(err.value)
    assert "❌" in capsys.readouterr().out


def test_blank_raises_not_implemented(capsys):
    with pytest.raises(NotImplementedError):
        checks.check_momentum_step(_blank)
    assert "not written yet" in capsys.readouterr().out
