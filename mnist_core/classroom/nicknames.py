"""Nicknames: one per browser, by its owner tag in the model store; the labels no nickname may take."""

from __future__ import annotations

import os

from mnist_core.classroom.errors import ClassError
from mnist_core.storage.drawings import NICKNAME
from mnist_core.storage.files import locked, read_json, write_json
from mnist_core.storage.models import find_store_dir
from mnist_core.storage.owners import OwnerTags

NICKNAMES = "nicknames.json"  # in the model store's folder: {owner tag: nickname}
# Who a leaderboard row is by when no nickname says: labels no student's nickname may take.
SHIPPED, COMMAND_LINE, NO_NICKNAME = "shipped with the app", "command line", "(no nickname)"


RESERVED_NICKNAMES = {SHIPPED, COMMAND_LINE, NO_NICKNAME, NO_NICKNAME.strip("()")}


def check_nickname(nickname: str) -> str:
    """A nickname as kept: stripped; 1-24 letters, digits, spaces, '.', ''', '_' or '-' (ClassError otherwise)."""
    name = nickname.strip() if isinstance(nickname, str) else ""
    if not NICKNAME.fullmatch(name) or name != " ".join(name.split()):
        raise ClassError("a nickname is 1-24 letters or digits (spaces, '.', ''', '_' and '-' inside), "
                         f"got {nickname!r}")
    if name.casefold() in RESERVED_NICKNAMES:
        raise ClassError(f"'{name}' is what the app calls models nobody nicknamed: choose another nickname")
    return name


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

    def set(self, tag: str, nickname: str) -> str:
        """Give this tag a nickname (checked; returns it as kept). Two browsers may share one nickname:
        nobody's name is theirs alone, and refusing would tell one user another's is taken."""
        if not tag:
            raise ClassError("this browser has no identity yet; reload the page")
        nickname = check_nickname(nickname)
        with locked(self.root):  # the teacher's server and the students' may share the folder
            values = self.all()
            values[tag] = nickname
            write_json(self.path, values)
        return nickname
