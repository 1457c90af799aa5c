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

import contextlib
import importlib
import threading
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
from traitlets import Bool

from grading.challenge_kernels import ChallengeKernels, challenge_calls, prepare_challenge
from grading.course import grade_id as grade_id_of
from grading.course import is_solution, is_test
from grading.trusted import KernelStopped, KernelTransport, _error, verdict


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


def _warm_up_checkers() -> None:
    """Import torch and the checkers for trusted.verdict in a thread, while the kernel starts and
    runs the cells above the first test: the seconds torch's import takes then overlap the
    notebook's own, instead of being added at the first graded cell. (verdict's own imports wait
    for this one to finish: the import system locks each module.)"""

    def imports() -> None:
        with contextlib.suppress(Exception):  # verdict imports them again, and reports a failure
            import course_utils.checks  # noqa: F401  (torch with it)
            import course_utils.checks.remote  # noqa: F401

            # then what the first torch optimizer a checker builds imports (lessons 03, 04, 07, 08)
            importlib.import_module("torch._dynamo")  # 0.8 s, here, not in the first graded cell

    threading.Thread(target=imports, name="warm-up-checkers", daemon=True).start()


class GuardedExecute(PromptReplies, Execute):
    """Execute every cell; a dead or unstoppable kernel costs only the cells from there on."""

    trusted_checks = Bool(
        True, help="Decide graded test cells in this process, calling the kernel's functions (trusted.py)"
    ).tag(config=True)
    _kernel_transport: KernelTransport | None = None
    _challenge_kernels: ChallengeKernels | None = None

    def preprocess(self, nb, resources=None, km=None):
        NotebookClient.__init__(self, nb, km)
        self._kernel_transport = None
        if self.trusted_checks:
            _warm_up_checkers()
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        self._challenge_kernels = self._prepare_challenge() if self.trusted_checks else None
        try:
            self._execute_cells(resources)
        finally:
            if self._challenge_kernels is not None:
                self._challenge_kernels.close()
                self._challenge_kernels = None
        self.set_widgets_metadata()
        return self.nb, self.resources

    def _execute_cells(self, resources) -> None:
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
                if self.trusted_checks and is_test(cell):  # its verdict is decided here, see trusted.py
                    try:
                        cell.outputs = verdict(cell.source, self._transport(), self._student_code(index))
                    except KernelStopped as stop:
                        cell.outputs = (
                            [NotebookNode(output_type="stream", name="stdout", text=stop.printed)]
                            if stop.printed
                            else []
                        )
                        cell.outputs.append(_error(stop.ename, stop.evalue))
                        stopped = f"the kernel stopped in cell {index} ({cell.get('id', '?')})."
                        self._close_transport()
                        if stop.ename == "CellTimeout":
                            run_sync(self.km.shutdown_kernel)(now=True)
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
            self._close_transport()

    def _prepare_challenge(self) -> ChallengeKernels | None:
        """Lesson 09: the kernels its challenge's check will call, made ready now, while the cells
        above the check run (grading/challenge_kernels.py)."""
        for index, cell in enumerate(self.nb.cells):
            if cell.cell_type == "code" and is_test(cell):
                count = challenge_calls(cell.source)
                if count:
                    return prepare_challenge(self._student_code(index), count, self.timeout)
        return None

    def _student_code(self, index: int) -> list[str]:
        """The code cells above `index` the student wrote: solutions, and cells not released as they are."""
        info = self.resources.get("nbgrader", {})
        path = Path.cwd() / "source" / info.get("assignment", "") / f"{info.get('notebook', '')}.ipynb"
        released = set()
        if path.is_file():
            released = {
                c.source.strip() for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"
            }
        return [
            c.source
            for c in self.nb.cells[:index]
            if c.cell_type == "code" and (is_solution(c) or c.source.strip() not in released)
        ]

    def _transport(self) -> KernelTransport:
        if self._kernel_transport is None:
            self._kernel_transport = KernelTransport(self.kc, self.km, self.timeout)
        self._kernel_transport.challenge_kernels = self._challenge_kernels
        return self._kernel_transport

    def _close_transport(self) -> None:
        if self._kernel_transport is not None:
            self._kernel_transport.close()
            self._kernel_transport = None


class RestoreTests(Preprocessor):
    """Every cell the lesson owns, put back as released; the student's claims to grading dropped.

    nbgrader restores the *contents* of the locked cells it recognizes by their metadata, but a
    submission can make a test cell unrecognizable (its `nbgrader` metadata deleted, `grade` set to
    false, its id or grade_id changed, ids missing altogether as in nbformat 4.4), delete it, or
    move it; the test then does not run, and a regrade keeps the earlier marks. This step, run on
    nbgrader's working copy (never on the submission), rebuilds the notebook from the source:

    - every cell the lesson owns that is not a solution (tests, the setup cell, other locked
      cells) is removed wherever the submission has it (matched by id or grade_id), and the
      source's cell, with its source and metadata, is inserted right after the cell that precedes
      it in the source (or, if the student deleted that one, after the last cell placed);
    - a solution cell keeps the student's code and gets the source's metadata back;
    - any other cell loses whatever `nbgrader` metadata it claims (a cell of the student's own
      cannot be a graded cell).

    So every check runs after the code it checks, as written, and every graded cell is graded.
    """

    enabled = True  # nbconvert skips preprocessors that are not enabled

    def preprocess(self, nb, resources):
        info = resources.get("nbgrader", {})
        path = Path.cwd() / "source" / info.get("assignment", "") / f"{info.get('notebook', '')}.ipynb"
        if not path.is_file():
            return nb, resources
        nb.cells = restored_cells(nbformat.read(path, as_version=4).cells, nb.cells)
        return nb, resources


def restored_cells(source: list, submitted: list) -> list:
    """The submission's cells with the lesson's own cells put back (see RestoreTests)."""
    owned = {grade_id_of(c): c for c in source if grade_id_of(c)}
    solutions = {g for g, c in owned.items() if is_solution(c)}
    fixed = {g for g in owned if g not in solutions}  # tests, setup, other locked cells
    fixed_ids = {owned[g].get("id") for g in fixed}
    solution_of_id = {owned[g].get("id"): g for g in solutions}
    cells, claimed = [], set()
    for cell in submitted:
        gid = grade_id_of(cell) if "nbgrader" in cell.metadata else None
        gid = solution_of_id.get(cell.get("id"), gid)  # a solution cell stripped of its metadata
        if cell.get("id") in fixed_ids or gid in fixed:
            continue  # put back from the source below
        cell = nbformat.from_dict(cell)
        if gid in solutions and gid not in claimed:  # its id and metadata as released (the ids
            claimed.add(gid)  # anchor the tests below); a second cell claiming it is the student's
            cell["id"] = owned[gid].get("id", cell.get("id"))
            cell.metadata["nbgrader"] = nbformat.from_dict(owned[gid].metadata["nbgrader"])
        else:
            cell.metadata.pop("nbgrader", None)
        cells.append(cell)
    last = -1  # index in `cells` of the last source cell found or placed
    for i, src in enumerate(source):
        ids = [c.get("id") for c in cells]
        if grade_id_of(src) in fixed:
            anchor = source[i - 1].get("id") if i else None
            at = ids.index(anchor) if anchor in ids else last
            cells.insert(at + 1, nbformat.from_dict(src))
            last = at + 1
        elif src.get("id") in ids:
            last = max(last, ids.index(src.get("id")))
    return cells
