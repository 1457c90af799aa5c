"""Lesson 03's known-wrong answers (gradient_check, gradient_descent): typical mistakes, as exercise cells.

Plain data, read by grading/catalogue.py. Each entry is one mistake: `exercise`, the exercise
cell's id (and the function's name); `label`; `source`, the whole cell a student would hand in
(self-contained: its imports and helpers included); `words`, what the checker's diagnosis must
say ("" when it only has to fail). tests/test_checks_lesson03.py runs each one through its
checker; the class-grading tests autograde whole submissions built from them.
"""

LESSON = "03_gradient_descent"

# A right gradient check, with one piece swapped out by each mistake below.
_CHECK = """\
import torch

def _partial(J, w, i, h):
    up, down = w.clone(), w.clone()
    up.view(-1)[i] += h
    down.view(-1)[i] -= h
    return (J(up) - J(down)) / (2 * h)

def _autograd(J, w):
    v = w.detach().clone().requires_grad_()
    return torch.autograd.grad(J(v), v)[0]

def _relative(n, a):
    return float((n - a).norm() / (n.norm() + a.norm()))

def gradient_check(J, w, h=1e-5):
    n = torch.stack([_partial(J, w, i, h) for i in range(w.numel())]).reshape(w.shape)
    a = _autograd(J, w)
    return n, a, _relative(n, a)
"""

# A right gradient descent, with one piece swapped out by each mistake below.
_DESCENT = """\
import torch

def gradient_descent(J, w0, lr, steps):
    w = w0.clone().requires_grad_()
    path = [w.detach().clone()]
    for _ in range(steps):
        w.grad = None
        J(w).backward()
        with torch.no_grad():
            w -= lr * w.grad
        path.append(w.detach().clone())
    return torch.stack(path)
"""


def _swap(source: str, old: str, new: str) -> str:
    assert old in source, old
    return source.replace(old, new)


MISTAKES = [
    # ------------------------------------------------------------------ gradient_check
    {
        "exercise": "gradient_check",
        "label": "forward differences",
        "words": "forward differences",
        "source": _swap(_CHECK, "return (J(up) - J(down)) / (2 * h)", "return (J(up) - J(w)) / h"),
    },
    {
        "exercise": "gradient_check",
        "label": "backward differences",
        "words": "backward differences",
        "source": _swap(_CHECK, "return (J(up) - J(down)) / (2 * h)", "return (J(w) - J(down)) / h"),
    },
    {
        "exercise": "gradient_check",
        "label": "divides by h",
        "words": "2h apart",
        "source": _swap(_CHECK, "return (J(up) - J(down)) / (2 * h)", "return (J(up) - J(down)) / h"),
    },
    {
        "exercise": "gradient_check",
        "label": "all coordinates at once",
        "words": "all coordinates were moved at once",
        "source": _swap(
            _CHECK,
            "n = torch.stack([_partial(J, w, i, h) for i in range(w.numel())]).reshape(w.shape)",
            "n = (J(w + h) - J(w - h)) / (2 * h) * torch.ones_like(w)",
        ),
    },
    {
        "exercise": "gradient_check",
        "label": "perturbs w in place",
        "words": "w changed during the call",
        "source": _swap(
            _CHECK,
            "    up, down = w.clone(), w.clone()\n    up.view(-1)[i] += h\n    down.view(-1)[i] -= h\n"
            "    return (J(up) - J(down)) / (2 * h)\n",
            "    w.view(-1)[i] += h\n    plus = J(w)\n    w.view(-1)[i] -= 2 * h\n"
            "    return (plus - J(w)) / (2 * h)\n",
        ),
    },
    {
        "exercise": "gradient_check",
        "label": "numerical gradient twice",
        "words": "numerical gradient again",
        "source": _swap(_CHECK, "a = _autograd(J, w)", "a = n.clone()"),
    },
    {
        "exercise": "gradient_check",
        "label": "absolute error",
        "words": "absolute error",
        "source": _swap(
            _CHECK, "return float((n - a).norm() / (n.norm() + a.norm()))", "return float((n - a).norm())"
        ),
    },
    {
        "exercise": "gradient_check",
        "label": "max of the norms",
        "words": "not by their sum",
        "source": _swap(
            _CHECK,
            "return float((n - a).norm() / (n.norm() + a.norm()))",
            "return float((n - a).norm() / max(n.norm(), a.norm()))",
        ),
    },
    {
        "exercise": "gradient_check",
        "label": "two values returned",
        "words": "three things",
        "source": _swap(_CHECK, "return n, a, _relative(n, a)", "return n, _relative(n, a)"),
    },
    # ------------------------------------------------------------------ gradient_descent
    {
        "exercise": "gradient_descent",
        "label": "sign flipped",
        "words": "moved uphill",
        "source": _swap(_DESCENT, "w -= lr * w.grad", "w += lr * w.grad"),
    },
    {
        "exercise": "gradient_descent",
        "label": "gradients not zeroed",
        "words": "stale gradients",
        "source": _swap(_DESCENT, "        w.grad = None\n", ""),
    },
    {
        "exercise": "gradient_descent",
        "label": "no backward",
        "words": "only filled by backward()",
        "source": _swap(_DESCENT, "        J(w).backward()\n", ""),
    },
    {
        "exercise": "gradient_descent",
        "label": "not in place",
        "words": "does not require gradients",
        "source": _swap(_DESCENT, "w -= lr * w.grad", "w = w - lr * w.grad"),
    },
    {
        "exercise": "gradient_descent",
        "label": "not in place, recording",
        "words": "no .grad of its own",
        "source": _swap(
            _DESCENT,
            "        with torch.no_grad():\n            w -= lr * w.grad\n",
            "        w = w - lr * w.grad\n",
        ),
    },
    {
        "exercise": "gradient_descent",
        "label": "no torch.no_grad",
        "words": "torch.no_grad() context",
        "source": _swap(
            _DESCENT,
            "        with torch.no_grad():\n            w -= lr * w.grad\n",
            "        w -= lr * w.grad\n",
        ),
    },
    {
        "exercise": "gradient_descent",
        "label": "ignores lr",
        "words": "does not use the learning rate",
        "source": _swap(_DESCENT, "w -= lr * w.grad", "w -= 0.01 * w.grad"),
    },
    {
        "exercise": "gradient_descent",
        "label": "path holds w itself",
        "words": "every row after the first is the same",
        "source": _swap(_DESCENT, "path.append(w.detach().clone())", "path.append(w.detach())"),
    },
    {
        "exercise": "gradient_descent",
        "label": "changes w0",
        "words": "it changed w0",
        "source": _swap(_DESCENT, "w = w0.clone().requires_grad_()", "w = w0.requires_grad_()"),
    },
    {
        "exercise": "gradient_descent",
        "label": "path without the start",
        "words": "steps + 1",
        "source": _swap(_DESCENT, "path = [w.detach().clone()]", "path = []"),
    },
    {
        "exercise": "gradient_descent",
        "label": "uses torch.optim.SGD",
        "words": "torch's own",
        "source": """\
import torch

def gradient_descent(J, w0, lr, steps):
    w = w0.clone().requires_grad_()
    opt = torch.optim.SGD([w], lr=lr)
    path = [w.detach().clone()]
    for _ in range(steps):
        opt.zero_grad()
        J(w).backward()
        opt.step()
        path.append(w.detach().clone())
    return torch.stack(path)
""",
    },
]
