"""MNIST on disk: reading and checking IDX files, finding the data folder, downloading and verifying."""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import signal
import struct
import tempfile
import threading
import urllib.parse
import urllib.request
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from mnist_core.folders import folder_setting, PROJECT_ROOT
from mnist_core.texts import N_, worded

try:
    import fcntl
except ImportError:  # not POSIX: downloads into one folder are not serialised
    fcntl = None

# The four files, with the MD5 and size of their *decompressed* content, so a raw or a gzipped
# copy from any mirror verifies the same way.
FILES: dict[str, tuple[str, int]] = {
    "train-images-idx3-ubyte": ("6bbc9ace898e44ae57da46a324031adb", 47_040_016),
    "train-labels-idx1-ubyte": ("a25bea736e30d166cdddb491f175f624", 60_008),
    "t10k-images-idx3-ubyte": ("2646ac647ad5339dbf082846283269ea", 7_840_016),
    "t10k-labels-idx1-ubyte": ("27ae3e4e09519cfbb04c329615203637", 10_008),
}

# Public https mirrors of the original gzipped IDX files: those torchvision and TensorFlow Datasets use.
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
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


def find_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """`data_dir` if given, else $MNIST_DIR, else `data/mnist` in the project."""
    return folder_setting(data_dir, "MNIST_DIR", PROJECT_ROOT / "data" / "mnist")


# An IDX file may hold at most this many items. MNIST's largest has 60,000; the cap lets a header
# that honestly promises gigabytes be refused before anything is read.
MAX_ITEMS = 100_000
CHUNK = 1 << 20  # bytes read (and decompressed) at a time


def _open_maybe_gzip(path: Path) -> BinaryIO:
    with open(path, "rb") as head:
        magic = head.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def _read_exactly(f: BinaryIO, n: int) -> bytes:
    """Up to n bytes; fewer only at the end of the stream (gzip's read may return short)."""
    parts, left = [], n
    while left > 0 and (part := f.read(min(left, CHUNK))):
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _damaged(path: Path, e: BaseException) -> MnistDataError:
    # The operating system's or gzip's own reason stays as they say it.
    return worded(MnistDataError, N_("{path}: cannot be read ({reason}); the file is damaged, download it again"),
                  path=path, reason=str(e))


def _read_header(f: BinaryIO, name: str) -> tuple[int, ...]:
    """The sizes an IDX header promises, checked: magic, 1 or 3 dimensions, 28x28 images, 1..MAX_ITEMS."""
    head = _read_exactly(f, 4)
    if len(head) < 4:
        raise worded(MnistDataError, N_("{name}: only {size} bytes, too short to be an IDX file"), name=name,
                     size=len(head))
    zero, dtype_code, ndim = struct.unpack(">HBB", head)
    if zero != 0 or dtype_code != 0x08 or ndim not in (1, 3):
        raise worded(MnistDataError, N_("{name}: bad magic number {magic}; expected 0x00000801 (labels) or "
                                        "0x00000803 (images)"), name=name, magic=f"0x{int.from_bytes(head, 'big'):08x}")
    sizes = _read_exactly(f, 4 * ndim)
    if len(sizes) < 4 * ndim:
        raise worded(MnistDataError, N_("{name}: only {size} bytes, too short to be an IDX file (header cut short)"),
                     name=name, size=4 + len(sizes))
    dims = struct.unpack(f">{ndim}I", sizes)
    if ndim == 3 and dims[1:] != (28, 28):
        raise worded(MnistDataError, N_("{name}: images are {width}x{height}, expected 28x28"), name=name,
                     width=dims[1], height=dims[2])
    if dims[0] == 0:
        raise worded(MnistDataError, N_("{name}: holds no images (0 items); download it again") if ndim == 3 else
                     N_("{name}: holds no labels (0 items); download it again"), name=name)
    if dims[0] > MAX_ITEMS:
        raise worded(MnistDataError, N_("{name}: its header promises {count} items; at most {limit} are read"),
                     name=name, count=dims[0], limit=MAX_ITEMS)
    return dims


def idx_shape(path: str | os.PathLike) -> tuple[int, ...]:
    """The shape an IDX file's header promises, checked, reading nothing beyond the header."""
    path = Path(path)
    try:
        with _open_maybe_gzip(path) as f:
            return _read_header(f, str(path))
    except (OSError, EOFError, zlib.error) as e:
        raise _damaged(path, e) from e


def read_idx(path: str | os.PathLike, kind: str | None = None) -> np.ndarray:
    """Read one IDX file, gzipped or raw, as a uint8 array (N, 28, 28) or (N,).

    The header is read first and checked (`kind` 'images' or 'labels' says which it must be), then
    at most the bytes it promises plus one: a file that expands to more is refused there (a gzip
    bomb costs the promised size and one chunk, never what it would expand to).
    """
    path = Path(path)
    try:
        with _open_maybe_gzip(path) as f:
            dims = _read_header(f, str(path))
            if kind == "images" and len(dims) != 3:
                raise worded(MnistDataError, N_("{path}: holds labels, expected images"), path=path)
            if kind == "labels" and len(dims) != 1:
                raise worded(MnistDataError, N_("{path}: holds images, expected labels"), path=path)
            array = np.empty(dims, np.uint8)
            body, got = memoryview(array.reshape(-1)), 0
            while got < len(body) and (n := f.readinto(body[got:got + CHUNK])):
                got += n
            header_len = 4 + 4 * len(dims)
            if got < len(body):
                raise worded(MnistDataError, N_("{path}: {size} bytes but its header promises {promised} (truncated)"),
                             path=path, size=header_len + got, promised=header_len + len(body))
            if f.read(1):
                raise worded(MnistDataError, N_("{path}: more than the {promised} bytes its header promises (trailing "
                                                "data)"), path=path, promised=header_len + len(body))
    except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
        raise _damaged(path, e) from e
    if kind == "labels" and array.max() > 9:
        raise worded(MnistDataError, N_("{path}: label {label} is not a digit 0-9"), path=path, label=int(array.max()))
    return array


def _locate(data_dir: Path, stem: str) -> Path:
    for candidate in (data_dir / f"{stem}.gz", data_dir / stem):
        if candidate.is_file():
            return candidate
    raise MnistDataError(
        f"{stem}(.gz) is missing in {data_dir}. Run `python -m mnist_core download --data-dir {data_dir}`, "
        "or put the four MNIST IDX files there."
    )


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
        labels = read_idx(labels_path, "labels")
        promised = idx_shape(images_path)[0]  # checked against the labels before any image is read
        if promised != len(labels):
            raise worded(MnistDataError, N_("{images} has {count} images but {labels} has {labelled} labels"),
                         images=images_path, count=promised, labels=labels_path, labelled=len(labels))
        arrays[split] = (read_idx(images_path, "images"), labels)
    return Mnist(*arrays["train"], *arrays["test"])


# --- download ---------------------------------------------------------------------------------

ProgressFn = Callable[[str, int, int | None], None]  # (file name, bytes so far, total or None)
FileTable = Mapping[str, tuple[str, int]]  # stem -> (MD5, size) of the decompressed content, as FILES
# A download stops once it passes this multiple of the file's decompressed size (its .gz is smaller):
# an endless or oversized response never fills the disk.
MAX_DOWNLOAD_FACTOR = 2
LOOPBACK = ("127.0.0.1", "::1", "localhost")  # plain http is allowed only here (a local mirror, tests)


def _checksum_error(path: Path, stem: str, files: FileTable) -> str | None:
    """Why `path` is not the expected `stem`, or None: its content (gzipped or raw) is read in chunks,
    at most one chunk past the expected size, and hashed."""
    md5, size = files[stem]
    digest, got = hashlib.md5(), 0
    try:
        with _open_maybe_gzip(path) as f:
            while got <= size and (chunk := f.read(CHUNK)):
                digest.update(chunk)
                got += len(chunk)
    except (OSError, EOFError, zlib.error) as e:
        return f"cannot be read ({e})"
    if got != size:
        return f"{'more than ' if got > size else ''}{min(got, size + 1):,} bytes, expected {size:,}"
    if digest.hexdigest() != md5:
        return f"checksum mismatch (md5 {digest.hexdigest()}, expected {md5})"
    return None


def files_to_fetch(data_dir: str | os.PathLike | None = None, files: FileTable = FILES) -> list[str]:
    """The files `download` would fetch: those missing, and those present that fail their checksum."""
    folder = find_data_dir(data_dir)
    wanted = []
    for stem in files:
        try:
            path = _locate(folder, stem)
        except MnistDataError:
            wanted.append(stem)
            continue
        if _checksum_error(path, stem, files):
            wanted.append(stem)
    return wanted


def _allowed(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK)


def _fetch(url: str, target: Path, stem: str, cap: int, progress: ProgressFn | None, timeout: float) -> None:
    if not _allowed(url):
        raise MnistDataError("refused: mirrors must use https")
    with urllib.request.urlopen(url, timeout=timeout) as response:
        if not _allowed(response.geturl()):
            raise MnistDataError(f"refused: redirected to {response.geturl()}, not https")
        length = response.headers.get("Content-Length", "")
        total = int(length) if length.isdigit() else None
        if total is not None and total > cap:
            raise MnistDataError(f"offers {total:,} bytes, more than the {cap:,} this file may have")
        done = 0
        with open(target, "wb") as out:
            while chunk := response.read(1 << 16):
                done += len(chunk)
                if done > cap:
                    raise MnistDataError(f"sent more than the {cap:,} bytes this file may have; stopped")
                out.write(chunk)
                if progress:
                    progress(stem, done, total)
    if total is not None and done != total:
        raise MnistDataError(f"transfer cut short ({done} of {total} bytes)")


@contextmanager
def _one_download_at_a_time(folder: Path) -> Iterator[None]:
    """An exclusive lock on the folder itself (POSIX), so a second download waits for the first and
    any .part it finds is left over from a killed one."""
    if fcntl is None:
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


@contextmanager
def _sigterm_exits() -> Iterator[None]:
    """In a program's main thread SIGTERM raises SystemExit, so `finally` removes the .part; in other
    threads (a Streamlit script) a handler cannot be set, and the sweep at the next start does it."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def download(
    data_dir: str | os.PathLike | None = None,
    mirrors: Sequence[str] | None = None,
    progress: ProgressFn | None = None,
    timeout: float = 30.0,
    files: FileTable = FILES,
) -> Path:
    """Fetch the files that are missing or fail their checksum, trying each mirror (default `MIRRORS`;
    https only, plain http on loopback) in turn on any error, verifying each by size and MD5.

    A file lands in the folder only once verified (written to a `.part` file, then renamed); the
    `.part` is removed on any exit, and leftovers of a killed download are swept at the start. A
    response stops past MAX_DOWNLOAD_FACTOR times the file's size. Returns the data folder.
    """
    folder = find_data_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with _one_download_at_a_time(folder), _sigterm_exits():
        for stem in files:
            for stale in folder.glob(f".{stem}.*.part"):
                stale.unlink(missing_ok=True)
        for stem in files_to_fetch(folder, files):
            errors = []
            for mirror in MIRRORS if mirrors is None else mirrors:
                url = mirror.rstrip("/") + f"/{stem}.gz"
                fd, tmp_name = tempfile.mkstemp(prefix=f".{stem}.", suffix=".part", dir=folder)
                os.close(fd)
                tmp = Path(tmp_name)
                try:
                    _fetch(url, tmp, stem, MAX_DOWNLOAD_FACTOR * files[stem][1], progress, timeout)
                    if problem := _checksum_error(tmp, stem, files):
                        raise MnistDataError(problem)
                    os.replace(tmp, folder / f"{stem}.gz")
                    break
                except (OSError, http.client.HTTPException, MnistDataError, ValueError) as e:
                    # HTTPException: a chunked response cut short (IncompleteRead), a bad status line
                    errors.append(f"{url}: {getattr(e, 'reason', None) or str(e) or type(e).__name__}")
                finally:
                    tmp.unlink(missing_ok=True)
            else:
                raise MnistDataError(
                    f"could not download {stem}.gz from any mirror:\n  " + "\n  ".join(errors) +
                    f"\nPut the four MNIST IDX files (gzipped or raw) into {folder} by hand and try again."
                )
    return folder
