"""MNIST on disk: reading and checking IDX files, finding the data folder, downloading and verifying."""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# The four files, with the MD5 and size of their *decompressed* content, so a raw or a gzipped
# copy from any mirror verifies the same way.
FILES: dict[str, tuple[str, int]] = {
    "train-images-idx3-ubyte": ("6bbc9ace898e44ae57da46a324031adb", 47_040_016),
    "train-labels-idx1-ubyte": ("a25bea736e30d166cdddb491f175f624", 60_008),
    "t10k-images-idx3-ubyte": ("2646ac647ad5339dbf082846283269ea", 7_840_016),
    "t10k-labels-idx1-ubyte": ("27ae3e4e09519cfbb04c329615203637", 10_008),
}

# Public mirrors of the original gzipped IDX files: those torchvision and TensorFlow Datasets use.
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

IMAGES_MAGIC = 0x00000803  # unsigned byte, 3 dimensions
LABELS_MAGIC = 0x00000801  # unsigned byte, 1 dimension


class MnistDataError(Exception):
    """A data file is missing, malformed or does not match its partner; the message says which."""


@dataclass(frozen=True)
class Mnist:
    """The whole set as uint8 arrays: images (N, 28, 28) with ink = 255, labels (N,)."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


def folder_setting(given: str | os.PathLike | None, variable: str, default: Path) -> Path:
    """A folder the user may set: the value given, else the environment variable, else the default."""
    if given:
        return Path(given).expanduser()
    if os.environ.get(variable):
        return Path(os.environ[variable]).expanduser()
    return default


def find_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """`data_dir` if given, else $MNIST_DIR, else `data/mnist` in the project."""
    return folder_setting(data_dir, "MNIST_DIR", PROJECT_ROOT / "data" / "mnist")


def _open_maybe_gzip(path: Path):
    with open(path, "rb") as head:
        magic = head.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def _read_bytes(path: Path) -> bytes:
    try:
        with _open_maybe_gzip(path) as f:
            return f.read()
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise MnistDataError(f"{path}: cannot be read ({e}); the file is damaged, download it again") from e


def parse_idx(raw: bytes, name: str = "IDX data") -> np.ndarray:
    """Parse IDX content (already decompressed) into a uint8 array, checking magic and length."""
    if len(raw) < 8:
        raise MnistDataError(f"{name}: only {len(raw)} bytes, too short to be an IDX file")
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08 or ndim not in (1, 3):
        raise MnistDataError(
            f"{name}: bad magic number 0x{int.from_bytes(raw[:4], 'big'):08x}; "
            "expected 0x00000801 (labels) or 0x00000803 (images)"
        )
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise MnistDataError(f"{name}: header cut short")
    dims = struct.unpack(f">{ndim}I", raw[4:header_len])
    if ndim == 3 and dims[1:] != (28, 28):
        raise MnistDataError(f"{name}: images are {dims[1]}x{dims[2]}, expected 28x28")
    expected = header_len + int(np.prod(dims))
    if len(raw) != expected:
        raise MnistDataError(
            f"{name}: {len(raw)} bytes but its header promises {expected} "
            f"({'truncated' if len(raw) < expected else 'trailing data'})"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_len).reshape(dims).copy()  # writable


def _locate(data_dir: Path, stem: str) -> Path:
    for candidate in (data_dir / f"{stem}.gz", data_dir / stem):
        if candidate.is_file():
            return candidate
    raise MnistDataError(
        f"{stem}(.gz) is missing in {data_dir}. Run `python -m mnist_core download --data-dir {data_dir}`, "
        "or put the four MNIST IDX files there."
    )


def read_idx(path: str | os.PathLike, kind: str | None = None) -> np.ndarray:
    """Read one IDX file, gzipped or raw; `kind` ('images' or 'labels') checks which it must be."""
    path = Path(path)
    array = parse_idx(_read_bytes(path), str(path))
    if kind == "images" and array.ndim != 3:
        raise MnistDataError(f"{path}: holds labels, expected images")
    if kind == "labels" and array.ndim != 1:
        raise MnistDataError(f"{path}: holds images, expected labels")
    if kind == "labels" and array.size and array.max() > 9:
        raise MnistDataError(f"{path}: label {int(array.max())} is not a digit 0-9")
    return array


def missing_files(data_dir: str | os.PathLike | None = None) -> list[str]:
    """Names of the four files that are not in the data folder (raw or gzipped)."""
    folder = find_data_dir(data_dir)
    return [s for s in FILES if not ((folder / f"{s}.gz").is_file() or (folder / s).is_file())]


def load_mnist(data_dir: str | os.PathLike | None = None) -> Mnist:
    """Read and check the four files; images and labels of each split must agree in count."""
    folder = find_data_dir(data_dir)
    arrays = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images_path = _locate(folder, f"{prefix}-images-idx3-ubyte")
        labels_path = _locate(folder, f"{prefix}-labels-idx1-ubyte")
        images = read_idx(images_path, "images")
        labels = read_idx(labels_path, "labels")
        if len(images) != len(labels):
            raise MnistDataError(
                f"{images_path} has {len(images)} images but {labels_path} has {len(labels)} labels"
            )
        arrays[split] = (images, labels)
    return Mnist(*arrays["train"], *arrays["test"])


# --- download ---------------------------------------------------------------------------------

ProgressFn = Callable[[str, int, int | None], None]  # (file name, bytes so far, total or None)


def _verify(path: Path, stem: str) -> None:
    md5, size = FILES[stem]
    raw = _read_bytes(path)
    if len(raw) != size or hashlib.md5(raw).hexdigest() != md5:
        raise MnistDataError(f"{stem}: checksum mismatch (got {len(raw)} bytes, md5 {hashlib.md5(raw).hexdigest()})")


def _fetch(url: str, target: Path, stem: str, progress: ProgressFn | None, timeout: float) -> None:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        total = response.headers.get("Content-Length")
        total = int(total) if total else None
        done = 0
        with open(target, "wb") as out:
            while chunk := response.read(1 << 16):
                out.write(chunk)
                done += len(chunk)
                if progress:
                    progress(stem, done, total)
    if total is not None and done != total:
        raise MnistDataError(f"{stem}: transfer cut short ({done} of {total} bytes)")


def download(
    data_dir: str | os.PathLike | None = None,
    mirrors: Sequence[str] = MIRRORS,
    progress: ProgressFn | None = None,
    timeout: float = 30.0,
) -> Path:
    """Fetch the files that are missing, trying each mirror in turn, verifying each by MD5.

    A file lands in the folder only once verified (written to a temporary file, then renamed), so a
    failed, partial or corrupt download leaves nothing behind. Returns the data folder.
    """
    folder = find_data_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for stem in missing_files(folder):
        errors = []
        for mirror in mirrors:
            url = mirror.rstrip("/") + f"/{stem}.gz"
            fd, tmp_name = tempfile.mkstemp(prefix=f".{stem}.", suffix=".part", dir=folder)
            os.close(fd)
            tmp = Path(tmp_name)
            try:
                _fetch(url, tmp, stem, progress, timeout)
                _verify(tmp, stem)
                os.replace(tmp, folder / f"{stem}.gz")
                break
            except (OSError, urllib.error.URLError, MnistDataError, ValueError) as e:
                errors.append(f"{url}: {getattr(e, 'reason', e)}")
            finally:
                tmp.unlink(missing_ok=True)
        else:
            raise MnistDataError(
                f"could not download {stem}.gz from any mirror:\n  " + "\n  ".join(errors) +
                f"\nPut the four MNIST IDX files (gzipped or raw) into {folder} by hand and try again."
            )
    return folder

