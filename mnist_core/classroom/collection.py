"""The class collection: which drawing collection is open for the class, adding to it, how it has grown,
and its reproducible split into a part to learn from and a held-out part."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from mnist_core.classroom.errors import ClassError
from mnist_core.classroom.nicknames import check_nickname, NO_NICKNAME
from mnist_core.net.preprocess import mnist_style
from mnist_core.storage.drawings import Collections, Drawing
from mnist_core.storage.files import locked, read_json, write_json
from mnist_core.storage.names import check_name
from mnist_core.texts import N_, worded

CLASS_FILE = "class.json"  # in the drawings folder: {"name": the open class collection}
HELD_OUT_SHARE = 0.2


class ClassCollection:
    """Which drawing collection is the open class collection (one at a time; the operator opens and
    closes it), kept in the drawings folder so every server on that folder sees the same one."""

    def __init__(self, collections: Collections | None = None) -> None:
        self.collections = collections or Collections()
        self.path = self.collections.root / CLASS_FILE

    def open_name(self) -> str | None:
        """The open class collection's name, or None."""
        name = read_json(self.path).get("name")
        try:
            return check_name(name, "collection") if isinstance(name, str) else None
        except ValueError:
            return None

    def open(self, name: str, owner: str = "") -> str:
        """Open `name` (new or existing) as the class collection; a new one is owned by `owner` (the
        operator's browser), so no student who adds the first drawing may clear it. Another browser's own
        collection is refused to a browser (ClassError): a student who made "class-2027" first would have put
        drawings in the class's name, signed as anyone, and stayed its owner. Without `owner` (a script on the
        server) anything is opened."""
        if owner and not self.collections.is_class(name) and not self.collections.may_use(name, owner):
            raise worded(ClassError, N_("'{name}' is a student's own collection: open the class's under another "
                                        "name"), name=name)
        self.collections.claim(name, owner)  # a plain name, or ValueError
        self.collections.mark_class(name)
        with locked(self.collections.root):
            write_json(self.path, {"name": name})
        return name

    def close(self) -> None:
        """No class collection open: students can add no more (its drawings stay)."""
        with locked(self.collections.root):
            self.path.unlink(missing_ok=True)

    def add(self, image: np.ndarray | None, label: int | None, owner: str, nickname: str | None) -> str:
        """A student's labelled drawing added to the open class collection under their nickname; returns
        its file name. ClassError (one line) when no collection is open, the student has no nickname, the
        digit meant is not said, or the drawing is blank; OSError when the folder cannot be written."""
        name = self.open_name()
        if name is None:
            raise worded(ClassError, N_("no class collection is open: the teacher opens one on the Class page"))
        if not nickname:
            raise worded(ClassError, N_("choose a nickname first (in the sidebar): your drawings are shown under it"))
        if label is None:
            raise worded(ClassError, N_("say which digit you meant before adding the drawing"))
        if image is None or mnist_style(image).blank:
            raise worded(ClassError, N_("the drawing is blank: draw a digit first"))
        nickname = check_nickname(nickname)
        if self._last_of(name, owner, image):
            raise worded(ClassError, N_("this drawing is in the class collection already: draw a new digit (or remove "
                                        "that one on the Class page)"))
        self.collections.mark_class(name)  # again: the teacher may have cleared it since it was opened
        return self.collections.add(name, image, int(label), owner=owner, nickname=nickname, shared=True)

    def _last_of(self, name: str, owner: str, image: np.ndarray) -> bool:
        """Whether `image` is, pixel for pixel, the last drawing this browser added to `name` (Add pressed again,
        or from a second tab: one drawing would count twice, or flood a digit)."""
        if not owner:
            return False
        drawings = self.collections.index(name).read().drawings
        last = next((d for d in reversed(drawings) if self.collections.owners.owns(owner, d.owner)), None)
        return last is not None and last.image.shape == image.shape and np.array_equal(last.image, image)


@dataclass
class Tally:
    """How a collection has grown: drawings per digit (10,) and per nickname (most first)."""

    per_digit: list[int]
    per_nickname: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.per_digit)


def tally(drawings: list[Drawing]) -> Tally:
    per_digit = [0] * 10
    per_nickname: dict[str, int] = {}
    for d in drawings:
        per_digit[d.label] += 1
        who = d.nickname or NO_NICKNAME
        per_nickname[who] = per_nickname.get(who, 0) + 1
    return Tally(per_digit, dict(sorted(per_nickname.items(), key=lambda item: (-item[1], item[0]))))


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
