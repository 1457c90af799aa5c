"""course_utils.models and course_utils.training."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_utils.models import MLP, SoftmaxRegression, count_parameters, get_device, seed_everything
from course_utils.training import History, Stopwatch, accuracy, epoch_batches, evaluate, train


def blobs(n=600, seed=0):
    """Ten well-separated Gaussian clusters in 784-D: a problem any model here must learn."""
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(10, 784, generator=g) * 0.3
    y = torch.arange(n) % 10
    return centers[y] + torch.randn(n, 784, generator=g) * 0.5, y


def test_seed_everything_seeds_all_three():
    seed_everything(5)
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    gen = seed_everything(5)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == a
    fresh = torch.Generator().manual_seed(5)
    assert torch.rand(1, generator=gen).item() == torch.rand(1, generator=fresh).item()


def test_device_is_cpu_without_a_gpu():
    assert get_device().type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_models_shapes_and_sizes():
    x = torch.randn(7, 784)
    m = SoftmaxRegression()
    assert m(x).shape == (7, 10) and count_parameters(m) == 7850
    p = m.predict_proba(x)
    assert torch.allclose(p.sum(1), torch.ones(7))
    mlp = MLP(hidden=(32, 16))
    assert mlp(x).shape == (7, 10)
    assert count_parameters(mlp) == 784 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10
    assert count_parameters(MLP(hidden=())) == 7850


def test_full_batch_training_learns_and_records():
    X, y = blobs()
    seed_everything(0)
    m = SoftmaxRegression()
    h = train(
        m,
        X,
        y,
        torch.optim.SGD(m.parameters(), lr=0.1),
        steps=30,
        X_test=X,
        y_test=y,
        eval_every=10,
        progress=False,
    )
    assert len(h.step) == len(h.loss) == len(h.time) == 30
    assert h.examples[-1] == 30 * len(y)  # full batch: every step sees every example
    assert h.loss[-1] < h.loss[0] / 5
    assert h.eval_step == [10, 20, 30] and h.test_acc[-1] > 0.95
    assert all(b >= a for a, b in zip(h.time, h.time[1:]))
    assert "30 steps" in repr(h)


def test_full_batch_step_equals_one_sgd_step_by_hand():
    X, y = blobs(100)
    seed_everything(1)
    m = SoftmaxRegression()
    w0 = m.linear.weight.detach().clone()
    loss = F.cross_entropy(m(X), y)
    (g,) = torch.autograd.grad(loss, m.linear.weight)
    train(m, X, y, torch.optim.SGD(m.parameters(), lr=0.5), steps=1, progress=False)
    assert torch.allclose(m.linear.weight, w0 - 0.5 * g, atol=1e-6)


def test_minibatches_are_shuffled_epochs_and_reproducible():
    X, y = blobs(100)
    runs = []
    for _ in range(2):
        seed_everything(0)
        m = SoftmaxRegression()
        h = train(
            m,
            X,
            y,
            torch.optim.SGD(m.parameters(), lr=0.1),
            epochs=2,
            batch_size=10,
            generator=torch.Generator().manual_seed(3),
            progress=False,
        )
        runs.append(h.loss)
    assert runs[0] == runs[1] and len(runs[0]) == 20


def test_epoch_batches_see_every_example_once_per_epoch_in_a_fresh_order():
    batches = epoch_batches(23, 5, torch.Generator().manual_seed(0))
    epochs = [torch.cat([next(batches) for _ in range(4)]) for _ in range(2)]  # 23 // 5 = 4 batches
    for seen in epochs:
        assert len(seen) == 20 and len(set(seen.tolist())) == 20 and seen.max() < 23
    assert not torch.equal(epochs[0], epochs[1])
    again = epoch_batches(23, 5, torch.Generator().manual_seed(0))
    assert torch.equal(next(again), epochs[0][:5])


def test_a_function_or_an_object_can_be_the_optimizer():
    X, y = blobs(100)
    seed_everything(0)
    a, b = SoftmaxRegression(), SoftmaxRegression()
    b.load_state_dict(a.state_dict())

    def update(params):
        for p in params:
            p -= 0.2 * p.grad

    ha = train(a, X, y, update, steps=5, progress=False)
    hb = train(b, X, y, torch.optim.SGD(b.parameters(), lr=0.2), steps=5, progress=False)
    assert np.allclose(ha.loss, hb.loss, atol=1e-6)
    with pytest.raises(TypeError, match="optimizer must be"):
        train(a, X, y, 0.1, steps=1, progress=False)
    with pytest.raises(ValueError, match="when to stop"):
        train(a, X, y, update, progress=False)


class FakeClock:
    """A perf_counter that moves only when told to (or by `tick` per reading): no test reads the
    real clock, so no verdict depends on how busy the machine is."""

    def __init__(self, tick: float = 0.0):
        self.now, self.tick = 100.0, tick

    def __call__(self) -> float:
        self.now += self.tick
        return self.now


def test_time_budget_stops_training(monkeypatch):
    import course_utils.training as training

    clock = FakeClock(tick=0.01)  # every reading of the clock costs 10 ms of "training"
    monkeypatch.setattr(training.time, "perf_counter", clock)
    X, y = blobs(200)
    m = SoftmaxRegression()
    h = train(m, X, y, torch.optim.SGD(m.parameters(), lr=0.01), time_budget=0.3, progress=False)
    # It trained until the budget was spent, and stopped at the first step that found it spent
    # (a step reads the clock twice: 20 ms).
    assert len(h.step) > 1 and h.time[-1] < 0.3 <= h.time[-1] + 0.02


def test_divergence_stops_early():
    X, y = blobs(100)
    m = SoftmaxRegression()

    def blow_up(logits, targets):  # a quadratic: GD with too large a step grows geometrically
        return (logits**2).sum()

    h = train(m, X, y, torch.optim.SGD(m.parameters(), lr=10.0), steps=500, loss_fn=blow_up, progress=False)
    assert not np.isfinite(h.loss[-1])
    assert len(h.step) < 500


def test_evaluate_matches_a_direct_computation():
    X, y = blobs(250)
    m = SoftmaxRegression()
    loss, acc = evaluate(m, X, y, batch_size=100)
    with torch.no_grad():
        logits = m(X)
    assert abs(loss - F.cross_entropy(logits, y).item()) < 1e-5
    assert abs(acc - accuracy(logits, y)) < 1e-6
    assert m.training  # evaluate restores the mode


def test_stopwatch_pauses(monkeypatch):
    import course_utils.training as training

    clock = FakeClock()
    monkeypatch.setattr(training.time, "perf_counter", clock)
    w = Stopwatch()
    clock.now += 1.0  # one second of training
    with w.paused():
        clock.now += 5.0  # five seconds of evaluation: not counted
    clock.now += 0.5
    assert w.elapsed() == pytest.approx(1.5)
    assert not w.out_of(None) and w.out_of(1.5) and not w.out_of(1.6)


def test_history_defaults():
    assert np.isnan(History().final_loss)
