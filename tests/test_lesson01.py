"""Lesson 01's teaching claims, asserted on the notebook's own seeded run."""

from __future__ import annotations

import math

import pytest

from tests.conftest import assert_runs_clean, needs_mnist

pytestmark = [needs_mnist, pytest.mark.slow]
LESSON = "01_task_and_loss"


def test_solution_runs_clean(lesson):
    assert_runs_clean(lesson)


def test_zero_model_loss_is_log_10(lesson):
    run = lesson
    risk = run.probe("float(F.cross_entropy(zero_model(X_train), y_train))")
    assert abs(risk - math.log(10)) < 1e-5


def test_cross_entropy_recovers_from_a_confidently_wrong_start_and_mse_does_not(lesson):
    run = lesson
    acc = run.probe("{f'{s}|{l}': h.test_acc[-1] for (s, l), (_, h, _) in results.items()}")
    gentle, wrong = "small init", "confidently wrong (weights × 10)"
    # From a gentle start both losses train softmax regression well ...
    assert acc[f"{gentle}|cross-entropy"] > 0.88 and acc[f"{gentle}|squared error"] > 0.88
    # ... from a saturated start, cross-entropy still does and squared error lags far behind.
    assert acc[f"{wrong}|cross-entropy"] > 0.85
    assert acc[f"{wrong}|cross-entropy"] - acc[f"{wrong}|squared error"] > 0.10
    # fair to squared error: from the wrong start its best learning rate lies inside the grid, and
    # the larger rates do worse
    lrs = run.probe("learning_rates")
    train_acc = run.probe("{f'{s}|{l}|{lr:g}': a for (s, l, lr), a in train_acc.items()}")
    best = run.probe(f"results[{wrong!r}, 'squared error'][0]")
    assert lrs[0] < best < lrs[-1]
    above = [train_acc[f"{wrong}|squared error|{lr:g}"] for lr in lrs if lr > best]
    assert max(above) < train_acc[f"{wrong}|squared error|{best:g}"]


def test_normalization_is_pooled_not_per_pixel(lesson):
    mean, std = lesson.probe("[X_train.mean().item(), X_train.std().item()]")
    assert abs(mean) < 1e-3 and abs(std - 1) < 1e-3  # all pixels pooled: mean 0, variance 1
    assert lesson.probe("constant_pixels") == 67  # "many border pixels": the same in every image
    assert 1.4 < lesson.probe("pixel_std.max().item()") < 1.5  # "up to about 1.45"
    assert lesson.probe("pixel_std[pixel_std > 0].min().item()") < 0.01  # "from nearly 0"


def test_mse_gradient_vanishes_when_confidently_wrong(lesson):
    run = lesson
    g = run.probe("{k: [float(v[0]), float(v[-1])] for k, v in grads.items()}")
    # at p_y ~ 1e-6 (first point): CE pushes with ~1, squared error with ~0
    assert g["cross-entropy"][0] > 0.99 and g["squared error"][0] < 1e-4


def test_zero_one_loss_is_flat_where_cross_entropy_slopes(lesson):
    run = lesson
    z = run.probe("zero_one")
    ce = run.probe("ce_along")
    flat = sum(a == b for a, b in zip(z, z[1:])) / (len(z) - 1)
    assert flat > 0.8  # the error rate is constant between most neighbouring points
    assert all(a != b for a, b in zip(ce, ce[1:]))  # the cross-entropy never is
