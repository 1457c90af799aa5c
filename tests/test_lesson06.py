"""Lesson 06's teaching claims, asserted on the notebook's own seeded run."""

from __future__ import annotations

import pytest

from tests.conftest import assert_runs_clean, needs_mnist

pytestmark = [needs_mnist, pytest.mark.slow]
LESSON = "06_minibatches"


def test_solution_runs_clean(lesson):
    assert_runs_clean(lesson)


def test_gradient_work_is_exactly_proportional_to_n(lesson):
    sizes = lesson.probe("sizes")
    flops = lesson.probe("flops")
    # FLOPs of one forward + backward pass: n times a fixed amount per example (the text's figures)
    per_example = {"softmax regression": 2 * 2 * 784 * 10, "MLP 784-128-10": 409_088}
    assert per_example["softmax regression"] == 31_360
    for name, counts in flops.items():
        assert counts == [n * per_example[name] for n in sizes], name
    # the seconds are timed and shown, never asserted
    assert set(lesson.probe("list(cost)")) == set(flops)


def test_shuffling_matters(lesson):
    run = lesson
    res = run.probe("{k: list(v[1]) for k, v in epoch_runs.items()}")
    ordered = res["in label order (0s, then 1s, ...)"]
    shuffled = res["shuffled each epoch"]
    assert shuffled[1] > 0.90 and ordered[1] < 0.6
    assert ordered[0] > 5 * shuffled[0]


def test_gradient_formula_matches_autograd(lesson):
    assert lesson.probe("formula_error") < 1e-5


def test_gradient_noise_variance_falls_as_one_over_B(lesson):
    run = lesson
    measured, predicted = run.probe("measured"), run.probe("predicted")
    assert -1.15 < run.probe("slope") < -0.85
    for m, p in zip(measured, predicted, strict=True):
        assert abs(m / p - 1) < 0.3
    # the noise of a single example is over 100x the signal |g|^2; a batch of 256 brings it far
    # down, but not below the signal: that takes B = sigma^2 / |g|^2, between 500 and 2,000
    signal = run.probe("float((full_grad**2).sum())")
    assert measured[0] > 100 * signal and measured[-1] < measured[0] / 100
    assert measured[-1] > signal
    assert 500 < run.probe("sigma2") / signal < 2000


def test_under_a_budget_of_example_gradients_minibatches_beat_full_batch(lesson):
    run = lesson
    assert run.probe("budget") == 120_000
    final = run.probe("{B: v[1][0] for B, v in budget_runs.items()}")
    steps = run.probe("{B: len(v[0].step) for B, v in budget_runs.items()}")
    work = run.probe("{B: v[0].examples[-1] for B, v in budget_runs.items()}")
    assert steps == {"8": 15_000, "64": 1_875, "512": 234, "60000": 2}
    assert all(120_000 - int(B) < w <= 120_000 for B, w in work.items())  # the same work for all
    assert final["64"] < 0.4 and final["512"] < 0.4
    assert final["60000"] > 3 * max(final["64"], final["512"])  # full batch: 2 exact steps
    assert final["8"] > 2 * final["64"]  # the smallest batch: too noisy at this learning rate
