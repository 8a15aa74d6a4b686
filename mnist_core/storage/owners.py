"""Who owns something, as files say it: a keyed hash of a browser's owner key, never the key."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

from mnist_core.storage.files import write_atomically

SECRET = ".owner-secret"  # per folder: the key of the owner hashes written into its files


class OwnerTags:
    """Who owns something, as written in files: HMAC-SHA256 of the browser's owner key under a secret
    kept in the folder (mode 0600), so a file, a listing or a log never holds the key itself."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._secret: bytes | None = None

    def _key(self, create: bool) -> bytes | None:
        if self._secret is None:
            path = self.folder / SECRET
            try:
                self._secret = path.read_bytes()
            except FileNotFoundError:
                if not create:
                    return None
                self.folder.mkdir(parents=True, exist_ok=True)
                try:
                    write_atomically(path, lambda f: f.write(secrets.token_bytes(32)), overwrite=False, mode=0o600)
                except FileExistsError:
                    pass  # another process made it first: use theirs
                self._secret = path.read_bytes()
        return self._secret

    def tag(self, owner_key: str, create: bool = True) -> str:
        """The hash of an owner key ("" for no key; "" too when the folder has no secret and may not get one)."""
        if not owner_key:
            return ""
        key = self._key(create)
        if key is None:
            return ""
        return hmac.new(key, owner_key.encode(), hashlib.sha256).hexdigest()[:32]

    def owns(self, owner_key: str, tag: str) -> bool:
        return bool(tag) and bool(owner_key) and hmac.compare_digest(self.tag(owner_key, create=False), tag)
