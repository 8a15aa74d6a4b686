"""Named collections of labelled drawings on disk (PNG files and a labels file): save, list, score,
zip and clear; each collection owned by the browser that made it."""

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
from .store import check_name, OwnerTags, StoreError, write_atomically

LABELS = "labels.csv"
OWNER_FILE = ".owner"  # the OwnerTags hash of the browser that made the collection
MAX_SIDE = 280  # pixels: a drawing is kept at most this big (the canvas's size), whatever was uploaded
_lock = threading.Lock()  # one server, many sessions: appends to a labels file never interleave


@dataclass
class Drawing:
    file: str  # PNG file name inside the collection
    label: int
    image: np.ndarray  # as saved: RGBA or grey uint8
    owner: str = ""  # OwnerTags hash of the browser that added it ("" in collections made before, or imported)
    nickname: str = ""  # the name it was added under (class collections)


def find_drawings_dir(root: str | os.PathLike | None = None) -> Path:
    """`root` if given, else $MNIST_DRAWINGS, else `collections/` in the project."""
    return folder_setting(root, "MNIST_DRAWINGS", PROJECT_ROOT / "collections")


def bounded(image: np.ndarray) -> Image.Image:
    """The picture to keep: at most MAX_SIDE pixels a side (a 4000x3000 photo becomes 280x210); the
    app reads a digit from its ink box scaled into 20x20, so nothing it uses is lost."""
    picture = Image.fromarray(np.asarray(image, dtype=np.uint8))
    if max(picture.size) > MAX_SIDE:
        picture.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)  # RGBA is resampled premultiplied
    return picture


def _good_row(row: list[str]) -> bool:
    """A labels row: a plain PNG name and a digit, then (optionally) who added it and their nickname."""
    return (len(row) in (2, 4) and Path(row[0]).name == row[0] and row[0].endswith(".png")
            and row[1].isdigit() and len(row[1]) == 1)


class Collections:
    """Each collection is a folder named by a plain name (never a path from the browser). Anyone may
    add to a collection; only the browser that made it (or the operator) may clear it."""

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = find_drawings_dir(root)
        self.owners = OwnerTags(self.root)

    def _folder(self, name: str) -> Path:
        try:
            return self.root / check_name(name)
        except StoreError as e:
            raise ValueError(str(e).replace("model name", "collection name")) from None

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and (p / LABELS).is_file())

    def owner_of(self, name: str) -> str:
        try:
            return (self._folder(name) / OWNER_FILE).read_text().strip()
        except OSError:
            return ""

    def names_of(self, owner: str) -> list[str]:
        """The collections this owner made."""
        return [n for n in self.names() if self.owners.owns(owner, self.owner_of(n))]

    def default_name(self, owner: str) -> str:
        """What the Draw page offers: this owner's first collection, else a new name of its own (never
        another browser's collection)."""
        mine = self.names_of(owner)
        if mine:
            return mine[0]
        try:
            return f"digits-{self.owners.tag(owner)[:6]}" if owner else "my-digits"
        except OSError:  # a folder where no secret can be made: nothing can be saved there either
            return "my-digits"

    def may_clear(self, name: str, owner: str, operator: bool = False) -> bool:
        return operator or self.owners.owns(owner, self.owner_of(name))

    def claim(self, name: str, owner: str) -> None:
        """Make `owner` the collection's owner unless it has one already (the first claim wins)."""
        folder = self._folder(name)
        if owner and not (folder / OWNER_FILE).exists():
            tag = self.owners.tag(owner)
            try:
                write_atomically(folder / OWNER_FILE, lambda f: f.write(tag.encode()), overwrite=False)
            except FileExistsError:
                pass  # another browser made it a moment before: theirs

    def add(self, name: str, image: np.ndarray, label: int, owner: str = "", nickname: str = "") -> str:
        """Save one drawing with its true digit; returns the file name. The first drawing makes the
        collection, owned by `owner`; the drawing's row keeps who added it (a tag) and `nickname`. The PNG
        is written whole or not at all (a full disk leaves no empty file); raises OSError when the folder
        cannot be written."""
        if not 0 <= int(label) <= 9:
            raise ValueError(f"a label is a digit 0-9, got {label}")
        folder = self._folder(name)
        folder.mkdir(parents=True, exist_ok=True)
        self.claim(name, owner)
        file = f"{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}-{int(label)}.png"
        picture = bounded(image)
        write_atomically(folder / file, lambda f: picture.save(f, format="PNG", optimize=True))
        row = io.StringIO()
        csv.writer(row).writerow([file, int(label)] + ([self.owners.tag(owner), nickname] if owner else []))
        try:
            with _lock, open(folder / LABELS, "a", newline="") as f:
                f.write(row.getvalue())  # one write: a full disk cuts it short at worst (load skips it)
        except OSError:
            (folder / file).unlink(missing_ok=True)
            raise
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
                if not _good_row(row) or not (folder / row[0]).is_file():
                    continue  # a line cut short, or a file gone: skipped, the rest still counts
                try:
                    with Image.open(folder / row[0]) as picture:
                        drawings.append(Drawing(row[0], int(row[1]), np.asarray(picture), *row[2:4]))
                except OSError:
                    continue
        return drawings

    def remove(self, name: str, file: str, owner: str = "", operator: bool = False) -> None:
        """Delete one drawing: only the browser that added it (or the operator) may (ValueError otherwise).
        The labels file is replaced whole, then the PNG removed: a crash leaves at most an unlisted file."""
        folder = self._folder(name)
        with _lock:
            try:
                with open(folder / LABELS, newline="") as f:
                    rows = list(csv.reader(f))
            except FileNotFoundError:
                rows = []
            mine = [r for r in rows if _good_row(r) and r[0] == file]
            if not mine:
                raise ValueError(f"no drawing '{file}' in the collection '{name}'")
            tag = mine[0][2] if len(mine[0]) == 4 else ""
            if not (operator or self.owners.owns(owner, tag)):
                raise ValueError("that drawing is not yours: only the browser that added it may remove it")
            kept = io.StringIO()
            csv.writer(kept).writerows(r for r in rows if not (r and r[0] == file))
            write_atomically(folder / LABELS, lambda f: f.write(kept.getvalue().encode()))
        (folder / file).unlink(missing_ok=True)

    def zip_bytes(self, name: str) -> bytes:
        """The collection as a zip: its PNG files and labels.csv."""
        folder = self._folder(name)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.iterdir()) if folder.is_dir() else []:
                if path.suffix == ".png" or path.name == LABELS:
                    archive.write(path, f"{name}/{path.name}")
        return buffer.getvalue()

    def clear(self, name: str, owner: str = "", operator: bool = False) -> None:
        """Delete a collection: only its maker (or the operator) may (ValueError otherwise)."""
        folder = self._folder(name)
        if not folder.is_dir():
            return
        if not self.may_clear(name, owner, operator):
            raise ValueError(f"the collection '{name}' is not yours: only the browser that made it may clear it")
        gone = folder.with_name(f".{name}.cleared-{secrets.token_hex(3)}")
        folder.rename(gone)  # gone for every reader at once; then removed
        shutil.rmtree(gone, ignore_errors=True)
