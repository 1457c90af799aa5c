"""Lesson 04's known-wrong answers (momentum_step): typical mistakes, as exercise cells.

Plain data, read by grading/catalogue.py. Each entry is one mistake: `exercise`, the exercise
cell's id (and the function's name); `label`; `source`, the whole cell a student would hand in
(self-contained: its imports and helpers included); `words`, what the checker's diagnosis must
say ("" when it only has to fail). tests/test_checks_lesson04.py runs each one through its
checker; the class-grading tests autograde whole submissions built from them.
"""

LESSON = "04_momentum"

MISTAKES = [
    {
        "exercise": "momentum_step",
        "label": "beta on the gradient",
        "words": "β multiplies the gradient",
        "source": """\
import torch

def _grads(loss, params, zero=True):
    if zero:
        for p in params:
            p.grad = None
    loss.backward()

def momentum_step(loss, params, last_steps, lr, beta):
    _grads(loss, params)
    with torch.no_grad():
        for p, step in zip(params, last_steps):
            new = -lr * beta * p.grad + step
            p += new
            step.copy_(new)
""",
    },
    {
        "exercise": "momentum_step",
        "label": "momentum sign flipped",
        "words": "subtracts the previous step",
        "source": """\
import torch

def _grads(loss, params, zero=True):
    if zero:
        for p in params:
            p.grad = None
    loss.backward()

def momentum_step(loss, params, last_steps, lr, beta):
    _grads(loss, params)
    with torch.no_grad():
        for p, step in zip(params, last_steps):
            new = -lr * p.grad - beta * step
            p += new
            step.copy_(new)
""",
    },
    {
        "exercise": "momentum_step",
        "label": "state not written back",
        "words": "never stored",
        "source": """\
import torch

def _grads(loss, params, zero=True):
    if zero:
        for p in params:
            p.grad = None
    loss.backward()

def momentum_step(loss, params, last_steps, lr, beta):
    _grads(loss, params)
    with torch.no_grad():
        for p, step in zip(params, last_steps):
            new = -lr * p.grad + beta * step
            p += new
            step = new
""",
    },
    {
        "exercise": "momentum_step",
        "label": "gradients not zeroed",
        "words": "stale gradients",
        "source": """\
import torch

def _grads(loss, params, zero=True):
    if zero:
        for p in params:
            p.grad = None
    loss.backward()

def momentum_step(loss, params, last_steps, lr, beta):
    _grads(loss, params, zero=False)
    with torch.no_grad():
        for p, step in zip(params, last_steps):
            step.mul_(beta).add_(p.grad, alpha=-lr)
            p += step
""",
    },
    {
        "exercise": "momentum_step",
        "label": "no beta",
        "words": "without the factor β",
        "source": """\
import torch

def _grads(loss, params, zero=True):
    if zero:
        for p in params:
            p.grad = None
    loss.backward()

def momentum_step(loss, params, last_steps, lr, beta):
    _grads(loss, params)
    with torch.no_grad():
        for p, step in zip(params, last_steps):
            step.add_(p.grad, alpha=-lr)
            p += step
""",
    },
    {
        "exercise": "momentum_step",
        "label": "gradient sign flipped",
        "words": "uphill",
        "source": """\
import torch

def _grads(loss, params, zero=True):
    if zero:
        for p in params:
            p.grad = None
    loss.backward()

def momentum_step(loss, params, last_steps, lr, beta):
    _grads(loss, params)
    with torch.no_grad():
        for p, step in zip(params, last_steps):
            step.mul_(beta).add_(p.grad, alpha=lr)
            p += step
""",
    },
    {
        "exercise": "momentum_step",
        "label": "stores the gradient",
        "words": "should hold the step just taken",
        "source": """\
import torch

def _grads(loss, params, zero=True):
    if zero:
        for p in params:
            p.grad = None
    loss.backward()

def momentum_step(loss, params, last_steps, lr, beta):
    _grads(loss, params)
    with torch.no_grad():
        for p, step in zip(params, last_steps):
            p += -lr * p.grad + beta * step
            step.copy_(p.grad)
""",
    },
    {
        "exercise": "momentum_step",
        "label": "no torch.no_grad",
        "words": "torch.no_grad()",
        "source": """\
def _grads(loss, params, zero=True):
    if zero:
        for p in params:
            p.grad = None
    loss.backward()

def momentum_step(loss, params, last_steps, lr, beta):
    _grads(loss, params)
    for p, step in zip(params, last_steps):
        step.mul_(beta).add_(p.grad.detach(), alpha=-lr)
        p += step
""",
    },
    {
        "exercise": "momentum_step",
        "label": "uses torch.optim.SGD",
        "words": "torch's own",
        "source": """\
import torch

def momentum_step(loss, params, last_steps, lr, beta):
    torch.optim.SGD(params, lr=lr, momentum=beta).step()
""",
    },
]
