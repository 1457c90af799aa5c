"""Lesson 04's checker: the right answer passes, each typical mistake is named.

The known-wrong answers are data, in grading/known_wrong/lesson04.py (the same code that the
autograding tests hand in); each is run here as the notebook would define it.
"""

from __future__ import annotations

import pytest
import torch

from course_utils import checks
from grading import catalogue


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


def _blank(loss, params, last_steps, lr, beta):
    raise NotImplementedError()


LESSON = "04_momentum"
WRONG = catalogue.wrong_functions(LESSON, "momentum_step")


def test_correct_versions_pass(capsys):
    checks.check_momentum_step(mom_ok)
    checks.check_momentum_step(mom_ok_copy, seed=4, settings=[(0.05, 0.99), (1.0, 0.1)], steps=7)
    assert capsys.readouterr().out.count("✅") == 2


def test_the_solution_passes(capsys):
    checks.check_momentum_step(catalogue.solution_function(LESSON, "momentum_step"))
    assert capsys.readouterr().out.count("✅") == 1


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
