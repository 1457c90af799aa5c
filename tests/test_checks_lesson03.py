"""Lesson 03's checkers: the right answers pass, each typical mistake is named.

The known-wrong answers are data, in grading/known_wrong/lesson03.py (the same code that the
autograding tests hand in); each is run here as the notebook would define it.
"""

from __future__ import annotations

import pytest
import torch

from course_utils import checks
from grading import catalogue

LESSON = "03_gradient_descent"
CHECKERS = {"gradient_check": checks.check_gradient_check, "gradient_descent": checks.check_gradient_descent}


def check_by_forward_mode(J, w, h=1e-5):  # also right: another way to each of the three values
    basis = torch.eye(w.numel(), dtype=w.dtype)
    numerical = torch.stack([(J(w + h * e) - J(w - h * e)) / (2 * h) for e in basis])
    analytic = torch.func.grad(J)(w)
    diff = numerical - analytic
    return numerical, analytic, torch.sqrt((diff**2).sum()) / (numerical.norm() + analytic.norm())


def descent_by_autograd_grad(J, w0, lr, steps):  # also right: new tensors, a list of rows
    w, path = w0.detach().requires_grad_(False), [w0.clone()]
    for _ in range(steps):
        x = w.clone().requires_grad_()
        (g,) = torch.autograd.grad(J(x), x)
        w = w - lr * g
        path.append(w)
    return path


def test_centered_differences_are_exact_on_a_quadratic():
    """Hint 3 and the check's large h: on a quadratic the centered difference is (Aw - b)_i for any h."""
    gen = torch.Generator().manual_seed(1)
    J = checks.Quadratic.random(4, gen)
    w = torch.randn(4, generator=gen, dtype=torch.float64)
    exact = J.A @ w - J.b
    for h in (0.5, 1.0, 3.0):
        central = torch.stack(
            [(J(w + h * e) - J(w - h * e)) / (2 * h) for e in torch.eye(4, dtype=torch.float64)]
        )
        forward = torch.stack([(J(w + h * e) - J(w)) / h for e in torch.eye(4, dtype=torch.float64)])
        assert torch.allclose(central, exact, rtol=0, atol=1e-12)
        assert torch.allclose(forward - exact, h / 2 * J.A.diagonal(), rtol=0, atol=1e-12)


def _blank(*args):
    raise NotImplementedError()


def test_correct_versions_pass(capsys):
    checks.check_gradient_check(check_by_forward_mode)
    checks.check_gradient_check(check_by_forward_mode, seed=7, h=1e-3)
    checks.check_gradient_descent(descent_by_autograd_grad)
    checks.check_gradient_descent(descent_by_autograd_grad, seed=5, settings=((0.05, 8), (1.0, 3)))
    assert capsys.readouterr().out.count("✅") == 4


@pytest.mark.parametrize("exercise", list(CHECKERS))
def test_the_solution_passes(exercise, capsys):
    CHECKERS[exercise](catalogue.solution_function(LESSON, exercise))
    assert capsys.readouterr().out.count("✅") == 1


MISTAKES = [(m.exercise, m.label) for m in catalogue.mistakes(LESSON)]


@pytest.mark.parametrize(("exercise", "label"), MISTAKES)
def test_mistakes_are_named(exercise, label, capsys):
    fn, words = catalogue.wrong_functions(LESSON, exercise)[label]
    with pytest.raises(AssertionError) as err:
        CHECKERS[exercise](fn)
    assert words in str(err.value)
    assert "❌" in capsys.readouterr().out


def test_every_exercise_has_known_mistakes():
    assert {e for e, _ in MISTAKES} == set(CHECKERS)


@pytest.mark.parametrize("exercise", list(CHECKERS))
def test_blank_raises_not_implemented(exercise, capsys):
    with pytest.raises(NotImplementedError):
        CHECKERS[exercise](_blank)
    assert "not written yet" in capsys.readouterr().out
