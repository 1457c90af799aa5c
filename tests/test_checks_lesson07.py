"""Lesson 07's checkers: RMSprop (slides' form) and Adam; each typical mistake is named."""

from __future__ import annotations

import pytest
import torch

from course_utils import checks


def rmsprop_ok(params, squares, lr, alpha=0.99, eps=1e-8):
    for p, v in zip(params, squares, strict=True):
        v.mul_(alpha).add_((1 - alpha) * p.grad**2)
        p -= lr * p.grad / (v + eps).sqrt()


def rmsprop_eps_outside(params, squares, lr, alpha=0.99, eps=1e-8):
    for p, v in zip(params, squares, strict=True):
        v.mul_(alpha).add_((1 - alpha) * p.grad**2)
        p -= lr * p.grad / (v.sqrt() + eps)


def rmsprop_not_written_back(params, squares, lr, alpha=0.99, eps=1e-8):
    for p, v in zip(params, squares, strict=True):
        v = alpha * v + (1 - alpha) * p.grad**2
        p -= lr * p.grad / (v + eps).sqrt()


def rmsprop_list_assign(params, squares, lr, alpha=0.99, eps=1e-8):
    for i, p in enumerate(params):
        squares[i] = alpha * squares[i] + (1 - alpha) * p.grad**2
        p -= lr * p.grad / (squares[i] + eps).sqrt()


def rmsprop_swapped(params, squares, lr, alpha=0.99, eps=1e-8):
    for p, v in zip(params, squares, strict=True):
        v.mul_(1 - alpha).add_(alpha * p.grad**2)
        p -= lr * p.grad / (v + eps).sqrt()


def rmsprop_adagrad(params, squares, lr, alpha=0.99, eps=1e-8):
    for p, v in zip(params, squares, strict=True):
        v.add_(p.grad**2)
        p -= lr * p.grad / (v + eps).sqrt()


def rmsprop_no_sqrt(params, squares, lr, alpha=0.99, eps=1e-8):
    for p, v in zip(params, squares, strict=True):
        v.mul_(alpha).add_((1 - alpha) * p.grad**2)
        p -= lr * p.grad / (v + eps)


def rmsprop_sign(params, squares, lr, alpha=0.99, eps=1e-8):
    for p, v in zip(params, squares, strict=True):
        v.mul_(alpha).add_((1 - alpha) * p.grad**2)
        p += lr * p.grad / (v + eps).sqrt()


def rmsprop_old_v(params, squares, lr, alpha=0.99, eps=1e-8):
    for p, v in zip(params, squares, strict=True):
        step = lr * p.grad / (v + eps).sqrt()
        v.mul_(alpha).add_((1 - alpha) * p.grad**2)
        p -= step


def rmsprop_rebinds_p(params, squares, lr, alpha=0.99, eps=1e-8):
    for p, v in zip(params, squares, strict=True):
        v.mul_(alpha).add_((1 - alpha) * p.grad**2)
        p = p - lr * p.grad / (v + eps).sqrt()  # noqa: PLW2901


def rmsprop_torch(params, squares, lr, alpha=0.99, eps=1e-8):
    torch.optim.RMSprop(params, lr=lr, alpha=alpha, eps=eps).step()


RMSPROP_WRONG = {
    "eps outside the root (torch's form)": (rmsprop_eps_outside, "torch's form"),
    "state not written back": (rmsprop_not_written_back, "not written back"),
    "weights swapped": (rmsprop_swapped, "swapped"),
    "Adagrad's sum": (rmsprop_adagrad, "Adagrad"),
    "no square root": (rmsprop_no_sqrt, "square root"),
    "sign flipped": (rmsprop_sign, "uphill"),
    "divides by the old average": (rmsprop_old_v, "previous average"),
    "p rebound, not updated": (rmsprop_rebinds_p, "did not change"),
    "calls torch": (rmsprop_torch, "torch's own"),
}


def _adam(bias=(True, True), power=0, sign=1, write_back=True, swap=False, fixed_t=None):
    def adam_step(params, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        tt = fixed_t or t
        for i, p in enumerate(params):
            g = p.grad
            b1, b2 = (1 - beta1, 1 - beta2) if swap else (beta1, beta2)
            new_m = b1 * m[i] + (1 - b1) * g
            new_v = b2 * v[i] + (1 - b2) * g**2
            if write_back:
                m[i], v[i] = new_m, new_v
            m_hat = new_m / (1 - beta1 ** (tt + power)) if bias[0] else new_m
            v_hat = new_v / (1 - beta2 ** (tt + power)) if bias[1] else new_v
            p -= sign * lr * m_hat / (v_hat.sqrt() + eps)
    return adam_step


def adam_eps_inside(params, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    for i, p in enumerate(params):
        m[i].mul_(beta1).add_((1 - beta1) * p.grad)
        v[i].mul_(beta2).add_((1 - beta2) * p.grad**2)
        p -= lr * (m[i] / (1 - beta1**t)) / (v[i] / (1 - beta2**t) + eps).sqrt()


def adam_torch(params, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    torch.optim.Adam(params, lr=lr, betas=(beta1, beta2), eps=eps).step()


ADAM_WRONG = {
    "no bias correction": (_adam(bias=(False, False)), "no bias correction"),
    "only m corrected": (_adam(bias=(True, False)), "only m is bias-corrected"),
    "only v corrected": (_adam(bias=(False, True)), "only v is bias-corrected"),
    "t off by one (t+1)": (_adam(power=1), "wrong power"),
    "t off by one (t-1)": (_adam(power=-1), "1 − β^(t−1) is 0"),
    "t not used": (_adam(fixed_t=1), "this step's t"),
    "state not written back": (_adam(write_back=False), "not written back"),
    "betas swapped": (_adam(swap=True), "swapped"),
    "sign flipped": (_adam(sign=-1), "uphill"),
    "calls torch": (adam_torch, "torch's own"),
}


def test_correct_versions_pass(capsys):
    checks.check_rmsprop_step(rmsprop_ok)
    checks.check_rmsprop_step(rmsprop_list_assign, seed=3, shapes=[(2, 2, 2)], steps=7)
    checks.check_adam_step(_adam())
    checks.check_adam_step(adam_eps_inside, seed=4, shapes=[(10,), (3, 3)], steps=8)
    assert capsys.readouterr().out.count("✅") == 4


@pytest.mark.parametrize("mistake", list(RMSPROP_WRONG))
def test_rmsprop_mistakes_are_named(mistake, capsys):
    fn, words = RMSPROP_WRONG[mistake]
    with pytest.raises(AssertionError) as err:
        checks.check_rmsprop_step(fn)
    assert words in str(err.value)
    assert "Look at:" in str(err.value)


@pytest.mark.parametrize("mistake", list(ADAM_WRONG))
def test_adam_mistakes_are_named(mistake, capsys):
    fn, words = ADAM_WRONG[mistake]
    with pytest.raises(AssertionError) as err:
        checks.check_adam_step(fn)
    assert words in str(err.value)
    assert "Look at:" in str(err.value)


def test_blank_is_a_reminder():
    def blank(*args):
        raise NotImplementedError()

    for check in (checks.check_rmsprop_step, checks.check_adam_step):
        with pytest.raises(NotImplementedError):
            check(blank)


def test_torch_optimizers_restored():
    with pytest.raises(AssertionError):
        checks.check_adam_step(adam_torch)
    p = torch.zeros(2, requires_grad=True)
    p.grad = torch.ones(2)
    torch.optim.Adam([p], lr=0.1).step()
    torch.optim.RMSprop([p], lr=0.1).step()
