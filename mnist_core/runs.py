"""One training run, wherever it trains (the CLI's process, a child of the server, a Ray worker): a spec
in, typed messages out while it trains, a result at the end; and saving a result into the store."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, UTC
from pathlib import Path

import numpy as np
import torch

from .data import Mnist
from .device import CpuThreads
from .inside import weight_images
from .model import build_model, parameter_count
from .store import ModelMeta, ModelStore
from .train import EpochRecord, ExtraExamples, Progress, TrainConfig, Trainer

WEIGHTS_EVERY = 0.5  # seconds between copies of the first layer's weights for a live view


@dataclass
class StartState:
    """A stored model to train further, as the store that keeps it read it (workers need no disk)."""

    model: dict  # the MLP's own config, see `build_model`
    weights: dict[str, torch.Tensor]
    optimizer: dict
    history: list[EpochRecord]
    seconds: float  # training time before this run

    @classmethod
    def from_store(cls, store: ModelStore, name: str) -> tuple[StartState, ModelMeta]:
        model, meta, optimizer_state = store.load(name)
        return cls(meta.model, model.state_dict(), optimizer_state,
                   [EpochRecord.from_dict(r) for r in meta.history], meta.train_seconds), meta


@dataclass
class RunSpec:
    """What one run needs besides the data: the settings, how many epochs, the start (None: a new model)."""

    config: TrainConfig
    epochs: int
    threads: int = 0  # torch threads; 0: one per CPU that other processes leave free, followed as that changes
    start: StartState | None = None
    live_weights: bool = True  # send the first layer's weights with the progress, for a live view
    extra: ExtraExamples | None = None  # examples mixed into every epoch besides MNIST (a class's drawings)


@dataclass
class RunResult:
    """A finished run: the trained model (CPU tensors), its optimizer and its whole history."""

    model: dict
    weights: dict[str, torch.Tensor]
    optimizer: dict
    config: TrainConfig
    history: list[EpochRecord]
    device: str
    seconds: float  # all its training, earlier runs included
    stopped: bool


# The messages a run sends while it trains, in this order: Preparing? Started (Report | EpochDone)*
# Halted? Report, then the runner's end: Finished or Failed.
@dataclass
class Preparing:
    text: str  # what takes a while before the first batch


@dataclass
class Started:
    batches_per_epoch: int
    device: str  # where it trains, as torch names it
    host: str  # the machine and process that train it
    threads: int  # torch's CPU threads at the start (then they follow the CPUs others leave free)
    weights: np.ndarray | None  # first layer (H0, 28, 28)


@dataclass
class Report:
    progress: Progress | None  # None: the last report, the weights as trained
    weights: np.ndarray | None = None


@dataclass
class Halted:
    """A stop request ended the training; scoring and saving go on."""


@dataclass
class EpochDone:
    record: EpochRecord


@dataclass
class Finished:
    result: RunResult


@dataclass
class Failed:
    error: str  # one line for the user


Message = Preparing | Started | Report | Halted | EpochDone | Finished | Failed


def train_run(spec: RunSpec, data: Mnist, send: Callable[[Message], None],
              stop_requested: Callable[[], bool]) -> RunResult:
    """Train as `spec` says, sending messages as it goes; a stop request ends it after the current batch."""
    cpu = CpuThreads(spec.threads or None)  # measured before the first batch, while this process is idle
    start = spec.start
    if start is None:
        trainer = Trainer(spec.config, data, extra=spec.extra)
    else:
        model = build_model(start.model)
        model.load_state_dict(start.weights)
        trainer = Trainer(spec.config, data, model=model, history=start.history, optimizer_state=start.optimizer,
                          extra=spec.extra)
    if trainer.drawn_count():  # about 3 ms a digit the first time (then cached): say so, not just "loading"
        send(Preparing(f"Drawing {trainer.drawn_count():,} training digits on a canvas, as people draw them "
                       "(about 3 ms each, the first time only) …"))
        trainer.drawn_digits()
    live = spec.live_weights
    send(Started(trainer.batches_per_epoch(), str(trainer.device), f"{socket.gethostname()} pid {os.getpid()}",
                 cpu.threads, weight_images(trainer.model) if live else None))
    last_weights = time.monotonic()

    def on_progress(progress: Progress) -> None:
        nonlocal last_weights
        weights = None
        if live and time.monotonic() - last_weights >= WEIGHTS_EVERY:
            weights, last_weights = weight_images(trainer.model), time.monotonic()
        send(Report(progress, weights))

    halted = False

    def should_stop() -> bool:  # asked before every batch, in the training thread
        nonlocal halted
        cpu.adjust()
        if not halted and stop_requested():  # say so at once: scoring and saving take a while
            halted = True
            send(Halted())
        return halted

    began = time.perf_counter()
    trainer.train(spec.epochs, on_progress, should_stop, lambda record: send(EpochDone(record)))
    send(Report(None, weight_images(trainer.model) if live else None))  # as trained, whenever it ended
    return RunResult(
        model=trainer.model.config(),
        weights={k: v.detach().cpu() for k, v in trainer.model.state_dict().items()},
        optimizer=_to_cpu(trainer.optimizer.state_dict()), config=spec.config, history=list(trainer.history),
        device=str(trainer.device), seconds=(start.seconds if start else 0.0) + time.perf_counter() - began,
        stopped=halted)


def save_run(store: ModelStore, result: RunResult, name: str, owner: str = "", model_id: str = "",
             replaces: str | None = None) -> Path:
    """Save a finished run with its settings, history and final metrics. `owner` is the store's owner
    tag (a keyed hash, never the key); `replaces` (a model id) overwrites only that model."""
    last = result.history[-1] if result.history else None
    model = build_model(result.model)
    model.load_state_dict(result.weights)
    meta = ModelMeta(
        name=name, model=result.model, config=result.config.to_dict(),
        history=[asdict(r) for r in result.history],
        metrics={"test_accuracy": last.test_accuracy, "test_f1": last.test_f1, "train_f1": last.train_f1,
                 "loss": last.loss} if last else {},
        parameters=parameter_count(model), device=result.device, train_seconds=result.seconds,
        created=datetime.now(UTC).isoformat(timespec="seconds"), stopped=result.stopped, owner=owner, id=model_id,
    )
    return store.save(model, meta, result.optimizer, overwrite=replaces is not None, replaces=replaces)


def _to_cpu(value):
    """An optimizer state with every tensor on the CPU, so it travels and loads anywhere."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_cpu(v) for v in value]
    return value


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
    config: dict
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
    saved: bool = False  # the model is in the store under `name`
    halted: bool = False  # a stop request has ended the training; the model is being scored and saved
    preparing: str = ""  # what the run is doing before its first batch, when that takes a while
    host: str = ""  # the machine and process that train it, once started
    model_id: str = ""  # the id of the model this run makes or trains further

    @property
    def active(self) -> bool:
        return self.status in ACTIVE
