"""Lesson 09's challenge, graded in a kernel of its own that holds no MNIST file.

The challenge's points depend on two things a submission must not reach: how many training
examples it drew (its budget) and the test labels. In the notebook's kernel both would be within
reach (the data folder, `data.used`), so when grading, `check_challenge` is handed an
`IsolatedChallenge` in place of the student's function. It starts a second sandboxed kernel
(grading/sandbox.py) whose data folder is empty, runs there the checker's PRELUDE (imports) and
the one cell that defines train_challenge, and calls it with a stand-in for CountedData whose
every batch is asked of this process over a Unix socket in the kernel's private socket folder
(length-prefixed `torch.save` frames, loaded with `weights_only=True`): this process draws it
from its own CountedData, which counts it and refuses a batch past the budget. Then the kernel asks
for the test images (never the labels), and sends the model's logits back as plain data
(`torch.save`, loaded with `weights_only=True`); the accuracy is computed here.
"""

from __future__ import annotations

import ast
import io
import os
import shutil
import socket
import tempfile
import threading
from time import monotonic
from typing import Any

import torch

from course_utils.checks.challenge import (
    BATCH,
    PRELUDE,
    BudgetExceeded,
    Isolated,
    Predictions,
    _batch_frame,
    _int64s,
    _recv_frame,
    _send_frame,
)
from course_utils.checks.remote import MAX_REPLY, MIME, GraderError, _dump, _load, _opaque, _rebuilt
from grading.trusted import KernelStopped

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


class IsolatedChallenge(Isolated):
    """train_challenge, called in a fresh sandboxed kernel with no data of its own."""

    def __init__(self, cell: str | None, timeout: float):
        self.cell, self.timeout = cell, timeout
        self.__name__ = FUNCTION

    def __repr__(self) -> str:
        return "<the student's train_challenge, in a grading kernel of its own>"

    def __call__(self, data, generator: torch.Generator):
        from jupyter_core.utils import run_sync

        if self.cell is None:
            raise NameError(f"name '{FUNCTION}' is not defined")
        if len(self.cell) > MAX_CELL:
            raise ValueError(
                f"the cell of {FUNCTION} is {len(self.cell):,} characters long; the challenge takes "
                f"at most {MAX_CELL:,}: train the model in the function, do not paste one in"
            )
        request = {
            "n": data.n,
            "budget": data.budget,
            "gen": generator.get_state(),
            "rng": torch.get_rng_state(),
        }
        reply = run_sync(self._session)(self.cell, data, request)
        if "over" in reply:
            raise BudgetExceeded(str(reply["over"]))
        if "error" in reply:
            raise _rebuilt(reply["error"])
        if "returned" in reply:
            return None if reply["returned"] == "NoneType" else _opaque(str(reply["returned"]))
        logits = reply.get("logits")
        return Predictions(self.X_test, logits if isinstance(logits, torch.Tensor) else _opaque(str(logits)))

    def _answer(self, data, frame: bytes) -> bytes:
        """This process's answer to one request of the challenge's kernel (torch.save bytes)."""

        def reply(tree: dict) -> bytes:
            buffer = io.BytesIO()
            torch.save(tree, buffer)
            return buffer.getvalue()

        if frame[:1] == BATCH:  # the raw form of a batch request (course_utils/checks/challenge.py)
            if (len(frame) - 1) % 8:
                return reply({"error": "a request the grader cannot read"})
            op, request = "batch", {"idx": _int64s(frame[1:])}
        else:
            try:
                request = torch.load(io.BytesIO(frame), weights_only=True)
                op = request.get("op")
            except Exception:
                return reply({"error": "a request the grader cannot read"})
        if op == "test_images":
            return reply({"X": self.X_test})
        if op == "batch" and isinstance(request.get("idx"), torch.Tensor):
            idx = request["idx"].long().flatten()
            if len(idx) and not (-data.n <= int(idx.min()) and int(idx.max()) < data.n):
                return reply({"error": f"index out of range: the training set has {data.n:,} examples"})
            try:
                X, y = data.batch(idx)
            except BudgetExceeded as err:
                return reply({"over": str(err)})
            return _batch_frame(X, y, data.used)
        return reply({"error": "a request the grader does not know"})

    def _serve_channel(self, server: socket.socket, data, stop: threading.Event) -> None:
        """Answer the kernel's requests on the channel's socket until the run is over."""
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(0.5)
                while not stop.is_set():
                    try:
                        frame = _recv_frame(conn)
                    except TimeoutError:
                        continue
                    except (OSError, ValueError):
                        break
                    if frame is None:
                        break
                    try:
                        _send_frame(conn, self._answer(data, frame))
                    except OSError:
                        break

    async def _session(self, cell: str, data, request: dict) -> dict:
        import zmq
        import zmq.asyncio

        from grading.kernel import SandboxKernelManager
        from grading.sandbox import _stops

        stops = list(_stops)  # the notebook kernel's: this kernel's start and end must not touch them
        scratch = tempfile.mkdtemp(prefix="course-challenge-")
        os.makedirs(os.path.join(scratch, "data"))  # the kernel's data folder: empty
        os.makedirs(os.path.join(scratch, "work"))
        km = SandboxKernelManager(kernel_name="course-grader")
        kc = None
        finished = False  # a kernel that ran to the end is asked to stop (its CPU time then counts)
        try:
            env = {**os.environ, "COURSE_DATA_DIR": os.path.join(scratch, "data")}
            await km.start_kernel(cwd=os.path.join(scratch, "work"), env=env)
            kc = km.client()
            kc.start_channels()
            await kc.wait_for_ready(timeout=120)
            deadline = monotonic() + self.timeout
            poller = zmq.asyncio.Poller()
            poller.register(kc.iopub_channel.socket, zmq.POLLIN)
            setup = await self._run(kc, km, poller, PRELUDE + "\n" + cell, deadline)
            if setup["error"]:
                said = f"the cell of {FUNCTION} failed: {setup['error']}"
                return {"error": {"type": "CellError", "message": said}}
            # The data channel: a Unix socket in the kernel's private socket folder (no network in
            # the sandbox), answered by a thread of this process while the kernel trains.
            path = os.path.join(km._ipc_dir, "challenge")
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.bind(path)
            os.chmod(path, 0o666)  # the kernel's uid connects; the folder admits no one else
            server.listen(1)
            stop = threading.Event()
            serving = threading.Thread(target=self._serve_channel, args=(server, data, stop), daemon=True)
            threads = torch.get_num_threads()
            torch.set_num_threads(1)  # a batch is 50 rows: torch's worker threads would only spin
            serving.start()  # there, on the core the kernel trains on (it trained 2.3x slower)
            try:
                sent = _dump({**request, "channel": path})
                run = f"__import__('course_utils.checks.challenge', fromlist=['_'])._isolated_run({sent!r})"
                done = await self._run(kc, km, poller, run, deadline)
            finally:
                stop.set()
                serving.join()
                server.close()
                torch.set_num_threads(threads)
            if not isinstance(done["reply"], str):
                raise GraderError(f"the challenge's kernel sent no result ({done['error'] or 'no output'})")
            if len(done["reply"]) > MAX_REPLY:
                raise GraderError(f"the challenge's kernel sent more than {MAX_REPLY // 2**20} MiB")
            try:
                reply = _load(done["reply"])
            except Exception as err:
                raise GraderError(f"the challenge's reply is not plain data ({type(err).__name__})") from None
            if not isinstance(reply, dict):
                raise GraderError("the challenge's reply is not plain data")
            finished = True
            return reply
        finally:
            if kc is not None:
                kc.stop_channels()
            try:
                await km.shutdown_kernel(now=not finished)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
                _stops[:] = stops

    async def _run(self, kc, km, poller, code: str, deadline: float) -> dict[str, Any]:
        """Execute `code`; its reply (MIME) and error, if any."""
        import zmq

        msg_id = kc.execute(code, silent=False, store_history=False, allow_stdin=False, stop_on_error=False)
        out: dict[str, Any] = {"reply": None, "error": None}
        while True:
            left = deadline - monotonic()
            if left <= 0:
                raise KernelStopped(
                    "CellTimeout",
                    f"The challenge ran longer than {self.timeout:.0f} s, so its kernel was stopped.",
                )
            events = dict(await poller.poll(timeout=min(1000, int(left * 1000) + 1)))
            if not events:
                if not await km.is_alive():
                    raise KernelStopped(
                        "KernelDied",
                        "The challenge's kernel died (os._exit, a crash, or the grader's memory or CPU "
                        "limit) while training.",
                    )
                continue
            if events.get(kc.iopub_channel.socket) == zmq.POLLIN:
                msg = await kc.iopub_channel.get_msg(timeout=0)
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = msg["msg_type"], msg["content"]
                if kind == "display_data" and MIME in content.get("data", {}):
                    out["reply"] = content["data"][MIME]
                elif kind == "error":
                    out["error"] = f"{content.get('ename')}: {content.get('evalue')}"
                elif kind == "status" and content.get("execution_state") == "idle":
                    return out
