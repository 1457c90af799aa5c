"""Lesson 06's checker: the right sampler passes, each typical mistake is named."""

from __future__ import annotations

import pytest
import torch

from course_utils import checks


def ok(X, y, batch_size, generator):
    idx = torch.randperm(len(y), generator=generator)[:batch_size]
    return X[idx], y[idx]


def with_repeats(X, y, batch_size, generator):
    idx = torch.randint(0, len(y), (batch_size,), generator=generator)
    return X[idx], y[idx]


def labels_apart(X, y, batch_size, generator):
    idx = torch.randperm(len(y), generator=generator)[:batch_size]
    return X[idx], y[idx[torch.randperm(batch_size, generator=generator)]]


def separate_draws(X, y, batch_size, generator):
    ix = torch.randperm(len(y), generator=generator)[:batch_size]
    iy = torch.randperm(len(y), generator=generator)[:batch_size]
    return X[ix], y[iy]


def global_rng(X, y, batch_size, generator):
    idx = torch.randperm(len(y))[:batch_size]
    return X[idx], y[idx]


def reseeded(X, y, batch_size, generator):
    idx = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))[:batch_size]
    return X[idx], y[idx]


def first_rows(X, y, batch_size, generator):
    return X[:batch_size], y[:batch_size]


def off_by_one(X, y, batch_size, generator):
    idx = torch.randperm(len(y) - 1, generator=generator)[:batch_size]
    return X[idx], y[idx]


def biased(X, y, batch_size, generator):
    # the first half of the data twice as likely as the second
    w = torch.ones(len(y))
    w[: len(y) // 2] = 2.0
    idx = torch.multinomial(w, batch_size, replacement=False, generator=generator)
    return X[idx], y[idx]


def swapped(X, y, batch_size, generator):
    idx = torch.randperm(len(y), generator=generator)[:batch_size]
    return y[idx], X[idx]


def shuffles_in_place(X, y, batch_size, generator):
    perm = torch.randperm(len(y), generator=generator)
    X[:] = X[perm]
    y[:] = y[perm]
    return X[:batch_size], y[:batch_size]


WRONG = {
    "sampling with repeats": (with_repeats, "sampling with repeats"),
    "labels shuffled apart from images": (labels_apart, "shuffled apart from the images"),
    "separate indices for X and y": (separate_draws, "labels"),
    "ignores the generator": (global_rng, "ignores `generator`"),
    "re-seeds inside": (reseeded, "same batch"),
    "first rows": (first_rows, "first"),
    "off by one": (off_by_one, "0 … n−1"),
    "biased": (biased, "not uniform"),
    "swapped outputs": (swapped, "in that order"),
    "in place": (shuffles_in_place, "in place"),
    "returns None": (lambda X, y, b, g: None, "expected a pair"),
}


def test_correct_version_passes(capsys):
    checks.check_sample_minibatch(ok)
    checks.check_sample_minibatch(ok, seed=5, sizes=[(77, 3, 7), (20, 784, 20)], draws=3000)
    assert capsys.readouterr().out.count("✅") == 2


@pytest.mark.parametrize("mistake", list(WRONG))
def test_mistakes_are_named(mistake, capsys):
    fn, words = WRONG[mistake]
    with pytest.raises(AssertionError) as err:
        checks.check_sample_minibatch(fn)
    assert words in str(err.value)
    assert "Look at:" in str(err.value)
    assert "❌" in capsys.readouterr().out


def test_blank_is_a_reminder():
    def blank(X, y, batch_size, generator):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        checks.check_sample_minibatch(blank)
