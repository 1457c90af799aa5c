"""nbgrader's Execute preprocessor, hardened for whole classes.

Plain nbgrader drops a submission (score 0, "needs manual grading") and exits
with an error when a kernel dies (`os._exit`, a crash, a resource limit) or a
cell cannot be interrupted after its timeout. Here the run goes on: the cell
where it happened gets an error output that says what happened, every later
code cell gets a "not run" error (so its check earns no points, rather than
counting as passed for lack of output), and the cells before keep their
results.
"""

from __future__ import annotations

from pathlib import Path
from queue import Empty
from time import monotonic

import nbformat
from jupyter_core.utils import run_sync
from nbclient.client import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbconvert.preprocessors import Preprocessor
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute

from grading.course import is_test


def _error(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(
        output_type="error", ename=ename, evalue=evalue, traceback=[f"\x1b[0;31m{ename}\x1b[0m: {evalue}"]
    )


def _in_slices(get_msg, slice_s: float = 1.0):
    """get_msg(timeout) that polls the socket at least once a second until its timeout."""

    async def get_msg_in_slices(timeout: float | None = None):
        deadline = None if timeout is None else monotonic() + timeout
        while True:
            wait = slice_s if deadline is None else min(slice_s, max(0.0, deadline - monotonic()))
            try:
                return await get_msg(timeout=wait)
            except Empty:
                if deadline is not None and monotonic() >= deadline:
                    raise

    return get_msg_in_slices


class PromptReplies:
    """Mixin for nbclient's NotebookClient: a reply that has arrived is read within a second.

    With ipykernel 7, pyzmq 27 and nbclient 0.11, a cell that displays a widget now and
    then has its execute_reply waiting on the socket unnoticed (a lost wake-up) until the
    poll's timeout: the whole cell timeout, 180 s of nothing (nbclient issue #312). Waiting
    in one-second slices re-checks the socket, so a missed wake-up costs at most a second.
    """

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        for channel in (kc.shell_channel, kc.iopub_channel):
            channel.get_msg = _in_slices(channel.get_msg)
        return kc

    start_new_kernel_client = run_sync(async_start_new_kernel_client)


class GuardedExecute(PromptReplies, Execute):
    """Execute every cell; a dead or unstoppable kernel costs only the cells from there on."""

    def preprocess(self, nb, resources=None, km=None):
        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        stopped: str | None = None
        with self.setup_kernel():
            info = self.wait_for_reply(self.kc.kernel_info())
            self.nb.metadata["language_info"] = info["content"]["language_info"]
            for index, cell in enumerate(self.nb.cells):
                if cell.cell_type != "code":
                    continue
                if stopped:
                    cell.outputs = [_error("NotRun", f"This cell was not run: {stopped}")]
                    continue
                try:
                    self.preprocess_cell(cell, resources, index)
                except DeadKernelError:
                    cell.outputs.append(
                        _error(
                            "KernelDied",
                            "The kernel died while running this cell (os._exit, exit(), a crash, or "
                            "the grader's memory or CPU limit). Later cells were not run and earn no "
                            "points. Run the notebook top to bottom yourself to find the line.",
                        )
                    )
                    stopped = f"the kernel died in cell {index} ({cell.get('id', '?')})."
                except CellTimeoutError:
                    cell.outputs.append(
                        _error(
                            "CellTimeout",
                            f"This cell ran longer than {self.timeout} s and did not stop when "
                            "interrupted, so the kernel was stopped. Later cells were not run and "
                            "earn no points. Look for an endless loop.",
                        )
                    )
                    stopped = f"cell {index} ({cell.get('id', '?')}) timed out."
                    self.km.shutdown_kernel(now=True)
        self.set_widgets_metadata()
        return self.nb, self.resources


class RestoreTests(Preprocessor):
    """Put every test cell back where the lesson has it: restored if deleted, moved back if moved.

    nbgrader restores the *contents* of locked cells it finds, but a deleted test
    cell simply goes missing (its points then wait for manual grading), and a
    moved one runs wherever the student put it. This step, run on nbgrader's
    working copy (never on the submission), takes each test cell from the
    source notebook and places it right after the cell that precedes it
    there, so every check runs after the code it checks, as written.
    """

    enabled = True  # nbconvert skips preprocessors that are not enabled

    def preprocess(self, nb, resources):
        info = resources.get("nbgrader", {})
        path = Path.cwd() / "source" / info.get("assignment", "") / f"{info.get('notebook', '')}.ipynb"
        if not path.is_file():
            return nb, resources
        source = nbformat.read(path, as_version=4).cells
        for i, cell in enumerate(source):
            if not is_test(cell) or i == 0:
                continue
            anchor = source[i - 1].get("id")
            ids = [c.get("id") for c in nb.cells]
            if anchor not in ids:
                continue  # the student deleted the code it checks: the check then fails
            if cell.get("id") in ids:
                restored = nb.cells.pop(ids.index(cell.get("id")))
            else:
                restored = nbformat.from_dict(cell)
            nb.cells.insert([c.get("id") for c in nb.cells].index(anchor) + 1, restored)
        return nb, resources
