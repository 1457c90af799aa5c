"""Execute a notebook headless with nbclient and look inside the kernel afterwards.

Every executed copy is also written to build/executed/, named by a key of the
notebook's content and of course_utils' source: whoever needs a lesson's
outputs later in the same run (the HTML pages) takes `cached(path)` instead of
running the lesson again, and a changed lesson or helper never matches a stale copy.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from grading.course import ROOT
from grading.guard import PromptReplies

CACHE = ROOT / "build" / "executed"


class Client(PromptReplies, NotebookClient):
    """nbclient, reading each reply as soon as it arrives (see grading/guard.py)."""


CELL_TIMEOUT = 300


@dataclass
class ExecutedNotebook:
    path: Path
    nb: nbformat.NotebookNode
    seconds: float
    cell_seconds: dict[str, float] = field(default_factory=dict)
    _client: NotebookClient | None = None
    _kernel_ctx: object | None = None

    def errors(self) -> list[tuple[str, str, str]]:
        """(cell id, exception name, message) of every error output."""
        return [
            (cell.get("id", "?"), out.ename, out.evalue)
            for cell in self.nb.cells
            if cell.cell_type == "code"
            for out in cell.get("outputs", [])
            if out.output_type == "error"
        ]

    def text(self, cell_id: str) -> str:
        """All text a cell printed (stream output and text/plain results)."""
        cell = next(c for c in self.nb.cells if c.get("id") == cell_id)
        parts = []
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                parts.append(out.text)
            elif "data" in out and "text/plain" in out.data:
                parts.append(out.data["text/plain"])
        return "".join(parts)

    def probe(self, expression: str):
        """Evaluate `expression` in the notebook's live kernel; return it via JSON."""
        if self._client is None:
            raise RuntimeError("the kernel was not kept: execute(..., keep_kernel=True)")
        cell = nbformat.v4.new_code_cell(f"import json as __j\nprint('__PROBE__' + __j.dumps({expression}))")
        self.nb.cells.append(cell)  # nbclient writes the executed cell back at its index
        try:
            self._client.execute_cell(cell, len(self.nb.cells) - 1, store_history=False)
        finally:
            self.nb.cells.pop()
        for out in cell.outputs:
            if out.output_type == "error":
                raise RuntimeError(f"probe {expression!r} failed: {out.ename}: {out.evalue}")
            if out.output_type == "stream" and "__PROBE__" in out.text:
                return json.loads(out.text.split("__PROBE__", 1)[1])
        raise RuntimeError(f"probe {expression!r} printed nothing")

    def close(self) -> None:
        if self._kernel_ctx is not None:
            self._kernel_ctx.__exit__(None, None, None)
            self._kernel_ctx = self._client = None


def content_key(path: Path) -> str:
    """What an execution depends on that the repository holds: the notebook, course_utils, threads."""
    h = hashlib.sha256(Path(path).read_bytes())
    for src in sorted((ROOT / "course_utils").rglob("*.py")):
        h.update(str(src.relative_to(ROOT)).encode() + src.read_bytes())
    h.update(os.environ.get("OMP_NUM_THREADS", "").encode())
    return h.hexdigest()[:16]


def _cache_path(path: Path) -> Path:
    return CACHE / f"{Path(path).stem}-{content_key(path)}.ipynb"


def cached(path: Path) -> nbformat.NotebookNode | None:
    """The executed copy of this very notebook content, if this machine has run it; else None."""
    copy = _cache_path(path)
    return nbformat.read(copy, as_version=4) if copy.exists() else None


def execute(path: Path, keep_kernel: bool = False, timeout: int = CELL_TIMEOUT) -> ExecutedNotebook:
    """Run every cell from a fresh kernel in the notebook's folder; errors are recorded, not raised.

    The executed copy (outputs and widget state) is stored for `cached(path)`.
    """
    key_path = _cache_path(path)
    nb = nbformat.read(path, as_version=4)
    client = Client(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    ctx = client.setup_kernel()
    ctx.__enter__()
    cell_seconds = {}
    start = time.perf_counter()
    try:
        for i, cell in enumerate(nb.cells):
            t0 = time.perf_counter()
            client.execute_cell(cell, i)
            cell_seconds[cell.get("id", str(i))] = time.perf_counter() - t0
        client.set_widgets_metadata()
    except BaseException:
        ctx.__exit__(None, None, None)
        raise
    run = ExecutedNotebook(path, nb, time.perf_counter() - start, cell_seconds)
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = key_path.with_suffix(f".{os.getpid()}.tmp")
    nbformat.write(nb, tmp)
    tmp.replace(key_path)  # atomic: a reader never sees half a notebook
    for old in CACHE.glob(f"{Path(path).stem}-*.ipynb"):  # copies of older content
        if old != key_path:
            old.unlink(missing_ok=True)
    if keep_kernel:
        run._client, run._kernel_ctx = client, ctx
    else:
        ctx.__exit__(None, None, None)
    return run
