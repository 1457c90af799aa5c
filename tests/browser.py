"""Headless Chromium for the browser tests: Debian's package, driven by Playwright.

Playwright's own browser download does not work offline, so the tests use the
system Chromium, which `make system-deps` installs.
Set COURSE_SKIP_BROWSER=1 to skip the browser tests on a machine without it.

`jupyterlab(root)` starts a JupyterLab server for a test on loopback, and
`LabPage` drives it through `window.jupyterapp` (JupyterLab's own commands), so
the tests do what a learner's clicks do without depending on menu layouts.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium"))


def ensure_chromium() -> Path:
    """The Chromium executable; skips or fails the test with what to do when it is missing."""
    if os.environ.get("COURSE_SKIP_BROWSER"):
        pytest.skip("COURSE_SKIP_BROWSER is set")
    if CHROMIUM.exists():
        return CHROMIUM
    if not CHROMIUM.exists():
        pytest.fail(
            f"no Chromium at {CHROMIUM}: run `make system-deps` (apt-get install chromium), point "
            "COURSE_CHROMIUM at it, or set COURSE_SKIP_BROWSER=1 to skip the browser tests"
        )
    return CHROMIUM


@contextlib.contextmanager
def chromium_page(width: int = 1400, height: int = 900):
    """A fresh page in headless Chromium (closed afterwards)."""
    from playwright.sync_api import sync_playwright

    exe = ensure_chromium()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(exe), headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            browser.close()


# JupyterLab settings for the tests: every cell rendered (no virtual scrolling, so
# every widget is in the page), and no news or update pop-ups over the notebook.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


@dataclass
class JupyterLab:
    url: str
    token: str
    root: Path
    log: Path

    def lab_url(self) -> str:
        return f"{self.url}/lab?token={self.token}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def jupyterlab(root: Path, startup_timeout: float = 120):
    """A JupyterLab server on 127.0.0.1 serving `root`, with a random token; stopped afterwards.

    Its runtime files, settings and workspaces stay in `root/.lab` so that parallel
    test workers never share a server, a port or a settings file.
    """
    state = root / ".lab"
    for rel, value in LAB_SETTINGS.items():
        path = state / "settings" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    token = secrets.token_hex(16)
    log = state / "server.log"
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={_free_port()}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.allow_root=True",
        "--LabApp.expose_app_in_browser=True",
        f"--LabApp.user_settings_dir={state / 'settings'}",
        f"--LabApp.workspaces_dir={state / 'workspaces'}",
    ]
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(state / "runtime")}
    # The kernels share the CPU with the browser that renders their output: torch's two
    # OpenMP threads then wait on each other (a lesson 01 cell took 87 s instead of 10).
    env.setdefault("OMP_NUM_THREADS", "1")
    # nbgrader (the Validate button) runs `alembic`: this Python's bin goes on PATH.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    with open(log, "w") as log_file:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        url = _wait_for_server(proc, state / "runtime", token, log, startup_timeout)
        yield JupyterLab(url, token, root, log)
    finally:
        proc.terminate()  # the server shuts its kernels down on SIGTERM
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_for_server(proc, runtime: Path, token: str, log: Path, timeout: float) -> str:
    """The server's address, from the file it writes once listening (the port it really got)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        for info in runtime.glob(f"jpserver-{proc.pid}.json"):
            with contextlib.suppress(ValueError, OSError):
                url = json.loads(info.read_text())["url"].rstrip("/")
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5)
                return url
        time.sleep(0.5)
    raise RuntimeError(f"JupyterLab did not start in {timeout} s:\n{log.read_text()[-3000:]}")


class LabPage:
    """A JupyterLab tab in headless Chromium, one notebook open at a time (`window.__nb`)."""

    def __init__(self, page, lab: JupyterLab):
        self.page, self.server = page, lab
        page.goto(lab.lab_url())
        page.wait_for_function("window.jupyterapp !== undefined", timeout=120_000)
        page.evaluate("() => window.jupyterapp.started")
        page.evaluate("() => window.jupyterapp.restored")

    def _await(self, body: str, timeout_s: float, arg=None):
        """Run async JS `body` (it sees `app`, `nb` and `arg`); fail after timeout_s."""
        return self.page.evaluate(
            f"""async (arg) => {{
                const app = window.jupyterapp, nb = window.__nb;
                let timer;
                const late = new Promise((_, reject) => {{
                    const error = new Error('timed out after {timeout_s} s');
                    timer = setTimeout(() => reject(error), {timeout_s * 1000});
                }});
                try {{ return await Promise.race([(async () => {{ {body} }})(), late]); }}
                finally {{ clearTimeout(timer); }}
            }}""",
            arg,
        )

    def open(self, path: str, timeout_s: float = 120) -> None:
        """Open a notebook (a path under the server's root) and wait for its kernel."""
        self._await(
            """
            const w = await app.commands.execute('docmanager:open', {path: arg, factory: 'Notebook'});
            await w.context.ready;
            await w.sessionContext.ready;
            window.__nb = w;
            window.__idle = 0;  // how often the kernel went idle: once per request it handled
            w.sessionContext.statusChanged.connect((_, status) => {
                if (status === 'idle') window.__idle++;
            });
            app.shell.activateById(w.id);""",
            timeout_s,
            path,
        )
        self.wait_idle(timeout_s)

    def idle_count(self) -> int:
        return self.page.evaluate("() => window.__idle")

    def wait_handled(self, idle_count: int, timeout_s: float = 120) -> None:
        """Wait until the kernel has gone idle again after `idle_count`: it handled what came since."""
        self.page.wait_for_function(
            "n => window.__idle > n && window.__nb.sessionContext.session?.kernel?.status === 'idle'",
            arg=idle_count,
            timeout=timeout_s * 1000,
            polling=100,
        )

    def wait_idle(self, timeout_s: float = 120) -> None:
        self.page.wait_for_function(
            "() => { const k = window.__nb.sessionContext.session?.kernel; "
            "return k && k.status === 'idle'; }",
            timeout=timeout_s * 1000,
            polling=250,
        )

    def run_all(self, timeout_s: float = 600) -> None:
        """Run > Run All Cells; returns when every cell has run (or the run stopped at an error)."""
        self._await("await app.commands.execute('notebook:run-all-cells');", timeout_s)
        self.wait_idle(timeout_s)

    def run_each_cell(self, timeout_s: float = 600) -> None:
        """Run the code cells one by one, as a learner going down the notebook: an error stops nothing.

        (Markdown cells are rendered already; running them again would only typeset the math again.)
        """
        self._await(
            """
            for (let i = 0; i < nb.content.widgets.length; i++) {
                if (nb.content.widgets[i].model.type !== 'code') continue;
                nb.content.activeCellIndex = i;
                await app.commands.execute('notebook:run-cell');
            }""",
            timeout_s,
        )
        self.wait_idle(timeout_s)

    def execution_counts(self) -> list:
        return self._await(
            """
            const cells = nb.content.model.cells, counts = [];
            for (let i = 0; i < cells.length; i++) {
                const c = cells.get(i);
                if (c.type === 'code') counts.push(c.executionCount);
            }
            return counts;""",
            10,
        )

    def save(self, timeout_s: float = 60) -> None:
        self._await("await nb.context.save();", timeout_s)

    def close(self, timeout_s: float = 60) -> None:
        """Shut the notebook's kernel down and close its tab."""
        self._await(
            """
            if (!nb) return;
            await nb.sessionContext.shutdown();
            nb.dispose();
            window.__nb = undefined;""",
            timeout_s,
        )

    @property
    def notebook(self):
        """The open notebook's panel in the page (a Playwright locator)."""
        return self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
