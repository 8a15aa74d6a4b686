"""The multilayer perceptron: built from a list of hidden sizes; takes 28x28 images in [0, 1]."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.nn import functional as F

if TYPE_CHECKING:  # only for the annotation: the model file imports torch alone
    import numpy as np

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU}
_ACTIVATION_TYPES = tuple(ACTIVATIONS.values())

# Mean and spread of MNIST training pixels in [0, 1]; the model normalises its own input so that no
# caller can feed it differently from how it was trained.
PIXEL_MEAN = 0.1307
PIXEL_STD = 0.3081


class MLP(nn.Module):
    """784 -> hidden[0] -> ... -> hidden[-1] -> 10, with an activation and optional dropout after each
    hidden layer. Input (N, 28, 28) or (N, 784), float, ink = 1; output logits (N, 10)."""

    def __init__(self, hidden: tuple[int, ...] | list[int] = (256, 128), activation: str = "relu",
                 dropout: float = 0.0) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation '{activation}'; choose one of {', '.join(ACTIVATIONS)}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if any(int(h) < 1 for h in hidden):
            raise ValueError(f"hidden sizes must be positive, got {list(hidden)}")
        self.hidden = tuple(int(h) for h in hidden)
        self.activation = activation
        self.dropout = float(dropout)
        layers: list[nn.Module] = []
        sizes = (28 * 28, *self.hidden)
        for fan_in, fan_out in itertools.pairwise(sizes):
            layers += [nn.Linear(fan_in, fan_out), ACTIVATIONS[activation]()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(sizes[-1], 10))
        self.layers = nn.Sequential(*layers)

    @staticmethod
    def normalise(images: torch.Tensor) -> torch.Tensor:
        """What the first layer takes: pixels (N, 28, 28) or (N, 784) in [0, 1] as (N, 784), standardised."""
        return (images.reshape(images.shape[0], 28 * 28) - PIXEL_MEAN) / PIXEL_STD

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.reshape(images.shape[0], 28 * 28)  # (N, 784)
        first = self.layers[0]
        if x.shape[0] <= first.out_features:  # small batch: normalising the input is cheapest
            return self.layers(self.normalise(x))  # (N, 10)
        # Large batch: the same function and gradients with the normalisation folded into the first
        # layer's weights (H0, 784) and bias (H0,), sparing two passes over N x 784 pixels.
        weight, bias = folded_first_layer(self)
        return self.layers[1:](F.linear(x, weight, bias))  # (N, 10)

    def linear_layers(self) -> list[nn.Linear]:
        return [m for m in self.layers if isinstance(m, nn.Linear)]

    def config(self) -> dict:
        """What it takes to build this network again (see `build_model`)."""
        return {"hidden": list(self.hidden), "activation": self.activation, "dropout": self.dropout}


def folded_first_layer(model: MLP) -> tuple[torch.Tensor, torch.Tensor]:
    """The first layer as it acts on raw ink in [0, 1] (the input normalisation folded in): weights
    (H0, 784) = W / std and bias (H0,) = b - (mean / std) * sum(W), so z = weights @ ink + bias. A
    pixel without ink then contributes exactly 0, which is how a learner reads the first layer."""
    return model.layers[0].weight / PIXEL_STD, folded_first_bias(model)


def folded_first_bias(model: MLP) -> torch.Tensor:
    """folded_first_layer's bias (H0,) alone, without making its weights (H0 x 784)."""
    first = model.layers[0]
    return first.bias - (PIXEL_MEAN / PIXEL_STD) * first.weight.sum(dim=1)


def layer_name(model: MLP, layer: int) -> str:
    """'hidden 1' ... 'hidden L', then 'output' (layer = index of the linear layer, 0 = the first)."""
    return "output" if layer == len(model.hidden) else f"hidden {layer + 1}"


def check_layer(model: MLP, layer: int) -> int:
    """The layer index checked against the network (0 .. number of hidden layers, the last = output)."""
    if not 0 <= layer <= len(model.hidden):
        raise ValueError(f"this network has layers 0-{len(model.hidden)} "
                         f"({len(model.hidden)} hidden and the output); layer {layer} does not exist")
    return layer


def layers_label(hidden: tuple[int, ...] | list[int]) -> str:
    """The network's shape as people write it: '784-256-128-10'."""
    return "-".join(map(str, (28 * 28, *hidden, 10)))


def build_model(config: dict) -> MLP:
    return MLP(hidden=config["hidden"], activation=config["activation"], dropout=config.get("dropout", 0.0))


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """The model in eval mode (dropout off) for the block, then back in the mode it was in: a model in
    training may be looked at between its batches."""
    if not model.training:  # already (a loaded model is): no walk over its modules, twice, per call
        yield model
        return
    model.eval()
    try:
        yield model
    finally:
        model.train(True)


def hidden_and_logits(model: MLP, images: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
    """The output of every hidden layer's activation, [(N, H_i)], and the logits (N, 10), for images
    (N, 28, 28) in [0, 1] on the model's device. The same arithmetic as `MLP.forward` for small batches."""
    x = model.normalise(images)  # (N, 784)
    hidden = []
    for module in model.layers:
        x = module(x)
        if isinstance(module, _ACTIVATION_TYPES):
            hidden.append(x)
    return hidden, x


def layer_sums(model: MLP, images: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """For images (N, 28, 28) in [0, 1]: every layer's weighted sums z and outputs a, [(z (N, H_i),
    a (N, H_i))], the hidden layers then the output layer (whose a is its z: the logits, (N, 10)).
    Dropout is skipped (eval arithmetic), whatever mode the model is in."""
    x = model.normalise(images)  # (N, 784)
    out: list[tuple[torch.Tensor, torch.Tensor]] = []
    z = None
    for module in model.layers:
        if isinstance(module, nn.Linear):
            z = x = module(x)
        elif isinstance(module, _ACTIVATION_TYPES):
            x = module(x)
            out.append((z, x))
    out.append((z, z))
    return out


def weight_images(model: MLP) -> np.ndarray:
    """Each first-layer unit's 784 incoming weights as a 28x28 image, (H0, 28, 28) float32. A positive
    weight is a pixel whose ink excites the unit; a negative one, ink that inhibits it."""
    return model.linear_layers()[0].weight.detach().cpu().reshape(-1, 28, 28).numpy().copy()
