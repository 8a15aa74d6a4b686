"""The body of one training run, the same in the CLI's process, a child of the server or a Ray worker,
and saving its result into the store."""

from __future__ import annotations

import math
import os
import socket
import time
from collections.abc import Callable
from datetime import datetime, UTC
from pathlib import Path

import torch

from mnist_core.net.controls import Control, LiveControls
from mnist_core.net.data import Mnist
from mnist_core.net.device import CpuThreads
from mnist_core.net.health import layer_weights, weight_spread
from mnist_core.net.history import Metrics, Progress
from mnist_core.net.model import build_model, parameter_count, weight_images
from mnist_core.net.train import Trainer
from mnist_core.runs.spec import (
    EpochDone,
    Halted,
    Message,
    Preparing,
    Report,
    RunResult,
    RunSpec,
    Spread,
    Started,
    StartState,
)
from mnist_core.storage.models import ModelMeta, ModelStore

WEIGHTS_EVERY = 0.5  # seconds between copies of the first layer's weights for a live view


def train_run(spec: RunSpec, data: Mnist, send: Callable[[Message], None],
              stop_requested: Callable[[], bool],
              receive: Callable[[float], Control | None] | None = None) -> RunResult:
    """Train as `spec` says, sending messages as it goes; a stop request ends it after the current batch.
    `receive(wait)`: the run's live controls (see net/controls.py), None for a run without any."""
    cpu = CpuThreads(spec.threads or None)  # measured before the first batch, while this process is idle
    start = spec.start
    if start is None:
        trainer = Trainer(spec.config, data, extra=spec.extra)
    else:
        model = build_model(start.model)
        model.load_state_dict(start.weights)
        trainer = Trainer(spec.config, data, model=model, history=start.history, optimizer_state=start.optimizer,
                          extra=spec.extra, changes=start.changes)
    if trainer.drawn_count():  # about 3 ms a digit the first time (then cached): say so, not just "loading"
        send(Preparing(f"Drawing {trainer.drawn_count():,} training digits on a canvas, as people draw them "
                       "(about 3 ms each, the first time only) …"))
        trainer.drawn_digits()
    live = spec.live_weights
    send(Started(trainer.batches_per_epoch(), str(trainer.device), f"{socket.gethostname()} pid {os.getpid()}",
                 cpu.threads, weight_images(trainer.model) if live else None))
    last_weights = time.monotonic()
    at_start = layer_weights(trainer.model)
    send(Spread(weight_spread(at_start, trainer.model)))

    def on_progress(progress: Progress) -> None:
        nonlocal last_weights
        weights = None
        if live and time.monotonic() - last_weights >= WEIGHTS_EVERY:
            weights, last_weights = weight_images(trainer.model), time.monotonic()
        send(Report(progress, weights))

    halted = timed_out = False
    began = time.perf_counter()
    deadline = began + spec.max_seconds if spec.max_seconds > 0 else math.inf

    def should_stop() -> bool:  # asked before every batch, in the training thread
        nonlocal halted, timed_out
        cpu.adjust()
        if not halted and (stop_requested() or time.perf_counter() > deadline):
            # Said at once: scoring and saving take a while. A run at its time limit ends as a stopped one
            # (saved), so no run holds the queue longer than the server allows.
            halted, timed_out = True, time.perf_counter() > deadline
            send(Halted())
        return halted

    def halt() -> None:  # paused past the limit: stopped and saved as a run its page left is
        nonlocal halted
        if not halted:
            halted = True
            send(Halted())

    def on_epoch(record) -> None:
        send(EpochDone(record))
        send(Spread(weight_spread(at_start, trainer.model)))

    controls = None
    if receive is not None:
        controls = LiveControls(receive, send, should_stop, halt, spec.pause_seconds, look=spec.looks,
                                planned=list(spec.planned))
        if spec.delay:
            controls.apply(trainer, Control("delay", value=spec.delay))
    trainer.train(spec.epochs, on_progress, should_stop, on_epoch, controls)
    send(Report(None, weight_images(trainer.model) if live else None))  # as trained, whenever it ended
    return RunResult(
        model=trainer.model.config(),
        weights={k: v.detach().cpu() for k, v in trainer.model.state_dict().items()},
        optimizer=_to_cpu(trainer.optimizer.state_dict()), config=trainer.config,
        history=list(trainer.history), device=str(trainer.device),
        seconds=(start.seconds if start else 0.0) + time.perf_counter() - began, stopped=halted,
        timed_out=timed_out, changes=list(trainer.changes))


def start_from_store(store: ModelStore, name: str) -> tuple[StartState, ModelMeta]:
    """A stored model as the start of a run that trains it further, with its metadata."""
    model, meta, optimizer_state = store.load(name)
    return StartState(meta.model, model.state_dict(), optimizer_state, list(meta.history), meta.train_seconds,
                      list(meta.changes)), meta


def save_run(store: ModelStore, result: RunResult, name: str, owner: str = "", model_id: str = "",
             replaces: str | None = None, parent: str = "") -> Path:
    """Save a finished run with its settings, history and final metrics. `owner` is the store's owner
    tag (a keyed hash, never the key); `replaces` (a model id) overwrites only that model."""
    model = build_model(result.model)
    model.load_state_dict(result.weights)
    meta = ModelMeta(
        name=name, model=result.model, config=result.config, history=list(result.history),
        metrics=Metrics.of(result.history),
        parameters=parameter_count(model), device=result.device, train_seconds=result.seconds,
        created=datetime.now(UTC).isoformat(timespec="seconds"), stopped=result.stopped, owner=owner, id=model_id,
        parent=parent, changes=list(result.changes),
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
