"""Checks that teach and grade.

Each `check_<exercise>(fn, seed=0, ...)` runs the student's function on random
inputs, compares it with an independent oracle (torch's own implementation, or
a property the answer must have) and either prints a ✅ line or prints a
diagnosis in plain words, "what is wrong" and "what to look at", and raises
AssertionError. A function that still raises NotImplementedError gets a
reminder and the NotImplementedError itself. The same call is the nbgrader
graded cell; hidden tests call it again with other seeds and sizes. In the
student's own notebook a failed check returns after its printout instead of
raising, so "Run All" goes on (`_reported`, at the end of this file).

A checker holds no solution: it calls torch, or tests properties. The package, by family:

- reporting: CheckFailure, ✅/❌ lines, comparisons, the walk over a table of known mistakes
- calling: running the student's function (torch's own versions forbidden, tampering refused)
- losses (lesson 01), search (02), optimizers (03, 04), mlp (05), minibatches (06), schedules (07),
  adaptive (08), challenge (09: the challenge and the quiz)

A hidden test runs `importlib.reload(course_utils.checks).check_xxx(...)` to get a fresh copy of
the checker that nothing a notebook patched can reach. Reloading a package runs only this file,
so this file reloads every submodule already loaded, each after those it imports, before it
re-exports the checkers: every function a check uses is then fresh.
"""

import importlib as _importlib
import sys as _sys

# Each submodule after the ones it imports.
_SUBMODULES = (
    "reporting",
    "remote",
    "calling",
    "losses",
    "search",
    "optimizers",
    "adaptive",
    "schedules",
    "minibatches",
    "mlp",
    "challenge",
)

for _name in _SUBMODULES:
    _module = _sys.modules.get(f"{__name__}.{_name}")
    if _module is None:
        _importlib.import_module(f"{__name__}.{_name}")
    else:
        _importlib.reload(_module)
del _name, _module

from course_utils.checks.adaptive import check_adagrad_step, check_adam_step, check_rmsprop_step  # noqa: E402
from course_utils.checks.challenge import BudgetExceeded, CountedData, check_challenge, check_quiz  # noqa: E402
from course_utils.checks.losses import check_cross_entropy, check_softmax  # noqa: E402
from course_utils.checks.minibatches import check_sample_minibatch  # noqa: E402
from course_utils.checks.mlp import check_stacked_mlp  # noqa: E402
from course_utils.checks.optimizers import (  # noqa: E402
    Quadratic,
    SoftmaxRegressionLoss,
    check_beta_sweep,
    check_gradient_check,
    check_gradient_descent,
    check_momentum_step,
)
from course_utils.checks.reporting import CheckFailure  # noqa: E402
from course_utils.checks.schedules import check_lr_at  # noqa: E402
from course_utils.checks.search import check_random_search_step  # noqa: E402

__all__ = [
    "CheckFailure",
    "check_softmax",
    "check_cross_entropy",
    "check_random_search_step",
    "check_gradient_check",
    "check_gradient_descent",
    "check_momentum_step",
    "check_beta_sweep",
    "Quadratic",
    "SoftmaxRegressionLoss",
    "check_stacked_mlp",
    "check_sample_minibatch",
    "check_lr_at",
    "check_adagrad_step",
    "check_rmsprop_step",
    "check_adam_step",
    "BudgetExceeded",
    "CountedData",
    "check_challenge",
    "check_quiz",
]


# In the student's own notebook a failed check has said everything it has to say (its ❌ diagnosis,
# or ⏳ for an exercise not written yet): it returns there, without a traceback, and "Run All" goes
# on with torch's version below. Under nbgrader (validate, autograde: NBGRADER_EXECUTION is set in
# the kernel's environment) and outside a notebook kernel (pytest, a script, a grading process) it
# raises, so the graded cell fails.
def _grading() -> bool:
    """NBGRADER_EXECUTION is set: in os.environ, or in the environment the process started with
    (Linux: /proc/self/environ, which a notebook cell that edits os.environ does not change)."""
    import os

    if os.environ.get("NBGRADER_EXECUTION"):
        return True
    try:
        with open("/proc/self/environ", "rb") as f:
            started_with = f.read().split(b"\0")
    except OSError:
        return False
    return any(
        v.startswith(b"NBGRADER_EXECUTION=") and len(v) > len(b"NBGRADER_EXECUTION=") for v in started_with
    )


def _in_student_notebook() -> bool:
    """An IPython kernel (JupyterLab, Colab, VS Code) that nbgrader did not start."""
    if "ipykernel" not in _sys.modules or "IPython" not in _sys.modules:
        return False
    shell = _sys.modules["IPython"].get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None and not _grading()


def _reported(check):
    """The check, returning after its printed diagnosis in the student's own notebook (see above)."""
    import functools

    @functools.wraps(check)
    def run(*args, **kwargs):
        __tracebackhide__ = True
        try:
            return check(*args, **kwargs)
        except (CheckFailure, NotImplementedError):  # already printed: ❌ + diagnosis, or ⏳
            if not _in_student_notebook():
                raise
            return None

    return run


for _name in [n for n in __all__ if n.startswith("check_")]:
    globals()[_name] = _reported(globals()[_name])
del _name
