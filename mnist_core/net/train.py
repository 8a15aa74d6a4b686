"""The training loop over whole-set device tensors (optimizer, schedule, augmentation, drawn digits, the
class's extra examples), and a preview of the digits it shows the network."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from mnist_core.net.augment import augment
from mnist_core.net.config import ExtraExamples, TrainConfig
from mnist_core.net.controls import ControlError, LIVE_SETTINGS, LiveControls, SettingChange, UNITS_SHOWN
from mnist_core.net.data import Mnist
from mnist_core.net.device import resolve_device
from mnist_core.net.evaluate import macro_f1, predict_probs
from mnist_core.net.health import dead_share, gradient_norms
from mnist_core.net.history import EpochRecord, Progress
from mnist_core.net.model import MLP
from mnist_core.net.preprocess import as_model_input, as_uint8
from mnist_core.net.step import look_at_step, StepLook
from mnist_core.net.synth import cached_drawn_digits, drawn_digits

REPORT_EVERY = 20  # batches between progress reports: often enough for a live curve, cheap enough to ignore
PROBE = 2048  # training digits on which each epoch counts the hidden units that never change (dead)


@dataclass
class DeviceData:
    """The whole set as tensors on the training device: images float32 (N, 28, 28), labels int64 (N,)."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor

    @classmethod
    def from_mnist(cls, data: Mnist, device: torch.device | str) -> DeviceData:
        def labels(a: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(a.astype(np.int64), device=device)
        return cls(as_model_input(data.train_images, device), labels(data.train_labels),
                   as_model_input(data.test_images, device), labels(data.test_labels))

    @property
    def device(self) -> torch.device:
        return self.train_images.device


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        # The fused kernel updates all parameters in one call: half the per-batch time of a small MLP.
        fused = next(model.parameters()).device.type in ("cpu", "cuda", "mps")
        cls = torch.optim.AdamW if config.weight_decay else torch.optim.Adam
        return cls(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=fused)
    return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                           weight_decay=config.weight_decay, nesterov=config.momentum > 0)


def make_schedule(optimizer: torch.optim.Optimizer, config: TrainConfig, steps: int):
    """A per-batch learning-rate schedule over `steps` batches (a run of more epochs gets a new one)."""
    if config.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=steps)
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    return None


@dataclass(frozen=True)
class Continuation:
    """How Train more goes on from a trained model: its settings for the next run, and that said in words."""

    config: TrainConfig
    text: str


def continue_learning_rate(config: TrainConfig, ended_lr: float | None) -> Continuation:
    """Train more's learning rate: never a schedule restarted at its peak (a one-cycle back at its top lr took
    a model from test F1 0.983 to 0.964, ending below where it began). A constant rate goes on as it was; a
    scheduled run goes on from a tenth of its peak (or where it ended, if higher), cosine down to zero.
    `ended_lr`: the rate the last run ended at (its saved optimizer's), None when unknown."""
    if config.schedule == "constant":
        lr = ended_lr if ended_lr else config.lr
        return Continuation(replace(config, lr=lr), f"continues at lr {lr:.3g}, constant, as the last run ended")
    lr = max(config.lr / 10, ended_lr or 0.0)
    text = (f"continues at lr {lr:.3g}, cosine down to 0 (the last run peaked at {config.lr:.3g}"
            + (f" and ended at {ended_lr:.2g}" if ended_lr is not None else "")
            + "; starting at its peak again would undo what it learned)")
    return Continuation(replace(config, lr=lr, schedule="cosine"), text)


def ended_learning_rate(optimizer_state: dict | None) -> float | None:
    """The learning rate a saved optimizer state was at when its run ended; None without one."""
    groups = (optimizer_state or {}).get("param_groups") or []
    lr = groups[0].get("lr") if groups and isinstance(groups[0], dict) else None
    return float(lr) if isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0 else None


def epoch_seed(seed: int, epoch: int) -> int:
    """Each epoch's randomness (shuffle, dropout) depends only on seed and epoch, so a run continued
    later draws the same numbers as one that never paused."""
    return (seed * 1_000_003 + epoch) % (2**63)


class Trainer:
    """Trains one MLP on one device; `train` can be called again to continue, its history growing."""

    def __init__(self, config: TrainConfig, data: DeviceData | Mnist, model: MLP | None = None,
                 history: list[EpochRecord] | None = None, optimizer_state: dict | None = None,
                 extra: ExtraExamples | None = None, changes: list[SettingChange] | None = None) -> None:
        self.config = config
        self.device = resolve_device(config.device)
        self.data = data if isinstance(data, DeviceData) and data.device == self.device \
            else DeviceData.from_mnist(data, self.device)
        if model is None:
            torch.manual_seed(config.seed)
            model = MLP(config.hidden, config.activation, config.dropout)
            if config.init_scale != 1.0:  # an experiment: start from weights this much larger or smaller
                with torch.no_grad():
                    for layer in model.linear_layers():
                        layer.weight.mul_(config.init_scale)
        self.model = model.to(self.device)
        self.optimizer = make_optimizer(self.model, config)
        if optimizer_state:
            self.optimizer.load_state_dict(optimizer_state)
            # The saved state keeps the learning rate where the last run's schedule left it (and a one-cycle's
            # peak as `initial_lr`, which a new schedule would start from): this run's rate is the config's.
            for group in self.optimizer.param_groups:
                group["lr"] = config.lr
                for key in ("initial_lr", "max_lr", "min_lr"):
                    group.pop(key, None)
        self.history: list[EpochRecord] = list(history or [])
        self.loss_fn = nn.CrossEntropyLoss()
        self._drawn: tuple[torch.Tensor, torch.Tensor] | None = None
        self._shuffled: tuple[torch.Tensor, torch.Tensor] | None = None  # reused: see epoch_data
        self._augmented: torch.Tensor | None = None  # likewise
        self.extra = extra
        self.changes: list[SettingChange] = list(changes or [])  # settings changed live, the whole history's
        self._schedule = None
        self._at: tuple | None = None  # (epoch, batch, batch size, epoch images, labels) before a batch

    def drawn_count(self) -> int:
        """How many training digits are shown drawn: `config.drawn` of the training set."""
        return round(self.config.drawn * len(self.data.train_labels))

    def drawn_digits(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The training digits that are shown drawn (`config.drawn` of them, picked by the seed): their
        indices (K,) and drawings (K, 28, 28) on the device. Made once per trainer (about 3 ms a digit,
        kept in the cache folder of `synth` for the next run); K is 0 when the share is 0."""
        if self._drawn is None:
            n, count = len(self.data.train_labels), self.drawn_count()
            picked = torch.randperm(n, generator=torch.Generator().manual_seed(self.config.seed))[:count]
            picked = picked.sort().values.to(self.device)
            digits = as_uint8(self.data.train_images[picked])
            labels = self.data.train_labels[picked].cpu().numpy()  # with hands, some drawn in people's shapes
            drawings = cached_drawn_digits(digits, self.config.seed, hands=self.config.hands, labels=labels) \
                if count else np.zeros((0, 28, 28))
            self._drawn = picked, torch.as_tensor(drawings, dtype=torch.float32, device=self.device)
        return self._drawn

    @property
    def epochs_done(self) -> int:
        return len(self.history)

    def batches_per_epoch(self) -> int:
        return math.ceil(len(self.data.train_labels) / self.config.batch_size)

    def train(self, epochs: int | None = None,
              on_progress: Callable[[Progress], None] | None = None,
              should_stop: Callable[[], bool] | None = None,
              on_epoch: Callable[[EpochRecord], None] | None = None,
              controls: LiveControls | None = None) -> list[EpochRecord]:
        """Train `epochs` more epochs (default: the config's). A stop request ends the run after the
        current batch; the model keeps what it learned, and the unfinished epoch is recorded as
        an epoch of its own (scored on the whole sets) so the history shows where it ended. `controls`
        (pause, step, slow motion, live settings) are consulted before every batch; without them the
        loop is today's. Returns the records of this run."""
        epochs = epochs or self.config.epochs
        images = self.data.train_images
        self._schedule = make_schedule(self.optimizer, self.config, epochs * self.batches_per_epoch())
        start = time.perf_counter()
        last_epoch = self.epochs_done + epochs
        records = []
        for epoch in range(self.epochs_done + 1, last_epoch + 1):
            if should_stop and should_stop():
                break
            epoch_start = time.perf_counter()
            bs, batches = self.config.batch_size, self.batches_per_epoch()  # a live change acts from here
            epoch_images, epoch_labels = self.epoch_data(epoch)
            torch.manual_seed(epoch_seed(self.config.seed, epoch))  # dropout masks
            self.model.train()
            schedule = self._schedule
            losses: list[torch.Tensor] = []  # detached (1,) tensors: no device sync per batch
            norms: list[list[float]] = []  # gradient sizes at each report: the run's health
            reported = 0
            stopped = False
            for batch in range(batches):
                if controls is not None:
                    self._at = (epoch, batch, bs, epoch_images, epoch_labels)  # what `look` and `change` see
                    if controls.before_batch(self, epoch, batch, batches):
                        stopped = True
                        break
                    # A live change may have re-made the epoch's digits (augmentation) or held the schedule.
                    epoch_images, epoch_labels, schedule = self._at[3], self._at[4], self._schedule
                logits = self.model(epoch_images[batch * bs:(batch + 1) * bs])  # (B, 10)
                loss = self.loss_fn(logits, epoch_labels[batch * bs:(batch + 1) * bs])
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                if schedule is not None:
                    schedule.step()
                losses.append(loss.detach())
                stopped = bool(should_stop and should_stop())
                if batch + 1 - reported >= REPORT_EVERY or batch + 1 == batches or stopped \
                        or (controls is not None and controls.slow):  # slow motion, Step: every batch
                    norms.append(gradient_norms(self.model))  # the gradients of this batch are still there
                    if on_progress:
                        on_progress(Progress(epoch, last_epoch, batch + 1, batches, time.perf_counter() - start,
                                             torch.stack(losses[reported:]).tolist(), norms[-1],
                                             self.optimizer.param_groups[0]["lr"]))
                    reported = batch + 1
                if stopped:
                    break
            if not losses:  # stopped (while paused) before this epoch's first batch: nothing to record
                break
            record = self._score(epoch, torch.stack(losses).mean().item(), epoch_start)
            record.grad_norms = np.mean(norms, axis=0).tolist() if norms else []
            record.dead_share = dead_share(self.model, images[:PROBE])
            record.fraction = len(losses) / batches  # 1.0 unless a Stop cut the epoch short
            self.history.append(record)
            records.append(record)
            if on_epoch:
                on_epoch(record)
            if stopped:
                break
        return records

    # --- live controls (see net/controls.py) -------------------------------------------------
    def current(self, setting: str) -> float:
        """A live setting's value now: the learning rate as the schedule has it at this batch."""
        group = self.optimizer.param_groups[0]
        if setting == "lr":
            return float(group["lr"])
        if setting == "momentum" and self.config.optimizer == "adam":
            return float(group["betas"][0])
        return float(getattr(self.config, setting))

    def change(self, setting: str, value: float, epoch: float) -> SettingChange:
        """Change a setting of this run from its next batch (batch size: from the next epoch); returns the
        change as the history keeps it. A change of the learning rate, momentum or batch size holds the
        learning rate where it is set from then on (the schedule ends: it would overwrite the change).
        Raises ControlError / ConfigError (a ValueError) in words, changing nothing."""
        if setting not in LIVE_SETTINGS:
            raise ControlError(f"'{setting}' cannot change while a run trains")
        value = int(value) if setting == "batch_size" else float(value)
        old = self.current(setting)
        config = replace(self.config, **{setting: value})  # checks the range (ConfigError)
        dropouts = [m for m in self.model.modules() if isinstance(m, nn.Dropout)]
        if setting == "dropout" and (not dropouts or value == 0):
            raise ControlError("dropout can change live between 0.01 and 0.95 in a network built with dropout; "
                               "this one was built without it" if not dropouts else
                               "dropout can go down to 0.01 live, not 0 (the network keeps its dropout layers)")
        groups = self.optimizer.param_groups
        if setting in ("lr", "momentum", "batch_size"):
            lr = value if setting == "lr" else self.current("lr")
            config = replace(config, lr=lr, schedule="constant")
            self._schedule = None
            for group in groups:
                group["lr"] = lr
        for group in groups:
            if setting == "momentum" and self.config.optimizer == "adam":
                group["betas"] = (value, group["betas"][1])
            elif setting in ("momentum", "weight_decay"):
                group[setting] = value
        if setting == "dropout":
            for m in dropouts:
                m.p = value
            self.model.dropout = value
        self.config = config
        if setting == "augment" and self._at is not None:  # the rest of this epoch deformed at the new strength
            epoch, batch, bs, _, _ = self._at
            self._at = (epoch, batch, bs, *self.epoch_data(epoch))
        change = SettingChange(round(epoch, 3), setting, old, float(value))
        self.changes.append(change)
        return change

    def live_settings(self) -> dict:
        """The config's fields that a live change may change, as they are now (the schedule among them)."""
        return {name: getattr(self.config, name) for name in (*LIVE_SETTINGS, "schedule")}

    def look(self, units: tuple[int, ...] = ()) -> StepLook:
        """The step up close for the batch the next step trains on (see net/step.py); only between batches
        of a run with controls."""
        if self._at is None:
            raise ControlError("the step up close is there only while a run is paused between its batches")
        epoch, batch, bs, images, labels = self._at
        return look_at_step(self.model, self.optimizer, images[batch * bs:(batch + 1) * bs],
                            labels[batch * bs:(batch + 1) * bs], self.loss_fn, units, UNITS_SHOWN, epoch, batch)

    def epoch_data(self, epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """What epoch `epoch` shows the network, in its order: images (N, 28, 28) with the drawn digits
        in their originals' places, augmented, and labels (N,). Depends only on the config and epoch. The
        tensors may be buffers that the next call overwrites."""
        images, labels = self.data.train_images, self.data.train_labels
        n = len(labels)
        generator = torch.Generator(device="cpu").manual_seed(epoch_seed(self.config.seed, epoch))
        order = torch.randperm(n, generator=generator).to(self.device)
        # One gather per epoch, then every batch is a view. The gather fills buffers kept from epoch to
        # epoch (why: see `augment`'s `out`), and augmentation writes into a buffer of its own.
        if self._shuffled is None:
            self._shuffled = torch.empty_like(images), torch.empty_like(labels)
        epoch_images = torch.index_select(images, 0, order, out=self._shuffled[0])  # (N, 28, 28)
        epoch_labels = torch.index_select(labels, 0, order, out=self._shuffled[1])  # (N,)
        drawn_index, drawings = self.drawn_digits()  # (K,), (K, 28, 28)
        if len(drawn_index):
            place = torch.empty_like(order)  # place[i]: where training digit i stands in this epoch
            place[order] = torch.arange(n, device=self.device)
            epoch_images[place[drawn_index]] = drawings
        if self.config.augment > 0:  # fresh deformations every epoch, made in big chunks
            deform = torch.Generator(device=self.device).manual_seed(epoch_seed(self.config.seed, epoch))
            if self._augmented is None:
                self._augmented = torch.empty_like(epoch_images)
            epoch_images = augment(epoch_images, self.config.augment, deform, self.config.elastic,
                                   self.config.fill_in, out=self._augmented, hands=self.config.hands)
        if self.extra is not None:
            self._mix_extra(epoch, epoch_images, epoch_labels)
        return epoch_images, epoch_labels

    def _mix_extra(self, epoch: int, images: torch.Tensor, labels: torch.Tensor) -> None:
        """Put `extra.share` of the epoch's places to the extra examples, in place: each example as often
        as the others (give or take one), every copy deformed afresh; the places and copies depend only
        on the seed and epoch."""
        extra, n = self.extra, len(labels)
        count = max(1, round(extra.share * n))
        generator = torch.Generator(device="cpu").manual_seed(epoch_seed(self.config.seed + 1, epoch))
        places = torch.randperm(n, generator=generator)[:count].to(self.device)  # (C,)
        which = (torch.arange(count) % len(extra.labels))[torch.randperm(count, generator=generator)]  # (C,)
        copies = as_model_input(extra.images[which.numpy()], self.device)  # (C, 28, 28)
        deform = torch.Generator(device=self.device).manual_seed(epoch_seed(self.config.seed + 1, epoch))
        images[places] = augment(copies, extra.augment, deform, elastic=True)
        labels[places] = torch.as_tensor(extra.labels[which.numpy()], dtype=labels.dtype, device=self.device)

    def _score(self, epoch: int, loss: float, epoch_start: float) -> EpochRecord:
        d = self.data
        train_preds = predict_probs(self.model, d.train_images).argmax(1).cpu().numpy()
        test_preds = predict_probs(self.model, d.test_images).argmax(1).cpu().numpy()
        test_labels = d.test_labels.cpu().numpy()
        return EpochRecord(
            epoch=epoch, loss=loss,
            train_f1=macro_f1(d.train_labels.cpu().numpy(), train_preds),
            test_f1=macro_f1(test_labels, test_preds),
            test_accuracy=float((test_preds == test_labels).mean()),
            seconds=time.perf_counter() - epoch_start,
        )


def preview(images: np.ndarray, strength: float, seed: int = 0, rounds: int = 2, elastic: bool = True,
            drawn: bool = False, fill_in: bool = False, hands: bool = False,
            labels: np.ndarray | None = None) -> np.ndarray:
    """A few uint8 digits (N, 28, 28), then (if `drawn`) the same digits drawn on a canvas and read back
    as the trainer's drawn digits are (some, with `hands` and their `labels` (N,), in people's shapes), then
    `rounds` deformed copies of the originals, as uint8 (rows, N, 28, 28): what the trainer shows the network
    at this setting."""
    originals = as_model_input(images)
    generator = torch.Generator().manual_seed(seed)
    copies = [originals]
    if drawn:
        copies.append(as_model_input(drawn_digits(np.asarray(images), seed, hands=hands, labels=labels)))
    if strength > 0:
        copies += [augment(originals, strength, generator, elastic, fill_in, hands=hands) for _ in range(rounds)]
    return as_uint8(torch.stack(copies))
