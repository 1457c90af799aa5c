"""Lesson 05's checker: S MLPs at once with batched matmuls; each typical mistake is named.

The known-wrong answers are data, in grading/known_wrong/lesson05.py (the same code that the
autograding tests hand in); each is run here as the notebook would define it.
"""

from __future__ import annotations

import pytest
import torch

from course_utils import checks
from grading import catalogue


def ok(X, W1, b1, W2, b2):
    return torch.relu(X @ W1 + b1[:, None, :]) @ W2 + b2[:, None, :]


def ok_loop(X, W1, b1, W2, b2):
    return torch.stack([torch.relu(X @ W1[s] + b1[s]) @ W2[s] + b2[s] for s in range(len(W1))])


def ok_bmm(X, W1, b1, W2, b2):
    Xs = X.expand(len(W1), *X.shape)
    return torch.baddbmm(b2[:, None, :], torch.relu(torch.baddbmm(b1[:, None, :], Xs, W1)), W2)


LESSON = "05_overparameterization"
WRONG = catalogue.wrong_functions(LESSON, "stacked_mlp")


def test_correct_versions_pass(capsys):
    for fn in (ok, ok_loop, ok_bmm):
        checks.check_stacked_mlp(fn)
    checks.check_stacked_mlp(ok, seed=3, shapes=[(5, 5, 10, 8, 3), (2, 64, 196, 32, 10)])
    assert capsys.readouterr().out.count("✅") == 4


def test_the_solution_passes(capsys):
    checks.check_stacked_mlp(catalogue.solution_function(LESSON, "stacked_mlp"))
    assert capsys.readouterr().out.count("✅") == 1


@pytest.mark.parametrize("mistake", list(WRONG))
def test_mistakes_are_named(mistake, capsys):
    fn, words = WRONG[mistake]
    with pytest.raises(AssertionError) as err:
        checks.check_stacked_mlp(fn)
    assert words in str(err.value)
    assert "Look at:" in str(err.value)


def test_blank_is_a_reminder():
    def blank(*args):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        checks.check_stacked_mlp(blank)
