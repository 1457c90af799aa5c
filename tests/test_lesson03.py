"""Lesson 03's teaching claims, asserted on the notebook's own seeded run."""

from __future__ import annotations

import math

import pytest

from tests.conftest import assert_runs_clean, needs_mnist

pytestmark = [needs_mnist, pytest.mark.slow]
LESSON = "03_gradient_descent"


def test_solution_runs_clean(lesson):
    assert_runs_clean(lesson)


def test_forward_and_centered_differences_have_slopes_1_and_2(lesson):
    run = lesson
    assert 0.9 < run.probe("float(forward_slope)") < 1.1
    assert 1.9 < run.probe("float(centered_slope)") < 2.1


def test_round_off_floor(lesson):
    run = lesson
    fwd_best_h, cen_best_h = run.probe("[best_forward_h, best_centered_h]")
    assert 1e-10 <= fwd_best_h <= 1e-6 and 1e-7 <= cen_best_h <= 1e-3
    fwd_min, cen_min = run.probe("[forward_error.min().item(), centered_error.min().item()]")
    assert cen_min < fwd_min / 1000  # thousands of times more accurate at their best h
    # below the best h the error grows again: at h = 1e-15 it is far above the minimum
    fwd_tiny, cen_tiny = run.probe("[forward_error[0].item(), centered_error[0].item()]")
    assert fwd_tiny > 100 * fwd_min and cen_tiny > 100 * cen_min


def test_numerical_gradient_matches_autograd_and_costs_n_times_the_work(lesson):
    run = lesson
    assert run.probe("(numerical - autograd_grad[coords]).abs().max().item()") < 1e-7
    assert run.probe("relative_error_50") < 1e-8  # "a relative error below 1e-8"
    assert run.probe("n") == 7850
    # work in FLOPs of the matrix products: one evaluation is X (1000 x 784) times W^T (784 x 10);
    # autograd adds one product of the same size for the gradient of W
    evaluation, autograd, numerical = run.probe(
        "[evaluation_flops, autograd_flops, numerical_gradient_flops]"
    )
    assert evaluation == 2 * 1000 * 784 * 10
    assert autograd == 2 * evaluation
    assert numerical == 2 * 7850 * evaluation and numerical // autograd == 7850


def test_batch_gradient_descent_finds_w_equal_2(lesson):
    run = lesson
    w, steps = run.probe("[w_line, steps_line]")
    assert abs(w - 2) < 1e-3 and steps < 100


def test_learning_rate_regimes(lesson):
    run = lesson
    d = run.probe("{k: (v - 2).tolist() for k, v in regime_paths.items()}")
    start = abs(d["right"][0])
    assert abs(d["too small"][-1]) > 0.1  # crawls
    assert abs(d["right"][-1]) < 1e-6
    big = d["too large"]
    assert abs(big[-1]) < 0.1 * start  # converges ...
    assert all(a * b < 0 for a, b in zip(big, big[1:]))  # ... oscillating around w = 2
    div = d["diverging"]
    assert abs(div[-1]) > 10 * start and all(abs(b) > abs(a) for a, b in zip(div, div[1:]))


def test_eta_below_2_over_L_converges_and_above_diverges(lesson):
    run = lesson
    L = run.probe("L")
    assert abs(L - 57) < 1e-9
    lrs, dist = run.probe("[lrs.tolist(), final_distance.tolist()]")
    below = [x for lr, x in zip(lrs, dist) if lr < 0.99 * 2 / L]
    above = [x for lr, x in zip(lrs, dist) if lr > 1.01 * 2 / L]
    assert below and above
    assert max(below) < 1.5 and min(above) > 1.5
    # fastest at 1/L: the learning rate nearest 1/L lands on w = 2 (to rounding) ...
    near = min(range(len(lrs)), key=lambda i: abs(lrs[i] - 1 / L))
    assert dist[near] < 1e-12
    # ... and the slowest convergers are at the two ends of (0, 2/L)
    mid = [x for lr, x in zip(lrs, dist) if 0.5 / L < lr < 1.5 / L]
    assert max(mid) < min(below[0], below[-1])


def test_steps_depend_on_kappa_not_on_the_dimension(lesson):
    """Issue 17, statement 18: gradient descent's iteration count grows with kappa, not with d."""
    run = lesson
    by_d = {int(d): s for d, s in run.probe("steps_by_d").items()}
    by_kappa = {int(k): s for k, s in run.probe("steps_by_kappa").items()}
    assert sorted(by_d) == [2, 20, 200, 2000] and sorted(by_kappa) == [10, 100, 1000]
    # "a thousand times more dimensions change the count by less than a third (and make it smaller)"
    assert max(by_d.values()) < 4 / 3 * min(by_d.values()) and by_d[2000] < by_d[2]
    # "ten times larger kappa multiplies it by 9 to 11, within 20 % of (kappa/2) ln 1e6"
    assert all(9 <= by_kappa[10 * k] / by_kappa[k] <= 11 for k in (10, 100))
    assert all(abs(s - k / 2 * math.log(1e6)) < 0.2 * k / 2 * math.log(1e6) for k, s in by_kappa.items())


def test_full_batch_gd_on_mnist_clears_90_percent(lesson):
    run = lesson
    acc = run.probe("test_accuracy")
    assert acc > 0.90
    n_train, steps = run.probe("[len(y_train), len(history.loss)]")
    assert n_train == 60_000 and steps == 100
    losses = run.probe("history.loss")
    assert losses[-1] < 0.2 * losses[0]
