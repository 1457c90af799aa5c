"""Lesson 05's known-wrong answers (stacked_mlp): typical mistakes, as exercise cells.

Plain data, read by grading/catalogue.py. Each entry is one mistake: `exercise`, the exercise
cell's id (and the function's name); `label`; `source`, the whole cell a student would hand in
(self-contained: its imports and helpers included); `words`, what the checker's diagnosis must
say ("" when it only has to fail). tests/test_checks_lesson05.py runs each one through its
checker; the class-grading tests autograde whole submissions built from them.
"""

LESSON = "05_overparameterization"

MISTAKES = [
    {
        "exercise": "stacked_mlp",
        "label": "no relu",
        "words": "no nonlinearity",
        "source": """\
def stacked_mlp(X, W1, b1, W2, b2):
    return (X @ W1 + b1[:, None]) @ W2 + b2[:, None]
""",
    },
    {
        "exercise": "stacked_mlp",
        "label": "bias per example",
        "words": "per example instead of per model",
        "source": """\
import torch

def stacked_mlp(X, W1, b1, W2, b2):
    return torch.relu(X @ W1 + b1) @ W2 + b2
""",
    },
    {
        "exercise": "stacked_mlp",
        "label": "model 0's weights for all",
        "words": "model 0 is right",
        "source": """\
import torch

def stacked_mlp(X, W1, b1, W2, b2):
    return torch.relu(X @ W1[:1] + b1[:1, None]) @ W2[:1] + b2[:1, None] + 0 * W1.sum((1, 2))[:, None, None]
""",
    },
    {
        "exercise": "stacked_mlp",
        "label": "models last",
        "words": "the models come first",
        "source": """\
import torch

def ok(X, W1, b1, W2, b2):
    return torch.relu(X @ W1 + b1[:, None, :]) @ W2 + b2[:, None, :]

def stacked_mlp(X, W1, b1, W2, b2):
    return ok(X, W1, b1, W2, b2).transpose(0, 1)
""",
    },
    {
        "exercise": "stacked_mlp",
        "label": "summed over models",
        "words": "one output for all",
        "source": """\
import torch

def ok(X, W1, b1, W2, b2):
    return torch.relu(X @ W1 + b1[:, None, :]) @ W2 + b2[:, None, :]

def stacked_mlp(X, W1, b1, W2, b2):
    return ok(X, W1, b1, W2, b2).sum(0)
""",
    },
    {
        "exercise": "stacked_mlp",
        "label": "in place relu",
        "words": "in place",
        "source": """\
import torch

def ok(X, W1, b1, W2, b2):
    return torch.relu(X @ W1 + b1[:, None, :]) @ W2 + b2[:, None, :]

def stacked_mlp(X, W1, b1, W2, b2):
    return ok(X.relu_(), W1, b1, W2, b2)
""",
    },
]
