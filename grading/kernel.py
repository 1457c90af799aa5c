"""The grader's side of the sandbox (grading/sandbox.py): its kernel manager and its note.

Kept apart from sandbox.py, which the kernel's launcher imports: that must start in a fraction of
a second, without jupyter_client's or nbconvert's imports.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile

from jupyter_client.manager import AsyncKernelManager
from nbconvert.preprocessors import Preprocessor
from traitlets import CaselessStrEnum

from grading.sandbox import _ignoring, _stops, clear_uid, stop_reason, take_uid_if_free


class SandboxKernelManager(AsyncKernelManager):
    """The kernel manager of grading: Unix sockets in a private folder the sandbox binds.

    nbgrader_config.py makes it nbclient's kernel manager. The folder (mode 0700, removed with
    the kernel) holds only this kernel's sockets: not the runtime folder of every kernel, whose
    connection files carry the keys to the others.
    """

    transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)
    notebook = True  # the notebook's kernel: why the launcher stopped it goes to NotebookTimeLimit

    async def start_kernel(self, **kw):
        if self.notebook:
            _stops.clear()  # no earlier kernel's reason can speak for this one
        return await super().start_kernel(**kw)

    def _ip_default(self) -> str:
        if self.transport != "ipc":
            return super()._ip_default()
        base = "/tmp" if len(tempfile.gettempdir()) > 40 else tempfile.gettempdir()  # sun_path: 107
        self._ipc_dir = tempfile.mkdtemp(prefix="course-grader-ipc-", dir=base)
        return os.path.join(self._ipc_dir, "k")

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart)
        if not restart:
            reason = stop_reason(self)
            if reason and self.notebook:
                _stops.append(reason)
            if self.connection_file:
                with _ignoring(FileNotFoundError):
                    os.remove(self.connection_file + ".stopped")
                _clear_sandbox_uid(self.connection_file + ".uid")
            folder = getattr(self, "_ipc_dir", None)
            if folder:
                shutil.rmtree(folder, ignore_errors=True)

    cleanup_resources = _async_cleanup_resources  # as AsyncKernelManager's


def _clear_sandbox_uid(path: str) -> None:
    """Once the kernel's launcher is gone (it may have been killed before it could clean up), no
    process of its uid may be left: grading is not over while one still runs. Only while no other
    kernel holds the uid's slot: a kernel that took it since has cleared it itself."""
    try:
        with open(path, encoding="utf-8") as f:
            uid = int(f.read())
        os.remove(path)
    except (OSError, ValueError):
        return
    lock = take_uid_if_free(uid)
    if lock >= 0:
        try:
            clear_uid(uid)
        finally:
            os.close(lock)


class NotebookTimeLimit(Preprocessor):
    """After GuardedExecute: a kernel the launcher stopped because the notebook's time was spent
    is said to be so (the error "NotebookTimeout", and the cells not run say why), rather than
    "the kernel died", on the autograded notebook and the feedback page."""

    enabled = True

    def preprocess(self, nb, resources):
        reason = _stops[-1] if _stops else None
        _stops.clear()
        if not reason:
            return nb, resources
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                if out.get("output_type") != "error":
                    continue
                if out.get("ename") == "KernelDied":
                    out.ename = "NotebookTimeout"
                    out.evalue = (
                        f"The notebook ran out of {reason} while running this cell, so the kernel was "
                        "stopped. Later cells were not run and earn no points. Look for slow or "
                        "waiting cells: the whole notebook must finish within the limit."
                    )
                    out.traceback = [f"\x1b[0;31mNotebookTimeout\x1b[0m: {out.evalue}"]
                elif out.get("ename") == "NotRun":
                    said = "the notebook time limit ran out in cell"
                    out.evalue = re.sub(r"the kernel (died|stopped) in cell", said, out.evalue)
                    out.traceback = [f"\x1b[0;31mNotRun\x1b[0m: {out.evalue}"]
        return nb, resources
