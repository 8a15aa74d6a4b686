"""Where the engine's files live: the project root, folders a user may set, the plain names that
models and drawing collections take inside them, and a folder's lock across processes."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Iterator
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MODEL_SUFFIX = ".pt"  # a model file's suffix: no name ends with it, so no name looks like a file


def folder_setting(given: str | os.PathLike | None, variable: str, default: Path) -> Path:
    """A folder the user may set: the value given, else the environment variable, else the default."""
    if given:
        return Path(given).expanduser()
    if os.environ.get(variable):
        return Path(os.environ[variable]).expanduser()
    return default


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
