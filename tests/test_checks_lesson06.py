"""Lesson 06's checker: the right sampler passes, each typical mistake is named.

The known-wrong answers are data, in grading/known_wrong/lesson06.py (the same code that the
autograding tests hand in); each is run here as the notebook would define it.
"""

from __future__ import annotations

import pytest
import torch

from course_utils import checks
from grading import catalogue


def ok(X, y, batch_size, generator):
    idx = torch.randperm(len(y), generator=generator)[:batch_size]
    return X[idx], y[idx]


LESSON = "06_minibatches"
WRONG = catalogue.wrong_functions(LESSON, "sample_minibatch")


def test_correct_version_passes(capsys):
    checks.check_sample_minibatch(ok)
    checks.check_sample_minibatch(ok, seed=5, sizes=[(77, 3, 7), (20, 784, 20)], draws=3000)
    assert capsys.readouterr().out.count("✅") == 2


def test_the_solution_passes(capsys):
    checks.check_sample_minibatch(catalogue.solution_function(LESSON, "sample_minibatch"))
    assert capsys.readouterr().out.count("✅") == 1


@pytest.mark.parametrize("mistake", list(WRONG))
def test_mistakes_are_named(mistake, capsys):
    fn, words = WRONG[mistake]
    with pytest.raises(AssertionError) as err:
        checks.check_sample_minibatch(fn)
    assert words in str(err.value)
    assert "Look at:" in str(err.value)
    assert "❌" in capsys.readouterr().out


def test_blank_is_a_reminder():
    def blank(X, y, batch_size, generator):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        checks.check_sample_minibatch(blank)
