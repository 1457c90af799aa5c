"""The kernels of lesson 09's challenge (grading/challenge.py), made ready before they are called.

Each call of the challenge gets a fresh sandboxed kernel (grading/sandbox.py) whose data folder is
empty. Starting one, importing torch there and running the student's cell takes 2.3 s here;
GuardedExecute has that done when grading begins, on a thread of its own, so that it overlaps the
notebook's earlier cells instead of adding to the check's time. Nothing here imports torch: the
grader's own import of it runs in the background too (guard._warm_up_checkers).
"""

from __future__ import annotations

import ast
import asyncio
import concurrent.futures
import os
import shutil
import tempfile
import threading
from time import monotonic
from typing import Any

from grading.trusted import KernelStopped, checker_calls

MAX_CELL = 20_000  # characters: a challenge cell is code, not a model trained elsewhere and pasted in
FUNCTION = "train_challenge"


def challenge_cell(student_code: list[str] | tuple[str, ...]) -> str | None:
    """The last of the student's cells that defines train_challenge at its top level."""
    found = None
    for source in student_code:
        try:
            body = ast.parse(source).body
        except SyntaxError:
            continue
        if any(isinstance(n, ast.FunctionDef) and n.name == FUNCTION for n in body):
            found = source
    return found


def _timeout(timeout: float) -> KernelStopped:
    return KernelStopped(
        "CellTimeout", f"The challenge ran longer than {timeout:.0f} s, so its kernel was stopped."
    )


# torch's optimizers import torch._dynamo when the first one is made (0.8 s here): in the
# notebook's kernel an earlier cell has paid for it, in a fresh kernel the challenge's run would.
WARM_UP = "__import__('torch._dynamo')"


class _Kernel:
    """One sandboxed kernel of the challenge, with no data of its own."""

    def __init__(self):
        from grading.kernel import SandboxKernelManager

        self.scratch = tempfile.mkdtemp(prefix="course-challenge-")
        os.makedirs(os.path.join(self.scratch, "data"))  # the kernel's data folder: empty
        os.makedirs(os.path.join(self.scratch, "work"))
        self.km = SandboxKernelManager(kernel_name="course-grader")
        self.km.notebook = False  # its stops are its own: NotebookTimeLimit speaks of the notebook's
        self.kc: Any = None
        self.poller: Any = None
        self.setup_error: str | None = None
        self.finished = False  # a kernel that ran to the end is asked to stop (its CPU time then counts)
        self.closing = False

    async def start(self, cell: str, timeout: float) -> None:
        """Start the kernel and run there PRELUDE and the student's cell."""
        import zmq.asyncio

        from course_utils.checks.challenge import PRELUDE  # torch with it: on this thread, not the grader's

        env = {**os.environ, "COURSE_DATA_DIR": os.path.join(self.scratch, "data")}
        await self.km.start_kernel(cwd=os.path.join(self.scratch, "work"), env=env)
        self.kc = self.km.client()
        self.kc.start_channels()
        await self.kc.wait_for_ready(timeout=120)
        self.poller = zmq.asyncio.Poller()
        self.poller.register(self.kc.iopub_channel.socket, zmq.POLLIN)
        deadline = monotonic() + timeout
        await self.run(WARM_UP, deadline, timeout)
        self.setup_error = (await self.run(PRELUDE + "\n" + cell, deadline, timeout))["error"]

    async def stop(self) -> None:
        try:
            if self.kc is not None:
                self.kc.stop_channels()
            if self.km.has_kernel:
                await self.km.shutdown_kernel(now=not self.finished)
        finally:
            shutil.rmtree(self.scratch, ignore_errors=True)
            if getattr(self.km, "_ipc_dir", None):  # a start that failed half-way left it
                shutil.rmtree(self.km._ipc_dir, ignore_errors=True)

    async def run(self, code: str, deadline: float, timeout: float) -> dict[str, Any]:
        """Execute `code`; its reply (MIME) and error, if any."""
        import zmq

        from course_utils.checks.remote import MIME

        kc = self.kc
        msg_id = kc.execute(code, silent=False, store_history=False, allow_stdin=False, stop_on_error=False)
        out: dict[str, Any] = {"reply": None, "error": None}
        while True:
            left = deadline - monotonic()
            if left <= 0:
                raise _timeout(timeout)
            if self.closing:
                raise KernelStopped("NotRun", "grading of this notebook ended before the challenge ran")
            events = dict(await self.poller.poll(timeout=min(1000, int(left * 1000) + 1)))
            if not events:
                if not await self.km.is_alive():
                    from grading.sandbox import stop_reason

                    reason = stop_reason(self.km)
                    raise KernelStopped(
                        "KernelDied",
                        f"The challenge's kernel ran out of {reason}, so it was stopped."
                        if reason
                        else "The challenge's kernel died (os._exit, a crash, or the grader's memory or "
                        "CPU limit) while training.",
                    )
                continue
            if events.get(kc.iopub_channel.socket) == zmq.POLLIN:
                try:
                    msg = await kc.iopub_channel.get_msg(timeout=0)
                except ValueError:  # a bad signature: processes forked from the kernel write on its sockets
                    raise KernelStopped(
                        "KernelGarbled",
                        "The challenge's kernel sent a message the grader cannot read (processes "
                        "forked from it writing on its sockets?), so it was stopped.",
                    ) from None
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = msg["msg_type"], msg["content"]
                if kind == "display_data" and MIME in content.get("data", {}):
                    out["reply"] = content["data"][MIME]
                elif kind == "error":
                    out["error"] = f"{content.get('ename')}: {content.get('evalue')}"
                elif kind == "status" and content.get("execution_state") == "idle":
                    return out


class ChallengeKernels:
    """The challenge's kernels, each made ready before it is called: started, the checker's
    PRELUDE and the student's cell run, torch's optimizer machinery imported.

    GuardedExecute makes them when grading begins, so that this work (2.3 s a kernel here) runs
    while the notebook's earlier cells do, rather than in the check's time. They live on a thread
    of their own with its own event loop (their sockets belong to it); each call of the
    challenge gets a fresh kernel, stopped after its call; `close` stops every one, used or not,
    before the notebook's grading is said to be over.
    """

    def __init__(self, cell: str, count: int, timeout: float):
        self.cell, self.timeout = cell, timeout
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="challenge-kernels", daemon=True)
        self._thread.start()
        self._kernels: list[_Kernel] = []  # every kernel started
        self._stopping: dict[int, asyncio.Task] = {}  # id(kernel): its stop
        self._ready: list[concurrent.futures.Future] = [concurrent.futures.Future() for _ in range(count)]
        self._preparing = [self._prepare_soon(list(self._ready), cell)]  # take() pops from _ready

    def _prepare_soon(self, futures: list, cell: str) -> concurrent.futures.Future:
        return asyncio.run_coroutine_threadsafe(self._prepare(futures, cell), self.loop)

    async def _prepare(self, futures: list, cell: str) -> None:
        for future in futures:  # one after another: the notebook's kernel has the other core
            kernel = _Kernel()
            self._kernels.append(kernel)
            try:
                await kernel.start(cell, self.timeout)
            except Exception as err:  # said by the call that takes this kernel
                self.retire(kernel)
                future.set_exception(err)
            else:
                future.set_result(kernel)

    def take(self, cell: str) -> concurrent.futures.Future:
        """A kernel made ready for `cell`: one prepared, else one started now."""
        if cell == self.cell and self._ready:
            return self._ready.pop(0)
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._preparing.append(self._prepare_soon([future], cell))
        return future

    def submit(self, coroutine):
        """Run `coroutine` on the kernels' loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def retire(self, kernel: _Kernel) -> None:
        """Stop a kernel whose call is over (on the loop), without making the call wait for it."""
        if id(kernel) not in self._stopping:
            self._stopping[id(kernel)] = self.loop.create_task(kernel.stop())

    def close(self) -> None:
        """Stop every kernel, called or not, and wait until each has gone."""
        if self.loop.is_closed():
            return
        self.submit(self._close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()

    async def _close(self) -> None:
        for kernel in self._kernels:
            kernel.closing = True  # a setup still running gives up within a second
        await asyncio.gather(*(asyncio.wrap_future(p) for p in self._preparing), return_exceptions=True)
        for kernel in self._kernels:
            self.retire(kernel)
        await asyncio.gather(*self._stopping.values(), return_exceptions=True)


def challenge_calls(source: str) -> int:
    """How many times a test cell calls check_challenge (0 for a cell the grader cannot run)."""
    try:
        return sum(call.checker == "check_challenge" for call in checker_calls(source))
    except (SyntaxError, ValueError):
        return 0


def prepare_challenge(student_code: list[str], count: int, timeout: float) -> ChallengeKernels | None:
    """`count` kernels made ready for the student's challenge cell; None where a call would not
    use one (no such cell, or one too long: the check says so without a kernel)."""
    cell = challenge_cell(student_code)
    if cell is None or len(cell) > MAX_CELL:
        return None
    return ChallengeKernels(cell, count, timeout)
