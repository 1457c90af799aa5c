"""Lesson 07's teaching claims, asserted on the notebook's own seeded run."""

from __future__ import annotations

import pytest

from tests.conftest import assert_runs_clean, needs_mnist

pytestmark = [needs_mnist, pytest.mark.slow]
LESSON = "07_adaptive_methods"


def test_solution_runs_clean(lesson):
    assert_runs_clean(lesson)


def test_schedules_equal_torchs(lesson):
    errors = lesson.probe("schedule_error")
    assert set(errors) >= {"exponential", "step decay", "cosine", "cyclical"}
    assert max(errors.values()) < 1e-9


def test_decaying_schedules_beat_a_constant_large_learning_rate(lesson):
    final = lesson.probe("{k: v[1][0] for k, v in schedule_runs.items()}")
    constant = final.pop("constant")
    assert constant > 1.5
    for name, loss in final.items():
        assert loss < 0.6 * constant, name


def test_layers_get_gradients_of_very_different_sizes(lesson):
    rms = lesson.probe("layer_rms")
    assert rms[-1] > 1e3 * rms[0]
    assert all(a < b for a, b in zip(rms, rms[1:]))


def test_clipping_matches_torch(lesson):
    assert lesson.probe("clip_error") < 1e-6
    assert abs(lesson.probe("float(torch.sqrt(sum((g**2).sum() for g in clipped)))") - 0.01) < 1e-6


def test_adagrad_from_scratch_matches_torch_up_to_eps_placement(lesson):
    assert lesson.probe("n_differ") < 0.01 * 7840
    losses = lesson.probe("adagrad_losses")
    assert abs(losses["ours"] - losses["torch.optim.Adagrad"]) < 0.01


def test_adaptive_methods_beat_plain_gd_on_mnist(lesson):
    final = lesson.probe("{k: v[1][0] for k, v in mnist_runs.items()}")
    assert final["RMSprop"] < final["GD (SGD)"] and final["Adam"] < final["GD (SGD)"]


def test_adam_and_rmsprop_beat_gd_on_the_badly_scaled_problem(lesson):
    best = lesson.probe("{k: v[0] for k, v in best_bad.items()}")
    assert best["Adam"] < 0.5 * best["GD"]
    assert best["RMSprop"] < 0.5 * best["GD"]
    # GD's learning rate is not the limit of the grid: a 10x larger one is worse
    runs = lesson.probe("{f'{k[0]}|{k[1]:g}': h.final_loss for k, h in bad_runs.items()}")
    assert runs["GD|0.01"] > runs["GD|0.001"]
