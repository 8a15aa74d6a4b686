"""The neuron lab: edits to a network as typed records, applied as a pure function (a new model, the
original untouched); before -> after figures on whole labelled sets at once; switching off the units
that fire most for a digit one by one until its answer changes."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from mnist_core.net.edits import Edit, ORDER, Prune, ScaleWeights, ShiftBias, SwitchOff, Temperature, WeightNoise
from mnist_core.net.evaluate import CONFIDENT, EVAL_BATCH
from mnist_core.net.model import ACTIVATIONS, check_layer, device_of, eval_mode, layer_sums, MLP
from mnist_core.net.preprocess import as_model_input
from mnist_core.texts import N_, worded

# An output unit switched off gets this bias and no weights: its logit is -10,000 whatever the input,
# e^(-10,000) is 0 in float32, so it is never chosen (a finite number, so files and losses stay finite).
NEVER = -1e4


def _check(model: MLP, edits: list[Edit]) -> None:
    depth = len(model.hidden)
    sizes = (*model.hidden, 10)
    off_outputs = set()
    for edit in edits:
        if not isinstance(edit, ORDER):
            raise ValueError(f"not an edit: {edit!r:.80}")
        if isinstance(edit, (ShiftBias, ScaleWeights, SwitchOff)):
            check_layer(model, edit.layer)
            if not 0 <= edit.unit < sizes[edit.layer]:
                if edit.layer == depth:
                    raise worded(ValueError, N_("the output layer has units 0-9; unit {unit} does not exist"),
                                 unit=edit.unit)
                raise worded(ValueError, N_("hidden layer {depth} has units 0-{last}; unit {unit} does not exist"),
                             depth=edit.layer + 1, last=sizes[edit.layer] - 1, unit=edit.unit)
            if isinstance(edit, SwitchOff) and edit.layer == depth:
                off_outputs.add(edit.unit)
        if isinstance(edit, Temperature) and not edit.value > 0:
            raise ValueError(f"the temperature must be above 0, got {edit.value}")
        if isinstance(edit, WeightNoise) and not edit.share >= 0:
            raise ValueError(f"the noise share must be 0 or more, got {edit.share}")
        if isinstance(edit, Prune) and not 0 <= edit.share <= 1:
            raise ValueError(f"the pruned share must be in 0-1 (0-100%), got {edit.share}")
    if len(off_outputs) == 10:
        raise worded(ValueError, N_("all ten outputs switched off: at least one digit must be left to answer"))


@torch.no_grad()
def apply_edits(model: MLP, edits: list[Edit]) -> MLP:
    """A new model: a copy of `model` with `edits` applied in ORDER (within a kind, in list order). The
    original is not touched. Raises ValueError, in words, for an edit that does not fit the network."""
    _check(model, edits)
    edited = copy.deepcopy(model).eval()
    linears = edited.linear_layers()
    depth = len(edited.hidden)
    for kind in ORDER:
        for edit in (e for e in edits if isinstance(e, kind)):
            if isinstance(edit, WeightNoise):
                generator = torch.Generator().manual_seed(int(edit.seed))
                for layer in linears:
                    w = layer.weight
                    noise = torch.randn(w.shape, generator=generator) * (edit.share * float(w.std()))
                    w += noise.to(w)
            elif isinstance(edit, Prune):
                for layer in linears:
                    w = layer.weight.reshape(-1)
                    count = int(round(edit.share * len(w)))
                    if count:
                        w[torch.argsort(w.abs(), stable=True)[:count]] = 0.0
            elif isinstance(edit, ShiftBias):
                linears[edit.layer].bias[edit.unit] += edit.amount
            elif isinstance(edit, ScaleWeights):
                linears[edit.layer].weight[edit.unit] *= edit.factor
            elif isinstance(edit, SwitchOff):
                layer = linears[edit.layer]
                layer.weight[edit.unit] = 0.0
                layer.bias[edit.unit] = NEVER if edit.layer == depth else 0.0
                if edit.layer < depth:
                    linears[edit.layer + 1].weight[:, edit.unit] = 0.0  # what it sends on: nothing
            elif isinstance(edit, Temperature):
                linears[-1].weight /= edit.value
                linears[-1].bias /= edit.value
    return edited


# --- figures before -> after -------------------------------------------------------------------

@dataclass(frozen=True)
class Figures:
    """A model on one labelled set: accuracy, mean cross-entropy loss, mean probability of its answers,
    and how many errors it made with more than CONFIDENT probability."""

    count: int
    accuracy: float
    loss: float
    mean_confidence: float
    confident_errors: int


@torch.inference_mode()
def figures(model: MLP, images: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray,
            batch_size: int = EVAL_BATCH) -> Figures:
    """The figures from batched passes. Pass images as a float tensor (N, 28, 28) in [0, 1] prepared
    once (`as_model_input`) when scoring many edits on one set: then nothing but the network runs."""
    labels = torch.as_tensor(labels.cpu() if isinstance(labels, torch.Tensor) else np.asarray(labels)).to(torch.int64)
    n = len(labels)
    if n == 0:
        return Figures(0, 0.0, 0.0, 0.0, 0)
    device = device_of(model)
    right = loss = confidence = 0.0
    confident_errors = 0
    with eval_mode(model):
        for start in range(0, n, batch_size):
            logits = model(as_model_input(images[start:start + batch_size], device))  # (B, 10)
            truth = labels[start:start + batch_size].to(device)
            log_p = F.log_softmax(logits, 1)
            p_max, answer = log_p.max(1)
            p_max = p_max.exp()
            wrong = answer != truth
            right += float((~wrong).sum())
            loss += float(F.nll_loss(log_p, truth, reduction="sum"))
            confidence += float(p_max.sum())
            confident_errors += int((wrong & (p_max > CONFIDENT)).sum())
    return Figures(n, right / n, loss / n, confidence / n, confident_errors)


@dataclass(frozen=True)
class Answer:
    digit: int
    probability: float


@torch.inference_mode()
def answers(model: MLP, image: np.ndarray) -> Answer:
    """The model's answer for one image (28, 28) and its probability."""
    with eval_mode(model):
        probs = torch.softmax(model(as_model_input(image, device_of(model)))[0], 0)
    return Answer(int(probs.argmax()), float(probs.max()))


@dataclass(frozen=True)
class BeforeAfter:
    """Each named set's figures before and after the edits, and (when a digit was given) its answer."""

    before: dict[str, Figures]
    after: dict[str, Figures]
    answer_before: Answer | None = None
    answer_after: Answer | None = None


def before_after(original: MLP, edited: MLP, sets: dict[str, tuple[torch.Tensor | np.ndarray, np.ndarray]],
                 image: np.ndarray | None = None) -> BeforeAfter:
    """Both models on every set (e.g. {"MNIST test": ..., "our handwriting": ...}) and on one digit."""
    return BeforeAfter({k: figures(original, *v) for k, v in sets.items()},
                       {k: figures(edited, *v) for k, v in sets.items()},
                       None if image is None else answers(original, image),
                       None if image is None else answers(edited, image))


# --- switching off until the answer changes ----------------------------------------------------

@dataclass(frozen=True)
class KnockStep:
    """After switching off `unit` (and every unit before it in the sequence): the answer and its probability."""

    unit: int
    activation: float  # what the unit put out for the digit before anything was switched off
    digit: int
    probability: float


@dataclass(frozen=True)
class Knockout:
    layer: int
    digit_before: int
    steps: list[KnockStep]  # in order; the last one changed the answer when `changed`

    @property
    def changed(self) -> bool:
        return bool(self.steps) and self.steps[-1].digit != self.digit_before

    @property
    def edits(self) -> list[SwitchOff]:
        return [SwitchOff(self.layer, s.unit) for s in self.steps]


@torch.inference_mode()
def knock_out_until_change(model: MLP, image: np.ndarray, layer: int | None = None,
                           edits: list[Edit] | None = None) -> Knockout:
    """Switch off the units of one hidden layer (default the last) that fire most for this digit, most
    first, one more each step, until the answer changes (or the layer's active units are all off). Every
    step is one row of a single batch: the layer's outputs with the first 1, 2, ... of them zeroed, sent
    through the layers above (the same arithmetic as SwitchOff). `edits` are applied first."""
    network = apply_edits(model, edits or [])
    depth = len(network.hidden)
    layer = depth - 1 if layer is None else layer
    if not 0 <= layer < depth:
        raise worded(ValueError, N_("switching off runs over a hidden layer: 0-{last}, not {layer}"), last=depth - 1,
                     layer=layer)
    pixels = as_model_input(image, device_of(network))
    sums = layer_sums(network, pixels)
    a = sums[layer][1][0]  # (H,)
    before = int(sums[-1][0][0].argmax())
    order = torch.argsort(a, descending=True, stable=True)
    order = order[a[order] > 0]  # only units that fire: switching off a silent one changes nothing
    if len(order) == 0:
        return Knockout(layer, before, [])
    # Row s switches off the first s + 1 units of the order: rank_of[u] is u's place in it (H for a
    # unit not in it), and row s keeps the units placed after s. mask (S, H).
    rank_of = torch.full((len(a),), len(a), dtype=torch.int64, device=a.device)
    rank_of[order] = torch.arange(len(order), device=a.device)
    mask = (rank_of[None, :] > torch.arange(len(order), device=a.device)[:, None]).to(a.dtype)
    x = a[None] * mask  # (S, H)
    linears = network.linear_layers()
    activation = ACTIVATIONS[network.activation]()
    for i in range(layer + 1, depth + 1):
        x = linears[i](x)
        if i < depth:
            x = activation(x)
    probs = torch.softmax(x, 1)  # (S, 10)
    steps = []
    for s, unit in enumerate(order.tolist()):
        digit = int(probs[s].argmax())
        steps.append(KnockStep(unit, float(a[unit]), digit, float(probs[s, digit])))
        if digit != before:
            break
    return Knockout(layer, before, steps)
