"""Live controls of a training run, as typed records: a `Control` travels from the server to where the run
trains (a child's pipe, a Ray actor's method) and `LiveControls` consumes them between batches: pause,
resume, one batch, one epoch, a slow-motion delay, and settings changed while it trains. What it does is
told back as typed events (`Paused`, `Resumed`, `Changed`, `Refused`, and the trainer's `StepLook`).

Imports nothing of the engine: the trainer imports it, and the engine's import chains stay short."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

ACTIONS = ("pause", "resume", "step", "epoch", "delay", "set", "look")
# The settings a run takes while it trains, as TrainConfig names them, and as people read them.
LIVE_SETTINGS = {"lr": "lr", "momentum": "momentum", "weight_decay": "weight decay", "dropout": "dropout",
                 "augment": "augmentation", "batch_size": "batch size"}
MAX_DELAY = 2.0  # seconds between batches at the slowest slow motion
POLL = 0.02  # seconds between looks at the control line while paused or slowed: a Resume acts within this
UNITS_SHOWN = 4  # first-layer units the step up close shows unless the learner picks others


def pause_limit() -> float:
    """Seconds a run may stay paused before it is stopped and saved, as a run left by its page is
    (`MNIST_APP_PAUSE_SECONDS`, default 10 minutes): a paused run holds its device while others queue."""
    return float(os.environ.get("MNIST_APP_PAUSE_SECONDS", "600"))


class ControlError(ValueError):
    """A control that cannot be carried out (an unknown action, a value out of range); the message says why."""


@dataclass(frozen=True)
class Control:
    """One thing asked of a running run. `value`: the delay in seconds ("delay") or the setting's new value
    ("set"); `units`: first-layer units to show up close ("look"; empty: those the next batch changes most);
    `at`: for "step" and "epoch" asked of a paused run, the batches it had done in all where the asker saw it
    paused: taken only there, so that a click that arrives twice steps once (None: from wherever it is)."""

    action: str
    setting: str = ""
    value: float = 0.0
    units: tuple[int, ...] = ()
    at: int | None = None

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ControlError(f"unknown control '{self.action}'; one of {', '.join(ACTIONS)}")
        if not isinstance(self.value, (int, float)) or not math.isfinite(self.value):
            raise ControlError(f"a control's value must be a finite number, got {self.value!r}")
        if self.action == "delay" and not 0.0 <= self.value <= MAX_DELAY:
            raise ControlError(f"the slow-motion delay is 0 to {MAX_DELAY:g} seconds, got {self.value:g}")
        if self.action == "set" and self.setting not in LIVE_SETTINGS:
            raise ControlError(f"'{self.setting}' cannot change while a run trains; "
                               f"these can: {', '.join(LIVE_SETTINGS)}")
        if self.at is not None and (not isinstance(self.at, int) or self.at < 0):
            raise ControlError(f"a control's position is a count of batches from 0, got {self.at!r}")
        if any(not isinstance(u, int) or u < 0 for u in self.units):
            raise ControlError(f"units are first-layer unit numbers from 0, got {list(self.units)}")

    @classmethod
    def set(cls, setting: str, value: float) -> Control:
        return cls("set", setting, float(value))


@dataclass(frozen=True)
class SettingChange:
    """A setting changed while the run trained: where (`epoch` as a position in epochs, 2.4 = 40% into the
    third epoch, the chart's x), which, from what to what. Kept in the run's history and the model's file."""

    epoch: float
    setting: str
    old: float
    new: float

    @property
    def label(self) -> str:
        """How a chart's mark and a table say it: 'lr 0.003 → 0.3'."""
        name = LIVE_SETTINGS.get(self.setting, self.setting)
        if self.setting == "batch_size":
            return f"{name} {self.old:g} → {self.new:g} (from the next epoch)"
        return f"{name} {self.old:.3g} → {self.new:.3g}"

    def to_dict(self) -> dict:
        return {"epoch": self.epoch, "setting": self.setting, "old": self.old, "new": self.new}

    @classmethod
    def from_dict(cls, values: dict) -> SettingChange:
        """As a model file keeps it; raises ValueError for a record that is not one."""
        try:
            change = cls(float(values["epoch"]), str(values["setting"]), float(values["old"]), float(values["new"]))
        except (KeyError, TypeError) as e:
            raise ValueError(f"a setting change needs epoch, setting, old and new: {e}") from None
        if not all(math.isfinite(v) for v in (change.epoch, change.old, change.new)):
            raise ValueError("a setting change's numbers must be finite")
        return change


def changes_text(changes: list[SettingChange]) -> str:
    """A saved model's live changes in a line, for the leaderboard and Mistakes: 'lr changed at epoch 2.4
    (0.003 → 0.3); batch size changed at epoch 3.0 (64 → 256)'; "" for a model trained without any."""
    return "; ".join(f"{LIVE_SETTINGS.get(c.setting, c.setting)} changed at epoch {c.epoch:.1f} "
                     f"({c.old:.3g} → {c.new:.3g})" for c in changes)


def batches_done(epoch: int, batch: int, batches: int) -> int:
    """Batches trained in all once `batch` of `epoch` (from 1, `batches` an epoch) are done: where a pause is, as
    the page and the run both count it (a pause at an epoch's end and one before the next's first batch agree)."""
    return (epoch - 1) * batches + batch


@dataclass(frozen=True)
class Paused:
    """The run halted before the batch it would train next: `batch` batches of `epoch` are done."""

    epoch: int
    batch: int
    batches: int

    @property
    def text(self) -> str:
        return f"Paused at epoch {self.epoch}, batch {self.batch} of {self.batches}"

    @property
    def done(self) -> int:
        """Batches trained in all when it paused (a Control's `at`)."""
        return batches_done(self.epoch, self.batch, self.batches)


@dataclass(frozen=True)
class Resumed:
    """The run trains again (running freely, or for the one batch or epoch asked)."""


@dataclass(frozen=True)
class Changed:
    change: SettingChange
    settings: dict  # the run's TrainConfig fields that changed with it (the schedule too), by name


@dataclass(frozen=True)
class Refused:
    text: str  # one line: why a control was not carried out


@dataclass(frozen=True)
class DelaySet:
    seconds: float


class Controllable(Protocol):
    """What `LiveControls` needs of a trainer (net/train.py `Trainer`)."""

    def change(self, setting: str, value: float, epoch: float) -> SettingChange: ...

    def look(self, units: tuple[int, ...]) -> object: ...

    def live_settings(self) -> dict: ...


class LiveControls:
    """Consumes the controls of one run between its batches. `receive(wait)` gives the next control, waiting
    up to `wait` seconds (0: only one that is there), else None; `tell` gets each event; `stop_requested` is
    asked while paused or slowed; `halt` is called when the pause outlived `limit` seconds (the run then
    ends, saved as stopped). `look`: send the step up close (`StepLook`) whenever the run pauses. `planned`:
    controls carried out when the run reaches a position in epochs (an experiment's "raise lr at epoch 2")."""

    def __init__(self, receive: Callable[[float], Control | None], tell: Callable[[object], None],
                 stop_requested: Callable[[], bool] = lambda: False, halt: Callable[[], None] = lambda: None,
                 limit: float | None = None, look: bool = False, clock: Callable[[], float] = time.monotonic,
                 planned: list[tuple[float, Control]] | None = None) -> None:
        self.receive, self.tell, self.stop_requested, self.halt = receive, tell, stop_requested, halt
        self.limit = pause_limit() if limit is None else limit
        self.send_looks, self.clock = look, clock
        self.planned = sorted(planned or [], key=lambda p: p[0])  # (epoch position, control): an experiment's
        self.paused = False
        self.steps: int | None = None  # batches left before pausing again (Step); None: no such count
        self.until_epoch: int | None = None  # pause before the first batch after this epoch (+1 epoch)
        self.delay = 0.0
        self.units: tuple[int, ...] = ()
        self.epoch = self.batch = self.batches = 0  # where the run stands: `batch` batches of `epoch` done

    @property
    def slow(self) -> bool:
        """Slowed down or stepping: each batch is worth a report (the curves move batch by batch)."""
        return self.delay > 0 or self.steps is not None

    @property
    def done(self) -> int:
        """Batches trained in all so far (the `at` of a Step asked here)."""
        return batches_done(self.epoch, self.batch, self.batches)

    @property
    def position(self) -> float:
        """Where the run stands in epochs (2.4: 40% into the third), the x of a chart's mark."""
        return self.epoch - 1 + self.batch / max(self.batches, 1)

    def before_batch(self, trainer: Controllable, epoch: int, batch: int, batches: int) -> bool:
        """Called before batch `batch` (0-based) of `epoch`: carries out what arrived, waits while paused or
        slowed; True: end the run now (a stop while paused, or a pause held past the limit)."""
        self.epoch, self.batch, self.batches = epoch, batch, batches
        self._take(trainer, 0.0)
        while self.planned and self.position >= self.planned[0][0]:
            self.apply(trainer, self.planned.pop(0)[1])
        delay_ends = self.clock() + self.delay if self.delay else None
        paused_since: float | None = None
        while True:
            if self.steps == 0 or (self.until_epoch is not None and epoch > self.until_epoch):
                self.steps = self.until_epoch = None
                self.paused = True
            if self.paused:
                if paused_since is None:
                    paused_since = self.clock()
                    self._tell_paused(trainer)
                if self.stop_requested():
                    return True
                if self.clock() - paused_since > self.limit:
                    self.halt()
                    return True
                self._take(trainer, POLL)
                continue
            if paused_since is not None:  # a Resume, Step or +1 epoch: the delay starts afresh
                paused_since, delay_ends = None, self.clock() + self.delay if self.delay else None
                self.tell(Resumed())
            if delay_ends is not None and (left := delay_ends - self.clock()) > 0:
                if self.stop_requested():
                    return True
                self._take(trainer, min(left, POLL))
                continue
            break
        if self.steps is not None:
            self.steps -= 1
        return False

    def _tell_paused(self, trainer: Controllable) -> None:
        done_epoch, done = (self.epoch - 1, self.batches) if self.batch == 0 and self.epoch > 1 \
            else (self.epoch, self.batch)
        self.tell(Paused(done_epoch, done, self.batches))
        if self.send_looks:
            self._send_look(trainer)

    def _send_look(self, trainer: Controllable) -> None:
        try:
            self.tell(trainer.look(self.units))
        except ControlError as e:
            self.tell(Refused(str(e)))

    def _take(self, trainer: Controllable, wait: float) -> None:
        """Carry out every control that has arrived, waiting up to `wait` seconds for the first."""
        control = self.receive(wait)
        while control is not None:
            self.apply(trainer, control)
            control = self.receive(0.0)

    def apply(self, trainer: Controllable, control: Control) -> None:
        match control.action:
            case "pause":
                self.paused, self.steps, self.until_epoch = True, None, None
            case "resume":
                self.paused, self.steps, self.until_epoch = False, None, None
            case "step" | "epoch" if control.at is not None and (not self.paused or control.at != self.done):
                return  # asked where the run no longer is: the same click again, its step already taken
            case "step":
                self.paused, self.steps, self.until_epoch = False, 1, None
            case "epoch":
                self.paused, self.steps, self.until_epoch = False, None, self.epoch
            case "delay":
                self.delay = control.value
                self.tell(DelaySet(control.value))
            case "look":
                self.units = control.units
                if self.paused:
                    self._send_look(trainer)
            case "set":
                if control.setting in LIVE_SETTINGS and trainer.current(control.setting) == control.value:
                    return  # already so (a click that arrived twice): no change to record or mark
                try:
                    change = trainer.change(control.setting, control.value, self.position)
                    self.tell(Changed(change, trainer.live_settings()))
                except (ControlError, ValueError) as e:  # ConfigError is a ValueError: out of range
                    self.tell(Refused(str(e)))
                    return
                if self.paused and self.send_looks:  # the step up close follows the new setting
                    self._send_look(trainer)
