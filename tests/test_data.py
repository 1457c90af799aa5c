"""course_utils.data: torchvision's real loader on tiny IDX files, clear errors, real MNIST."""

from __future__ import annotations

import gzip
import struct
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import torch

from course_utils import data
from tests.conftest import needs_mnist


def write_idx(path: Path, array: torch.Tensor) -> None:
    """Write a uint8 tensor in the IDX format MNIST uses (magic 0x08 = ubyte, then the dims)."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.to(torch.uint8).numpy().tobytes())


def make_tiny_mnist(root: Path, n_train: int = 50, n_test: int = 20, seed: int = 0) -> None:
    gen = torch.Generator().manual_seed(seed)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", torch.randint(0, 256, (n, 28, 28), generator=gen))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", torch.arange(n) % 10)


@pytest.fixture
def tiny_root(tmp_path, monkeypatch):
    make_tiny_mnist(tmp_path)
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path))
    data._CACHE.clear()
    yield tmp_path
    data._CACHE.clear()


@pytest.fixture
def offline(monkeypatch):
    def refuse(*args, **kwargs):
        raise urllib.error.URLError("no network in this test")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def test_loads_whole_tensors_normalized(tiny_root):
    X, y = data.load_mnist("train")
    assert X.shape == (50, 784) and X.dtype == torch.float32
    assert y.shape == (50,) and y.dtype == torch.int64
    assert torch.equal(y, torch.arange(50) % 10)
    # pixels p in 0..255 become (p/255 - mean)/std
    raw = (data.to_images(X) * 255).round()
    assert raw.min() >= 0 and raw.max() <= 255
    assert torch.allclose(X, (raw.reshape(50, 784) / 255 - data.MNIST_MEAN) / data.MNIST_STD, atol=1e-5)
    Xt, yt = data.load_mnist("test")
    assert Xt.shape == (20, 784)


def test_env_var_sets_the_data_root(tiny_root):
    assert data.data_root() == tiny_root


def test_loaded_once_per_process(tiny_root, monkeypatch):
    first = data.load_mnist("train")
    monkeypatch.setattr(data, "_load_split", lambda *a, **k: pytest.fail("loaded twice"))
    again = data.load_mnist("train")
    assert again[0] is first[0]


def test_seeded_subset(tiny_root):
    a = data.load_mnist("train", subset=10, seed=3)
    b = data.load_mnist("train", subset=10, seed=3)
    c = data.load_mnist("train", subset=10, seed=4)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[1], c[1])
    X, y = data.load_mnist("train")
    rows = [(X == a[0][i]).all(dim=1).nonzero()[0].item() for i in range(10)]
    assert len(set(rows)) == 10 and torch.equal(y[rows], a[1])  # distinct rows, labels kept


def test_bad_arguments(tiny_root):
    with pytest.raises(ValueError, match="split"):
        data.load_mnist("validation")
    with pytest.raises(ValueError, match="subset"):
        data.load_mnist("train", subset=51)


def test_missing_files_offline_give_a_clear_error(tmp_path, offline):
    with pytest.raises(data.MNISTNotFoundError) as err:
        data.load_mnist(root=tmp_path)
    msg = str(err.value)
    for name, md5 in data.MNIST_FILES.items():
        assert name in msg and md5 in msg
    assert str(tmp_path / "MNIST" / "raw") in msg
    assert "Traceback" not in msg


def test_a_damaged_archive_is_named_with_its_md5(tmp_path, offline):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"not mnist"))
    with pytest.raises(data.MNISTNotFoundError, match="train-images-idx3-ubyte.gz is damaged"):
        data.load_mnist(root=tmp_path)


def test_a_truncated_unpacked_file_is_explained(tmp_path, offline):
    make_tiny_mnist(tmp_path)
    path = tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(data.MNISTNotFoundError, match="could not be loaded"):
        data.load_mnist(root=tmp_path)


@needs_mnist
def test_real_mnist():
    X, y = data.load_mnist("train")
    assert X.shape == (60000, 784) and y.shape == (60000,)
    assert abs(data.to_images(X[:10000]).mean().item() - data.MNIST_MEAN) < 0.01
    assert abs(X.mean().item()) < 1e-3 and abs(X.std().item() - 1) < 1e-3
    assert torch.bincount(y).tolist()[:3] == [5923, 6742, 5958]
    Xt, yt = data.load_mnist("test")
    assert Xt.shape == (10000, 784) and yt[:5].tolist() == [7, 2, 1, 0, 4]


def test_a_new_process_maps_the_stored_tensors(tiny_root, monkeypatch):
    X, y = data.load_mnist("train")
    assert data._cache_file(tiny_root, True).is_file()
    data._CACHE.clear()  # as in a new process
    import torchvision.datasets

    monkeypatch.setattr(torchvision.datasets, "MNIST", lambda *a, **k: pytest.fail("not cached"))
    X2, y2 = data.load_mnist("train")
    assert torch.equal(X, X2) and torch.equal(y, y2)


def test_the_stored_tensors_follow_the_raw_files(tiny_root):
    X, _ = data.load_mnist("train")
    data._CACHE.clear()
    make_tiny_mnist(tiny_root / "other", n_train=50, seed=1)  # different pixels, same sizes
    raw = tiny_root / "MNIST" / "raw" / "train-images-idx3-ubyte"
    raw.write_bytes((tiny_root / "other" / "MNIST" / "raw" / raw.name).read_bytes())
    X2, _ = data.load_mnist("train")
    assert not torch.equal(X, X2)
