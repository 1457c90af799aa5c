"""Headless Chromium for the browser tests: Debian's package, driven by Playwright.

Playwright's own browser download does not work offline, so the tests use the
system Chromium and install it (apt-get, as root) when it is missing.
Set COURSE_SKIP_BROWSER=1 to skip the browser tests on a machine without it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium"))


def ensure_chromium() -> Path:
    """The Chromium executable, installed with apt-get if missing; fails the test with what to do."""
    if os.environ.get("COURSE_SKIP_BROWSER"):
        pytest.skip("COURSE_SKIP_BROWSER is set")
    if CHROMIUM.exists():
        return CHROMIUM
    if shutil.which("apt-get") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        cmd = ["apt-get", "install", "-y", "-q", "chromium", "chromium-driver"]
        if subprocess.run(cmd, env=env, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
            subprocess.run(cmd, env=env, capture_output=True)
    if not CHROMIUM.exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: install it (`apt-get install -y chromium`), point "
                    "COURSE_CHROMIUM at it, or set COURSE_SKIP_BROWSER=1 to skip the browser tests")
    return CHROMIUM


@contextlib.contextmanager
def chromium_page(width: int = 1400, height: int = 900):
    """A fresh page in headless Chromium (closed afterwards)."""
    from playwright.sync_api import sync_playwright

    exe = ensure_chromium()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(exe), headless=True,
                                     args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            browser.close()
