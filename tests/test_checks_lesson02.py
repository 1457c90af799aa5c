"""Lesson 02's checker: the right answer passes, each typical mistake is named."""

from __future__ import annotations

import pytest
import torch

from course_utils import checks


def rs_ok(J, w, J_w, scale, generator):
    candidate = w + scale * torch.randn(w.shape, generator=generator)
    J_candidate = J(candidate)
    if J_candidate < J_w:
        return candidate, J_candidate
    return w, J_w


def _always_accept(J, w, J_w, scale, generator):
    candidate = w + scale * torch.randn(w.shape, generator=generator)
    return candidate, J(candidate)


def _flipped(J, w, J_w, scale, generator):
    candidate = w + scale * torch.randn(w.shape, generator=generator)
    J_candidate = J(candidate)
    if J_candidate > J_w:
        return candidate, J_candidate
    return w, J_w


def _no_scale(J, w, J_w, scale, generator):
    return rs_ok(J, w, J_w, 1.0, generator)


def _uniform(J, w, J_w, scale, generator):
    candidate = w + scale * torch.rand(w.shape, generator=generator)
    J_candidate = J(candidate)
    return (candidate, J_candidate) if J_candidate < J_w else (w, J_w)


def _global_rng(J, w, J_w, scale, generator):
    candidate = w + scale * torch.randn(w.shape)
    J_candidate = J(candidate)
    return (candidate, J_candidate) if J_candidate < J_w else (w, J_w)


def _around_origin(J, w, J_w, scale, generator):
    candidate = scale * torch.randn(w.shape, generator=generator)
    J_candidate = J(candidate)
    return (candidate, J_candidate) if J_candidate < J_w else (w, J_w)


def _evaluates_twice(J, w, J_w, scale, generator):
    candidate = w + scale * torch.randn(w.shape, generator=generator)
    if J(candidate) < J(w):
        return candidate, J(candidate)
    return w, J_w


def _in_place(J, w, J_w, scale, generator):
    noise = scale * torch.randn(w.shape, generator=generator)
    w += noise
    J_new = J(w)
    if J_new < J_w:
        return w.clone(), J_new
    w -= noise
    return w.clone(), J_w


def _stale_value(J, w, J_w, scale, generator):
    candidate = w + scale * torch.randn(w.shape, generator=generator)
    if J(candidate) < J_w:
        return candidate, J_w
    return w, J_w


def _no_eval(J, w, J_w, scale, generator):
    return w + scale * torch.randn(w.shape, generator=generator), J_w


def _only_point(J, w, J_w, scale, generator):
    return rs_ok(J, w, J_w, scale, generator)[0]


def _blank(J, w, J_w, scale, generator):
    raise NotImplementedError()


WRONG = {
    "always accepts": (_always_accept, "accepted a worse point"),
    "comparison flipped": (_flipped, "the comparison"),
    "ignores scale": (_no_scale, "not spread by `scale`"),
    "uniform noise": (_uniform, "not centred on w"),
    "global RNG": (_global_rng, "ignores the generator"),
    "around the origin": (_around_origin, "not centred on w"),
    "evaluates J twice": (_evaluates_twice, "evaluates J 3 times"),
    "w changed in place": (_in_place, "changed w in place"),
    "returns the old value": (_stale_value, "instead of J(w')"),
    "never evaluates": (_no_eval, "never evaluates J"),
    "returns only the point": (_only_point, "expected the pair"),
}


def test_correct_version_passes(capsys):
    checks.check_random_search_step(rs_ok)
    for seed in range(3):
        checks.check_random_search_step(rs_ok, seed=seed, dims=(2, 30), steps=60)
    assert capsys.readouterr().out.count("✅") == 4


@pytest.mark.parametrize("mistake", list(WRONG))
def test_mistakes_are_named(mistake, capsys):
    fn, words = WRONG[mistake]
    with pytest.raises(AssertionError) as err:
        checks.check_random_search_step(fn)
    assert words in str(err.value)
    assert "❌" in capsys.readouterr().out


def test_blank_raises_not_implemented(capsys):
    with pytest.raises(NotImplementedError):
        checks.check_random_search_step(_blank)
    assert "not written yet" in capsys.readouterr().out
