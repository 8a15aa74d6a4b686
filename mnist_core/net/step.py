"""One optimisation step up close: for the batch the next step takes, what the network answers now, the
gradient and the update of a few first-layer units, each layer's update/weight ratio, and the same batch
after the step. Worked out on a copy of the model and its optimizer with the random state the real step
will use, so the copy's step is the real one (a test holds them equal) and the run is not touched."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from mnist_core.net.controls import ControlError
from mnist_core.net.model import eval_mode, MLP

MAX_DIGITS = 256  # digits of a batch the panel shows (and that travel): a batch of 1024 shows its first 256


@dataclass
class LayerStep:
    """One linear layer in one step: the size of its weight gradient and of its update relative to its
    weights (practitioners watch the ratio: around 1e-3 is healthy, 1e-1 is a learning rate too high)."""

    name: str  # "784 → 256"
    grad_norm: float
    update_ratio: float  # ||W_after - W_now|| / ||W_now||


@dataclass
class StepLook:
    """The next step of a run, up close. Digits: the first `len(labels)` of the batch (all, up to MAX_DIGITS)
    as the network sees them after augmentation; units: first-layer units, their weights as 28x28 pictures."""

    epoch: int  # the step is batch `batch` + 1 of this epoch
    batch: int
    batch_size: int  # the whole batch (the digits shown may be fewer)
    lr: float  # the learning rate this step uses
    images: np.ndarray  # uint8 (D, 28, 28)
    labels: np.ndarray  # int (D,)
    answers_now: np.ndarray  # int (D,): the network's answers before the step (dropout off)
    answers_after: np.ndarray  # int (D,): after the step
    loss_now: float  # the whole batch's mean loss, dropout off, before the step
    loss_after: float  # the same after the step
    units: list[int]
    weights_now: np.ndarray  # float32 (U, 28, 28)
    gradient: np.ndarray  # float32 (U, 28, 28)
    weights_after: np.ndarray  # float32 (U, 28, 28)
    change_size: list[float]  # per unit: ||w_after - w_now||
    layers: list[LayerStep]

    @property
    def right_now(self) -> int:
        return int((self.answers_now == self.labels).sum())

    @property
    def right_after(self) -> int:
        return int((self.answers_after == self.labels).sum())


def _batch_loss(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                loss_fn: nn.Module) -> tuple[float, torch.Tensor]:
    with torch.no_grad(), eval_mode(model):
        logits = model(images)  # (B, 10)
        return float(loss_fn(logits, labels)), logits.argmax(1)


def look_at_step(model: MLP, optimizer: torch.optim.Optimizer, images: torch.Tensor, labels: torch.Tensor,
                 loss_fn: nn.Module, units: tuple[int, ...] = (), count: int = 4,
                 epoch: int = 0, batch: int = 0) -> StepLook:
    """The step `optimizer` would take on the batch images (B, 28, 28), labels (B,), without taking it.
    `units`: first-layer units to show (empty: the `count` this step changes most)."""
    first = model.layers[0]
    if any(u >= first.out_features for u in units):
        raise ControlError(f"the first layer has units 0 to {first.out_features - 1}; got {list(units)}")
    twin = copy.deepcopy(model)  # (the optimizer's state follows by parameter order below)
    twin_opt = type(optimizer)(twin.parameters(), **optimizer.defaults)
    twin_opt.load_state_dict(copy.deepcopy(optimizer.state_dict()))  # param groups too: lr, betas as now
    loss_now, answers_now = _batch_loss(model, images, labels, loss_fn)
    device = images.device
    # The real step's dropout masks come from the global generator: draw the same ones here, then put
    # its state back, so that the step taken later draws them again.
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        twin.train(model.training)
        loss = loss_fn(twin(images), labels)
        twin_opt.zero_grad(set_to_none=True)
        loss.backward()
        linear_now = [layer.weight.detach().clone() for layer in twin.linear_layers()]
        grads = [layer.weight.grad.detach().clone() for layer in twin.linear_layers()]
        twin_opt.step()
    loss_after, answers_after = _batch_loss(twin, images, labels, loss_fn)
    after = [layer.weight.detach() for layer in twin.linear_layers()]
    change = (after[0] - linear_now[0]).norm(dim=1)  # (H0,)
    picked = list(units) or change.topk(min(count, len(change))).indices.tolist()
    layers = [LayerStep(f"{w.shape[1]} → {w.shape[0]}", float(g.norm()),
                        float((a - w).norm() / w.norm().clamp_min(1e-12)))
              for w, g, a in zip(linear_now, grads, after, strict=True)]

    def pictures(w: torch.Tensor) -> np.ndarray:
        return w[picked].reshape(len(picked), 28, 28).float().cpu().numpy()

    shown = slice(0, MAX_DIGITS)
    return StepLook(
        epoch=epoch, batch=batch, batch_size=len(labels), lr=float(optimizer.param_groups[0]["lr"]),
        images=(images[shown].clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy(),
        labels=labels[shown].cpu().numpy(), answers_now=answers_now[shown].cpu().numpy(),
        answers_after=answers_after[shown].cpu().numpy(), loss_now=loss_now, loss_after=loss_after,
        units=picked, weights_now=pictures(linear_now[0]), gradient=pictures(grads[0]),
        weights_after=pictures(after[0]), change_size=change[picked].tolist(), layers=layers)
