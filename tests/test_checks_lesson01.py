"""Lesson 01's checkers: the right answer passes, each typical mistake is named.

The known-wrong answers are data, in grading/known_wrong/lesson01.py (the same code that the
autograding tests hand in); each is run here as the notebook would define it.
"""

from __future__ import annotations

import pytest
import torch

from course_utils import checks
from grading import catalogue


def softmax_ok(z):
    z = z - z.max(dim=1, keepdim=True).values
    e = z.exp()
    return e / e.sum(dim=1, keepdim=True)


def ce_ok(z, y):
    c = z.max(dim=1, keepdim=True).values
    logp = z - c - (z - c).exp().sum(dim=1, keepdim=True).log()
    return -logp[torch.arange(len(y)), y].mean()


LESSON = "01_task_and_loss"
SOFTMAX_WRONG = catalogue.wrong_functions(LESSON, "softmax")
CE_WRONG = catalogue.wrong_functions(LESSON, "cross_entropy")


def test_correct_versions_pass(capsys):
    checks.check_softmax(softmax_ok)
    checks.check_cross_entropy(ce_ok)
    for seed in range(3):
        checks.check_softmax(softmax_ok, seed=seed, shapes=[(3, 7), (128, 10)])
        checks.check_cross_entropy(ce_ok, seed=seed, shapes=[(9, 4), (1, 10)])
    assert capsys.readouterr().out.count("✅") == 8


def test_the_solution_passes(capsys):
    checks.check_softmax(catalogue.solution_function(LESSON, "softmax"))
    checks.check_cross_entropy(catalogue.solution_function(LESSON, "cross_entropy"))
    assert capsys.readouterr().out.count("✅") == 2


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
