"""Lesson 05's teaching claims, asserted on the notebook's own seeded run."""

from __future__ import annotations

import pytest

from tests.conftest import assert_runs_clean, needs_mnist

pytestmark = [needs_mnist, pytest.mark.slow]
LESSON = "05_overparameterization"


def test_solution_runs_clean(lesson):
    assert_runs_clean(lesson)


def test_only_the_convex_example_stays_below_its_chords(lesson):
    v = lesson.probe("violations")
    assert v["(w − 1)²: convex"] == 0
    assert v["w⁴ − 4w² + w: two minima"] > 0.5 and v["w³: a flat point at 0"] > 0.5


def test_gradient_descent_on_the_quartic_ends_in_both_minima(lesson):
    ends = lesson.probe("ends.tolist()")
    assert any(abs(e + 1.47) < 0.02 for e in ends) and any(abs(e - 1.35) < 0.02 for e in ends)
    assert 0.2 < lesson.probe("in_global") < 0.8


def test_the_line_between_two_trained_mlps_climbs_above_the_chord(lesson):
    assert lesson.probe("loss_A") < 0.3 and lesson.probe("loss_B") < 0.3
    assert lesson.probe("float(barrier)") > 0.2
    assert lesson.probe("float(softmax_gap)") <= 1e-6  # convex: never above the chord


def test_the_2d_slice_is_lowest_at_the_trained_point(lesson):
    centre, lowest = lesson.probe("[surface[8, 8].item(), surface.min().item()]")
    assert centre == lowest


def test_the_slice_directions_are_filter_normalized_as_li_et_al(lesson):
    # per parameter of d1 and d2: a weight matrix's rows have the norms of theta_A's rows, a bias is 0
    parts = lesson.probe(
        "[[(p.dim(), ((x.view(p.shape).norm(dim=1) - t.view(p.shape).norm(dim=1)) if p.dim() == 2 else x)"
        ".abs().max().item()) for p, x, t in zip(probe.parameters(), d.split(sizes), theta_A.split(sizes))]"
        " for sizes in [[q.numel() for q in probe.parameters()]] for d in (d1, d2)]"
    )
    for direction in parts:
        assert {dim for dim, _ in direction} == {1, 2}
        assert all(gap < 1e-4 if dim == 2 else gap == 0.0 for dim, gap in direction), direction


def test_a_stack_trains_like_separate_networks(lesson):
    assert lesson.probe("stack_vs_alone") < 1e-4


def test_spread_over_initializations_shrinks_with_width(lesson):
    widths = lesson.probe("widths")
    finals = dict(zip(widths, lesson.probe("[lab[w]['final'].tolist() for w in widths]"), strict=True))
    mean = {w: sum(v) / len(v) for w, v in finals.items()}
    std = {w: (sum((x - mean[w]) ** 2 for x in v) / (len(v) - 1)) ** 0.5 for w, v in finals.items()}
    relative = {w: std[w] / mean[w] for w in widths}
    wide = [w for w in widths if w >= 16]
    # widths 2 and 4: std/mean > 0.08; from 16 on: < 0.035; the std itself falls more than tenfold
    assert relative[2] > 0.08 and relative[4] > 0.08
    assert max(relative[w] for w in wide) < 0.035
    assert min(relative[2], relative[4]) > 3 * max(relative[w] for w in wide)
    assert max(std[w] for w in wide) < min(std[2], std[4]) / 10
    assert all(mean[a] > mean[b] for a, b in zip(widths, widths[1:]))  # and the loss itself falls


def test_the_narrow_spread_is_not_unfinished_training(lesson):
    # the same runs continued to 3x the steps: the loss falls, the relative spread does not
    assert lesson.probe("long_steps") == 3 * lesson.probe("lab_steps")
    for w in (2, 4):
        short, long = lesson.probe(f"[lab[{w}]['final'].tolist(), lab_long[{w}].tolist()]")
        m_short, m_long = sum(short) / len(short), sum(long) / len(long)
        rel_short = (sum((x - m_short) ** 2 for x in short) / (len(short) - 1)) ** 0.5 / m_short
        rel_long = (sum((x - m_long) ** 2 for x in long) / (len(long) - 1)) ** 0.5 / m_long
        assert m_long < m_short and rel_long >= rel_short, w


def test_width_costs_parameters_work_and_memory_and_does_not_overfit_here(lesson):
    widths = lesson.probe("widths")
    cost = lesson.probe(
        "{w: [lab[w]['params'], lab[w]['flops_per_step'], lab[w]['memory_kb'], "
        "lab[w]['test_acc'].mean().item()] for w in widths}"
    )
    small, big = cost[str(widths[0])], cost[str(widths[-1])]
    assert big[0] > 100 * small[0] and big[2] > 5 * small[2]
    mems = [cost[str(w)][2] for w in widths]
    assert all(a < b for a, b in zip(mems, mems[1:]))
    # the work of a step: exactly 108,032 FLOPs per hidden unit (batch of 128); seconds not asserted
    assert all(cost[str(w)][1] == 108_032 * w for w in widths)
    accs = [cost[str(w)][3] for w in widths]
    assert all(a < b for a, b in zip(accs, accs[1:]))  # mean test accuracy rises with every doubling
