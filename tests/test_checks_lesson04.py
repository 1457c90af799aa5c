"""Lesson 04's checkers: the right answers pass, each typical mistake is named.

The known-wrong answers are data, in grading/known_wrong/lesson04.py (the same code that the
autograding tests hand in); each is run here as the notebook would define it.
"""

from __future__ import annotations

import pytest
import torch

from course_utils import checks
from grading import catalogue

LESSON = "04_momentum"
CHECKERS = {"momentum_step": checks.check_momentum_step, "beta_sweep": checks.check_beta_sweep}


def _grads(loss, params, zero=True):
    if zero:
        for p in params:
            p.grad = None
    loss.backward()


def mom_ok_copy(loss, params, last_steps, lr, beta):  # also right: the new step, then copied in
    _grads(loss, params)
    with torch.no_grad():
        for p, step in zip(params, last_steps):
            new = -lr * p.grad + beta * step
            p.add_(new)
            step.copy_(new)


def sweep_by_matrix(curvatures, lr, betas, steps):  # also right: the 2x2 recurrence per direction
    rates = []
    for beta in betas:
        state = torch.stack([torch.ones_like(curvatures), torch.ones_like(curvatures)])
        top = torch.stack([1 + beta - lr * curvatures, -beta * torch.ones_like(curvatures)])
        norms = [state[0].norm()]
        for _ in range(steps):
            state = torch.stack([(top * state).sum(0), state[0]])
            norms.append(state[0].norm())
        rates.append((norms[-1] / norms[steps // 2]).item() ** (2 / steps))
    return torch.tensor(rates)


def _blank(*args):
    raise NotImplementedError()


def test_correct_versions_pass(capsys):
    checks.check_momentum_step(mom_ok_copy, seed=4, settings=[(0.05, 0.99), (1.0, 0.1)], steps=7)
    checks.check_beta_sweep(sweep_by_matrix)
    checks.check_beta_sweep(sweep_by_matrix, seed=3, kappa=200, betas=(0.2, 0.9), lr_factors=(3.5,), steps=80)
    assert capsys.readouterr().out.count("✅") == 3


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
