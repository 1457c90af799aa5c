"""Lesson 09's teaching claims, asserted on the notebook's own seeded run."""

from __future__ import annotations

import pytest

from tests.conftest import assert_runs_clean, needs_mnist

pytestmark = [needs_mnist, pytest.mark.slow]
LESSON = "09_tuning"


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


def test_random_search_beats_a_fairly_placed_grid_on_the_same_budget(lesson):
    grid_best = lesson.probe("grid_best.tolist()")
    random_best = lesson.probe("random_best.tolist()")
    assert len(grid_best) == len(random_best) == 20
    # no grid value sits on a range end: one value per third of each range, randomly shifted
    assert lesson.probe("all(0 < ((g[:, 0] + 4) % (5 / 3)).min() for g in grids)")
    mean = lambda v: sum(v) / len(v)  # noqa: E731
    assert mean(random_best) < mean(grid_best) - 0.05
    assert lesson.probe("random_wins") > 0.6
    assert max(grid_best) > max(random_best)  # the worst grids end higher than the worst search


def test_the_small_model_reaches_about_80_percent(lesson):
    assert 0.77 < lesson.probe("best_dense_accuracy") < 0.83


def test_the_learning_rate_matters_more_than_the_weight_decay(lesson):
    # over the dense map: the spread along the learning rate dwarfs the one along weight decay
    along_lr, along_wd = lesson.probe(
        "[dense_losses.clamp(max=3)[:, 0].std().item(), "
        "dense_losses.clamp(max=3)[dense_losses[:, 0].argmin(), :6].std().item()]"
    )
    assert along_lr > 10 * along_wd
