"""Files written whole or not at all, a folder's lock across processes, and small JSON side files (OS errors in
words: mnist_core.texts; the plain names that models and collections take: mnist_core.storage.names)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

LOCK = ".lock"


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """`folder`'s lock, across processes and threads (several servers may share a folder): held while a
    file there is read, changed and replaced, so no other change comes between."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def write_atomically(path: Path, write, overwrite: bool = True, mode: int = 0o644) -> None:
    """`write(file)` into a temporary file beside `path`, synced, then published under `path`: replacing
    it, or (overwrite False) linked so that it fails when `path` exists; a crash or a full disk leaves
    the old file and no debris."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)  # mkstemp makes it private
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # atomic, and fails if the name is taken: no check-then-write window
    finally:
        Path(tmp).unlink(missing_ok=True)


class DamagedFile(OSError):
    """A side file is there but cannot be read (a hand edit, a disk error); it is kept, never written over."""


def _parse_json(path: Path) -> dict | None:
    """The mapping in `path`; {} when there is no file; None when it is there but unreadable or not a mapping."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError:
        return None
    try:
        values = json.loads(data)
    except ValueError:
        return None
    return values if isinstance(values, dict) else None


def read_json(path: Path) -> dict:
    """A small JSON side file's mapping for reading: {} when there is none, and {} too when it is damaged
    (readers go on; `write_json` refuses to write over it, so what it held is never lost)."""
    values = _parse_json(path)
    return {} if values is None else values


def keep_aside(path: Path) -> Path:
    """A copy of a damaged file beside it (`NAME.damaged-TIME`), once for each content; returns the copy."""
    data = path.read_bytes()
    for earlier in sorted(path.parent.glob(f"{path.name}.damaged-*")):
        with contextlib.suppress(OSError):
            if earlier.read_bytes() == data:
                return earlier
    stamp = time.strftime('%Y%m%d-%H%M%S')
    for n in range(1, 1000):  # another content kept aside in the same second gets the next number
        aside = path.with_name(f"{path.name}.damaged-{stamp}" + (f"-{n}" if n > 1 else ""))
        try:
            write_atomically(aside, lambda f: f.write(data), overwrite=False)
            return aside
        except FileExistsError:
            continue
    raise FileExistsError(f"too many damaged copies of {path.name} this second")


def write_json(path: Path, values: dict) -> None:
    """Replace a side file whole (atomically). A file there that cannot be read is never replaced with what a
    reader made of it (nothing): it is copied aside and the write refused, DamagedFile (one line). Call it
    under the folder's lock, with what was read under the same lock."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if _parse_json(path) is None:
        try:
            aside = keep_aside(path)
        except OSError:
            aside = None
        raise DamagedFile(f"{path.name} cannot be read, so it was not changed; fix it by hand or remove it"
                          + (f" (a copy is kept as {aside.name})" if aside else "") + f": {path}")
    write_atomically(path, lambda f: f.write(json.dumps(values, ensure_ascii=False, indent=1).encode()))


DEBRIS_AGE = 600.0  # seconds: a temporary file this old is a killed write's, not one in progress


def sweep_debris(folder: Path, depth: int = 1, age: float = DEBRIS_AGE) -> int:
    """Remove what killed writes left (`write_atomically`'s `.NAME.*.tmp`) in `folder` and `depth` levels of
    folders below, if older than `age` seconds (a write in progress elsewhere is younger); returns how many."""
    removed, now = 0, time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        try:
            if entry.is_file(follow_symlinks=False) and entry.name.startswith(".") and entry.name.endswith(".tmp"):
                if now - entry.stat(follow_symlinks=False).st_mtime > age:
                    os.unlink(entry.path)
                    removed += 1
            elif depth > 0 and entry.is_dir(follow_symlinks=False):
                removed += sweep_debris(Path(entry.path), depth - 1, age)
        except OSError:
            continue  # gone meanwhile, or not ours to remove
    return removed


_swept: set[Path] = set()


def sweep_once(folder: Path, depth: int = 1) -> None:
    """`sweep_debris` the first time a process opens `folder` (its start), not at every later opening."""
    key = Path(folder).absolute()
    if key not in _swept:
        _swept.add(key)
        sweep_debris(key, depth)
