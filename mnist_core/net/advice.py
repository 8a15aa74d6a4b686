"""The health of a run in words: a few plain rules over its history and batch losses, each warning saying what
it saw in numbers and offering one-click fixes that are live controls (net/controls.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from mnist_core.net.config import TrainConfig
from mnist_core.net.controls import Control
from mnist_core.net.history import EpochRecord
from mnist_core.texts import N_

JUMPED = 10.0  # a batch's loss this many times the run's first: thrown far past where it started
RECOVERED = 0.5  # ... until the loss falls below half the first: it learns again
ROSE = 1.5  # the loss of the latest stretch of batches this many times its best earlier stretch: rising
OVERFIT_GAP = 0.02  # train F1 this far above test F1 (2 points): learning the training digits by heart
FLAT = 0.02  # an epoch's loss within 2% of the one before, while still above FLAT_ABOVE: stuck
FLAT_ABOVE = 0.1
DEAD = 0.5  # half a layer's units dead


@dataclass(frozen=True)
class Fix:
    label: str  # the button: "divide the learning rate by 3"
    control: Control
    template: str = ""  # the label's English template (marked N_), for the app to translate
    params: dict = field(default_factory=dict)  # its raw numbers


@dataclass(frozen=True)
class HealthWarning:
    kind: str  # "diverging", "jumped", "rising", "dead", "overfitting", "flat"
    text: str  # what it saw, in numbers, and what it means
    fixes: tuple[Fix, ...] = ()
    template: str = ""  # `text`'s English template (marked N_), for the app to translate with `params`
    params: dict = field(default_factory=dict)  # its raw numbers (the app writes them its language's way)


def _lr_fix(lr: float, factor: float) -> Fix:
    new = float(f"{min(max(lr * factor, 1e-6), 10.0):.3g}")  # 0.3, not 0.30000000000000004
    if factor < 1:
        template, by = N_("divide the learning rate by {factor} ({old} → {new})"), 1 / factor
    else:
        template, by = N_("multiply the learning rate by {factor} ({old} → {new})"), factor
    label = template.format(factor=f"{by:g}", old=f"{lr:.3g}", new=f"{new:.3g}")
    return Fix(label, Control.set("lr", new), template, {"factor": by, "old": lr, "new": new})


def _number(value: float) -> str:
    """2,067 rather than 2.07e+03; 0.412 as it is."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _jump(losses: np.ndarray, batches_per_epoch: int) -> int | None:
    """The batch (from 0) of the run's highest loss when it is JUMPED times the run's first loss and the loss has
    not come down since (its last stretch of batches still above RECOVERED times the first), else None. A loss
    that fell back to 2.30 after the jump is a network that guesses, not one that recovered: the warning stays
    until it learns (after a fix), however many epochs later that is."""
    if len(losses) < 2:
        return None
    peak = int(losses.argmax())
    if losses[peak] <= JUMPED * losses[0]:
        return None
    window = max(10, batches_per_epoch // 4)
    since = losses[max(peak + 1, len(losses) - window):]
    return peak if not len(since) or since.mean() > RECOVERED * losses[0] else None


def health_warnings(history: list[EpochRecord], batch_losses: list[float], batches_per_epoch: int,
                    config: TrainConfig, lr: float) -> list[HealthWarning]:
    """What looks wrong with a run now. `batch_losses`: every batch's loss so far, `lr`: the learning rate it
    trains at now (a schedule's current value), `config`: its settings now."""
    warnings: list[HealthWarning] = []
    losses = np.asarray(batch_losses, dtype=float)
    bad = np.flatnonzero(~np.isfinite(losses))
    window = max(10, batches_per_epoch // 4)
    if len(bad):
        warnings.append(HealthWarning(
            "diverging", f"The loss became {losses[bad[0]]} at batch {bad[0] + 1:,}: the steps are so large that "
            "the weights overflowed. The learning rate is too high.", (_lr_fix(lr, 1 / 3), _lr_fix(lr, 1 / 10)),
            N_("The loss became {loss} at batch {batch}: the steps are so large that the weights overflowed. The "
               "learning rate is too high."), {"loss": float(losses[bad[0]]), "batch": int(bad[0]) + 1}))
    elif (peak := _jump(losses, batches_per_epoch)) is not None:
        warnings.append(HealthWarning(
            "jumped", f"The loss jumped to {_number(losses[peak])} at batch {peak + 1:,}, "
            f"{losses[peak] / losses[0]:,.0f} times the {losses[0]:.3g} it started at: the steps are so large "
            "that they throw the weights far away. The learning rate is too high.",
            (_lr_fix(lr, 1 / 3), _lr_fix(lr, 1 / 10)),
            N_("The loss jumped to {loss} at batch {batch}, {times} times the {start} it started at: the steps are "
               "so large that they throw the weights far away. The learning rate is too high."),
            {"loss": float(losses[peak]), "batch": peak + 1, "times": float(losses[peak] / losses[0]),
             "start": float(losses[0])}))
    elif len(losses) >= 3 * window:
        recent = losses[-window:].mean()
        earlier = losses[: len(losses) - window]
        best = min(earlier[i:i + window].mean() for i in range(0, len(earlier) - window + 1, window))
        if recent > ROSE * best and recent > best + 0.1:
            warnings.append(HealthWarning(
                "rising", f"The loss rose from {best:.3g} to {recent:.3g} over the last {window} batches: the "
                "steps overshoot. The learning rate is too high.", (_lr_fix(lr, 1 / 3),),
                N_("The loss rose from {best} to {recent} over the last {window} batches: the steps overshoot. The "
                   "learning rate is too high."), {"best": float(best), "recent": float(recent), "window": window}))
    last = history[-1] if history else None
    if last is not None:
        for i, share in enumerate(last.dead_share):
            if share >= DEAD:
                size = config.hidden[i] if i < len(config.hidden) else 0
                warnings.append(HealthWarning(
                    "dead", f"{share:.0%} of hidden layer {i + 1}'s {size} units gave the same output for every "
                    "probed training digit: they are dead and learn no more (often after steps too large).",
                    (_lr_fix(lr, 1 / 3),),
                    N_("{share} of hidden layer {layer}'s {size} units gave the same output for every probed training "
                       "digit: they are dead and learn no more (often after steps too large)."),
                    {"share": float(share), "layer": i + 1, "size": size}))
        gap = last.train_f1 - last.test_f1
        if gap >= OVERFIT_GAP:
            fixes = []
            if config.dropout > 0:
                new = min(round(config.dropout + 0.2, 2), 0.9)
                fixes.append(Fix(f"more dropout ({config.dropout:g} → {new:g})", Control.set("dropout", new),
                                 N_("more dropout ({old} → {new})"), {"old": config.dropout, "new": new}))
            new_aug = min(round(config.augment + 0.3, 2), 2.0)
            if new_aug > config.augment:
                fixes.append(Fix(f"more augmentation ({config.augment:g} → {new_aug:g})",
                                 Control.set("augment", new_aug), N_("more augmentation ({old} → {new})"),
                                 {"old": config.augment, "new": new_aug}))
            warnings.append(HealthWarning(
                "overfitting", f"Train F1 {last.train_f1:.3f} is {gap * 100:.1f} points above test F1 "
                f"{last.test_f1:.3f}: it learns the training digits by heart rather than digits.", tuple(fixes),
                N_("Train F1 {train_f1} is {points} points above test F1 {test_f1}: it learns the training digits "
                   "by heart rather than digits."),
                {"train_f1": float(last.train_f1), "points": float(gap * 100), "test_f1": float(last.test_f1)}))
    if len(history) >= 2:
        before, now = history[-2].loss, history[-1].loss
        if math.isfinite(before) and math.isfinite(now) and now > FLAT_ABOVE \
                and abs(now - before) <= FLAT * before:
            warnings.append(HealthWarning(
                "flat", f"The loss stayed flat for an epoch ({before:.3g} → {now:.3g}, "
                f"{abs(now - before) / before:.1%}) while still above {FLAT_ABOVE:g}: the steps may be too small.",
                (_lr_fix(lr, 3.0),),
                N_("The loss stayed flat for an epoch ({before} → {now}, {change}) while still above {floor}: the "
                   "steps may be too small."),
                {"before": float(before), "now": float(now), "change": float(abs(now - before) / before),
                 "floor": FLAT_ABOVE}))
    return warnings
