"""Lesson 04's known-wrong answers (momentum_step, beta_sweep): typical mistakes, as exercise cells.

Plain data, read by grading/catalogue.py. Each entry is one mistake: `exercise`, the exercise
cell's id (and the function's name); `label`; `source`, the whole cell a student would hand in
(self-contained: its imports and helpers included); `words`, what the checker's diagnosis must
say ("" when it only has to fail). tests/test_checks_lesson04.py runs each one through its
checker; the class-grading tests autograde whole submissions built from them.
"""

LESSON = "04_momentum"

# A right beta_sweep, with one piece swapped out by each beta_sweep mistake below.
_SWEEP = """\
import torch

def _norms(h, lr, beta, steps):
    w = torch.ones_like(h)
    last = torch.zeros_like(h)
    norms = [w.norm()]
    for _ in range(steps):
        last = -lr * h * w + beta * last
        w = w + last
        norms.append(w.norm())
    return norms

def _rate(norms, steps):
    return float((norms[steps] / norms[steps // 2]) ** (2 / steps))

def beta_sweep(curvatures, lr, betas, steps):
    return [_rate(_norms(curvatures, lr, b, steps), steps) for b in betas]
"""


def _swap(source: str, old: str, new: str) -> str:
    assert old in source, old
    return source.replace(old, new)


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
    # ------------------------------------------------------------------ beta_sweep
    {
        "exercise": "beta_sweep",
        "label": "beta on the gradient",
        "words": "β multiplies the gradient",
        "source": _swap(_SWEEP, "last = -lr * h * w + beta * last", "last = -lr * beta * h * w + last"),
    },
    {
        "exercise": "beta_sweep",
        "label": "momentum sign flipped",
        "words": "subtracts the previous step",
        "source": _swap(_SWEEP, "last = -lr * h * w + beta * last", "last = -lr * h * w - beta * last"),
    },
    {
        "exercise": "beta_sweep",
        "label": "no beta",
        "words": "without the factor β",
        "source": _swap(_SWEEP, "last = -lr * h * w + beta * last", "last = -lr * h * w + last"),
    },
    {
        "exercise": "beta_sweep",
        "label": "no momentum",
        "words": "gradient descent's rates",
        "source": _swap(_SWEEP, "last = -lr * h * w + beta * last", "last = -lr * h * w"),
    },
    {
        "exercise": "beta_sweep",
        "label": "gradient sign flipped",
        "words": "uphill",
        "source": _swap(_SWEEP, "last = -lr * h * w + beta * last", "last = lr * h * w + beta * last"),
    },
    {
        "exercise": "beta_sweep",
        "label": "w_-1 = 0",
        "words": "w_(−1) = 0",
        "source": _swap(_SWEEP, "last = torch.zeros_like(h)", "last = w.clone()"),
    },
    {
        "exercise": "beta_sweep",
        "label": "rate of the loss",
        "words": "measured on J",
        "source": _swap(_SWEEP, "norms.append(w.norm())", "norms.append(0.5 * (h * w**2).sum())").replace(
            "norms = [w.norm()]", "norms = [0.5 * (h * w**2).sum()]"
        ),
    },
    {
        "exercise": "beta_sweep",
        "label": "root of order T",
        "words": "spans T/2 steps",
        "source": _swap(_SWEEP, "** (2 / steps)", "** (1 / steps)"),
    },
    {
        "exercise": "beta_sweep",
        "label": "no root",
        "words": "not the factor per step",
        "source": _swap(_SWEEP, " ** (2 / steps))", ")"),
    },
    {
        "exercise": "beta_sweep",
        "label": "rate from the start",
        "words": "measured from the start",
        "source": _swap(
            _SWEEP,
            "(norms[steps] / norms[steps // 2]) ** (2 / steps)",
            "(norms[steps] / norms[0]) ** (1 / steps)",
        ),
    },
    {
        "exercise": "beta_sweep",
        "label": "uses torch.optim.SGD",
        "words": "torch's own",
        "source": _swap(
            _SWEEP,
            "def _norms(h, lr, beta, steps):\n",
            "def _norms(h, lr, beta, steps):\n"
            "    torch.optim.SGD([h.clone().requires_grad_()], lr=lr, momentum=beta)\n",
        ),
    },
]
