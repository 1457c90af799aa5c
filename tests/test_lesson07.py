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


def test_adagrad_from_scratch_matches_torch_up_to_eps_placement(lesson):
    assert lesson.probe("n_differ") < 0.01 * 7840  # fewer than 1 % differ by more than 1e-4
    losses = lesson.probe("adagrad_losses")
    assert abs(losses["ours"] - losses["torch.optim.Adagrad"]) < 0.01


def test_eps_inside_or_outside_the_root_agree_only_for_gradients_well_above_sqrt_eps(lesson):
    first = lesson.probe("{f'{g:g}': v for g, v in first_step.items()}")
    inside, outside = first["0.01"]
    assert inside > 0.99 and outside > 0.99  # both move the weight by eta, to within 1 %
    inside, outside = first["1e-05"]
    assert 0.09 < inside < 0.11 and outside > 0.99  # about 0.1 eta against eta


def test_adaptive_methods_beat_plain_sgd_on_mnist_and_momentum_is_its_effective_rate(lesson):
    final = lesson.probe("{k: v[1][0] for k, v in mnist_runs.items()}")
    sgd = final["SGD η = 0.1"]
    assert final["RMSprop η = 1e-3"] < sgd and final["Adam η = 1e-3"] < sgd
    # momentum at eta = 0.1 (effective rate 1.0) ends lowest of all ...
    assert final["momentum η = 0.1, β = 0.9"] < min(
        v for k, v in final.items() if k != "momentum η = 0.1, β = 0.9"
    )
    # ... and at plain SGD's effective rate (eta = 0.01) within 10 % of plain SGD
    assert abs(final["momentum η = 0.01, β = 0.9"] - sgd) < 0.1 * sgd


def test_adam_and_rmsprop_beat_gd_on_the_badly_scaled_problem(lesson):
    problems = lesson.probe("problems")
    grid = lesson.probe("{name: lrs for name, (_, lrs) in grid.items()}")
    runs = lesson.probe(
        "{f'{s}|{m}|{lr:g}': [h.final_loss, settled(h), max(h.loss) / h.loss[0], "
        "sum(b > a for a, b in zip(h.loss[-51:], h.loss[-50:]))] for (s, m, lr), h in bad_runs.items()}"
    )
    best_bad = lesson.probe("{f'{s}|{m}': v for (s, m), v in best_bad.items()}")
    assert len(problems) >= 3
    # no run sits at the edge of the rule: a settled run never went up in its last 50 steps,
    # a bouncing one went up at least 5 times
    for key, (_, ok, _, ups) in runs.items():
        assert ups == 0 if ok else ups >= 5, key
    for s in problems:
        best = {}
        for m, lrs in grid.items():
            finals = [runs[f"{s}|{m}|{lr:g}"] for lr in lrs]
            best[m] = min((loss, lr) for (loss, ok, _, _), lr in zip(finals, lrs) if ok)
            assert list(best[m]) == best_bad[f"{s}|{m}"]
            # the grid is wide: its smallest rate crawls (settled, above twice the best), its
            # largest does not settle
            assert finals[0][1] and finals[0][0] > 2 * best[m][0], (s, m)
            assert not finals[-1][1], (s, m)
        # GD's best settled rate is 3e-3, capped by stability: the next rate, 1e-2, bounces
        assert best["GD"][1] == 3e-3 and not runs[f"{s}|GD|0.01"][1], s
        assert best["RMSprop"][0] < 0.7 * best["GD"][0], s
        assert best["Adam"][0] < 0.3 * best["GD"][0], s
        # Adam's best settled run first climbs above its starting loss
        assert runs[f"{s}|Adam|{best['Adam'][1]:g}"][2] > 1, s
