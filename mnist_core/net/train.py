"""The training loop over whole-set device tensors (optimizer, schedule, augmentation, drawn digits, the
class's extra examples), and a preview of the digits it shows the network."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from mnist_core.net.augment import augment
from mnist_core.net.config import ExtraExamples, TrainConfig
from mnist_core.net.data import Mnist
from mnist_core.net.device import resolve_device
from mnist_core.net.evaluate import macro_f1, predict_probs
from mnist_core.net.health import dead_share, gradient_norms
from mnist_core.net.history import EpochRecord, Progress
from mnist_core.net.model import MLP
from mnist_core.net.preprocess import as_model_input, as_uint8
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


def epoch_seed(seed: int, epoch: int) -> int:
    """Each epoch's randomness (shuffle, dropout) depends only on seed and epoch, so a run continued
    later draws the same numbers as one that never paused."""
    return (seed * 1_000_003 + epoch) % (2**63)


class Trainer:
    """Trains one MLP on one device; `train` can be called again to continue, its history growing."""

    def __init__(self, config: TrainConfig, data: DeviceData | Mnist, model: MLP | None = None,
                 history: list[EpochRecord] | None = None, optimizer_state: dict | None = None,
                 extra: ExtraExamples | None = None) -> None:
        self.config = config
        self.device = resolve_device(config.device)
        self.data = data if isinstance(data, DeviceData) and data.device == self.device \
            else DeviceData.from_mnist(data, self.device)
        if model is None:
            torch.manual_seed(config.seed)
            model = MLP(config.hidden, config.activation, config.dropout)
        self.model = model.to(self.device)
        self.optimizer = make_optimizer(self.model, config)
        if optimizer_state:
            self.optimizer.load_state_dict(optimizer_state)
        self.history: list[EpochRecord] = list(history or [])
        self.loss_fn = nn.CrossEntropyLoss()
        self._drawn: tuple[torch.Tensor, torch.Tensor] | None = None
        self._shuffled: tuple[torch.Tensor, torch.Tensor] | None = None  # reused: see epoch_data
        self._augmented: torch.Tensor | None = None  # likewise
        self.extra = extra

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
            drawings = cached_drawn_digits(digits, self.config.seed, hands=self.config.hands) if count \
                else np.zeros((0, 28, 28))
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
              on_epoch: Callable[[EpochRecord], None] | None = None) -> list[EpochRecord]:
        """Train `epochs` more epochs (default: the config's). A stop request ends the run after the
        current batch; the model keeps what it learned, and the unfinished epoch is recorded as
        an epoch of its own (scored on the whole sets) so the history shows where it ended.
        Returns the records of this run."""
        epochs = epochs or self.config.epochs
        images, bs = self.data.train_images, self.config.batch_size
        batches = self.batches_per_epoch()
        schedule = make_schedule(self.optimizer, self.config, epochs * batches)
        start = time.perf_counter()
        last_epoch = self.epochs_done + epochs
        records = []
        for epoch in range(self.epochs_done + 1, last_epoch + 1):
            if should_stop and should_stop():
                break
            epoch_start = time.perf_counter()
            epoch_images, epoch_labels = self.epoch_data(epoch)
            torch.manual_seed(epoch_seed(self.config.seed, epoch))  # dropout masks
            self.model.train()
            losses: list[torch.Tensor] = []  # detached (1,) tensors: no device sync per batch
            norms: list[list[float]] = []  # gradient sizes at each report: the run's health
            reported = 0
            stopped = False
            for batch in range(batches):
                logits = self.model(epoch_images[batch * bs:(batch + 1) * bs])  # (B, 10)
                loss = self.loss_fn(logits, epoch_labels[batch * bs:(batch + 1) * bs])
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                if schedule is not None:
                    schedule.step()
                losses.append(loss.detach())
                stopped = bool(should_stop and should_stop())
                if batch + 1 - reported >= REPORT_EVERY or batch + 1 == batches or stopped:
                    norms.append(gradient_norms(self.model))  # the gradients of this batch are still there
                    if on_progress:
                        on_progress(Progress(epoch, last_epoch, batch + 1, batches, time.perf_counter() - start,
                                             torch.stack(losses[reported:]).tolist(), norms[-1]))
                    reported = batch + 1
                if stopped:
                    break
            record = self._score(epoch, torch.stack(losses).mean().item(), epoch_start)
            record.grad_norms = np.mean(norms, axis=0).tolist()
            record.dead_share = dead_share(self.model, images[:PROBE])
            self.history.append(record)
            records.append(record)
            if on_epoch:
                on_epoch(record)
            if stopped:
                break
        return records

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
            drawn: bool = False, fill_in: bool = False, hands: bool = False) -> np.ndarray:
    """A few uint8 digits (N, 28, 28), then (if `drawn`) the same digits drawn on a canvas and read back
    as the trainer's drawn digits are, then `rounds` deformed copies of the originals, as uint8
    (rows, N, 28, 28): what the trainer shows the network at this setting."""
    originals = as_model_input(images)
    generator = torch.Generator().manual_seed(seed)
    copies = [originals]
    if drawn:
        copies.append(as_model_input(drawn_digits(np.asarray(images), seed, hands=hands)))
    if strength > 0:
        copies += [augment(originals, strength, generator, elastic, fill_in, hands=hands) for _ in range(rounds)]
    return as_uint8(torch.stack(copies))
