"""A throwaway PostgreSQL server for the gradebook tests and benchmarks (Debian's, on loopback).

`make system-deps` installs it. As root, the server runs as the `postgres` user,
which the package creates; PostgreSQL refuses to run as root. Set
COURSE_SKIP_POSTGRES=1 to skip the PostgreSQL tests on a machine without it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest


def _bindir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    return found[-1].parent if found else None


def ensure_postgres() -> Path:
    """The folder of PostgreSQL's programs; skips or fails the test with what to do."""
    if os.environ.get("COURSE_SKIP_POSTGRES"):
        pytest.skip("COURSE_SKIP_POSTGRES is set")
    if _bindir() is None:
        pytest.fail(
            "PostgreSQL is not installed: run `make system-deps` (Debian: apt-get install "
            "postgresql), or set COURSE_SKIP_POSTGRES=1 to skip the PostgreSQL gradebook tests"
        )
    return _bindir()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def postgres_server(database: str = "gradebook"):
    """Start a private server; yield its SQLAlchemy URL; stop it and delete its files."""
    bindir = ensure_postgres()
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    home = Path(tempfile.mkdtemp(prefix="course-pg-", dir="/tmp"))
    data = home / "data"
    if as_user:
        shutil.chown(home, "postgres", "postgres")
    port = _free_port()

    def run(*cmd: str) -> None:
        proc = subprocess.run([*as_user, *cmd], capture_output=True, text=True, cwd=home)
        if proc.returncode != 0:
            log = (data / "server.log").read_text() if (data / "server.log").exists() else ""
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout}{proc.stderr}{log}")

    try:
        run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
        run(
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-w",
            "-l",
            str(data / "server.log"),
            "-o",
            f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100",
            "start",
        )
        run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", database)
        yield f"postgresql://postgres@127.0.0.1:{port}/{database}"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                capture_output=True,
                cwd=home,
            )
        shutil.rmtree(home, ignore_errors=True)
