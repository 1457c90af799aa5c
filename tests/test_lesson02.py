"""Lesson 02's teaching claims, asserted on the notebook's own seeded run."""

from __future__ import annotations

import math

import pytest

from tests.conftest import assert_runs_clean, needs_mnist

pytestmark = [needs_mnist, pytest.mark.slow]
LESSON = "02_random_search"


def test_solution_runs_clean(lesson):
    assert_runs_clean(lesson)


def test_look_left_right_finds_the_1d_minimum(lesson):
    run = lesson
    w, J_end, J_grid_min = run.probe(
        "[path_1d[-1], J1(torch.tensor(path_1d[-1])).item(), J1(ws).min().item()]"
    )
    assert J_end - J_grid_min < 1e-3 and 0.5 < w < 2.5


def test_random_search_only_goes_down_in_2d(lesson):
    run = lesson
    values = run.probe("J2_rows(path_2d).tolist()")
    assert all(b < a for a, b in zip(values, values[1:]))
    assert values[-1] < 0.05 * values[0]


def test_box_sampling_follows_one_over_eps_to_the_d(lesson):
    run = lesson
    box = run.probe("{d: box_evals[d] for d in dims}")
    eps = run.probe("eps")
    assert len(box) >= 8
    for d, n in box.items():  # 50 runs per dimension: the mean is within a factor 1.6 of (1/eps)^d
        assert 1 / 1.6 < n / (1 / eps) ** int(d) < 1.6, (d, n)


def test_local_random_search_with_steps_growing_like_sqrt_d_grows_geometrically(lesson):
    # sigma = 0.1 per coordinate: steps 0.1 sqrt(d) long, longer than the target radius 0.1
    run = lesson
    local = {int(d): n for d, n in run.probe("local_evals").items()}
    ds = sorted(local)
    assert ds[-1] >= 8
    assert all(local[a] < local[b] for a, b in zip(ds, ds[1:]))  # more evaluations as d grows
    # from d = 4 on, each extra dimension multiplies the cost by a roughly constant factor > 1.5
    factors = [local[d + 1] / local[d] for d in range(4, ds[-1])]
    assert min(factors) > 1.5, factors
    slope = (math.log(local[8]) - math.log(local[4])) / 4
    assert math.exp(slope) > 1.8


def test_local_random_search_with_a_fixed_step_length_grows_less_than_2x_per_doubling(lesson):
    scaled = {int(d): n for d, n in lesson.probe("scaled_evals").items()}
    ds = sorted(scaled)
    assert ds == [1, 2, 4, 8, 16, 32, 64]
    ratios = [scaled[b] / scaled[a] for a, b in zip(ds, ds[1:])]
    assert all(1 < r < 2 for r in ratios), ratios  # grows with d, but not geometrically


def test_gradient_descent_beats_1000_random_search_evaluations_in_25_steps(lesson):
    run = lesson
    rs = run.probe("{str(s): c[-1] for s, c in rs_curves.items()}")
    rs_lengths = run.probe("[len(c) for c in rs_curves.values()]")
    gd = run.probe("gd_curve")
    assert all(n == 1001 for n in rs_lengths) and len(gd) == 26
    assert gd[-1] < 0.5 * min(rs.values())
    assert min(rs.values()) < 0.9 * gd[0]  # random search does make progress, slowly


def test_random_directions_are_useless_compared_with_the_gradient(lesson):
    run = lesson
    changes = run.probe("random_changes.tolist()")
    g = run.probe("gradient_change")
    down = sum(c < 0 for c in changes) / len(changes)
    assert len(changes) == 100 and 0.3 < down < 0.7  # about half go up
    assert g < 0 and abs(g) > 20 * max(abs(c) for c in changes)


def test_nelder_mead_evaluations_explode_with_dimension(lesson):
    run = lesson
    nm = {int(k): v for k, v in run.probe("nm_evals").items()}
    gd = {int(k): v for k, v in run.probe("gd_steps").items()}
    reached = [d for d in sorted(nm) if nm[d]]
    assert reached[:4] == [2, 4, 8, 16]
    assert all(nm[a] < nm[b] for a, b in zip(reached, reached[1:]))
    assert nm[16] > 20 * nm[2]  # far more than the 8-fold growth of d
    assert nm[32] is None  # not within 50,000 evaluations (SciPy's default coefficients)
    adaptive = {int(k): v for k, v in run.probe("nm_adaptive").items()}
    assert all(adaptive[d] for d in nm) and adaptive[32] < 50_000  # adaptive=True gets there
    assert 1.2 < run.probe("adaptive_slope") < 1.8  # roughly d^1.5
    assert max(gd.values()) - min(gd.values()) <= 3  # gradient descent: nearly dimension-free


def test_nelder_mead_finds_rosenbrock_minimum(lesson):
    run = lesson
    x = run.probe("full.x.tolist()")
    assert abs(x[0] - 1) < 1e-3 and abs(x[1] - 1) < 1e-3
    assert run.probe("len(simplices)") > 20
