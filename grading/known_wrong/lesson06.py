"""Lesson 06's known-wrong answers (sample_minibatch): typical mistakes, as exercise cells.

Plain data, read by grading/catalogue.py. Each entry is one mistake: `exercise`, the exercise
cell's id (and the function's name); `label`; `source`, the whole cell a student would hand in
(self-contained: its imports and helpers included); `words`, what the checker's diagnosis must
say ("" when it only has to fail). tests/test_checks_lesson06.py runs each one through its
checker; the class-grading tests autograde whole submissions built from them.
"""

LESSON = "06_minibatches"

MISTAKES = [
    {
        "exercise": "sample_minibatch",
        "label": "sampling with repeats",
        "words": "sampling with repeats",
        "source": """\
import torch

def sample_minibatch(X, y, batch_size, generator):
    idx = torch.randint(0, len(y), (batch_size,), generator=generator)
    return (X[idx], y[idx])
""",
    },
    {
        "exercise": "sample_minibatch",
        "label": "labels shuffled apart from images",
        "words": "shuffled apart from the images",
        "source": """\
import torch

def sample_minibatch(X, y, batch_size, generator):
    idx = torch.randperm(len(y), generator=generator)[:batch_size]
    return (X[idx], y[idx[torch.randperm(batch_size, generator=generator)]])
""",
    },
    {
        "exercise": "sample_minibatch",
        "label": "separate indices for X and y",
        "words": "labels",
        "source": """\
import torch

def sample_minibatch(X, y, batch_size, generator):
    ix = torch.randperm(len(y), generator=generator)[:batch_size]
    iy = torch.randperm(len(y), generator=generator)[:batch_size]
    return (X[ix], y[iy])
""",
    },
    {
        "exercise": "sample_minibatch",
        "label": "ignores the generator",
        "words": "ignores `generator`",
        "source": """\
import torch

def sample_minibatch(X, y, batch_size, generator):
    idx = torch.randperm(len(y))[:batch_size]
    return (X[idx], y[idx])
""",
    },
    {
        "exercise": "sample_minibatch",
        "label": "re-seeds inside",
        "words": "same batch",
        "source": """\
import torch

def sample_minibatch(X, y, batch_size, generator):
    idx = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))[:batch_size]
    return (X[idx], y[idx])
""",
    },
    {
        "exercise": "sample_minibatch",
        "label": "first rows",
        "words": "first",
        "source": """\
def sample_minibatch(X, y, batch_size, generator):
    return (X[:batch_size], y[:batch_size])
""",
    },
    {
        "exercise": "sample_minibatch",
        "label": "off by one",
        "words": "0 … n−1",
        "source": """\
import torch

def sample_minibatch(X, y, batch_size, generator):
    idx = torch.randperm(len(y) - 1, generator=generator)[:batch_size]
    return (X[idx], y[idx])
""",
    },
    {
        "exercise": "sample_minibatch",
        "label": "biased",
        "words": "not uniform",
        "source": """\
import torch

def sample_minibatch(X, y, batch_size, generator):
    w = torch.ones(len(y))
    w[:len(y) // 2] = 2.0
    idx = torch.multinomial(w, batch_size, replacement=False, generator=generator)
    return (X[idx], y[idx])
""",
    },
    {
        "exercise": "sample_minibatch",
        "label": "swapped outputs",
        "words": "in that order",
        "source": """\
import torch

def sample_minibatch(X, y, batch_size, generator):
    idx = torch.randperm(len(y), generator=generator)[:batch_size]
    return (y[idx], X[idx])
""",
    },
    {
        "exercise": "sample_minibatch",
        "label": "in place",
        "words": "in place",
        "source": """\
import torch

def sample_minibatch(X, y, batch_size, generator):
    perm = torch.randperm(len(y), generator=generator)
    X[:] = X[perm]
    y[:] = y[perm]
    return (X[:batch_size], y[:batch_size])
""",
    },
    {
        "exercise": "sample_minibatch",
        "label": "returns None",
        "words": "expected a pair",
        "source": """\
def sample_minibatch(X, y, b, g):
    return None
""",
    },
]
