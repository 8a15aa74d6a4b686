"""Files written whole or not at all, a folder's lock across processes, the plain names that models and
collections take, small JSON side files, and OS errors in words a user can act on."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MODEL_SUFFIX = ".pt"  # a model file's suffix: no name ends with it, so no name looks like a file


def check_name(name: str, what: str = "model", error: type[Exception] = ValueError) -> str:
    """A name is a plain file name: letters, digits, '.', '_', '-'; no paths, no leading dot.
    Raises `error` saying what kind of name (`what`) was invalid."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name) or name.endswith(MODEL_SUFFIX):
        raise error(
            f"invalid {what} name {name!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit"
        )
    return name


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


def os_error_text(e: OSError, what: str = "the folder") -> str:
    """An OSError in words a user can act on, one line."""
    where = f" ({e.filename})" if getattr(e, "filename", None) else ""
    if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"{what} cannot be written: it is read-only or not yours{where}"
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"{what} cannot be written: the disk is full{where}"
    return f"{what}: {e.strerror or e}{where}"


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


def read_json(path: Path) -> dict:
    try:
        values = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}  # none yet, or damaged: as if empty (a damaged file is replaced at the next write)
    return values if isinstance(values, dict) else {}


def write_json(path: Path, values: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda f: f.write(json.dumps(values, ensure_ascii=False, indent=1).encode()))
