"""`make lint` in the test suite: ruff lint and format on every Python file and notebook, mypy on
the packages (configured in pyproject.toml)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["mypy", "course_utils", "grading"],
    ],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_clean(command):
    tool = BIN / command[0]
    assert tool.exists(), f"{command[0]} is not installed: make install"
    proc = subprocess.run([str(tool), *command[1:]], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
