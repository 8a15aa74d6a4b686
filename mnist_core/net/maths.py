"""The arithmetic of one layer for one digit, number by number: inputs, weights, inputs x weights, bias,
weighted sum z, activation a; for the output layer the softmax steps and the entropy in bits. Numbers only:
the front end (ui.maths_view) writes them out in the reader's language."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from mnist_core.net.model import check_layer, device_of, eval_mode, folded_first_layer, layer_name, layer_sums, MLP
from mnist_core.net.preprocess import as_model_input


@dataclass(frozen=True)
class LayerMaths:
    """One layer's computation for one digit: z = weights @ inputs + bias, a = activation(z).

    For the first layer the inputs are the 784 pixels' ink in [0, 1] (row by row: input i is pixel
    (i // 28, i % 28)) and the weights and bias have the input normalisation folded in, so a blank
    pixel contributes exactly 0. float64 numpy, so the cells add up as printed."""

    layer: int
    name: str  # "hidden 1", "output"
    activation: str  # "relu" ...; "none" for the output layer (its a is z, the logits)
    inputs: np.ndarray  # (n_in,)
    weights: np.ndarray  # (n_out, n_in)
    bias: np.ndarray  # (n_out,)
    z: np.ndarray  # (n_out,)
    a: np.ndarray  # (n_out,)

    @property
    def products(self) -> np.ndarray:
        """inputs x weights, cell by cell, (n_out, n_in): row j sums with bias[j] to z[j]."""
        return self.weights * self.inputs[None, :]

    @property
    def units_on(self) -> int:
        """How many units put out more than 0 (for ReLU: the units that are on)."""
        return int((self.a > 0).sum())


@torch.inference_mode()
def layer_maths(model: MLP, image: np.ndarray, layer: int) -> LayerMaths:
    """The arithmetic of layer `layer` (0 = first hidden, the last = output) for one image (28, 28)."""
    check_layer(model, layer)
    pixels = as_model_input(image, device_of(model))
    with eval_mode(model):
        sums = layer_sums(model, pixels)
    linear = model.linear_layers()[layer]
    if layer == 0:
        weights, bias = folded_first_layer(model)
        inputs = pixels.reshape(784)
    else:
        weights, bias = linear.weight, linear.bias
        inputs = sums[layer - 1][1][0]
    z, a = sums[layer]

    def f64(t: torch.Tensor) -> np.ndarray:
        return t.detach().cpu().numpy().astype(np.float64)

    output = layer == len(model.hidden)
    return LayerMaths(layer, layer_name(model, layer), "none" if output else model.activation,
                      f64(inputs), f64(weights), f64(bias), f64(z[0]), f64(a[0]))


CELL_KINDS = ("input", "weight", "product", "bias", "z", "a", "p")


@dataclass(frozen=True)
class Cell:
    """One cell of a layer's computation: its kind (CELL_KINDS), its unit (the row of weights, products, bias,
    z, a; for "p" the digit) and its input (the column of inputs, weights, products); -1 where a kind has none."""

    kind: str
    unit: int = -1
    input: int = -1


@dataclass(frozen=True)
class CellSources:
    """The cells of the same layer's computation that one cell is computed from. An input that is 0 is left
    out with its weight and product: its product is exactly 0 and adds nothing (`zeros` counts them). Inputs,
    weights and biases themselves come from outside the layer (the layer below, training): they have none."""

    inputs: np.ndarray  # indices into LayerMaths.inputs
    weights: np.ndarray  # (k, 2) [unit, input] cells of LayerMaths.weights
    products: np.ndarray  # (k, 2) [unit, input] cells of LayerMaths.products
    bias: int | None  # the unit whose bias it adds
    z: np.ndarray  # indices into LayerMaths.z
    zeros: int = 0


def _cells(unit: int, inputs: np.ndarray) -> np.ndarray:
    return np.stack([np.full(len(inputs), unit), inputs], axis=1).astype(int) if len(inputs) \
        else np.zeros((0, 2), dtype=int)


def cell_sources(maths: LayerMaths, cell: Cell) -> CellSources:
    """What `cell` comes from: z[j] = the products of row j (its weights x the inputs) + bias[j]; a product
    (j, i) = inputs[i] x weights[j, i]; a[j] = activation(z[j]); p[d] (output layer) = e^z[d] over the sum of
    all ten (its own z[d] is its source; the sum takes the other nine too). Bad cells raise ValueError."""
    n_out, n_in = maths.weights.shape
    if cell.kind not in CELL_KINDS:
        raise ValueError(f"no cell kind {cell.kind!r}: one of {', '.join(CELL_KINDS)}")
    if cell.kind != "input" and not 0 <= cell.unit < n_out:
        raise ValueError(f"{maths.name} has units 0 to {n_out - 1}, not {cell.unit}")
    if cell.kind in ("input", "weight", "product") and not 0 <= cell.input < n_in:
        raise ValueError(f"{maths.name} has inputs 0 to {n_in - 1}, not {cell.input}")
    if cell.kind == "p" and maths.activation != "none":
        raise ValueError(f"{maths.name} is not the output layer: it has no probabilities")
    nothing = np.zeros(0, dtype=int)
    if cell.kind == "z":
        on = np.flatnonzero(maths.inputs != 0)
        row = _cells(cell.unit, on)
        return CellSources(on, row, row, cell.unit, nothing, n_in - len(on))
    if cell.kind == "product":
        return CellSources(np.array([cell.input]), _cells(cell.unit, np.array([cell.input])), _cells(0, nothing),
                           None, nothing)
    if cell.kind in ("a", "p"):
        return CellSources(nothing, _cells(0, nothing), _cells(0, nothing), None, np.array([cell.unit]))
    return CellSources(nothing, _cells(0, nothing), _cells(0, nothing), None, nothing)


@dataclass(frozen=True)
class SoftmaxSteps:
    """p = softmax(z / T), step by step: shifted = z - max(z) (the same p, and e^x never overflows),
    scaled = shifted / T, exp = e^scaled, total = sum(exp), p = exp / total; entropy in bits."""

    z: np.ndarray  # (10,)
    temperature: float
    shifted: np.ndarray
    scaled: np.ndarray
    exp: np.ndarray
    total: float
    p: np.ndarray
    entropy: float


def entropy_bits(p: np.ndarray) -> float:
    """-sum p log2 p over the digits, with 0 log 0 = 0."""
    p = np.asarray(p, dtype=np.float64)
    nz = p[p > 0]
    return float(-(nz * np.log2(nz)).sum()) + 0.0  # + 0.0: never print "-0.00"


def softmax_steps(z: np.ndarray, temperature: float = 1.0) -> SoftmaxSteps:
    if not temperature > 0:
        raise ValueError(f"the temperature must be above 0, got {temperature}")
    z = np.asarray(z, dtype=np.float64)
    shifted = z - z.max()
    scaled = shifted / temperature
    exp = np.exp(scaled)
    total = float(exp.sum())
    p = exp / total
    return SoftmaxSteps(z, float(temperature), shifted, scaled, exp, total, p, entropy_bits(p))
