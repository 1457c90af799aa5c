"""Lesson 09's challenge, graded in a kernel of its own that holds no MNIST file.

The challenge's points depend on two things a submission must not reach: how many training
examples it drew (its budget) and the test labels. In the notebook's kernel both would be within
reach (the data folder, `data.used`), so when grading, `check_challenge` is handed an
`IsolatedChallenge` in place of the student's function. Each call takes a sandboxed kernel of
its own (grading/sandbox.py) whose data folder is empty, where the checker's PRELUDE (imports)
and the one cell that defines train_challenge have run (grading/challenge_kernels.py: made ready
while the notebook's earlier cells ran), and calls it with a stand-in for CountedData whose
every batch is asked of this process over a Unix socket in the kernel's private socket folder
(length-prefixed `torch.save` frames, loaded with `weights_only=True`): this process draws it
from its own CountedData, which counts it and refuses a batch past the budget. Then the kernel asks
for the test images (never the labels), and sends the model's logits back as plain data
(`torch.save`, loaded with `weights_only=True`); the accuracy is computed here.
"""

from __future__ import annotations

import asyncio
import io
import os
import socket
import threading
from time import monotonic

import torch

from course_utils.checks.challenge import (
    BATCH,
    BudgetExceeded,
    Isolated,
    Predictions,
    _batch_frame,
    _int64s,
    _recv_frame,
    _send_frame,
)
from course_utils.checks.remote import MAX_REPLY, GraderError, _dump, _load, _opaque, _rebuilt
from grading.challenge_kernels import FUNCTION, MAX_CELL, ChallengeKernels, _timeout


class IsolatedChallenge(Isolated):
    """train_challenge, called in a fresh sandboxed kernel with no data of its own."""

    def __init__(self, cell: str | None, timeout: float, kernels: ChallengeKernels | None = None):
        self.cell, self.timeout, self.kernels = cell, timeout, kernels
        self.__name__ = FUNCTION

    def __repr__(self) -> str:
        return "<the student's train_challenge, in a grading kernel of its own>"

    def __call__(self, data, generator: torch.Generator):
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
        kernels = self.kernels
        own = kernels is None  # called without GuardedExecute's kernels (a test): one of its own
        if kernels is None:
            kernels = ChallengeKernels(self.cell, 1, self.timeout)
        try:
            ready = kernels.take(self.cell)
            deadline = monotonic() + self.timeout
            reply = kernels.submit(self._train(kernels, ready, data, request, deadline))
        finally:
            if own:
                kernels.close()
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

    def _serve_channel(self, server: socket.socket, data, stop: threading.Event, deadline: float) -> None:
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
                while not stop.is_set():
                    conn.settimeout(0.5)  # between requests, wake up now and then to see `stop`
                    try:
                        if not conn.recv(1, socket.MSG_PEEK):
                            break  # the kernel closed it
                    except TimeoutError:
                        continue
                    except OSError:
                        break
                    # A request begun is read and answered whole, however slowly the kernel (busy
                    # with threads of its own, on a loaded machine) takes its part: until the deadline.
                    conn.settimeout(max(0.5, deadline - monotonic()))
                    try:
                        frame = _recv_frame(conn)
                        if frame is None:
                            break
                        _send_frame(conn, self._answer(data, frame))
                    except (OSError, ValueError):
                        break

    async def _train(self, kernels: ChallengeKernels, ready, data, request: dict, deadline: float) -> dict:
        """Train in a kernel made ready ahead (see ChallengeKernels): the batches served from here."""
        try:
            waiting = asyncio.shield(asyncio.wrap_future(ready))  # a timeout here does not cancel its start
            kernel = await asyncio.wait_for(waiting, max(0.0, deadline - monotonic()))
        except TimeoutError:
            raise _timeout(self.timeout) from None
        try:
            if kernel.setup_error:
                said = f"the cell of {FUNCTION} failed: {kernel.setup_error}"
                return {"error": {"type": "CellError", "message": said}}
            # The data channel: a Unix socket in the kernel's private socket folder (no network in
            # the sandbox), answered by a thread of this process while the kernel trains.
            path = os.path.join(kernel.km._ipc_dir, "challenge")
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.bind(path)
            os.chmod(path, 0o666)  # the kernel's uid connects; the folder admits no one else
            server.listen(1)
            stop = threading.Event()
            serving = threading.Thread(
                target=self._serve_channel, args=(server, data, stop, deadline), daemon=True
            )
            threads = torch.get_num_threads()
            torch.set_num_threads(1)  # a batch is 50 rows: torch's worker threads would only spin
            serving.start()  # there, on the core the kernel trains on (it trained 2.3x slower)
            try:
                sent = _dump({**request, "channel": path})
                run = f"__import__('course_utils.checks.challenge', fromlist=['_'])._isolated_run({sent!r})"
                done = await kernel.run(run, deadline, self.timeout)
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
            kernel.finished = True
            return reply
        finally:
            kernels.retire(kernel)
