"""The class's handwriting: nicknames (by owner tag), which collection is the open class collection, its
reproducible split into a part to learn from and a held-out part, and scoring a model on drawings."""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn

from .drawings import Collections, Drawing
from .evaluate import evaluate, Evaluation
from .preprocess import mnist_style
from .store import check_name, find_store_dir, OwnerTags, StoreError, write_atomically

NICKNAMES = "nicknames.json"  # in the model store's folder: {owner tag: nickname}
CLASS_FILE = "class.json"  # in the drawings folder: {"name": the open class collection}
NICKNAME_PATTERN = re.compile(r"^\w[\w .'-]{0,23}$")  # letters of any script, digits, space, . ' _ -
HELD_OUT_SHARE = 0.2
_lock = threading.Lock()  # one server: a read-change-write of a small JSON file never interleaves


class ClassError(ValueError):
    """A class action refused (no class collection open, a bad nickname, blank drawing): one line."""


def check_nickname(nickname: str) -> str:
    """A nickname as kept: stripped; 1-24 letters, digits, spaces, '.', ''', '_' or '-' (ClassError otherwise)."""
    name = nickname.strip() if isinstance(nickname, str) else ""
    if not NICKNAME_PATTERN.fullmatch(name) or name != " ".join(name.split()):
        raise ClassError("a nickname is 1-24 letters or digits (spaces, '.', ''', '_' and '-' inside), "
                         f"got {nickname!r}")
    return name


def _read_json(path: Path) -> dict:
    try:
        values = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}  # none yet, or damaged: as if empty (a damaged file is replaced at the next write)
    return values if isinstance(values, dict) else {}


def _write_json(path: Path, values: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda f: f.write(json.dumps(values, ensure_ascii=False, indent=1).encode()))


class Nicknames:
    """A nickname per browser, keyed by its owner tag in the model store (`ModelStore.owners`), so a
    model's `meta.owner` finds its trainer's nickname; the file never holds an owner key."""

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = find_store_dir(root)
        self.owners = OwnerTags(self.root)
        self.path = self.root / NICKNAMES

    def tag_of(self, owner_key: str) -> str:
        """The tag a browser's key has in this folder (the one its models carry)."""
        return self.owners.tag(owner_key)

    def all(self) -> dict[str, str]:
        """Every nickname, by owner tag."""
        return {k: v for k, v in _read_json(self.path).items() if isinstance(k, str) and isinstance(v, str)}

    def get(self, tag: str) -> str | None:
        return self.all().get(tag) if tag else None

    def set(self, tag: str, nickname: str) -> str:
        """Give this tag a nickname (checked; returns it as kept). Two browsers may share one nickname:
        nobody's name is theirs alone, and refusing would tell one user another's is taken."""
        if not tag:
            raise ClassError("this browser has no identity yet; reload the page")
        nickname = check_nickname(nickname)
        with _lock:
            values = self.all()
            values[tag] = nickname
            _write_json(self.path, values)
        return nickname


class Classroom:
    """Which drawing collection is the open class collection (one at a time; the operator opens and
    closes it), kept in the drawings folder so every server on that folder sees the same one."""

    def __init__(self, collections: Collections | None = None) -> None:
        self.collections = collections or Collections()
        self.path = self.collections.root / CLASS_FILE

    def open_name(self) -> str | None:
        """The open class collection's name, or None."""
        name = _read_json(self.path).get("name")
        try:
            return check_name(name) if isinstance(name, str) else None
        except StoreError:
            return None

    def open(self, name: str, owner: str = "") -> str:
        """Open `name` (new or existing) as the class collection; a new one is owned by `owner` (the
        operator's browser), so no student who adds the first drawing may clear it."""
        folder = self.collections._folder(name)  # a plain name, or ValueError
        folder.mkdir(parents=True, exist_ok=True)
        self.collections.claim(name, owner)
        with _lock:
            _write_json(self.path, {"name": name})
        return name

    def close(self) -> None:
        """No class collection open: students can add no more (its drawings stay)."""
        with _lock:
            self.path.unlink(missing_ok=True)


def held_out(file: str, share: float = HELD_OUT_SHARE) -> bool:
    """Whether a drawing is in the held-out part: from a hash of its file name alone, so the split is the
    same on every machine and a drawing never changes part as the collection grows."""
    value = int.from_bytes(hashlib.sha256(file.encode()).digest()[:8], "big") / 2**64
    return value < share


def split(drawings: list[Drawing], held_out_share: float = HELD_OUT_SHARE) -> tuple[list[Drawing], list[Drawing]]:
    """(learn, held_out): the drawings to train on and the ones kept for scoring."""
    if not 0.0 <= held_out_share <= 1.0:
        raise ValueError(f"the held-out share must be in [0, 1], got {held_out_share}")
    learn = [d for d in drawings if not held_out(d.file, held_out_share)]
    kept = [d for d in drawings if held_out(d.file, held_out_share)]
    return learn, kept


@dataclass
class Examples:
    """Drawings as the network sees them: images float32 (N, 28, 28) in [0, 1], labels int64 (N,), and
    the file each came from (blank drawings are left out)."""

    images: np.ndarray
    labels: np.ndarray
    files: list[str]

    def __len__(self) -> int:
        return len(self.labels)


def examples(drawings: list[Drawing]) -> Examples:
    """Each drawing made MNIST-style, as the Draw page reads it."""
    kept = [(d, steps) for d in drawings if not (steps := mnist_style(d.image)).blank]
    images = np.stack([s.output for _, s in kept]).astype(np.float32) if kept else np.zeros((0, 28, 28), np.float32)
    return Examples(images, np.array([d.label for d, _ in kept], np.int64), [d.file for d, _ in kept])


def score(model: nn.Module, drawings: list[Drawing] | Examples) -> Evaluation:
    """A model's scores on drawings (accuracy, confusion, mistakes; indices refer to `examples(drawings)`)."""
    data = drawings if isinstance(drawings, Examples) else examples(drawings)
    if not len(data):
        raise ClassError("no drawings to score yet")
    return evaluate(model, data.images, data.labels)
