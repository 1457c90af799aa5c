"""Execute a notebook headless with nbclient and look inside the kernel afterwards."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from grading.guard import PromptReplies


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
        cell = nbformat.v4.new_code_cell(
            f"import json as __j\nprint('__PROBE__' + __j.dumps({expression}))"
        )
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


def execute(path: Path, keep_kernel: bool = False, timeout: int = CELL_TIMEOUT) -> ExecutedNotebook:
    """Run every cell from a fresh kernel in the notebook's folder; errors are recorded, not raised."""
    nb = nbformat.read(path, as_version=4)
    client = Client(
        nb, timeout=timeout, kernel_name="python3", allow_errors=True,
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
    except BaseException:
        ctx.__exit__(None, None, None)
        raise
    run = ExecutedNotebook(path, nb, time.perf_counter() - start, cell_seconds)
    if keep_kernel:
        run._client, run._kernel_ctx = client, ctx
    else:
        ctx.__exit__(None, None, None)
    return run
