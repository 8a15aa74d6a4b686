"""Runs on a Ray cluster as this server's jobs see them: the runner (Ray imported only here) and the
runs another app replica shares on the cluster's board."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace

from mnist_core.net.config import TrainConfig
from mnist_core.net.data import Mnist
from mnist_core.runs.snapshot import Snapshot
from mnist_core.runs.spec import ControlLine, Message, RunError, RunResult, RunSpec


class RayRunner:
    """Runs on a Ray cluster, one actor each (`on_ray`); Ray itself is imported only here."""

    def __init__(self, address: str) -> None:
        from mnist_core.runs import on_ray

        self.on_ray = on_ray
        try:
            on_ray.connect(address)
        except on_ray.RayRunError as e:
            raise RunError(str(e)) from None
        self.board = on_ray.job_board()

    def new_stop(self) -> threading.Event:
        return threading.Event()

    def queue_of(self, config: TrainConfig) -> str:
        return "ray"  # the cluster picks the device; one queue in front of it

    def slots(self, default: int) -> int:
        return self.on_ray.run_slots()

    def share(self, snapshots: dict[str, Snapshot], gone: list[str]) -> None:
        """Publish this replica's runs on the cluster's board (owner keys left out)."""
        self.on_ray.publish(self.board, {i: replace(s, owner="") for i, s in snapshots.items()}, gone)

    def shared_job(self, job_id: str) -> SharedJob | None:
        """A run another replica started, if the board has it."""
        return SharedJob(job_id, self) if self.on_ray.shared_snapshot(self.board, job_id) is not None else None

    def run(self, spec: RunSpec, data: Mnist, send: Callable[[Message], None], stop,
            controls: ControlLine | None = None) -> RunResult:
        try:
            return self.on_ray.run_on_ray(spec, data, send, stop.is_set, controls)
        except self.on_ray.RayRunError as e:
            raise RunError(str(e)) from None


class SharedJob:
    """A run of another app replica, as the cluster's board shows it: read-only (no owner here)."""

    owner = ""

    def __init__(self, job_id: str, runner: RayRunner) -> None:
        self.id, self.runner = job_id, runner
        self._last: Snapshot | None = None

    @property
    def name(self) -> str:
        return self.snapshot().name

    def snapshot(self) -> Snapshot:
        snap = self.runner.on_ray.shared_snapshot(self.runner.board, self.id)
        self._last = snap or self._last  # gone from the board: the last one seen
        return self._last
