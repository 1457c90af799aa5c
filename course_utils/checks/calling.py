"""Calling the student's function: every way it can break becomes a diagnosis.

`_call` refuses to grade when notebook code has replaced a function the checks rely on (tamper
detection: `_untampered`), makes torch's own version of the exercise raise while the student's
code runs (`_forbid`), and turns NotImplementedError, a forbidden call or a crash into a message.

What counts as the course's own code is decided by file location: a function whose code lives in
course_utils/, torch, the standard library or site-packages is trusted (`_TRUSTED`); code defined
in a notebook cell has no such file.
"""

from __future__ import annotations

import contextlib
import os
import traceback
from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F

from course_utils.checks.remote import IN_GRADER, GraderError, Remote
from course_utils.checks.reporting import _fail

__all__: list[str] = []

_PACKAGE = os.path.dirname(os.path.abspath(__file__))  # course_utils/checks


class _Forbidden(Exception):
    def __init__(self, what: str):
        super().__init__(what)
        self.what = what
        self.detail: str | None = None  # what the grader's scan found (grading/trusted.py)


@contextlib.contextmanager
def _forbid(targets: Iterable[tuple[object, str]]):
    """Make torch's own versions of the exercise raise while the student's code runs.

    The names are replaced by a function that raises, which names the call at once; and a watch
    notes torch's version when it runs however the student's code reached it (an alias taken by
    any lookup, nn.Softmax, torch.distributions): by its torch name or its Python code.
    """
    from course_utils.checks.remote import forbidding

    targets = list(targets)
    watch = None if IN_GRADER[0] or not targets else _Watch(targets)  # the kernel watches its own calls
    saved = []
    for owner, attr in targets:
        if hasattr(owner, attr):
            original = getattr(owner, attr)
            qualname = f"{getattr(owner, '__name__', type(owner).__name__)}.{attr}"

            def blocked(*args, _q=qualname, **kwargs):
                raise _Forbidden(_q)

            saved.append((owner, attr, original))
            setattr(owner, attr, blocked)
    try:
        with forbidding([_dotted(owner, attr) for owner, attr in targets]):  # for a Remote's call
            if watch is None:
                yield
            else:
                with watch:
                    try:
                        yield
                    except Exception:
                        if watch.seen is None:
                            raise
                if watch.seen is not None:  # also when the student's code caught the first error
                    raise _Forbidden(watch.seen)
    finally:
        for owner, attr, original in reversed(saved):
            setattr(owner, attr, original)


# The names torch's own versions go by when they run (torch.softmax, F.softmax, Tensor.softmax, the
# aten operator torch.ops.aten._softmax): a torch function mode sees the call under its own name
# however the student's code reached it.
_NLL = ("nll_loss", "nll_loss_nd", "nll_loss2d", "nll_loss_forward", "nll_loss2d_forward")
_CROSS_ENTROPY = ("cross_entropy", "cross_entropy_loss", *_NLL)
_TORCH_NAMES = {
    "softmax": ("softmax", "_softmax"),
    "log_softmax": ("log_softmax", "_log_softmax"),
    "cross_entropy": _CROSS_ENTROPY,
    "CrossEntropyLoss": _CROSS_ENTROPY,
    "nll_loss": _NLL,
    "NLLLoss": _NLL,
}


class _Watch:
    """Notes the first forbidden function that runs in this thread, however it was reached (an
    alias taken by any lookup, nn.Softmax, torch.distributions): a torch function mode sees a
    torch function by name, a profile function sees Python code (one code object is shared by
    every alias of a function; an optimizer class brings its module's functional forms,
    torch.optim.sgd.sgd and the like)."""

    def __init__(self, targets: list[tuple[object, str]]):
        self.seen: str | None = None
        self.names = {n: _dotted(o, a) for o, a in targets for n in _TORCH_NAMES.get(a, ())}
        self.codes = {code: _dotted(o, a) for o, a in targets for code in _codes_of(getattr(o, a, None))}
        self._mode = None
        self._previous = None

    def __enter__(self):
        import sys

        if self.names:
            from torch.overrides import TorchFunctionMode

            watch = self

            class _Names(TorchFunctionMode):
                def __torch_function__(self, func, types, args=(), kwargs=None):
                    name = str(getattr(func, "__name__", "")).split(".")[0]
                    if watch.seen is None and name in watch.names:
                        watch.seen = watch.names[name]
                    return func(*args, **(kwargs or {}))

            self._mode = _Names()
            self._mode.__enter__()
        if self.codes:
            self._previous = sys.getprofile()
            sys.setprofile(self._profile)
        return self

    def _profile(self, frame, event, arg):
        if event == "call" and self.seen is None:
            self.seen = self.codes.get(frame.f_code)

    def __exit__(self, *exc):
        import sys

        if self.codes:
            sys.setprofile(self._previous)
        if self._mode is not None:
            self._mode.__exit__(None, None, None)
        return False


def _codes_of(obj) -> list:
    """The code objects of a function (and what it wraps) or of a class's methods; for a torch.optim
    class, also those of its module's functions (the functional forms its step calls)."""
    import sys
    import types

    if obj is None:
        return []
    members = list(vars(obj).values()) if isinstance(obj, type) else [obj]
    module = getattr(obj, "__module__", "") or ""
    if isinstance(obj, type) and module.startswith("torch.optim."):
        members += [v for v in vars(sys.modules[module]).values() if getattr(v, "__module__", None) == module]
    codes = []
    for member in members:
        member = getattr(member, "__func__", member)  # staticmethod, classmethod
        for _ in range(5):  # functools.wraps chains
            code = getattr(member, "__code__", None)
            if isinstance(code, types.CodeType):
                codes.append(code)
            member = getattr(member, "__wrapped__", None)
            if member is None:
                break
    return codes


def _dotted(owner: object, attr: str) -> str:
    """torch.softmax, torch.nn.functional.softmax, torch.Tensor.softmax: the name the kernel looks up."""
    if isinstance(owner, type):
        return f"{owner.__module__}.{owner.__qualname__}.{attr}"
    return f"{getattr(owner, '__name__', type(owner).__name__)}.{attr}"


def _trusted_dirs() -> tuple[str, ...]:
    """course_utils/ (every checks submodule, data, models), torch, the stdlib and site-packages."""
    import site
    import sysconfig

    paths = sysconfig.get_paths()
    dirs = {
        os.path.dirname(_PACKAGE),
        os.path.dirname(torch.__file__),
        paths["stdlib"],
        paths["purelib"],
        paths["platlib"],
        *site.getsitepackages(),
    }
    return tuple(os.path.realpath(d) + os.sep for d in dirs)


_TRUSTED = _trusted_dirs()
_TRUSTED_CODE: set = set()  # code objects already found in a trusted file


def _replaced(value) -> bool:
    """True if `value` is a function or object the notebook itself defined (not torch's, not Python's)."""
    func = getattr(value, "__func__", value)
    code = getattr(func, "__code__", None)
    if code is not None:
        if code in _TRUSTED_CODE:
            return False
        where = code.co_filename  # Python's frozen modules (importlib) have no file on disk
        if where.startswith("<frozen ") or os.path.realpath(where).startswith(_TRUSTED):
            _TRUSTED_CODE.add(code)
            return False
        return True
    return type(value).__module__ == "__main__" or getattr(value, "__module__", None) == "__main__"


def _untampered(name: str) -> None:
    """Refuse to grade when notebook code has replaced a function the checks rely on.

    `torch.allclose = lambda *a, **k: True` would make every comparison pass; this
    names the replaced function instead, so a student who did it by accident learns why.
    Every module of this package (course_utils.checks._SUBMODULES) is checked too, each by
    where its file lies.
    """
    __tracebackhide__ = True
    if IN_GRADER[0]:  # the grading process: no notebook code runs here
        return
    import builtins
    import importlib
    import sys

    spaces = {
        "torch": torch,
        "torch.nn.functional": F,
        "torch.Tensor": torch.Tensor,
        "builtins": builtins,
        "importlib": importlib,
    }
    for label, space in spaces.items():
        for attr, value in list(vars(space).items()):
            if callable(value) and _replaced(value):
                _fail(
                    name,
                    f"`{label}.{attr}` was replaced by code in this notebook, so no check can trust it.",
                    f"remove the line that assigns to `{label}.{attr}`, "
                    "restart the kernel (Kernel → Restart) and run the notebook again.",
                )
    package = sys.modules.get("course_utils.checks")  # a stand-in without _SUBMODULES fails below
    ours = [f"course_utils.checks.{sub}" for sub in getattr(package, "_SUBMODULES", ())]
    for mod_name in ("torch", "torch.nn.functional", "course_utils", "course_utils.checks", *ours):
        mod = sys.modules.get(mod_name)
        path = getattr(mod, "__file__", None)
        if mod is not None and not (path and os.path.realpath(path).startswith(_TRUSTED)):
            _fail(
                name,
                f"the module `{mod_name}` was replaced by code in this notebook.",
                "remove the line that assigns to it or to sys.modules, restart the kernel and "
                "run the notebook again.",
            )


def _call(
    name: str,
    fn: Callable,
    *args,
    forbid=(),
    purpose: str = "",
    tamper_check: bool = True,
    times: int | None = None,
    **kwargs,
):
    """Run the student's function and turn every way it can break into a diagnosis.

    tamper_check=False skips the (3 ms) tamper scan: for a checker that calls the function
    thousands of times, scanning before the first call and after the last. times=n calls it n
    times with the same arguments and returns the list of results (in one round trip when the
    function is a Remote, i.e. runs in the grading kernel).
    """
    __tracebackhide__ = True
    if tamper_check and not IN_GRADER[0]:
        _untampered(name)
    if not callable(fn):
        _fail(name, f"expected a function, got {type(fn).__name__}.", f"pass `{name}` itself.")
    try:
        with _forbid(forbid):
            if times is None:
                return fn(*args, **kwargs)
            if isinstance(fn, Remote):
                return fn.repeat(times, *args, **kwargs)
            return [fn(*args, **kwargs) for _ in range(times)]
    except NotImplementedError:
        print(
            f"⏳ {name} is not written yet: replace `raise NotImplementedError()` "
            "with your code, run that cell, then run this one again."
        )
        raise
    except _Forbidden as err:
        _fail(
            name,
            f"it calls torch's own `{err.what}`, which is what this exercise asks you to write"
            + (
                f" (the grader found {err.detail}: where an exercise forbids a function, code "
                "that looks names up at run time is refused too)."
                if getattr(err, "detail", None)
                else "."
            ),
            "build it from basic operations (torch.exp, .sum, .max, torch.log, indexing); "
            "this check compares your result with torch's.",
        )
    except GraderError:  # the grader could not call the kernel: not the student's exception
        raise
    except Exception as err:  # the student's code raised: say where and on what input
        shapes = ", ".join(
            f"shape {tuple(a.shape)}" if isinstance(a, torch.Tensor) else type(a).__name__ for a in args
        )
        _fail(
            name,
            f"raised {_type_name(err)}: {err}\n   (called with {shapes}{purpose})",
            _where(err),
        )


def _type_name(err: BaseException) -> str:
    """The exception's type: as the student's code named it, also when it was raised in the kernel."""
    return getattr(err, "type_name", type(err).__name__)


def _where(err: BaseException) -> str:
    """The student's line that raised: the last frame outside torch and this package."""
    if getattr(err, "where", None):  # raised in the grading kernel (see remote.py)
        return err.where  # type: ignore[attr-defined]
    frames = [
        f
        for f in traceback.extract_tb(err.__traceback__)
        if not f.filename.startswith(_PACKAGE + os.sep) and "site-packages" not in f.filename
    ]
    if not frames:
        return "the first line of your function."
    f = frames[-1]
    return f"line {f.lineno} of your cell: `{(f.line or '').strip()}`"
