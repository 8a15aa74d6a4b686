"""What the server keeps for each browser by its owner key (its language, current model, last drawing): one
store, thread-safe and bounded, so that a script minting a new cookie per request cannot fill the memory."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerOwner(Generic[T]):
    """One value per owner key, the `limit` most recently used kept: the owner used longest ago is
    forgotten first (a browser back after that starts afresh, as a new one does)."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("a PerOwner store keeps at least one owner")
        self.limit = limit
        self._values: OrderedDict[str, T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, who: str) -> T | None:
        with self._lock:
            value = self._values.get(who)
            if value is not None:
                self._values.move_to_end(who)
            return value

    def set(self, who: str, value: T | None) -> None:
        """Keep `value` for `who`; None forgets what was kept."""
        with self._lock:
            if value is None:
                self._values.pop(who, None)
                return
            self._values[who] = value
            self._values.move_to_end(who)
            self._trim()

    def setdefault(self, who: str, make: Callable[[], T]) -> T:
        """The value kept for `who`, made by `make()` and kept when there is none."""
        with self._lock:
            if who in self._values:
                self._values.move_to_end(who)
                return self._values[who]
            value = self._values[who] = make()
            self._trim()
            return value

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)

    def _trim(self) -> None:
        while len(self._values) > self.limit:
            self._values.popitem(last=False)
