"""Named collections of labelled drawings on disk (PNG files and a labels file): save, list, score,
zip and clear."""

from __future__ import annotations

import csv
import io
import os
import secrets
import shutil
import threading
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image

from .data import folder_setting, PROJECT_ROOT
from .store import check_name, StoreError

LABELS = "labels.csv"
_lock = threading.Lock()  # one server, many sessions: appends to a labels file never interleave


@dataclass
class Drawing:
    file: str  # PNG file name inside the collection
    label: int
    image: np.ndarray  # as saved: RGBA or grey uint8


def find_drawings_dir(root: str | os.PathLike | None = None) -> Path:
    """`root` if given, else $MNIST_DRAWINGS, else `collections/` in the project."""
    return folder_setting(root, "MNIST_DRAWINGS", PROJECT_ROOT / "collections")


class Collections:
    """Each collection is a folder named by a plain name (never a path from the browser)."""

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = find_drawings_dir(root)

    def _folder(self, name: str) -> Path:
        try:
            return self.root / check_name(name)
        except StoreError as e:
            raise ValueError(str(e).replace("model name", "collection name")) from None

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and (p / LABELS).is_file())

    def add(self, name: str, image: np.ndarray, label: int) -> str:
        """Save one drawing with its true digit; returns the file name."""
        if not 0 <= int(label) <= 9:
            raise ValueError(f"a label is a digit 0-9, got {label}")
        folder = self._folder(name)
        folder.mkdir(parents=True, exist_ok=True)
        file = f"{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}-{int(label)}.png"
        Image.fromarray(np.asarray(image, dtype=np.uint8)).save(folder / file)
        with _lock, open(folder / LABELS, "a", newline="") as f:
            csv.writer(f).writerow([file, int(label)])
        return file

    def version(self, name: str) -> tuple[int, int]:
        """Changes whenever a drawing is added or the collection cleared (its labels file's time, size)."""
        labels = self._folder(name) / LABELS
        if not labels.is_file():
            return (0, 0)
        stat = labels.stat()
        return (stat.st_mtime_ns, stat.st_size)

    def load(self, name: str) -> list[Drawing]:
        folder = self._folder(name)
        if not (folder / LABELS).is_file():
            return []
        drawings = []
        with open(folder / LABELS, newline="") as f:
            for row in csv.reader(f):
                if len(row) == 2 and (folder / row[0]).is_file() and Path(row[0]).name == row[0]:
                    drawings.append(Drawing(row[0], int(row[1]), np.asarray(Image.open(folder / row[0]))))
        return drawings

    def zip_bytes(self, name: str) -> bytes:
        """The collection as a zip: its PNG files and labels.csv."""
        folder = self._folder(name)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.iterdir()) if folder.is_dir() else []:
                if path.suffix == ".png" or path.name == LABELS:
                    archive.write(path, f"{name}/{path.name}")
        return buffer.getvalue()

    def clear(self, name: str) -> None:
        folder = self._folder(name)
        if folder.is_dir():
            shutil.rmtree(folder)
