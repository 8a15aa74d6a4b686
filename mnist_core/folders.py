"""Where the engine's files live: the project root, and the folders a user may set (an argument, else an
environment variable, else a default). The floor every room may stand on."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def folder_setting(given: str | os.PathLike | None, variable: str, default: Path) -> Path:
    """A folder the user may set: the value given, else the environment variable, else the default."""
    if given:
        return Path(given).expanduser()
    if os.environ.get(variable):
        return Path(os.environ[variable]).expanduser()
    return default
