"""A graded test cell's verdict, decided in the grading process, not in the student's kernel.

The kernel runs the student's notebook; a graded test cell is never sent to it. Instead this
process reads the cell (the released one: RestoreTests and nbgrader's OverwriteCells have put it
back), runs each checker call it holds with its own copy of `course_utils.checks`, and hands the
checker a `Remote` (course_utils/checks/remote.py) in place of the student's function: each call
crosses to the kernel and only plain data comes back. The cell's outputs are what the checker
printed here, plus an error output unless every call ended in a pass; nbgrader then scores the
cell as usual (an error output is 0). So nothing the submission does in its own interpreter
(patching torch or the checker, tracing, import hooks, tensor subclasses) reaches the verdict.

A test cell holds only checker calls `check_x(student_function, literal, key=literal, ...)`,
possibly as `importlib.reload(_checks).check_x(...)`, and imports; `checker_calls` refuses
anything else, and tests/test_trusted.py proves every lesson's test cells parse.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import io
import os
import uuid
from dataclasses import dataclass, field
from queue import Empty
from time import monotonic
from typing import Any

from nbformat.notebooknode import NotebookNode


class KernelStopped(Exception):
    """The kernel died, or ran past the time a call may take, while the grader was calling it."""

    def __init__(self, ename: str, evalue: str):
        super().__init__(evalue)
        self.ename, self.evalue = ename, evalue
        self.printed = ""  # what the test cell's checks printed before it stopped


@dataclass
class CheckerCall:
    checker: str  # a name exported by course_utils.checks
    function: str  # the student's function, a name in the kernel's namespace
    args: list = field(default_factory=list)
    kwargs: dict = field(default_factory=dict)


def checker_calls(source: str) -> list[CheckerCall]:
    """The checker calls of a test cell, in order; ValueError for anything else in it."""
    calls = []
    for stmt in ast.parse(source).body:
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            continue
        call = stmt.value if isinstance(stmt, ast.Expr) else None
        func = getattr(call, "func", None)
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if not (isinstance(call, ast.Call) and name and name.startswith("check_")):
            raise ValueError(f"line {stmt.lineno} is not a checker call: the grader runs only those")
        if not call.args or not isinstance(call.args[0], ast.Name):
            raise ValueError(f"line {stmt.lineno}: a checker's first argument must be the student's function")
        calls.append(
            CheckerCall(
                name,
                call.args[0].id,
                [ast.literal_eval(a) for a in call.args[1:]],
                {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg},
            )
        )
    return calls


class KernelTransport:
    """Sends one request to the kernel and returns the reply `_serve` made of it, over a Jupyter
    comm (remote.open_channel, registered by one execute request on first use).

    It uses the kernel client that executes the notebook (nbclient's, asynchronous, or a blocking
    one in tests): a second client would subscribe to the kernel's output too, and its unread
    queue would fill and drop the messages of the cells that follow.
    """

    def __init__(self, kc, km, timeout: float):
        self.kc, self.km, self.timeout = kc, km, timeout
        self.deadline: float | None = None  # set per test cell: all its calls share the cell's timeout
        self.comm_id: str | None = None
        self.challenge_kernels: Any = None  # lesson 09: GuardedExecute's ChallengeKernels, made ready

    def close(self) -> None:
        pass

    def __call__(self, request: str) -> str:
        from jupyter_core.utils import run_sync

        return run_sync(self._call)(request)

    async def _call(self, request: str) -> str:
        from course_utils.checks.remote import GraderError

        deadline = self.deadline or monotonic() + self.timeout
        if self.comm_id is None:
            await self._open(deadline)
        msg = self.kc.session.msg("comm_msg", {"comm_id": self.comm_id, "data": {"request": request}})
        self.kc.shell_channel.send(msg)
        reply, said = await self._replies(msg["header"]["msg_id"], deadline)
        if not isinstance(reply, str):
            raise GraderError(f"the kernel sent no reply to the grader's call ({said or 'no output'})")
        return reply

    async def _open(self, deadline: float) -> None:
        """Register the comm's target in the kernel, then open the comm."""
        from course_utils.checks.remote import COMM_TARGET, GraderError

        code = "__import__('course_utils.checks.remote', fromlist=['_']).open_channel()"
        msg_id = self.kc.execute(
            code, silent=True, store_history=False, allow_stdin=False, stop_on_error=False
        )
        _, error = await self._replies(msg_id, deadline)
        while (await self._next(self.kc.get_shell_msg, deadline)).get("parent_header", {}).get(
            "msg_id"
        ) != msg_id:
            pass
        if error:
            raise GraderError(f"the grader could not reach the kernel ({error})")
        self.comm_id = uuid.uuid4().hex
        content = {"comm_id": self.comm_id, "target_name": COMM_TARGET, "data": {}}
        self.kc.shell_channel.send(self.kc.session.msg("comm_open", content))

    async def _replies(self, msg_id: str, deadline: float) -> tuple[str | None, str | None]:
        """Read the kernel's output for one message until it is idle: the reply on the comm, and
        what went wrong (an error, a failure of `_serve`), if anything."""
        reply, said = None, None
        while True:
            msg = await self._next(self.kc.get_iopub_msg, deadline)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "comm_msg" and content.get("comm_id") == self.comm_id:
                data = content.get("data", {})
                reply = data.get("reply") if "reply" in data else None
                said = data.get("failed")
            elif kind == "error":
                said = f"{content.get('ename')}: {content.get('evalue')}"
            elif kind == "status" and content.get("execution_state") == "idle":
                return (reply if isinstance(reply, str) else None), said

    async def _next(self, get, deadline: float) -> dict:
        from jupyter_core.utils import ensure_async

        while True:
            try:
                return await ensure_async(get(timeout=1))
            except Empty:
                if not await ensure_async(self.km.is_alive()):
                    raise KernelStopped(
                        "KernelDied",
                        "The kernel died while the grader called your function (os._exit, a crash, "
                        "or the grader's memory or CPU limit). Later cells were not run.",
                    ) from None
                if monotonic() > deadline:
                    raise KernelStopped(
                        "CellTimeout",
                        f"The checks of this cell ran longer than {self.timeout:.0f} s calling your "
                        "function, so the kernel was stopped. Later cells were not run. Look for an "
                        "endless loop.",
                    ) from None


# Code that reaches a function without writing its name: refused where an exercise forbids one.
_DYNAMIC = {
    "getattr", "setattr", "eval", "exec", "compile", "vars", "globals", "locals", "__import__",
    "get_ipython", "run_cell", "attrgetter", "methodcaller", "import_module", "marshal", "pickle",
    "ctypes", "ops", "_C", "__builtins__",
}  # fmt: skip
# Attributes and modules that reach a function by a string (inspect, pydoc, pkgutil, sys.modules),
# run code where the kernel's watch does not look (it sees the calling thread) or answer the
# grader's requests in the checkers' stead: as names of an attribute or an import only, so that a
# variable called `modules` is no offence.
_ROUTES = {
    "getattr_static", "getmembers", "locate", "resolve_name", "modules", "inspect", "pydoc", "pkgutil",
    "setprofile", "settrace", "threading", "_thread", "Thread", "concurrent", "multiprocessing",
    "subprocess", "Popen", "system", "fork", "spawn", "overrides",
    # the grader's channel into the kernel, which a submission could answer itself
    "comm", "Comm", "CommManager", "get_comm_manager", "comm_manager", "register_target", "on_msg",
    "ipykernel", "shell_handlers", "remote", "calling", "open_channel",
}  # fmt: skip


_PRIVATE_OK = {"_", "__init__", "__name__"}


def forbidden_use(
    code: list[str] | tuple[str, ...], forbid: list[str], function: str | None = None
) -> str | None:
    """Where the student's code names a forbidden function (or looks names up at run time), or None.

    The kernel's own guard (`calling._forbid`) runs in the student's interpreter, which an alias
    taken earlier slips past; this scan runs here, on the cells the student wrote before the
    check. A name counts when an attribute or import holds it (`F.softmax`, `torch._softmax`,
    `from torch import softmax`); `getattr`, `eval`, `__dict__` and the like count too.
    """
    banned = {_banned_name(dotted) for dotted in forbid}
    for cell in code:
        lines = [ln for ln in cell.splitlines() if not ln.lstrip().startswith(("%", "!"))]
        try:
            tree = ast.parse("\n".join(lines))
        except SyntaxError:
            continue
        own = function is None or any(
            (isinstance(n, ast.FunctionDef) and n.name == function)
            or (
                isinstance(n, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == function for t in n.targets)
            )
            for n in ast.walk(tree)
        )
        called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
        for node in ast.walk(tree):
            if not own and id(node) in called:
                continue  # another exercise's cell may call torch's function; an alias taken there may not
            names: list[str] = []
            if isinstance(node, ast.Attribute):
                own_attr = isinstance(node.value, ast.Name) and node.value.id == "self"
                names = [] if own_attr and not _names_a_banned(node.attr.strip("_"), banned) else [node.attr]
            elif isinstance(node, ast.Name):
                names = [node.id] if node.id in _DYNAMIC else []
            elif isinstance(node, ast.Import):
                names = [part for a in node.names for part in a.name.split(".")]
            elif isinstance(node, ast.ImportFrom):
                names = [a.name for a in node.names] + (node.module or "").split(".")
            for name in names:
                if name in _DYNAMIC or name in _ROUTES or _names_a_banned(name, banned):
                    at = getattr(node, "lineno", 0)
                    line = lines[at - 1].strip() if 0 < at <= len(lines) else name
                    return f"`{name}` in your line `{line}`"
    return None


def _banned_name(dotted: str) -> str:
    """torch.softmax -> softmax; a method of a class other than Tensor names its class (SGD.step -> sgd)."""
    parts = dotted.split(".")
    owner = parts[-2] if len(parts) > 1 else ""
    name = owner if owner[:1].isupper() and owner != "Tensor" else parts[-1]
    return name.lower().strip("_")


def _scan(code: list[str] | tuple[str, ...], function: str, forbid: list[str]) -> str | None:
    return forbidden_use(code, forbid, function)


def _names_a_banned(name: str, banned: set[str]) -> bool:
    """`softmax`, `_softmax`, `log_softmax`, `softmax_backward`, a dunder, a private name of a
    module (`_forbid`, `_python_dispatch`: the checkers' and torch's internals); not `check_softmax`."""
    low = name.lower()
    if low.startswith("_") and low not in _PRIVATE_OK:  # dunders included
        return True
    core = low.strip("_")
    return not core.startswith("check_") and any(
        core == b or core.startswith(b + "_") or core.endswith("_" + b) for b in banned
    )


def _error(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(
        output_type="error", ename=ename, evalue=evalue, traceback=[f"\x1b[0;31m{ename}\x1b[0m: {evalue}"]
    )


def verdict(source: str, transport, student_code: list[str] | tuple[str, ...] = ()) -> list[NotebookNode]:
    """The outputs of a graded test cell, its checks run here against the kernel's functions.

    student_code: the cells the student wrote above it, scanned for forbidden functions.

    Raises KernelStopped when the kernel died or ran out of time during a call: the caller stops
    the notebook there, as for a cell.
    """
    import torch

    from course_utils.checks import remote

    torch.set_num_threads(int(os.environ.get("COURSE_GRADER_THREADS", "1")))
    was = remote.IN_GRADER[0]
    remote.IN_GRADER[0] = True  # no notebook code runs in this process: checkers skip their tamper scan
    try:
        return _decide(source, transport, student_code)
    finally:
        remote.IN_GRADER[0] = was  # a test process goes on to run checkers as a notebook does


def _decide(source: str, transport, student_code) -> list[NotebookNode]:
    import course_utils.checks as checks
    from course_utils.checks import remote, reporting

    printed = io.StringIO()
    if isinstance(transport, KernelTransport):
        transport.deadline = monotonic() + transport.timeout
    failure: NotebookNode | None = None
    try:
        calls = checker_calls(source)
    except (SyntaxError, ValueError) as err:
        calls, failure = [], _error("GraderError", f"the grader cannot run this test cell: {err}")
    for call in calls:
        before = reporting.PASSED[0]
        fn: object = remote.Remote(
            transport,
            name=call.function,
            precheck=functools.partial(_scan, student_code, call.function),
        )
        if call.checker == "check_challenge" and isinstance(transport, KernelTransport):
            from grading.challenge import IsolatedChallenge
            from grading.challenge_kernels import challenge_cell

            # its budget and the test labels stay out of the notebook's reach: a kernel of its own
            left = (transport.deadline or monotonic() + transport.timeout) - monotonic()
            kernels = getattr(transport, "challenge_kernels", None)  # GuardedExecute's, made ready
            fn = IsolatedChallenge(challenge_cell(student_code), timeout=max(1.0, left), kernels=kernels)
        try:
            with contextlib.redirect_stdout(printed):
                getattr(checks, call.checker)(fn, *call.args, **call.kwargs)
        except KernelStopped as stop:
            stop.printed = printed.getvalue()
            raise
        except Exception as err:
            failure = _error(getattr(err, "type_name", type(err).__name__), str(err))
            break
        if reporting.PASSED[0] == before:
            failure = _error("NoVerdict", f"{call.checker} gave no verdict, so it earns no points.")
            break
    outputs = []
    if printed.getvalue():
        outputs.append(NotebookNode(output_type="stream", name="stdout", text=printed.getvalue()))
    if failure is not None:
        outputs.append(failure)
    return outputs
