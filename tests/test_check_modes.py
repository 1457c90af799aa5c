"""Where a failed check raises: everywhere but the student's own notebook.

In a notebook kernel that nbgrader did not start, a failed check prints its one diagnosis and
returns, so "Run All" goes on (no traceback under the diagnosis); under nbgrader
(NBGRADER_EXECUTION set) and outside a kernel (here, pytest) it raises, so the graded cell fails.
The kernel is simulated; tests/test_browser.py runs the real one in JupyterLab.
"""

from __future__ import annotations

import sys
import types

import pytest

import course_utils.checks as checks


def blank(z):
    raise NotImplementedError()


def wrong(z):
    return z.exp() / z.exp().sum()  # normalizes over the whole tensor


def _softmax(z):
    e = (z - z.max(dim=1, keepdim=True).values).exp()
    return e / e.sum(dim=1, keepdim=True)


@pytest.fixture
def kernel(monkeypatch):
    """An IPython kernel's shell, as get_ipython() returns it in a notebook."""
    shell = types.SimpleNamespace(kernel=object())
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: shell
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)


@pytest.fixture
def in_kernel(kernel, monkeypatch):
    """... that nbgrader did not start (whatever started this pytest)."""
    monkeypatch.setattr(checks, "_grading", lambda: False)


def test_outside_a_kernel_a_failed_check_raises(capsys):
    with pytest.raises(checks.CheckFailure):
        checks.check_softmax(wrong)
    with pytest.raises(NotImplementedError):
        checks.check_softmax(blank)
    assert "❌" in capsys.readouterr().out


def test_in_the_students_notebook_it_prints_and_returns(in_kernel, capsys):
    assert checks.check_softmax(wrong) is None
    assert checks.check_softmax(blank) is None
    out = capsys.readouterr().out
    assert out.count("❌") == 1 and "whole tensor" in out and "Look at:" in out
    assert out.count("⏳") == 1
    assert "Traceback" not in out
    checks.check_softmax(_softmax)
    assert "✅" in capsys.readouterr().out


@pytest.mark.parametrize("mode", ["validate", "autograde"])
def test_under_nbgrader_it_raises(kernel, monkeypatch, mode):
    monkeypatch.setenv("NBGRADER_EXECUTION", mode)
    with pytest.raises(checks.CheckFailure):
        checks.check_softmax(wrong)
    with pytest.raises(NotImplementedError):
        checks.check_softmax(blank)


def test_every_exported_check_is_wrapped():
    for name in checks.__all__:
        if name.startswith("check_"):
            fn = getattr(checks, name)
            assert fn.__wrapped__.__name__ == name, name
            assert fn.__doc__ == fn.__wrapped__.__doc__
