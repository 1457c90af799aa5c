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


def test_spectral_radius_decides_convergence_and_rate(lesson):
    """§5: rho(M) < 1 iff 0 < eta*lambda < 2(1 + beta); rho = sqrt(beta) in the complex band; runs agree."""
    run = lesson
    grid = run.probe(
        "[(a, b, spectral_radius(a, b)) for a in np.linspace(0.05, 4.0, 80).tolist()"
        " for b in [0.0, 0.2, 0.5, 0.8, 0.95]]"
    )
    for a, b, rho in grid:
        if abs(a - 2 * (1 + b)) > 1e-6:
            assert (rho < 1) == (a < 2 * (1 + b)), (a, b, rho)
        if (1 - b**0.5) ** 2 + 1e-6 < a < (1 + b**0.5) ** 2 - 1e-6:  # complex roots: |z| = sqrt(beta)
            assert abs(rho - b**0.5) < 1e-9, (a, b, rho)
    table = {tuple(k): v for k, v in run.probe("[[list(k), list(v)] for k, v in stability.items()]")}
    for (a, b), (rho, rate, last) in table.items():
        # "every run with rho(M) < 1 ends below 1e-6, every one with rho(M) > 1 above 1e6"
        assert (last < 1e-6) if rho < 1 else (last > 1e6), (a, b, rho, last)
        assert abs(rate - rho) < 0.02, (a, b, rate, rho)  # "to within 0.02"
    assert table[(2.5, 0.0)][0] > 1 > table[(2.5, 0.5)][0]  # GD diverges where heavy ball converges
    assert abs(table[(2.5, 0.0)][0] - 1.5) < 1e-9 and abs(table[(2.5, 0.5)][0] - 0.5**0.5) < 1e-9
    assert table[(3.1, 0.5)][0] > 1


def test_best_parameters_put_mu_and_L_at_the_ends_of_the_complex_band(lesson):
    run = lesson
    rho_mu, rho_L, rate = run.probe(
        "[spectral_radius(sweep_lr * sweep_mu, best_beta_theory),"
        " spectral_radius(sweep_lr * sweep_L, best_beta_theory), best_rate_theory]"
    )
    # double roots there: eigvals is accurate to about the square root of rounding
    assert abs(rho_mu - rate) < 1e-6 and abs(rho_L - rate) < 1e-6
    assert abs(rate - 9 / 11) < 1e-12  # kappa = 100: 0.818


def test_beta_sweep_matches_the_spectral_radius(lesson):
    run = lesson
    betas, measured = run.probe("[sweep_betas, sweep_measured]")
    assert run.probe("sweep_gap") < 0.01  # "within 0.01 at every beta of the sweep"
    edge = run.probe("stability_edge")
    assert abs(edge - 0.653) < 5e-4 and abs(run.probe("sweep_lr * sweep_L") - 3.31) < 5e-3
    # gradient descent and every beta below the edge diverge; every beta above it converges
    assert all((m > 1) == (b < edge) for b, m in zip(betas, measured)), list(zip(betas, measured))
    assert measured[0] > 1
    best = run.probe("sweep_betas[best_measured]")
    assert best == run.probe("best_beta_theory") and abs(best - 0.669) < 5e-4
    assert abs(run.probe("sweep_measured[best_measured] - best_rate_theory")) < 0.01
    # for larger beta the rate is sqrt(beta), which grows again
    above = [(b, m) for b, m in zip(betas, measured) if b > best]
    assert all(abs(m - b**0.5) < 0.01 for b, m in above)
    assert all(m2 > m1 for (_, m1), (_, m2) in zip(above, above[1:]))


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
