"""Shared fixtures: tiny generated MNIST-like IDX files, and the real MNIST where the tests need it."""

from __future__ import annotations

import gzip
import os
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest

from mnist_core.data import load_mnist, Mnist

PROJECT = Path(__file__).resolve().parent.parent
# Drawn training digits are cached on disk; the tests (and the apps they start) keep theirs apart.
os.environ["MNIST_CACHE"] = tempfile.mkdtemp(prefix="mnist-test-cache-")
REAL_MNIST = Path(os.environ.get("MNIST_DIR") or PROJECT.parent / "shared" / "data" / "mnist")


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX content of a uint8 array: magic 0x0801 (1-D) or 0x0803 (3-D), then big-endian sizes."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def make_digits(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n 28x28 uint8 images of 10 easily told apart classes (a bar at a class-specific place)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images = (rng.random((n, 28, 28)) * 40).astype(np.uint8)
    for i, label in enumerate(labels):
        row = 4 + 2 * int(label)
        images[i, row:row + 2, 4:24] = 255
    return images, labels


def write_mnist(folder: Path, n_train: int = 300, n_test: int = 100, gz: bool = True) -> Mnist:
    folder.mkdir(parents=True, exist_ok=True)
    train, test = make_digits(n_train, 1), make_digits(n_test, 2)
    arrays = {"train-images-idx3-ubyte": train[0], "train-labels-idx1-ubyte": train[1],
              "t10k-images-idx3-ubyte": test[0], "t10k-labels-idx1-ubyte": test[1]}
    for stem, array in arrays.items():
        content = idx_bytes(array)
        if gz:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(content))
        else:
            (folder / stem).write_bytes(content)
    return Mnist(train[0], train[1], test[0], test[1])


@pytest.fixture
def tiny_dir(tmp_path: Path) -> Path:
    write_mnist(tmp_path / "mnist")
    return tmp_path / "mnist"


@pytest.fixture
def tiny(tiny_dir: Path) -> Mnist:
    return load_mnist(tiny_dir)


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    if not any((REAL_MNIST / f"train-images-idx3-ubyte{ext}").exists() for ext in (".gz", "")):
        if os.environ.get("CI"):
            pytest.fail(f"the real MNIST is missing at {REAL_MNIST}; CI must set MNIST_DIR")
        pytest.skip(f"the real MNIST is not at {REAL_MNIST} (set MNIST_DIR)")
    return REAL_MNIST


@pytest.fixture(scope="session")
def mnist(mnist_dir: Path) -> Mnist:
    return load_mnist(mnist_dir)
