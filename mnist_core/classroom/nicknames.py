"""Nicknames: one per browser, by its owner tag in the model store, and each one held by one browser only
(compared as read, storage/names.py: "ADA", a full-width "Ａｄａ" and a Cyrillic "Аda" are "Ada"); the
labels no nickname may take; the teacher's roster, where a nickname is freed or renamed."""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass

from mnist_core.classroom.errors import ClassError, NO_IDENTITY
from mnist_core.storage.drawings import Drawing, NICKNAME
from mnist_core.storage.files import locked, read_json, write_json
from mnist_core.storage.models import find_store_dir, Listing
from mnist_core.storage.names import as_read, UnreadableName
from mnist_core.storage.owners import OwnerTags
from mnist_core.texts import N_, reworded, worded

NICKNAMES = "nicknames.json"  # in the model store's folder: {owner tag: nickname}
# Who a leaderboard row is by when no nickname says: labels no student's nickname may take.
SHIPPED, COMMAND_LINE, NO_NICKNAME = "shipped with the app", "command line", "(no nickname)"


RESERVED_NICKNAMES = {SHIPPED, COMMAND_LINE, NO_NICKNAME, NO_NICKNAME.strip("()")}


# What a phone's keyboard types for "'" and "-" (an iPhone's default apostrophe is ’): kept as the plain marks.
TYPED_MARKS = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u2032": "'", "\u2010": "-",
                             "\u2011": "-", "\u2013": "-"})


def check_nickname(nickname: str) -> str:
    """A nickname as kept: stripped, its accents composed (a decomposed "Amélie" is the one written with é) and
    a phone's ’ and ‐ as ' and -; 1-24 letters, digits, spaces, '.', ''', '_' or '-' (ClassError otherwise)."""
    name = unicodedata.normalize("NFC", nickname).strip().translate(TYPED_MARKS) if isinstance(nickname, str) else ""
    if not NICKNAME.fullmatch(name) or name != " ".join(name.split()):
        raise worded(ClassError, N_("a nickname is 1-24 letters or digits (spaces, '.', ''', '_' and '-' "
                                    "inside), got {nickname}"), nickname=repr(nickname))
    try:
        key = as_read(name, "nickname")
    except UnreadableName as e:
        raise reworded(ClassError, e) from None
    if key in {as_read(r) for r in RESERVED_NICKNAMES}:
        raise worded(ClassError, N_("'{name}' is what the app calls models nobody nicknamed: choose another nickname"),
                     name=name)
    return name


def _key(name: str) -> str:
    """A nickname as read (storage/names.py); one kept before that check came is its plain casefold."""
    try:
        return as_read(name, "nickname")
    except UnreadableName:
        return name.casefold()


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
        return {k: v for k, v in read_json(self.path).items() if isinstance(k, str) and isinstance(v, str)}

    def get(self, tag: str) -> str | None:
        return self.all().get(tag) if tag else None

    def holder(self, nickname: str) -> str | None:
        """The tag that holds this nickname (compared folded), or None."""
        key = _key(nickname.strip())
        return next((tag for tag, name in self.all().items() if _key(name) == key), None)

    def set(self, tag: str, nickname: str) -> str:
        """Give this tag a nickname (checked; returns it as kept). One browser per nickname: on the class's
        pages a nickname is who drew a digit or trained a model, so a nickname another tag holds (compared
        as read, see storage/names.py) is refused with ClassError "this nickname is taken"."""
        if not tag:
            raise worded(ClassError, NO_IDENTITY)
        nickname = check_nickname(nickname)
        with locked(self.root):  # the teacher's server and the students' may share the folder
            values = self.all()
            holder = next((t for t, name in values.items() if _key(name) == _key(nickname)), None)
            if holder is not None and holder != tag:
                raise worded(ClassError, N_("this nickname is taken: '{nickname}' is someone else's; choose another"),
                             nickname=values[holder])
            values[tag] = nickname
            write_json(self.path, values)
        return nickname

    def free(self, tag: str) -> None:
        """The teacher frees a nickname: its browser has none, and anyone may take it."""
        with locked(self.root):
            values = self.all()
            if values.pop(tag, None) is not None:
                write_json(self.path, values)


@dataclass(frozen=True)
class RosterRow:
    """One nickname on the teacher's roster: its tag (to free or rename it), the drawings added under it
    to the class collection and the models its browser trained."""

    tag: str
    nickname: str
    drawings: int
    models: int


def roster(names: Nicknames, listings: list[Listing], drawings: list[Drawing]) -> list[RosterRow]:
    """Every nickname with its drawings (in `drawings`, by nickname, compared as read) and models (in
    `listings`, by owner tag), sorted by nickname."""
    per_name: dict[str, int] = {}
    for d in drawings:
        if d.nickname:
            per_name[_key(d.nickname)] = per_name.get(_key(d.nickname), 0) + 1
    per_tag: dict[str, int] = {}
    for entry in listings:
        if entry.meta is not None and entry.meta.owner:
            per_tag[entry.meta.owner] = per_tag.get(entry.meta.owner, 0) + 1
    rows = [RosterRow(tag, name, per_name.get(_key(name), 0), per_tag.get(tag, 0))
            for tag, name in names.all().items()]
    return sorted(rows, key=lambda r: _key(r.nickname))
