"""A job's state as a user interface draws it: its status and a consistent snapshot of plain values."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mnist_core.net.config import TrainConfig
from mnist_core.net.controls import Paused, SettingChange
from mnist_core.net.health import LayerSpread
from mnist_core.net.history import EpochRecord
from mnist_core.net.step import StepLook

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
    paused: Paused | None = None  # where it is paused ("Paused at epoch 2, batch 14 of 469"); None: not paused
    changes: list[SettingChange] = field(default_factory=list)  # settings changed live: the charts' marks
    look: StepLook | None = None  # the step up close of the next batch, while paused
    spread: list[LayerSpread] = field(default_factory=list)  # each layer's weights now against at the start
    delay: float = 0.0  # slow motion: seconds between batches
    lr: float = 0.0  # the learning rate it trains at now (a schedule's value at the last report)
    refused: str = ""  # why the owner's last control was not carried out
    continues: str = ""  # how Train more continues the learning rate, in words

    @property
    def active(self) -> bool:
        return self.status in ACTIVE
