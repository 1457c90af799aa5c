"""Lesson 08's teaching claims, asserted on the notebook's own seeded run."""

from __future__ import annotations

import pytest

from tests.conftest import assert_runs_clean, needs_mnist

pytestmark = [needs_mnist, pytest.mark.slow]
LESSON = "08_tuning"


def test_solution_runs_clean(lesson):
    assert_runs_clean(lesson)


def test_learning_rate_sweep_is_u_shaped(lesson):
    losses = lesson.probe("[sweep[lr]['loss'] for lr in sweep_lrs]")
    best = min(losses)
    i = losses.index(best)
    assert 0 < i < len(losses) - 1  # the best learning rate is inside the sweep
    assert losses[0] > 5 * best
    assert all(a > b for a, b in zip(losses[:i], losses[1 : i + 1]))  # falls to the minimum
    # beyond it every rate ends more than 5x above the best (their order is not asserted: those
    # runs bounce, and rounding decides where they end)
    assert all(loss > 5 * best for loss in losses[i + 1 :])
    lrs = lesson.probe("sweep_lrs")
    good = [lr for lr, loss in zip(lrs, losses, strict=True) if loss <= 2 * best]
    assert 3 < max(good) / min(good) < 30  # about one order of magnitude
    assert max(good) == lrs[i] and losses[i + 1] > 5 * best  # the cliff is on the large side


def test_signs_of_too_fast_and_too_slow(lesson):
    s = lesson.probe("sign_stats")
    slow, good, fast = s["too slow"], s["good"], s["too fast"]
    assert slow["loss"] > 5 * good["loss"] and slow["jumps"] < good["jumps"]
    assert fast["jumps"] > good["jumps"] and fast["peak"] > 2 * good["peak"]
    assert fast["weight_norm"] > 2 * good["weight_norm"] and fast["loss"] > 2 * good["loss"]
    # the top of the sweep: weights over 100x the good run's norm, loss near guessing's (> 2)
    top = lesson.probe("[sweep[sweep_lrs[-1]]['weight_norm'], sweep[sweep_lrs[-1]]['loss']]")
    assert top[0] > 100 * good["weight_norm"] and top[1] > 2


def test_random_search_beats_the_grid_on_the_same_budget(lesson):
    grid_best = lesson.probe("grid_best")
    random_best = lesson.probe("random_best.tolist()")
    assert sum(r < grid_best for r in random_best) >= 0.75 * len(random_best)
    assert sorted(random_best)[len(random_best) // 2] < grid_best


def test_the_learning_rate_matters_more_than_the_weight_decay(lesson):
    # over the dense map: the spread along the learning rate dwarfs the one along weight decay
    along_lr, along_wd = lesson.probe(
        "[dense_losses.clamp(max=3)[:, 0].std().item(), "
        "dense_losses.clamp(max=3)[dense_losses[:, 0].argmin(), :6].std().item()]")
    assert along_lr > 10 * along_wd
