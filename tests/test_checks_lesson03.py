"""Lesson 03's checker: the right answer passes, each typical mistake is named.

The known-wrong answers are data, in grading/known_wrong/lesson03.py (the same code that the
autograding tests hand in); each is run here as the notebook would define it.
"""

from __future__ import annotations

import pytest
import torch

from course_utils import checks
from grading import catalogue


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


def _blank(loss, params, lr):
    raise NotImplementedError()


LESSON = "03_gradient_descent"
WRONG = catalogue.wrong_functions(LESSON, "gradient_step")


def test_correct_versions_pass(capsys):
    checks.check_gradient_step(gd_ok)
    checks.check_gradient_step(gd_zero_after, seed=3, lrs=(0.05, 1.0), steps=6)
    assert capsys.readouterr().out.count("✅") == 2


def test_the_solution_passes(capsys):
    checks.check_gradient_step(catalogue.solution_function(LESSON, "gradient_step"))
    assert capsys.readouterr().out.count("✅") == 1


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
