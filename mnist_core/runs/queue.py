"""First come, first served slots on one device: the queue runs wait in."""

from __future__ import annotations

import threading
from collections.abc import Callable


class DeviceQueue:
    """First come, first served slots on one device."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self.running = 0
        self.waiting: list[str] = []
        self.cond = threading.Condition()

    def acquire(self, job_id: str, cancelled: Callable[[], bool]) -> bool:
        with self.cond:
            self.waiting.append(job_id)
            while self.waiting[0] != job_id or self.running >= self.slots:
                if cancelled():
                    self.waiting.remove(job_id)
                    self.cond.notify_all()
                    return False
                self.cond.wait(0.1)
            self.waiting.pop(0)
            self.running += 1
            self.cond.notify_all()
            return True

    def release(self) -> None:
        with self.cond:
            self.running -= 1
            self.cond.notify_all()

    def position(self, job_id: str) -> int:
        with self.cond:
            return self.waiting.index(job_id) + 1 if job_id in self.waiting else 0
