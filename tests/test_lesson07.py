"""Lesson 07's teaching claims, asserted on the notebook's own seeded run."""

from __future__ import annotations

import pytest

from tests.conftest import assert_runs_clean, needs_mnist

pytestmark = [needs_mnist, pytest.mark.slow]
LESSON = "07_schedules"


def test_solution_runs_clean(lesson):
    assert_runs_clean(lesson)


def test_schedules_equal_torchs(lesson):
    errors = lesson.probe("schedule_error")
    assert set(errors) >= {"exponential", "step decay", "cosine", "cyclical", "η₀c/(c+t)"}
    assert max(errors.values()) < 1e-9


def test_polynomial_schedule_is_the_tables_eta0_c_over_c_plus_t(lesson):
    """Issue 17, statement 12: the table says η₀c/(c+t) and the code computes exactly that."""
    values = lesson.probe("[poly(t, eta0=0.3, c=7) for t in (0, 1, 10, 100)]")
    assert values == pytest.approx([0.3 * 7 / (7 + t) for t in (0, 1, 10, 100)], rel=1e-12)
    assert lesson.probe("poly(0)") == 1.0  # every schedule starts at eta0
    source = "\n".join(c.source for c in lesson.nb.cells if c.cell_type == "markdown")
    assert r"\dfrac{\eta_0\, c}{c + t}" in source and r"\alpha/(c+t)" in source  # the deck's form, named


def test_robbins_monro_on_the_noisy_quadratic(lesson):
    runs = {k: {int(t): v for t, v in msd.items()} for k, msd in lesson.probe("rm_runs").items()}
    const, one_over_t = runs["constant η = 0.1"], runs["η₀c/(c+t)"]
    sqrt_t, expo = runs["η₀c/(c+√t)"], runs["exponential η₀·0.99^t"]
    plateau = 0.1 / (2 - 0.1)  # eta sigma^2 / (2 - eta)
    # constant: stays within 10 % of the plateau from step 1,000 to 10,000
    assert all(abs(const[t] / plateau - 1) < 0.1 for t in (1_000, 10_000))
    # eta0 c/(c+t): falls more than 5x per decade and ends lowest
    assert one_over_t[1_000] > 5 * one_over_t[10_000]
    assert one_over_t[10_000] == min(r[10_000] for r in runs.values())
    # eta0 c/(c+sqrt t): falls more than 2x per decade, ends more than 10x above 1/t
    assert sqrt_t[1_000] > 2 * sqrt_t[10_000] and sqrt_t[10_000] > 10 * one_over_t[10_000]
    # exponential: frozen (less than 10 % change over the last decade), more than 5x above 1/t
    assert abs(expo[10_000] / expo[1_000] - 1) < 0.1 and expo[10_000] > 5 * one_over_t[10_000]
    sums = lesson.probe("rm_sums")
    assert sums["exponential η₀·0.99^t"][0] == pytest.approx(50, rel=1e-3)


def test_decaying_schedules_beat_a_constant_large_learning_rate(lesson):
    final = lesson.probe("{k: v[1][0] for k, v in schedule_runs.items()}")
    constant = final.pop("constant")
    assert constant > 1.5
    assert len(final) == 6
    for name, loss in final.items():
        assert loss < 0.7 * constant, name


def test_layers_get_gradients_of_very_different_sizes(lesson):
    rms = lesson.probe("layer_rms")
    assert rms[-1] > 1e3 * rms[0]
    assert all(a < b for a, b in zip(rms, rms[1:]))


def test_clipping_matches_torch(lesson):
    assert lesson.probe("clip_error") < 1e-6
    assert abs(lesson.probe("float(torch.sqrt(sum((g**2).sum() for g in clipped)))") - 0.01) < 1e-6
