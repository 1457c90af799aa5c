"""Lesson 02's checker: the right answer passes, each typical mistake is named.

The known-wrong answers are data, in grading/known_wrong/lesson02.py (the same code that the
autograding tests hand in); each is run here as the notebook would define it.
"""

from __future__ import annotations

import pytest
import torch

from course_utils import checks
from grading import catalogue


def rs_ok(J, w, J_w, scale, generator):
    candidate = w + scale * torch.randn(w.shape, generator=generator)
    J_candidate = J(candidate)
    if J_candidate < J_w:
        return candidate, J_candidate
    return w, J_w


def _blank(J, w, J_w, scale, generator):
    raise NotImplementedError()


LESSON = "02_random_search"
WRONG = catalogue.wrong_functions(LESSON, "random_search_step")


def test_correct_version_passes(capsys):
    checks.check_random_search_step(rs_ok)
    for seed in range(3):
        checks.check_random_search_step(rs_ok, seed=seed, dims=(2, 30), steps=60)
    assert capsys.readouterr().out.count("✅") == 4


def test_the_solution_passes(capsys):
    checks.check_random_search_step(catalogue.solution_function(LESSON, "random_search_step"))
    assert capsys.readouterr().out.count("✅") == 1


@pytest.mark.parametrize("mistake", list(WRONG))
def test_mistakes_are_named(mistake, capsys):
    fn, words = WRONG[mistake]
    with pytest.raises(AssertionError) as err:
        checks.check_random_search_step(fn)
    assert words in str(err.value)
    assert "❌" in capsys.readouterr().out


def test_blank_raises_not_implemented(capsys):
    with pytest.raises(NotImplementedError):
        checks.check_random_search_step(_blank)
    assert "not written yet" in capsys.readouterr().out
