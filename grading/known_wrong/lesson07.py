"""Lesson 07's known-wrong answers (lr_at): typical mistakes, as exercise cells.

Plain data, read by grading/catalogue.py. Each entry is one mistake: `exercise`, the exercise
cell's id (and the function's name); `label`; `source`, the whole cell a student would hand in
(self-contained: its imports and helpers included); `words`, what the checker's diagnosis must
say ("" when it only has to fail). tests/test_checks_lesson07.py runs each one through its
checker; the class-grading tests autograde whole submissions built from them.
"""

LESSON = "07_schedules"

MISTAKES = [
    {
        "exercise": "lr_at",
        "label": "warm-up starts at 0",
        "words": "the warm-up starts at 0",
        "source": """\
import math

def lr_at(t, eta0, warmup, total):
    if t < warmup:
        return eta0 * t / warmup
    return 0.5 * eta0 * (1 + math.cos(math.pi * (t - warmup) / (total - warmup)))
""",
    },
    {
        "exercise": "lr_at",
        "label": "cosine over the whole run",
        "words": "measured from t = 0 over the whole run",
        "source": """\
import math

def lr_at(t, eta0, warmup, total):
    if t < warmup:
        return eta0 * (t + 1) / warmup
    return 0.5 * eta0 * (1 + math.cos(math.pi * t / total))
""",
    },
    {
        "exercise": "lr_at",
        "label": "cosine climbs",
        "words": "climbs from 0 to η₀",
        "source": """\
import math

def lr_at(t, eta0, warmup, total):
    if t < warmup:
        return eta0 * (t + 1) / warmup
    return 0.5 * eta0 * (1 - math.cos(math.pi * (t - warmup) / (total - warmup)))
""",
    },
    {
        "exercise": "lr_at",
        "label": "no factor 1/2",
        "words": "factor ½",
        "source": """\
import math

def lr_at(t, eta0, warmup, total):
    if t < warmup:
        return eta0 * (t + 1) / warmup
    return eta0 * (1 + math.cos(math.pi * (t - warmup) / (total - warmup)))
""",
    },
    {
        "exercise": "lr_at",
        "label": "t = warmup on the warm-up side",
        "words": "wrong side of the switch",
        "source": """\
import math

def lr_at(t, eta0, warmup, total):
    if t <= warmup:
        return eta0 * (t + 1) / warmup
    return 0.5 * eta0 * (1 + math.cos(math.pi * (t - warmup) / (total - warmup)))
""",
    },
    {
        "exercise": "lr_at",
        "label": "no warm-up",
        "words": "there is no warm-up",
        "source": """\
import math

def lr_at(t, eta0, warmup, total):
    return 0.5 * eta0 * (1 + math.cos(math.pi * (t - warmup) / (total - warmup)))
""",
    },
    {
        "exercise": "lr_at",
        "label": "returns a tensor",
        "words": "a learning rate is a plain number",
        "source": """\
import math

def lr_at(t, eta0, warmup, total):
    import torch

    if t < warmup:
        return torch.tensor(eta0 * (t + 1) / warmup)
    return 0.5 * eta0 * (1 + torch.cos(torch.tensor(math.pi * (t - warmup) / (total - warmup))))
""",
    },
    {
        "exercise": "lr_at",
        "label": "returns nothing",
        "words": "return the learning rate",
        "source": """\
import math

def lr_at(t, eta0, warmup, total):
    if t < warmup:
        eta0 * (t + 1) / warmup
""",
    },
    {
        "exercise": "lr_at",
        "label": "linear decay",
        "words": "",
        "source": """\
import math

def lr_at(t, eta0, warmup, total):
    if t < warmup:
        return eta0 * (t + 1) / warmup
    return eta0 * (total - t) / (total - warmup)
""",
    },
]
