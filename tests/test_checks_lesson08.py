"""Lesson 08's checkers: Adagrad and RMSprop (slides' form) and Adam; each typical mistake is named.

The known-wrong answers are data, in grading/known_wrong/lesson08.py (the same code that the
autograding tests hand in); each is run here as the notebook would define it.
"""

from __future__ import annotations

import pytest
import torch

from course_utils import checks
from grading import catalogue


def adagrad_ok(params, sums, lr, eps=1e-10):
    for i, p in enumerate(params):
        sums[i] = sums[i] + p.grad * p.grad
        p.sub_(lr * p.grad / (sums[i] + eps).sqrt())


def rmsprop_ok(params, squares, lr, rho=0.99, eps=1e-8):
    for p, v in zip(params, squares, strict=True):
        v.mul_(rho).add_((1 - rho) * p.grad**2)
        p -= lr * p.grad / (v + eps).sqrt()


def rmsprop_list_assign(params, squares, lr, rho=0.99, eps=1e-8):
    for i, p in enumerate(params):
        squares[i] = rho * squares[i] + (1 - rho) * p.grad**2
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


LESSON = "08_adaptive_methods"
ADAGRAD_WRONG = catalogue.wrong_functions(LESSON, "adagrad_step")
RMSPROP_WRONG = catalogue.wrong_functions(LESSON, "rmsprop_step")
ADAM_WRONG = catalogue.wrong_functions(LESSON, "adam_step")


def test_correct_versions_pass(capsys):
    checks.check_adagrad_step(adagrad_ok)
    checks.check_adagrad_step(adagrad_ok, seed=41, shapes=[(2, 3, 2), (6,), (1,)], steps=7, lr=0.03, eps=1e-2)
    checks.check_rmsprop_step(rmsprop_ok)
    checks.check_rmsprop_step(rmsprop_list_assign, seed=3, shapes=[(2, 2, 2)], steps=7)
    checks.check_adam_step(_adam())
    checks.check_adam_step(adam_eps_inside, seed=4, shapes=[(10,), (3, 3)], steps=8)
    assert capsys.readouterr().out.count("✅") == 6


def test_the_solution_passes(capsys):
    checks.check_adagrad_step(catalogue.solution_function(LESSON, "adagrad_step"))
    checks.check_rmsprop_step(catalogue.solution_function(LESSON, "rmsprop_step"))
    checks.check_adam_step(catalogue.solution_function(LESSON, "adam_step"))
    assert capsys.readouterr().out.count("✅") == 3


@pytest.mark.parametrize("mistake", list(ADAGRAD_WRONG))
def test_adagrad_mistakes_are_named(mistake, capsys):
    fn, words = ADAGRAD_WRONG[mistake]
    with pytest.raises(AssertionError) as err:
        checks.check_adagrad_step(fn)
    assert words in str(err.value)
    assert "Look at:" in str(err.value)


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

    for check in (checks.check_adagrad_step, checks.check_rmsprop_step, checks.check_adam_step):
        with pytest.raises(NotImplementedError):
            check(blank)


def test_torch_optimizers_restored():
    with pytest.raises(AssertionError):
        checks.check_adam_step(ADAM_WRONG["calls torch"][0])
    p = torch.zeros(2, requires_grad=True)
    p.grad = torch.ones(2)
    torch.optim.Adam([p], lr=0.1).step()
    torch.optim.RMSprop([p], lr=0.1).step()


def _code_lines(source: str) -> set[str]:
    """The lines of a solution that are code (not its def line, docstring or comments)."""
    return {
        ln.strip()
        for ln in source.splitlines()
        if len(ln.strip()) > 8 and not ln.strip().startswith(("def ", '"""', "#", "for "))
    }


@pytest.mark.parametrize("exercise", ["adagrad_step", "rmsprop_step", "adam_step"])
def test_no_diagnosis_holds_a_line_of_the_solution(exercise):
    lines = _code_lines(catalogue.solution_code(LESSON)[exercise])
    assert lines
    check = getattr(checks, f"check_{exercise}")
    for fn, _ in catalogue.wrong_functions(LESSON, exercise).values():
        with pytest.raises(AssertionError) as err:
            check(fn)
        message = str(err.value)
        for line in lines:
            assert line not in message, (exercise, line)
        for fragment in (".mul_(", ".add_(", ".sub_(", ".sqrt()", "p -=", "p.grad"):
            assert fragment not in message, (exercise, fragment)
