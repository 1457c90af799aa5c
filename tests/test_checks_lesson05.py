"""Lesson 05's checker: S MLPs at once with batched matmuls; each typical mistake is named."""

from __future__ import annotations

import pytest
import torch

from course_utils import checks


def ok(X, W1, b1, W2, b2):
    return torch.relu(X @ W1 + b1[:, None, :]) @ W2 + b2[:, None, :]


def ok_loop(X, W1, b1, W2, b2):
    return torch.stack([torch.relu(X @ W1[s] + b1[s]) @ W2[s] + b2[s] for s in range(len(W1))])


def ok_bmm(X, W1, b1, W2, b2):
    Xs = X.expand(len(W1), *X.shape)
    return torch.baddbmm(b2[:, None, :], torch.relu(torch.baddbmm(b1[:, None, :], Xs, W1)), W2)


WRONG = {
    "no relu": (lambda X, W1, b1, W2, b2: (X @ W1 + b1[:, None]) @ W2 + b2[:, None],
                "no nonlinearity"),
    "bias per example": (lambda X, W1, b1, W2, b2: torch.relu(X @ W1 + b1) @ W2 + b2,
                         "per example instead of per model"),
    "model 0's weights for all": (lambda X, W1, b1, W2, b2: torch.relu(
        X @ W1[:1] + b1[:1, None]) @ W2[:1] + b2[:1, None] + 0 * W1.sum((1, 2))[:, None, None],
        "model 0 is right"),
    "models last": (lambda X, W1, b1, W2, b2: ok(X, W1, b1, W2, b2).transpose(0, 1),
                    "the models come first"),
    "summed over models": (lambda X, W1, b1, W2, b2: ok(X, W1, b1, W2, b2).sum(0),
                           "one output for all"),
    "in place relu": (lambda X, W1, b1, W2, b2: ok(X.relu_(), W1, b1, W2, b2), "in place"),
}


def test_correct_versions_pass(capsys):
    for fn in (ok, ok_loop, ok_bmm):
        checks.check_stacked_mlp(fn)
    checks.check_stacked_mlp(ok, seed=3, shapes=[(5, 5, 10, 8, 3), (2, 64, 196, 32, 10)])
    assert capsys.readouterr().out.count("✅") == 4


@pytest.mark.parametrize("mistake", list(WRONG))
def test_mistakes_are_named(mistake, capsys):
    fn, words = WRONG[mistake]
    with pytest.raises(AssertionError) as err:
        checks.check_stacked_mlp(fn)
    assert words in str(err.value)
    assert "Look at:" in str(err.value)


def test_blank_is_a_reminder():
    def blank(*args):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        checks.check_stacked_mlp(blank)
