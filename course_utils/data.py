"""MNIST as whole tensors in memory.

`load_mnist()` goes through torchvision's real loader
(`torchvision.datasets.MNIST(root, download=True)`), then keeps the result as
two tensors: float images (N, 784), normalized with the MNIST mean and std,
and int64 labels. A training step then indexes a tensor instead of calling a
DataLoader per example, which is what keeps every lesson fast on a CPU.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch

MNIST_MEAN = 0.1307  # mean pixel value of the training images, in [0, 1]
MNIST_STD = 0.3081  # their standard deviation

# The four official files and the md5 sums torchvision checks.
MNIST_FILES = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}

DATA_ENV = "COURSE_DATA_DIR"

_CACHE: dict[tuple[str, bool], tuple[torch.Tensor, torch.Tensor]] = {}


class MNISTNotFoundError(RuntimeError):
    """MNIST is missing or damaged and could not be downloaded."""


def data_root() -> Path:
    """Where MNIST lives: $COURSE_DATA_DIR, else the course's `data/`, else `./data`."""
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file():  # running from a clone of the course
        return checkout / "data"
    return Path("data")  # installed from git, e.g. in Colab: next to the notebook


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _how_to_fix(raw: Path) -> str:
    rows = "\n".join(f"  {name}  (md5 {md5})" for name, md5 in MNIST_FILES.items())
    return (
        f"Put the four official MNIST files in\n  {raw}\n{rows}\n"
        "(from https://ossci-datasets.s3.amazonaws.com/mnist/ or any MNIST mirror), "
        f"or set {DATA_ENV} to a folder whose MNIST/raw/ holds them. Then run the cell again."
    )


def _check_raw_files(raw: Path) -> None:
    """Fail early, in plain words, on a damaged archive that torchvision would re-download."""
    for name, md5 in MNIST_FILES.items():
        path = raw / name
        if path.is_file() and _md5(path) != md5:
            raise MNISTNotFoundError(
                f"{path} is damaged: its md5 is {_md5(path)}, expected {md5}.\n"
                f"Delete it (and the unpacked file {path.with_suffix('').name} if present).\n"
                + _how_to_fix(raw)
            )


def _unpacked(raw: Path) -> bool:
    return all((raw / name[:-3]).is_file() for name in MNIST_FILES)


_CACHE_VERSION = 1  # bump when the stored tensors change (normalization, dtype, ...)


def _signature(raw: Path, train: bool) -> list:
    """Names, sizes and times of the split's unpacked files: the disk cache is valid while they hold."""
    prefix = "train" if train else "t10k"
    files = [raw / f"{prefix}-images-idx3-ubyte", raw / f"{prefix}-labels-idx1-ubyte"]
    return [[f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in files]


def _cache_file(root: Path, train: bool) -> Path:
    return root / "MNIST" / "course_cache" / f"{'train' if train else 'test'}-v{_CACHE_VERSION}.pt"


def _read_cache(root: Path, train: bool):
    """The normalized tensors from an earlier process, memory-mapped (no copy, no re-normalizing)."""
    raw, path = root / "MNIST" / "raw", _cache_file(root, train)
    if not (path.is_file() and _unpacked(raw)):
        return None
    try:
        saved = torch.load(path, mmap=True, weights_only=True)
        if saved["signature"] == _signature(raw, train):
            return saved["x"], saved["y"]
    except Exception:  # a stale or half-written cache is rebuilt, never trusted
        pass
    return None


def _write_cache(root: Path, train: bool, x: torch.Tensor, y: torch.Tensor) -> None:
    path = _cache_file(root, train)
    try:
        path.parent.mkdir(exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        torch.save({"x": x, "y": y, "signature": _signature(root / "MNIST" / "raw", train)}, tmp)
        os.replace(tmp, path)  # atomic: a reader never sees half a file
    except OSError:
        pass  # a read-only data folder: no cache, just a slower next start


def _load_split(root: Path, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    cached = _read_cache(root, train)
    if cached is not None:
        return cached
    from torchvision.datasets import MNIST

    raw = root / "MNIST" / "raw"
    if not _unpacked(raw):
        _check_raw_files(raw)
    try:
        ds = MNIST(str(root), train=train, download=True)
    except MNISTNotFoundError:
        raise
    except Exception as err:  # no network, a mirror down, a truncated file, ...
        raise MNISTNotFoundError(
            f"MNIST could not be loaded or downloaded into {raw} "
            f"({type(err).__name__}: {str(err).strip().splitlines()[-1] if str(err) else ''}).\n"
            + _how_to_fix(raw)
        ) from None
    images, labels = ds.data, ds.targets
    if images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) != len(labels):
        raise MNISTNotFoundError(
            f"The MNIST files in {raw} have unexpected shapes {tuple(images.shape)} / "
            f"{tuple(labels.shape)}: delete them.\n" + _how_to_fix(raw)
        )
    x = images.reshape(len(images), 784).to(torch.float32)
    x = x.div_(255.0).sub_(MNIST_MEAN).div_(MNIST_STD)  # in place: no 3 temporaries of 188 MB
    y = labels.to(torch.int64)
    _write_cache(root, train, x, y)
    return x, y


def load_mnist(
    split: str = "train",
    subset: int | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
    root: str | Path | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return MNIST images X (N, 784), normalized, and labels y (N,), int64.

    split: "train" (60,000 examples) or "test" (10,000).
    subset: keep this many examples, drawn without replacement with `seed`.
    The full split is read once per process and kept; the normalized tensors are also
    stored next to the raw files, so the next process maps them in milliseconds.
    """
    if split not in ("train", "test"):
        raise ValueError(f'split must be "train" or "test", not {split!r}')
    root = Path(root) if root is not None else data_root()
    key = (str(root.resolve()), split == "train")
    if key not in _CACHE:
        _CACHE[key] = _load_split(root, train=split == "train")
    x, y = _CACHE[key]
    if subset is not None:
        if not 0 < subset <= len(y):
            raise ValueError(f"subset must be between 1 and {len(y)}, not {subset}")
        idx = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))[:subset]
        x, y = x[idx], y[idx]
    if device is not None:
        x, y = x.to(device), y.to(device)
    return x, y


def to_images(x: torch.Tensor) -> torch.Tensor:
    """Undo the normalization and the flattening: (N, 784) -> (N, 28, 28) in [0, 1]."""
    return (x.detach().cpu().reshape(-1, 28, 28) * MNIST_STD + MNIST_MEAN).clamp(0, 1)
