"""The session reaper: which browser sessions belong to which owner, so a job whose owner left is stopped."""

from __future__ import annotations

import threading
import time

from streamlit.runtime import Runtime

from mnist_core.runs.jobs import JobRegistry
from ui import keys


class Sessions:
    """Which browser sessions belong to which owner, so a job whose owner left can be stopped."""

    def __init__(self, registry: JobRegistry) -> None:
        self.registry = registry
        self.by_owner: dict[str, set[str]] = {}
        self.last_seen: dict[str, float] = {}
        self.lock = threading.Lock()
        threading.Thread(target=self._reap, name="session-reaper", daemon=True).start()

    def register(self, owner: str, session_id: str) -> None:
        with self.lock:
            self.by_owner.setdefault(owner, set()).add(session_id)
            self.last_seen[owner] = time.monotonic()

    def _reap(self) -> None:
        while True:
            time.sleep(5)
            if not Runtime.exists():
                continue
            runtime = Runtime.instance()
            with self.lock:
                owners = list(self.by_owner.items())
            for owner, sessions in owners:
                if any(runtime.is_active_session(s) for s in sessions):
                    with self.lock:
                        self.last_seen[owner] = time.monotonic()
                elif time.monotonic() - self.last_seen.get(owner, 0) > keys.ORPHAN_SECONDS:
                    self.registry.stop_owner(owner)
