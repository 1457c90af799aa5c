"""Lesson 07's checkers: RMSprop (slides' form) and Adam; each typical mistake is named.

The known-wrong answers are data, in grading/known_wrong/lesson07.py (the same code that the
autograding tests hand in); each is run here as the notebook would define it.
"""

from __future__ import annotations

import pytest
import torch

from course_utils import checks
from grading import catalogue


def rmsprop_ok(params, squares, lr, alpha=0.99, eps=1e-8):
    for p, v in zip(params, squares, strict=True):
        v.mul_(alpha).add_((1 - alpha) * p.grad**2)
        p -= lr * p.grad / (v + eps).sqrt()


def rmsprop_list_assign(params, squares, lr, alpha=0.99, eps=1e-8):
    for i, p in enumerate(params):
        squares[i] = alpha * squares[i] + (1 - alpha) * p.grad**2
        p -= lr * p.grad / (squares[i] + eps).sqrt()


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


LESSON = "07_adaptive_methods"
RMSPROP_WRONG = catalogue.wrong_functions(LESSON, "rmsprop_step")
ADAM_WRONG = catalogue.wrong_functions(LESSON, "adam_step")


def test_correct_versions_pass(capsys):
    checks.check_rmsprop_step(rmsprop_ok)
    checks.check_rmsprop_step(rmsprop_list_assign, seed=3, shapes=[(2, 2, 2)], steps=7)
    checks.check_adam_step(_adam())
    checks.check_adam_step(adam_eps_inside, seed=4, shapes=[(10,), (3, 3)], steps=8)
    assert capsys.readouterr().out.count("✅") == 4


def test_the_solution_passes(capsys):
    checks.check_rmsprop_step(catalogue.solution_function(LESSON, "rmsprop_step"))
    checks.check_adam_step(catalogue.solution_function(LESSON, "adam_step"))
    assert capsys.readouterr().out.count("✅") == 2


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
        checks.check_adam_step(ADAM_WRONG["calls torch"][0])
    p = torch.zeros(2, requires_grad=True)
    p.grad = torch.ones(2)
    torch.optim.Adam([p], lr=0.1).step()
    torch.optim.RMSprop([p], lr=0.1).step()
