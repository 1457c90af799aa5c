"""Lesson 01's known-wrong answers (softmax and cross_entropy): typical mistakes, as exercise cells.

Plain data, read by grading/catalogue.py. Each entry is one mistake: `exercise`, the exercise
cell's id (and the function's name); `label`; `source`, the whole cell a student would hand in
(self-contained: its imports and helpers included); `words`, what the checker's diagnosis must
say ("" when it only has to fail). tests/test_checks_lesson01.py runs each one through its
checker; the class-grading tests autograde whole submissions built from them.
"""

LESSON = "01_task_and_loss"

MISTAKES = [
    {
        "exercise": "softmax",
        "label": "not stable",
        "words": "not numerically stable",
        "source": """\
def softmax(z):
    return z.exp() / z.exp().sum(1, keepdim=True)
""",
    },
    {
        "exercise": "softmax",
        "label": "wrong dim",
        "words": "normalized each column",
        "source": """\
def softmax_ok(z):
    z = z - z.max(dim=1, keepdim=True).values
    e = z.exp()
    return e / e.sum(dim=1, keepdim=True)

def softmax(z):
    return softmax_ok(z.T).T
""",
    },
    {
        "exercise": "softmax",
        "label": "whole tensor",
        "words": "whole tensor",
        "source": """\
def softmax(z):
    return (z - z.max()).exp() / (z - z.max()).exp().sum()
""",
    },
    {
        "exercise": "softmax",
        "label": "log-probs",
        "words": "log-probabilities",
        "source": """\
def softmax_ok(z):
    z = z - z.max(dim=1, keepdim=True).values
    e = z.exp()
    return e / e.sum(dim=1, keepdim=True)

def softmax(z):
    return softmax_ok(z).log()
""",
    },
    {
        "exercise": "softmax",
        "label": "uses torch",
        "words": "torch's own",
        "source": """\
import torch

def softmax(z):
    return torch.softmax(z, dim=1)
""",
    },
    {
        "exercise": "softmax",
        "label": "in place",
        "words": "in place",
        "source": """\
def softmax(z):
    z -= z.max(dim=1, keepdim=True).values
    return z.exp() / z.exp().sum(dim=1, keepdim=True)
""",
    },
    {
        "exercise": "softmax",
        "label": "no return",
        "words": "returned None",
        "source": """\
def softmax(z):
    return None
""",
    },
    {
        "exercise": "softmax",
        "label": "detached",
        "words": "cut off from autograd",
        "source": """\
def softmax_ok(z):
    z = z - z.max(dim=1, keepdim=True).values
    e = z.exp()
    return e / e.sum(dim=1, keepdim=True)

def softmax(z):
    return softmax_ok(z).detach()
""",
    },
    {
        "exercise": "softmax",
        "label": "numpy",
        "words": "not a torch.Tensor",
        "source": """\
def softmax_ok(z):
    z = z - z.max(dim=1, keepdim=True).values
    e = z.exp()
    return e / e.sum(dim=1, keepdim=True)

def softmax(z):
    return softmax_ok(z).numpy()
""",
    },
    {
        "exercise": "softmax",
        "label": "no exp",
        "words": "",
        "source": """\
def softmax(z):
    return z / z.sum(1, keepdim=True)
""",
    },
    {
        "exercise": "cross_entropy",
        "label": "sign",
        "words": "wrong sign",
        "source": """\
import torch

def ce_ok(z, y):
    c = z.max(dim=1, keepdim=True).values
    logp = z - c - (z - c).exp().sum(dim=1, keepdim=True).log()
    return -logp[torch.arange(len(y)), y].mean()

def cross_entropy(z, y):
    return -ce_ok(z, y)
""",
    },
    {
        "exercise": "cross_entropy",
        "label": "sum",
        "words": "sum over the batch",
        "source": """\
import torch

def ce_ok(z, y):
    c = z.max(dim=1, keepdim=True).values
    logp = z - c - (z - c).exp().sum(dim=1, keepdim=True).log()
    return -logp[torch.arange(len(y)), y].mean()

def cross_entropy(z, y):
    return ce_ok(z, y) * len(y)
""",
    },
    {
        "exercise": "cross_entropy",
        "label": "per example",
        "words": "one value per example",
        "source": """\
import torch

def cross_entropy(z, y):
    c = z.max(dim=1, keepdim=True).values
    logp = z - c - (z - c).exp().sum(dim=1, keepdim=True).log()
    return -logp[torch.arange(len(y)), y]
""",
    },
    {
        "exercise": "cross_entropy",
        "label": "item",
        "words": "Python float",
        "source": """\
import torch

def ce_ok(z, y):
    c = z.max(dim=1, keepdim=True).values
    logp = z - c - (z - c).exp().sum(dim=1, keepdim=True).log()
    return -logp[torch.arange(len(y)), y].mean()

def cross_entropy(z, y):
    return ce_ok(z, y).item()
""",
    },
    {
        "exercise": "cross_entropy",
        "label": "all classes",
        "words": "all classes",
        "source": """\
import torch

def _per_example(z, y):
    c = z.max(dim=1, keepdim=True).values
    logp = z - c - (z - c).exp().sum(dim=1, keepdim=True).log()
    return -logp[torch.arange(len(y)), y]

def cross_entropy(z, y):
    return _per_example(z, torch.zeros_like(y)).mean() * 0 + (-(z - z.logsumexp(1, keepdim=True))).mean()
""",
    },
    {
        "exercise": "cross_entropy",
        "label": "no normalizer",
        "words": "without the normalizer",
        "source": """\
import torch

def cross_entropy(z, y):
    return -z[torch.arange(len(y)), y].mean()
""",
    },
    {
        "exercise": "cross_entropy",
        "label": "log of softmax",
        "words": "not numerically stable",
        "source": """\
import torch

def softmax_ok(z):
    z = z - z.max(dim=1, keepdim=True).values
    e = z.exp()
    return e / e.sum(dim=1, keepdim=True)

def cross_entropy(z, y):
    return -softmax_ok(z)[torch.arange(len(y)), y].log().mean()
""",
    },
    {
        "exercise": "cross_entropy",
        "label": "no log",
        "words": "not −log p",
        "source": """\
import torch

def softmax_ok(z):
    z = z - z.max(dim=1, keepdim=True).values
    e = z.exp()
    return e / e.sum(dim=1, keepdim=True)

def cross_entropy(z, y):
    return -softmax_ok(z)[torch.arange(len(y)), y].mean()
""",
    },
    {
        "exercise": "cross_entropy",
        "label": "uses torch",
        "words": "torch's own",
        "source": """\
import torch

def cross_entropy(z, y):
    return torch.nn.functional.cross_entropy(z, y)
""",
    },
    {
        "exercise": "cross_entropy",
        "label": "detached",
        "words": "cut off from autograd",
        "source": """\
import torch

def ce_ok(z, y):
    c = z.max(dim=1, keepdim=True).values
    logp = z - c - (z - c).exp().sum(dim=1, keepdim=True).log()
    return -logp[torch.arange(len(y)), y].mean()

def cross_entropy(z, y):
    return ce_ok(z, y).detach()
""",
    },
]
