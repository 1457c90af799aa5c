"""Reading and writing the course directory without following links.

The grader runs as root and writes into folders that hold what students sent (submitted/,
autograded/, feedback/): a symbolic link planted there must never redirect a write, a chmod or a
read elsewhere. So every folder on the way is checked with lstat (a link or a file where a folder
belongs is removed, never followed), every file is written under a temporary name opened with
O_NOFOLLOW | O_EXCL and renamed into place (os.replace, which replaces a link rather than writing
through it), and only regular files reached without a link are read.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path


def read_regular(path: Path) -> bytes | None:
    """The bytes of a regular file reached without following a link; None for anything else."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None  # a link (ELOOP), a missing file, a FIFO we may not open
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # a folder, a FIFO, a device: before fdopen,
        os.close(fd)  # which refuses a folder with an error (it stopped a whole collect)
        return None
    with os.fdopen(fd, "rb") as f:
        return f.read()


def remove(path: Path) -> None:
    """Remove a file, a link (not what it points to) or a whole folder (links inside not followed)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def real_dir(base: Path, *parts: str) -> Path:
    """base/parts..., each part a real folder: made if missing, and a link or a file standing
    where one belongs removed (not followed) and replaced by a folder. `base` is trusted."""
    path = Path(base)
    for part in parts:
        if part in ("", ".", "..") or "/" in part:
            raise ValueError(f"not a plain folder name: {part!r}")
        path = path / part
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            os.mkdir(path)
            continue
        if not stat.S_ISDIR(st.st_mode):  # a link (to a folder or not), a file, a FIFO
            os.unlink(path)
            os.mkdir(path)
    return path


def fresh_dir(base: Path, *parts: str) -> Path:
    """real_dir(base, *parts) emptied: the last folder removed and made again."""
    *up, last = parts
    parent = real_dir(base, *up)
    remove(parent / last)
    return real_dir(parent, last)


def write_new(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write data to path as a new file (permissions `mode`): through a temporary name and a
    rename, so a link that stands at `path` is replaced, never followed. The folder must be one
    the caller checked (real_dir)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    remove(tmp)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        remove(tmp)
        raise
