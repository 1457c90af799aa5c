"""Lesson 08's known-wrong answers (adagrad_step, rmsprop_step, adam_step): typical mistakes, as cells.

Plain data, read by grading/catalogue.py. Each entry is one mistake: `exercise`, the exercise
cell's id (and the function's name); `label`; `source`, the whole cell a student would hand in
(self-contained: its imports and helpers included); `words`, what the checker's diagnosis must
say ("" when it only has to fail). tests/test_checks_lesson08.py runs each one through its
checker; the class-grading tests autograde whole submissions built from them.
"""

LESSON = "08_adaptive_methods"

MISTAKES = [
    {
        "exercise": "adagrad_step",
        "label": "eps outside the root (torch's form)",
        "words": "torch's form",
        "source": """\
def adagrad_step(params, sums, lr, eps=1e-10):
    for p, v in zip(params, sums, strict=True):
        v.add_(p.grad ** 2)
        p -= lr * p.grad / (v.sqrt() + eps)
""",
    },
    {
        "exercise": "adagrad_step",
        "label": "sum not written back",
        "words": "not written back",
        "source": """\
def adagrad_step(params, sums, lr, eps=1e-10):
    for p, v in zip(params, sums, strict=True):
        v = v + p.grad ** 2
        p -= lr * p.grad / (v + eps).sqrt()
""",
    },
    {
        "exercise": "adagrad_step",
        "label": "sums the gradients, not their squares",
        "words": "adds up the gradients themselves",
        "source": """\
def adagrad_step(params, sums, lr, eps=1e-10):
    for p, v in zip(params, sums, strict=True):
        v.add_(p.grad)
        p -= lr * p.grad / (v.abs() + eps).sqrt()
""",
    },
    {
        "exercise": "adagrad_step",
        "label": "keeps only the last square",
        "words": "only this step's squared gradient",
        "source": """\
def adagrad_step(params, sums, lr, eps=1e-10):
    for i, p in enumerate(params):
        sums[i] = p.grad ** 2
        p -= lr * p.grad / (sums[i] + eps).sqrt()
""",
    },
    {
        "exercise": "adagrad_step",
        "label": "no square root",
        "words": "not by its square root",
        "source": """\
def adagrad_step(params, sums, lr, eps=1e-10):
    for p, v in zip(params, sums, strict=True):
        v.add_(p.grad ** 2)
        p -= lr * p.grad / (v + eps)
""",
    },
    {
        "exercise": "adagrad_step",
        "label": "sign flipped",
        "words": "uphill",
        "source": """\
def adagrad_step(params, sums, lr, eps=1e-10):
    for p, v in zip(params, sums, strict=True):
        v.add_(p.grad ** 2)
        p += lr * p.grad / (v + eps).sqrt()
""",
    },
    {
        "exercise": "adagrad_step",
        "label": "divides by the old sum",
        "words": "before this step's square was added",
        "source": """\
def adagrad_step(params, sums, lr, eps=1e-10):
    for p, v in zip(params, sums, strict=True):
        step = lr * p.grad / (v + eps).sqrt()
        v.add_(p.grad ** 2)
        p -= step
""",
    },
    {
        "exercise": "adagrad_step",
        "label": "p rebound, not updated",
        "words": "did not change",
        "source": """\
def adagrad_step(params, sums, lr, eps=1e-10):
    for p, v in zip(params, sums, strict=True):
        v.add_(p.grad ** 2)
        p = p - lr * p.grad / (v + eps).sqrt()
""",
    },
    {
        "exercise": "adagrad_step",
        "label": "calls torch",
        "words": "torch's own",
        "source": """\
import torch

def adagrad_step(params, sums, lr, eps=1e-10):
    torch.optim.Adagrad(params, lr=lr, eps=eps).step()
""",
    },
    {
        "exercise": "rmsprop_step",
        "label": "eps outside the root (torch's form)",
        "words": "torch's form",
        "source": """\
def rmsprop_step(params, squares, lr, rho=0.99, eps=1e-08):
    for p, v in zip(params, squares, strict=True):
        v.mul_(rho).add_((1 - rho) * p.grad ** 2)
        p -= lr * p.grad / (v.sqrt() + eps)
""",
    },
    {
        "exercise": "rmsprop_step",
        "label": "state not written back",
        "words": "not written back",
        "source": """\
def rmsprop_step(params, squares, lr, rho=0.99, eps=1e-08):
    for p, v in zip(params, squares, strict=True):
        v = rho * v + (1 - rho) * p.grad ** 2
        p -= lr * p.grad / (v + eps).sqrt()
""",
    },
    {
        "exercise": "rmsprop_step",
        "label": "weights swapped",
        "words": "swapped",
        "source": """\
def rmsprop_step(params, squares, lr, rho=0.99, eps=1e-08):
    for p, v in zip(params, squares, strict=True):
        v.mul_(1 - rho).add_(rho * p.grad ** 2)
        p -= lr * p.grad / (v + eps).sqrt()
""",
    },
    {
        "exercise": "rmsprop_step",
        "label": "Adagrad's sum",
        "words": "Adagrad",
        "source": """\
def rmsprop_step(params, squares, lr, rho=0.99, eps=1e-08):
    for p, v in zip(params, squares, strict=True):
        v.add_(p.grad ** 2)
        p -= lr * p.grad / (v + eps).sqrt()
""",
    },
    {
        "exercise": "rmsprop_step",
        "label": "no square root",
        "words": "square root",
        "source": """\
def rmsprop_step(params, squares, lr, rho=0.99, eps=1e-08):
    for p, v in zip(params, squares, strict=True):
        v.mul_(rho).add_((1 - rho) * p.grad ** 2)
        p -= lr * p.grad / (v + eps)
""",
    },
    {
        "exercise": "rmsprop_step",
        "label": "sign flipped",
        "words": "uphill",
        "source": """\
def rmsprop_step(params, squares, lr, rho=0.99, eps=1e-08):
    for p, v in zip(params, squares, strict=True):
        v.mul_(rho).add_((1 - rho) * p.grad ** 2)
        p += lr * p.grad / (v + eps).sqrt()
""",
    },
    {
        "exercise": "rmsprop_step",
        "label": "divides by the old average",
        "words": "previous average",
        "source": """\
def rmsprop_step(params, squares, lr, rho=0.99, eps=1e-08):
    for p, v in zip(params, squares, strict=True):
        step = lr * p.grad / (v + eps).sqrt()
        v.mul_(rho).add_((1 - rho) * p.grad ** 2)
        p -= step
""",
    },
    {
        "exercise": "rmsprop_step",
        "label": "p rebound, not updated",
        "words": "did not change",
        "source": """\
def rmsprop_step(params, squares, lr, rho=0.99, eps=1e-08):
    for p, v in zip(params, squares, strict=True):
        v.mul_(rho).add_((1 - rho) * p.grad ** 2)
        p = p - lr * p.grad / (v + eps).sqrt()
""",
    },
    {
        "exercise": "rmsprop_step",
        "label": "calls torch",
        "words": "torch's own",
        "source": """\
import torch

def rmsprop_step(params, squares, lr, rho=0.99, eps=1e-08):
    torch.optim.RMSprop(params, lr=lr, alpha=rho, eps=eps).step()
""",
    },
    {
        "exercise": "adam_step",
        "label": "no bias correction",
        "words": "no bias correction",
        "source": """\
def _adam(bias=(True, True), power=0, sign=1, write_back=True, swap=False, fixed_t=None):

    def adam_step(params, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-08):
        tt = fixed_t or t
        for i, p in enumerate(params):
            g = p.grad
            b1, b2 = (1 - beta1, 1 - beta2) if swap else (beta1, beta2)
            new_m = b1 * m[i] + (1 - b1) * g
            new_v = b2 * v[i] + (1 - b2) * g ** 2
            if write_back:
                m[i], v[i] = (new_m, new_v)
            m_hat = new_m / (1 - beta1 ** (tt + power)) if bias[0] else new_m
            v_hat = new_v / (1 - beta2 ** (tt + power)) if bias[1] else new_v
            p -= sign * lr * m_hat / (v_hat.sqrt() + eps)
    return adam_step

adam_step = _adam(bias=(False, False))
""",
    },
    {
        "exercise": "adam_step",
        "label": "only m corrected",
        "words": "only m is bias-corrected",
        "source": """\
def _adam(bias=(True, True), power=0, sign=1, write_back=True, swap=False, fixed_t=None):

    def adam_step(params, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-08):
        tt = fixed_t or t
        for i, p in enumerate(params):
            g = p.grad
            b1, b2 = (1 - beta1, 1 - beta2) if swap else (beta1, beta2)
            new_m = b1 * m[i] + (1 - b1) * g
            new_v = b2 * v[i] + (1 - b2) * g ** 2
            if write_back:
                m[i], v[i] = (new_m, new_v)
            m_hat = new_m / (1 - beta1 ** (tt + power)) if bias[0] else new_m
            v_hat = new_v / (1 - beta2 ** (tt + power)) if bias[1] else new_v
            p -= sign * lr * m_hat / (v_hat.sqrt() + eps)
    return adam_step

adam_step = _adam(bias=(True, False))
""",
    },
    {
        "exercise": "adam_step",
        "label": "only v corrected",
        "words": "only v is bias-corrected",
        "source": """\
def _adam(bias=(True, True), power=0, sign=1, write_back=True, swap=False, fixed_t=None):

    def adam_step(params, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-08):
        tt = fixed_t or t
        for i, p in enumerate(params):
            g = p.grad
            b1, b2 = (1 - beta1, 1 - beta2) if swap else (beta1, beta2)
            new_m = b1 * m[i] + (1 - b1) * g
            new_v = b2 * v[i] + (1 - b2) * g ** 2
            if write_back:
                m[i], v[i] = (new_m, new_v)
            m_hat = new_m / (1 - beta1 ** (tt + power)) if bias[0] else new_m
            v_hat = new_v / (1 - beta2 ** (tt + power)) if bias[1] else new_v
            p -= sign * lr * m_hat / (v_hat.sqrt() + eps)
    return adam_step

adam_step = _adam(bias=(False, True))
""",
    },
    {
        "exercise": "adam_step",
        "label": "t off by one (t+1)",
        "words": "wrong power",
        "source": """\
def _adam(bias=(True, True), power=0, sign=1, write_back=True, swap=False, fixed_t=None):

    def adam_step(params, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-08):
        tt = fixed_t or t
        for i, p in enumerate(params):
            g = p.grad
            b1, b2 = (1 - beta1, 1 - beta2) if swap else (beta1, beta2)
            new_m = b1 * m[i] + (1 - b1) * g
            new_v = b2 * v[i] + (1 - b2) * g ** 2
            if write_back:
                m[i], v[i] = (new_m, new_v)
            m_hat = new_m / (1 - beta1 ** (tt + power)) if bias[0] else new_m
            v_hat = new_v / (1 - beta2 ** (tt + power)) if bias[1] else new_v
            p -= sign * lr * m_hat / (v_hat.sqrt() + eps)
    return adam_step

adam_step = _adam(power=1)
""",
    },
    {
        "exercise": "adam_step",
        "label": "t off by one (t-1)",
        "words": "1 − β^(t−1) is 0",
        "source": """\
def _adam(bias=(True, True), power=0, sign=1, write_back=True, swap=False, fixed_t=None):

    def adam_step(params, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-08):
        tt = fixed_t or t
        for i, p in enumerate(params):
            g = p.grad
            b1, b2 = (1 - beta1, 1 - beta2) if swap else (beta1, beta2)
            new_m = b1 * m[i] + (1 - b1) * g
            new_v = b2 * v[i] + (1 - b2) * g ** 2
            if write_back:
                m[i], v[i] = (new_m, new_v)
            m_hat = new_m / (1 - beta1 ** (tt + power)) if bias[0] else new_m
            v_hat = new_v / (1 - beta2 ** (tt + power)) if bias[1] else new_v
            p -= sign * lr * m_hat / (v_hat.sqrt() + eps)
    return adam_step

adam_step = _adam(power=-1)
""",
    },
    {
        "exercise": "adam_step",
        "label": "t not used",
        "words": "this step's t",
        "source": """\
def _adam(bias=(True, True), power=0, sign=1, write_back=True, swap=False, fixed_t=None):

    def adam_step(params, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-08):
        tt = fixed_t or t
        for i, p in enumerate(params):
            g = p.grad
            b1, b2 = (1 - beta1, 1 - beta2) if swap else (beta1, beta2)
            new_m = b1 * m[i] + (1 - b1) * g
            new_v = b2 * v[i] + (1 - b2) * g ** 2
            if write_back:
                m[i], v[i] = (new_m, new_v)
            m_hat = new_m / (1 - beta1 ** (tt + power)) if bias[0] else new_m
            v_hat = new_v / (1 - beta2 ** (tt + power)) if bias[1] else new_v
            p -= sign * lr * m_hat / (v_hat.sqrt() + eps)
    return adam_step

adam_step = _adam(fixed_t=1)
""",
    },
    {
        "exercise": "adam_step",
        "label": "state not written back",
        "words": "not written back",
        "source": """\
def _adam(bias=(True, True), power=0, sign=1, write_back=True, swap=False, fixed_t=None):

    def adam_step(params, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-08):
        tt = fixed_t or t
        for i, p in enumerate(params):
            g = p.grad
            b1, b2 = (1 - beta1, 1 - beta2) if swap else (beta1, beta2)
            new_m = b1 * m[i] + (1 - b1) * g
            new_v = b2 * v[i] + (1 - b2) * g ** 2
            if write_back:
                m[i], v[i] = (new_m, new_v)
            m_hat = new_m / (1 - beta1 ** (tt + power)) if bias[0] else new_m
            v_hat = new_v / (1 - beta2 ** (tt + power)) if bias[1] else new_v
            p -= sign * lr * m_hat / (v_hat.sqrt() + eps)
    return adam_step

adam_step = _adam(write_back=False)
""",
    },
    {
        "exercise": "adam_step",
        "label": "betas swapped",
        "words": "swapped",
        "source": """\
def _adam(bias=(True, True), power=0, sign=1, write_back=True, swap=False, fixed_t=None):

    def adam_step(params, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-08):
        tt = fixed_t or t
        for i, p in enumerate(params):
            g = p.grad
            b1, b2 = (1 - beta1, 1 - beta2) if swap else (beta1, beta2)
            new_m = b1 * m[i] + (1 - b1) * g
            new_v = b2 * v[i] + (1 - b2) * g ** 2
            if write_back:
                m[i], v[i] = (new_m, new_v)
            m_hat = new_m / (1 - beta1 ** (tt + power)) if bias[0] else new_m
            v_hat = new_v / (1 - beta2 ** (tt + power)) if bias[1] else new_v
            p -= sign * lr * m_hat / (v_hat.sqrt() + eps)
    return adam_step

adam_step = _adam(swap=True)
""",
    },
    {
        "exercise": "adam_step",
        "label": "sign flipped",
        "words": "uphill",
        "source": """\
def _adam(bias=(True, True), power=0, sign=1, write_back=True, swap=False, fixed_t=None):

    def adam_step(params, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-08):
        tt = fixed_t or t
        for i, p in enumerate(params):
            g = p.grad
            b1, b2 = (1 - beta1, 1 - beta2) if swap else (beta1, beta2)
            new_m = b1 * m[i] + (1 - b1) * g
            new_v = b2 * v[i] + (1 - b2) * g ** 2
            if write_back:
                m[i], v[i] = (new_m, new_v)
            m_hat = new_m / (1 - beta1 ** (tt + power)) if bias[0] else new_m
            v_hat = new_v / (1 - beta2 ** (tt + power)) if bias[1] else new_v
            p -= sign * lr * m_hat / (v_hat.sqrt() + eps)
    return adam_step

adam_step = _adam(sign=-1)
""",
    },
    {
        "exercise": "adam_step",
        "label": "calls torch",
        "words": "torch's own",
        "source": """\
import torch

def adam_step(params, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-08):
    torch.optim.Adam(params, lr=lr, betas=(beta1, beta2), eps=eps).step()
""",
    },
]
