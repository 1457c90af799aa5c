"""A notebook that replaces torch's functions, or the checks module, cannot pass a check."""

from __future__ import annotations

import importlib
import sys
import types

import pytest
import torch

from course_utils import checks


def notebook_function(source: str, name: str):
    """A function defined the way a notebook cell defines it (its code has no file on disk)."""
    scope: dict = {"torch": torch}
    exec(compile(source, "/tmp/ipykernel_4242/123456.py", "exec"), scope)
    return scope[name]


def softmax(z):
    z = z - z.max(dim=1, keepdim=True).values
    e = torch.exp(z)
    return e / e.sum(dim=1, keepdim=True)


def test_untouched_torch_passes(capsys):
    checks.check_softmax(softmax)
    assert "✅" in capsys.readouterr().out


@pytest.mark.parametrize("owner, attr", [(torch, "allclose"), (torch, "isclose"),
                                         (torch.Tensor, "max"), (importlib, "reload")])
def test_replaced_function_is_named(owner, attr, monkeypatch, capsys):
    fake = notebook_function("def fake(*args, **kwargs):\n    return True\n", "fake")
    monkeypatch.setattr(owner, attr, fake)
    wrong = notebook_function("def softmax(z):\n    return z\n", "softmax")
    with pytest.raises(checks.CheckFailure) as err:
        checks.check_softmax(wrong)
    assert f".{attr}` was replaced by code in this notebook" in str(err.value)
    assert "restart the kernel" in capsys.readouterr().out


def test_replaced_module_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "course_utils.checks", types.ModuleType("course_utils.checks"))
    with pytest.raises(checks.CheckFailure, match="module `course_utils.checks` was replaced"):
        checks.check_softmax(softmax)

