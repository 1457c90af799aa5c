"""Lesson 06's teaching claims, asserted on the notebook's own seeded run."""

from __future__ import annotations

import pytest

from tests.conftest import assert_runs_clean, needs_mnist

pytestmark = [needs_mnist, pytest.mark.slow]
LESSON = "06_minibatches"


def test_solution_runs_clean(lesson):
    assert_runs_clean(lesson)


def test_full_gradient_cost_grows_with_n_and_small_batches_pay_overhead(lesson):
    run = lesson
    sizes = run.probe("sizes")
    cost = run.probe("cost")
    i3k, i10k, i60k = sizes.index(3_000), sizes.index(10_000), sizes.index(60_000)
    for secs in cost.values():
        # 20x the examples: proportional would be 20x the time; at least 5x, whatever the noise
        assert secs[i60k] > 5 * secs[i3k]
        # per example, a batch of 10 costs several times more than a batch of 10,000
        assert secs[0] / sizes[0] > 3 * secs[i10k] / sizes[i10k]
        # and from about a hundred examples on, it has (nearly) stopped falling
        i100 = sizes.index(100)
        assert secs[i100] / sizes[i100] < 4 * secs[i60k] / sizes[i60k]


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
    # the noise of a single example dwarfs the signal |g|^2; a batch of 256 brings it far down
    signal = run.probe("float((full_grad**2).sum())")
    assert measured[0] > 100 * signal and measured[-1] < measured[0] / 100


def test_under_a_time_budget_minibatches_beat_full_batch(lesson):
    run = lesson
    final = run.probe("{B: v[1][0] for B, v in budget_runs.items()}")
    steps = run.probe("{B: len(v[0].step) for B, v in budget_runs.items()}")
    full = final["60000"]
    best_minibatch = min(final["64"], final["512"])
    assert best_minibatch < full - 0.1
    assert steps["64"] > 10 * steps["60000"]
