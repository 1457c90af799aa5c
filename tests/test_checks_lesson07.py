"""Lesson 07's checker: lr_at, linear warm-up then cosine decay, against torch's schedulers.

The known-wrong answers are data, in grading/known_wrong/lesson07.py (the same code that the
autograding tests hand in); each is run here as the notebook would define it.
"""

from __future__ import annotations

import math

import pytest

from course_utils import checks
from grading import catalogue

LESSON = "07_schedules"
LR_AT_WRONG = catalogue.wrong_functions(LESSON, "lr_at")


def lr_at_ok(t, eta0, warmup, total):
    if t >= warmup:
        fraction = (t - warmup) / (total - warmup)
        return eta0 * (1 + math.cos(math.pi * fraction)) / 2
    return eta0 / warmup * (t + 1)


def test_correct_versions_pass(capsys):
    checks.check_lr_at(lr_at_ok)
    checks.check_lr_at(lr_at_ok, seed=5, settings=[(0.5, 10, 90), (1e-3, 2, 9), (3.0, 4, 60)])
    checks.check_lr_at(catalogue.solution_function(LESSON, "lr_at"))
    assert capsys.readouterr().out.count("✅") == 3


@pytest.mark.parametrize("mistake", list(LR_AT_WRONG))
def test_lr_at_mistakes_are_named(mistake):
    fn, words = LR_AT_WRONG[mistake]
    with pytest.raises(AssertionError) as err:
        checks.check_lr_at(fn)
    assert words in str(err.value)
    assert "Look at:" in str(err.value)


def test_no_message_holds_a_line_of_the_solution():
    solution = catalogue.solution_code(LESSON)["lr_at"]
    lines = {
        ln.strip()
        for ln in solution.splitlines()
        if len(ln.strip()) > 12 and not ln.strip().startswith(("def", '"""', "#"))
    }
    assert lines
    for fn, _ in LR_AT_WRONG.values():
        with pytest.raises(AssertionError) as err:
            checks.check_lr_at(fn)
        for line in lines:
            assert line not in str(err.value)


def test_blank_is_a_reminder():
    def blank(*args):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        checks.check_lr_at(blank)


def test_at_most_200_calls_with_plain_numbers():
    calls = []

    def spy(t, eta0, warmup, total):
        assert all(isinstance(a, int | float) for a in (t, eta0, warmup, total))
        calls.append(t)
        return lr_at_ok(t, eta0, warmup, total)

    checks.check_lr_at(spy, seed=5, settings=[(0.5, 10, 90), (1e-3, 2, 9), (3.0, 4, 60)])
    assert len(calls) <= 200
