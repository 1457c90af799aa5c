"""Lesson 04's teaching claims, asserted on the notebook's own seeded run."""

from __future__ import annotations

import pytest

from tests.conftest import assert_runs_clean, needs_mnist

pytestmark = [needs_mnist, pytest.mark.slow]
LESSON = "04_momentum"


def test_solution_runs_clean(lesson):
    assert_runs_clean(lesson)


def test_one_step_size_for_three_curvatures(lesson):
    run = lesson
    final = run.probe("{k: float(abs(v[-1])) for k, v in paths_1d.items()}")
    low, medium, high = (final[k] for k in run.probe("list(curvatures)"))
    assert low > 0.1  # crawls
    assert medium < 1e-6  # converges fast
    assert high > 100  # diverges


def test_gradient_descent_zigzags_across_and_crawls_along_the_ravine(lesson):
    run = lesson
    path = run.probe("zigzag.tolist()")
    sharp = [p[1] for p in path]
    flat = [p[0] for p in path]
    assert all(a * b < 0 for a, b in zip(sharp, sharp[1:]))  # the sharp coordinate flips sign each step
    assert all(abs(b) < abs(a) for a, b in zip(flat, flat[1:])) and abs(flat[-1]) > 0.01  # crawls


def test_mnist_slice_is_badly_conditioned_and_gd_bounces_across_it(lesson):
    run = lesson
    assert run.probe("slice_kappa") > 50
    path = run.probe("slice_path.tolist()")
    steps = [b[0] - a[0] for a, b in zip(path, path[1:])]
    flips = sum(s * t < 0 for s, t in zip(steps, steps[1:])) / (len(steps) - 1)
    assert flips > 0.8  # the step along the sharpest direction changes sign nearly every time
    first_step_across = abs(path[1][0] - path[0][0])
    moved_along = abs(path[-1][1] - path[0][1])
    assert moved_along < first_step_across  # 30 steps along move less than one step across


def test_three_forms_of_momentum_are_equal(lesson):
    run = lesson
    gaps = run.probe("form_gaps")
    scale = run.probe("w_heavy.abs().max().item()")
    assert scale > 0.1
    assert all(g < 1e-10 for g in gaps.values()), gaps
    assert run.probe("gap_same_lr") > 1e-2  # without rescaling the learning rate they differ


def test_larger_beta_is_better_on_the_ravine(lesson):
    run = lesson
    final = {float(k): v for k, v in run.probe("beta_final").items()}
    assert final[0.7] < final[0.1] < final[0.0]
    assert final[0.7] < 0.01 * final[0.0]


def test_measured_rates_match_the_formulas_within_10_percent(lesson):
    run = lesson
    measured = run.probe("measured")
    theory = run.probe("theory")
    assert len(measured["GD"]) >= 4
    for method in ("GD", "momentum"):
        for k, rate in measured[method].items():
            expected = theory[method][k]
            assert abs(rate - expected) < 0.10 * expected, (method, k, rate, expected)
            # the error removed per step, 1 - rate, also agrees (within 15 %)
            assert abs((1 - rate) - (1 - expected)) < 0.15 * (1 - expected), (method, k)


def test_momentum_reaches_the_target_several_times_faster_on_kappa_100(lesson):
    run = lesson
    steps = run.probe("steps_to_target")
    assert steps["GD"] > 4 * steps["momentum"], steps


def test_momentum_escapes_the_saddle_faster(lesson):
    run = lesson
    esc = run.probe("saddle_escape")
    assert esc["momentum β = 0.9"] * 2 < esc["gradient descent"]


def test_momentum_beats_gradient_descent_on_mnist(lesson):
    run = lesson
    final = run.probe("{k: h.loss[-1] for k, h in mnist_runs.items()}")
    ups = run.probe(
        "{k: sum(b > a for a, b in zip(h.loss[-51:], h.loss[-50:])) for k, h in mnist_runs.items()}"
    )
    ok = run.probe("{k: settled(h) for k, h in mnist_runs.items()}")
    # no run sits at the edge of the rule: settled runs never went up in their last 50 steps,
    # the bouncing one went up at least 5 times
    assert all(ups[k] == 0 if ok[k] else ups[k] >= 5 for k in final), ups
    assert ok["GD η = 0.1"] and ok["GD η = 0.2"] and not ok["GD η = 0.4"]
    assert run.probe("best_gd") == "GD η = 0.2"  # the largest rate that settles
    assert final["momentum η = 0.1, β = 0.9"] < final["GD η = 0.2"] - 0.03
    assert run.probe("steps_to_match") <= 70
