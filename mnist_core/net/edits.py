"""The neuron lab's edits as typed records (per unit: shift bias, scale incoming weights, switch off;
global: temperature, weight noise, pruning), as a file keeps them (ui.lab says them in words)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from mnist_core.texts import N_, worded

# --- the edits ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class ShiftBias:
    """Add `amount` to one unit's bias (layer 0 = first hidden, the last = output)."""

    layer: int
    unit: int
    amount: float


@dataclass(frozen=True)
class ScaleWeights:
    """Multiply one unit's incoming weights by `factor`."""

    layer: int
    unit: int
    factor: float


@dataclass(frozen=True)
class SwitchOff:
    """One unit contributes nothing: a hidden unit's outgoing weights are 0 (and its incoming weights and
    bias, so it shows as idle); an output unit's logit is NEVER, so it is never chosen."""

    layer: int
    unit: int


@dataclass(frozen=True)
class Temperature:
    """Softmax temperature: the logits divided by `value` (> 1 flatter, < 1 sharper; answers unchanged),
    done by dividing the output layer's weights and bias, so the result is still a plain MLP."""

    value: float


@dataclass(frozen=True)
class WeightNoise:
    """Gaussian noise on every layer's weights, its spread `share` of that layer's weight spread, from a
    fixed seed (the same edit list always makes the same network)."""

    share: float
    seed: int = 0


@dataclass(frozen=True)
class Prune:
    """The smallest `share` (0-1) of each layer's weights, by size, set to 0."""

    share: float


Edit = ShiftBias | ScaleWeights | SwitchOff | Temperature | WeightNoise | Prune
# Edits apply in this order, whatever order the list has: noise and pruning first, so neither can wake
# a switched-off unit; temperature last, so it divides the final logits.
ORDER = (WeightNoise, Prune, ShiftBias, ScaleWeights, SwitchOff, Temperature)
KINDS: dict[str, type] = {cls.__name__: cls for cls in ORDER}


def edit_to_dict(edit: Edit) -> dict:
    """An edit as plain JSON values (how a saved model's metadata keeps it)."""
    return {"kind": type(edit).__name__, **asdict(edit)}


def edit_from_dict(values: dict) -> Edit:
    """The edit a dict describes, checked (ValueError in words: a file's metadata is input from anywhere)."""
    if not isinstance(values, dict) or values.get("kind") not in KINDS:
        raise worded(ValueError, N_("not an edit: {value}"), value=f"{values!r:.80}")
    cls = KINDS[values["kind"]]
    args = {k: v for k, v in values.items() if k != "kind"}
    try:
        edit = cls(**args)
    except TypeError as e:
        raise worded(ValueError, N_("edit {kind}: {reason}"), kind=values["kind"], reason=str(e)) from None
    for name, value in args.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise worded(ValueError, N_("edit {kind}: '{name}' is not a number"), kind=values["kind"], name=name)
    return edit
