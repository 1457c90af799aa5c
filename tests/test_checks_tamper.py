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


@pytest.mark.parametrize(
    "owner, attr", [(torch, "allclose"), (torch, "isclose"), (torch.Tensor, "max"), (importlib, "reload")]
)
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


@pytest.mark.parametrize("sub", checks._SUBMODULES)
def test_replaced_submodule_is_named(sub, monkeypatch):
    monkeypatch.setitem(sys.modules, f"course_utils.checks.{sub}", types.ModuleType(sub))
    with pytest.raises(checks.CheckFailure, match=f"module `course_utils.checks.{sub}` was replaced"):
        checks.check_softmax(softmax)


def test_reloading_the_package_gives_fresh_checkers(monkeypatch, capsys):
    """What a hidden test does: importlib.reload(course_utils.checks).check_xxx(...)."""
    fake_pass = notebook_function("def check_softmax(fn, **kwargs):\n    print('✅ fine')\n", "check_softmax")
    monkeypatch.setattr(checks, "check_softmax", fake_pass)
    monkeypatch.setattr(checks.losses, "check_softmax", fake_pass)
    always = notebook_function("def close(*args, **kwargs):\n    return True\n", "close")
    monkeypatch.setattr(checks.reporting, "_close", always)
    monkeypatch.setattr(checks.calling, "_untampered", notebook_function("def u(name):\n    pass\n", "u"))
    wrong = notebook_function("def softmax(z):\n    return z\n", "softmax")
    fresh = importlib.reload(checks)
    assert fresh.check_softmax is not fake_pass and fresh.losses.check_softmax is not fake_pass
    with pytest.raises(AssertionError, match="softmax: "):
        fresh.check_softmax(wrong)
    assert "❌" in capsys.readouterr().out
