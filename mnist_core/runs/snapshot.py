"""A job's state as a user interface draws it: its status and a consistent snapshot of plain values."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mnist_core.net.config import TrainConfig
from mnist_core.net.history import EpochRecord

# A job's status, as a user interface shows it.
QUEUED, RUNNING, DONE, STOPPED, FAILED = "queued", "running", "done", "stopped", "failed"


ACTIVE = (QUEUED, RUNNING)


@dataclass
class Snapshot:
    """A consistent copy of a job's state for a user interface to draw; plain values only."""

    id: str
    owner: str
    name: str
    status: str
    config: TrainConfig
    device: str
    epoch: int = 0  # the epoch in progress (or last finished), counting the model's whole history
    last_epoch: int = 0  # the epoch this run ends with
    batch: int = 0
    batches: int = 0
    seconds: float = 0.0  # this run so far
    eta_seconds: float | None = None
    queue_position: int = 0  # 1 = next to train on its device; 0 = not waiting
    history: list[EpochRecord] = field(default_factory=list)
    batch_losses: list[float] = field(default_factory=list)  # every batch's loss, whole history
    batches_per_epoch: int = 0
    grad_at: list[float] = field(default_factory=list)  # where each gradient report was, in epochs
    grad_norms: list[list[float]] = field(default_factory=list)  # per report: each layer's weight gradient size
    weights: np.ndarray | None = None  # first layer (H0, 28, 28), at most runs.WEIGHTS_EVERY seconds old
    error: str = ""
    note: str = ""  # why it ended early when nobody stopped it (the server's time limit of a run)
    saved: bool = False  # the model is in the store under `name`
    halted: bool = False  # a stop request has ended the training; the model is being scored and saved
    preparing: str = ""  # what the run is doing before its first batch, when that takes a while
    host: str = ""  # the machine and process that train it, once started
    model_id: str = ""  # the id of the model this run makes or trains further

    @property
    def active(self) -> bool:
        return self.status in ACTIVE
