"""What crosses a run's boundary, wherever it trains: the spec in, the start state, the typed messages
out while it trains, the result at the end."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from mnist_core.net.config import ExtraExamples, TrainConfig
from mnist_core.net.controls import Changed, Control, DelaySet, Paused, Refused, Resumed, SettingChange
from mnist_core.net.health import LayerSpread
from mnist_core.net.history import EpochRecord, Progress
from mnist_core.net.step import StepLook


@dataclass
class StartState:
    """A stored model to train further, as the store that keeps it read it (workers need no disk)."""

    model: dict  # the MLP's own config, see `build_model`
    weights: dict[str, torch.Tensor]
    optimizer: dict
    history: list[EpochRecord]
    seconds: float  # training time before this run
    changes: list[SettingChange] = field(default_factory=list)  # settings changed live in its earlier runs


@dataclass
class RunSpec:
    """What one run needs besides the data: the settings, how many epochs, the start (None: a new model)."""

    config: TrainConfig
    epochs: int
    threads: int = 0  # torch threads; 0: one per CPU that other processes leave free, followed as that changes
    start: StartState | None = None
    live_weights: bool = True  # send the first layer's weights with the progress, for a live view
    extra: ExtraExamples | None = None  # examples mixed into every epoch besides MNIST (a class's drawings)
    max_seconds: float = 0.0  # training time after which the run stops as if asked, and is saved; 0: no limit
    looks: bool = True  # when paused, send the step up close of the next batch (StepLook)
    planned: list[tuple[float, Control]] = field(default_factory=list)  # controls due at epoch positions
    delay: float = 0.0  # slow motion from the first batch (an experiment's)
    pause_seconds: float | None = None  # a pause longer than this stops the run (None: `pause_limit()` where
    # it trains); the server sets it from its own environment, which a fork server or a worker may not share


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
    timed_out: bool = False  # it stopped at the spec's time limit (`stopped` too)
    changes: list[SettingChange] = field(default_factory=list)  # settings changed live, earlier runs' too


# The messages a run sends while it trains, in this order: Preparing? Started (Report | EpochDone)*
# Halted? Report, then the runner's end: Finished or Failed. Live controls add, between batches: Paused,
# Resumed, Changed, Refused, DelaySet, StepLook (the step up close, while paused); Spread once an epoch.
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
class Spread:
    """Each layer's weights now against at the start (Started's, then once an epoch)."""

    layers: list[LayerSpread]


@dataclass
class Finished:
    result: RunResult


@dataclass
class Failed:
    error: str  # one line for the user


Message = (Preparing | Started | Report | Halted | EpochDone | Finished | Failed
           | Paused | Resumed | Changed | Refused | DelaySet | StepLook | Spread)


class ControlLine:
    """The server's end of a run's controls: `put` sends a Control to where the run trains, through whatever
    the runner bound for the run (a child's pipe, a Ray actor's method); between runs there is nobody to tell."""

    def __init__(self) -> None:
        self._send: Callable[[Control], None] | None = None
        self._lock = threading.Lock()  # one sender at a time on a pipe

    def bind(self, send: Callable[[Control], None] | None) -> None:
        with self._lock:
            self._send = send

    def put(self, control: Control) -> bool:
        """Send it; False when no run is there to take it (not started yet, or ended)."""
        with self._lock:
            if self._send is None:
                return False
            try:
                self._send(control)
            except (OSError, EOFError, ValueError):  # the run's end closed the line meanwhile
                return False
            return True


class RunError(RuntimeError):
    """A run failed where it trained (its process or worker died, the training raised); the message says so."""
