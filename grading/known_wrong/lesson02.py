"""Lesson 02's known-wrong answers (random_search_step): typical mistakes, as exercise cells.

Plain data, read by grading/catalogue.py. Each entry is one mistake: `exercise`, the exercise
cell's id (and the function's name); `label`; `source`, the whole cell a student would hand in
(self-contained: its imports and helpers included); `words`, what the checker's diagnosis must
say ("" when it only has to fail). tests/test_checks_lesson02.py runs each one through its
checker; the class-grading tests autograde whole submissions built from them.
"""

LESSON = "02_random_search"

MISTAKES = [
    {
        "exercise": "random_search_step",
        "label": "always accepts",
        "words": "accepted a worse point",
        "source": """\
import torch

def random_search_step(J, w, J_w, scale, generator):
    candidate = w + scale * torch.randn(w.shape, generator=generator)
    return (candidate, J(candidate))
""",
    },
    {
        "exercise": "random_search_step",
        "label": "comparison flipped",
        "words": "the comparison",
        "source": """\
import torch

def random_search_step(J, w, J_w, scale, generator):
    candidate = w + scale * torch.randn(w.shape, generator=generator)
    J_candidate = J(candidate)
    if J_candidate > J_w:
        return (candidate, J_candidate)
    return (w, J_w)
""",
    },
    {
        "exercise": "random_search_step",
        "label": "ignores scale",
        "words": "not spread by `scale`",
        "source": """\
import torch

def rs_ok(J, w, J_w, scale, generator):
    candidate = w + scale * torch.randn(w.shape, generator=generator)
    J_candidate = J(candidate)
    if J_candidate < J_w:
        return (candidate, J_candidate)
    return (w, J_w)

def random_search_step(J, w, J_w, scale, generator):
    return rs_ok(J, w, J_w, 1.0, generator)
""",
    },
    {
        "exercise": "random_search_step",
        "label": "uniform noise",
        "words": "not centred on w",
        "source": """\
import torch

def random_search_step(J, w, J_w, scale, generator):
    candidate = w + scale * torch.rand(w.shape, generator=generator)
    J_candidate = J(candidate)
    return (candidate, J_candidate) if J_candidate < J_w else (w, J_w)
""",
    },
    {
        "exercise": "random_search_step",
        "label": "global RNG",
        "words": "ignores the generator",
        "source": """\
import torch

def random_search_step(J, w, J_w, scale, generator):
    candidate = w + scale * torch.randn(w.shape)
    J_candidate = J(candidate)
    return (candidate, J_candidate) if J_candidate < J_w else (w, J_w)
""",
    },
    {
        "exercise": "random_search_step",
        "label": "around the origin",
        "words": "not centred on w",
        "source": """\
import torch

def random_search_step(J, w, J_w, scale, generator):
    candidate = scale * torch.randn(w.shape, generator=generator)
    J_candidate = J(candidate)
    return (candidate, J_candidate) if J_candidate < J_w else (w, J_w)
""",
    },
    {
        "exercise": "random_search_step",
        "label": "evaluates J twice",
        "words": "evaluates J 3 times",
        "source": """\
import torch

def random_search_step(J, w, J_w, scale, generator):
    candidate = w + scale * torch.randn(w.shape, generator=generator)
    if J(candidate) < J(w):
        return (candidate, J(candidate))
    return (w, J_w)
""",
    },
    {
        "exercise": "random_search_step",
        "label": "w changed in place",
        "words": "changed w in place",
        "source": """\
import torch

def random_search_step(J, w, J_w, scale, generator):
    noise = scale * torch.randn(w.shape, generator=generator)
    w += noise
    J_new = J(w)
    if J_new < J_w:
        return (w.clone(), J_new)
    w -= noise
    return (w.clone(), J_w)
""",
    },
    {
        "exercise": "random_search_step",
        "label": "returns the old value",
        "words": "instead of J(w')",
        "source": """\
import torch

def random_search_step(J, w, J_w, scale, generator):
    candidate = w + scale * torch.randn(w.shape, generator=generator)
    if J(candidate) < J_w:
        return (candidate, J_w)
    return (w, J_w)
""",
    },
    {
        "exercise": "random_search_step",
        "label": "never evaluates",
        "words": "never evaluates J",
        "source": """\
import torch

def random_search_step(J, w, J_w, scale, generator):
    return (w + scale * torch.randn(w.shape, generator=generator), J_w)
""",
    },
    {
        "exercise": "random_search_step",
        "label": "returns only the point",
        "words": "expected the pair",
        "source": """\
import torch

def rs_ok(J, w, J_w, scale, generator):
    candidate = w + scale * torch.randn(w.shape, generator=generator)
    J_candidate = J(candidate)
    if J_candidate < J_w:
        return (candidate, J_candidate)
    return (w, J_w)

def random_search_step(J, w, J_w, scale, generator):
    return rs_ok(J, w, J_w, scale, generator)[0]
""",
    },
]
