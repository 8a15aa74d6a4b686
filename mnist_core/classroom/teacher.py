"""Who the teacher is: a browser that entered the teacher code (as Jupyter's token: set by the operator in
MNIST_APP_TEACHER_CODE, else made once per model folder and printed at start), remembered by its owner tag in
the model folder; not a server switch. MNIST_APP_OPERATOR (every browser the teacher) only on loopback."""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
from pathlib import Path

from mnist_core.classroom.errors import ClassError, NO_IDENTITY
from mnist_core.storage.files import DamagedFile, locked, read_json, write_atomically, write_json
from mnist_core.storage.models import find_store_dir
from mnist_core.storage.owners import OwnerTags
from mnist_core.texts import N_, reworded, worded

CODE_ENV = "MNIST_APP_TEACHER_CODE"
OPERATOR_ENV = "MNIST_APP_OPERATOR"
CODE_FILE = ".teacher-code"  # in the model folder, mode 0600, when the operator set none: one for every process
TEACHERS = ".teachers.json"  # in the model folder: {owner tag: true} for each browser that entered the code


def is_loopback(host: str) -> bool:
    """Whether a listening address reaches this machine only ('localhost', 127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_operator_switch(host: str, environ: dict[str, str] | None = None) -> None:
    """ClassError (one line) when MNIST_APP_OPERATOR is on and the server listens beyond this machine: there
    it would make every browser on the network the teacher."""
    value = (os.environ if environ is None else environ).get(OPERATOR_ENV, "")
    if value not in ("", "0") and not is_loopback(host):
        raise ClassError(f"{OPERATOR_ENV}=1 makes every browser the teacher: it is refused on {host}, which others "
                         f"reach; the teacher enters the teacher code instead (set it with {CODE_ENV})")


class Teachers:
    """The teacher code of a model folder and the browsers (owner tags) that entered it."""

    def __init__(self, root: str | os.PathLike | None = None, environ: dict[str, str] | None = None) -> None:
        self.root = find_store_dir(root)
        self.owners = OwnerTags(self.root)
        self.environ = os.environ if environ is None else environ
        self.path = self.root / TEACHERS

    def code(self) -> str:
        """The code: the operator's (MNIST_APP_TEACHER_CODE), else the folder's, made on first use (the first
        process to make it wins; every process of a `serve` reads the same)."""
        given = self.environ.get(CODE_ENV, "").strip()
        if given:
            return given
        path = Path(self.root) / CODE_FILE
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            self.root.mkdir(parents=True, exist_ok=True)
            try:
                write_atomically(path, lambda f: f.write(secrets.token_urlsafe(9).encode()), overwrite=False,
                                 mode=0o600)
            except FileExistsError:
                pass
            return path.read_text().strip()

    def enter(self, owner_key: str, entered: str) -> None:
        """Make this browser the teacher if `entered` is the code (compared in constant time); ClassError (one
        line) otherwise. Remembered in the folder by the browser's owner tag, never its key."""
        if not owner_key:
            raise worded(ClassError, NO_IDENTITY)
        if not isinstance(entered, str) or not hmac.compare_digest(entered.strip().encode(), self.code().encode()):
            raise worded(ClassError, N_("that is not the teacher code (it was printed when the app started)"))
        tag = self.owners.tag(owner_key)
        try:
            with locked(self.root):
                values = read_json(self.path)
                values[tag] = True
                write_json(self.path, values)
        except DamagedFile as e:
            raise reworded(ClassError, e) from None

    def is_teacher(self, owner_key: str) -> bool:
        if not owner_key:
            return False
        tag = self.owners.tag(owner_key, create=False)
        return bool(tag) and read_json(self.path).get(tag) is True

    def leave(self, owner_key: str) -> None:
        """This browser is a student again."""
        tag = self.owners.tag(owner_key, create=False)
        with locked(self.root):
            values = read_json(self.path)
            if values.pop(tag, None) is not None:
                write_json(self.path, values)
