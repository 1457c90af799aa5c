"""Lesson 03's known-wrong answers (gradient_step): typical mistakes, as exercise cells.

Plain data, read by grading/catalogue.py. Each entry is one mistake: `exercise`, the exercise
cell's id (and the function's name); `label`; `source`, the whole cell a student would hand in
(self-contained: its imports and helpers included); `words`, what the checker's diagnosis must
say ("" when it only has to fail). tests/test_checks_lesson03.py runs each one through its
checker; the class-grading tests autograde whole submissions built from them.
"""

LESSON = "03_gradient_descent"

MISTAKES = [
    {
        "exercise": "gradient_step",
        "label": "sign flipped",
        "words": "moved uphill",
        "source": """\
import torch

def gradient_step(loss, params, lr):
    for p in params:
        p.grad = None
    loss.backward()
    with torch.no_grad():
        for p in params:
            p += lr * p.grad
""",
    },
    {
        "exercise": "gradient_step",
        "label": "gradients not zeroed",
        "words": "stale gradients",
        "source": """\
import torch

def gradient_step(loss, params, lr):
    loss.backward()
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad
""",
    },
    {
        "exercise": "gradient_step",
        "label": "no backward",
        "words": "loss.backward() was never called",
        "source": """\
import torch

def gradient_step(loss, params, lr):
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad
""",
    },
    {
        "exercise": "gradient_step",
        "label": "not in place",
        "words": "did not change",
        "source": """\
import torch

def gradient_step(loss, params, lr):
    for p in params:
        p.grad = None
    loss.backward()
    with torch.no_grad():
        for p in params:
            p = p - lr * p.grad
""",
    },
    {
        "exercise": "gradient_step",
        "label": "no torch.no_grad",
        "words": "inside `with torch.no_grad():`",
        "source": """\
def gradient_step(loss, params, lr):
    for p in params:
        p.grad = None
    loss.backward()
    for p in params:
        p -= lr * p.grad
""",
    },
    {
        "exercise": "gradient_step",
        "label": "ignores lr",
        "words": "does not use the learning rate",
        "source": """\
import torch

def gd_ok(loss, params, lr):
    for p in params:
        p.grad = None
    loss.backward()
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad

def gradient_step(loss, params, lr):
    gd_ok(loss, params, 0.01)
""",
    },
    {
        "exercise": "gradient_step",
        "label": "uses torch.optim.SGD",
        "words": "torch's own",
        "source": """\
import torch

def gradient_step(loss, params, lr):
    opt = torch.optim.SGD(params, lr=lr)
    opt.zero_grad()
    loss.backward()
    opt.step()
""",
    },
]
