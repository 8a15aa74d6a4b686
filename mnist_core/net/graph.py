"""The whole network for one digit as a node-link picture's data (nodes lit by activation, the strongest
edges), and what every unit fires for on the test set (unit profiles)."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from mnist_core.net.evaluate import EVAL_BATCH
from mnist_core.net.model import device_of, eval_mode, folded_first_bias, layer_name, layer_sums, MLP, PIXEL_STD
from mnist_core.net.preprocess import as_model_input

MAX_NODES = 64  # a layer wider than this shows its most active units, and says how many there are
MAX_EDGES = 150  # per connection between two layers: the strongest contributions only
PUSH, HOLD_BACK = "push", "hold back"


# Node and Edge are named tuples, not frozen dataclasses: the Draw page makes ~300 of them on every stroke, and a
# frozen dataclass's __init__ cost 2.5 times as much.
class Node(NamedTuple):
    """One unit for one digit: its layer (0 = first hidden), its index in that layer, weighted sum z, bias
    and output a (for the output layer a is the probability)."""

    layer: int
    unit: int
    z: float
    bias: float
    a: float


class Edge(NamedTuple):
    """A contribution from a unit (or a pixel, for layer 0: index row * 28 + col) in the layer below to a
    unit in `layer`: the source's output times the weight between them. Positive pushes the unit up."""

    layer: int
    source: int
    target: int
    contribution: float

    @property
    def sign(self) -> str:
        return PUSH if self.contribution >= 0 else HOLD_BACK


@dataclass(frozen=True)
class GraphLayer:
    layer: int
    name: str  # "hidden 1", "output"
    size: int  # units in the layer
    nodes: list[Node]  # those shown: all, or the MAX_NODES most active, in unit order

    @property
    def hidden_count(self) -> int:
        """Units not shown (the layer has more than MAX_NODES)."""
        return self.size - len(self.nodes)


@dataclass(frozen=True)
class NetworkGraph:
    """One digit through the whole network: the input (28, 28) ink in [0, 1], each layer's shown nodes,
    the strongest edges into each layer (edges[i] ends in layers[i]), and the probabilities (10,)."""

    image: np.ndarray
    layers: list[GraphLayer]
    edges: list[list[Edge]]
    probs: np.ndarray

    @property
    def digit(self) -> int:
        return int(self.probs.argmax())


@torch.inference_mode()
def network_graph(model: MLP, image: np.ndarray, max_nodes: int = MAX_NODES,
                  max_edges: int = MAX_EDGES) -> NetworkGraph:
    """The node-link data for one 28x28 image (uint8 or [0, 1]). Edges are chosen among the shown nodes
    only (an edge to a unit not drawn could not be drawn); the first layer's come from inked pixels
    (with the normalisation folded into its weights, a blank pixel contributes exactly 0)."""
    pixels = as_model_input(image, device_of(model))  # (1, 28, 28)
    with eval_mode(model):
        sums = layer_sums(model, pixels)
    depth = len(model.hidden)
    probs = torch.softmax(sums[-1][0][0], 0)
    # The choosing in numpy, on the host: a few hundred numbers a layer, where a torch call's own overhead cost
    # more than its arithmetic (Draw builds this on every stroke).
    outs = [a[0].cpu().numpy() for _, a in sums[:-1]] + [probs.cpu().numpy()]  # [(H_i,)], then (10,)
    zs = [z[0].cpu().numpy() for z, _ in sums]
    weights, biases = _host_layers(model)  # [(H_i, H_i-1)] (the first as stored, (H0, 784)), [(H_i,)] (folded)
    ink = pixels.reshape(784).cpu().numpy()
    layers, shown_units = [], []
    for i, (z, a) in enumerate(zip(zs, outs, strict=True)):
        if i < depth and len(a) > max_nodes:
            shown = np.sort(np.argpartition(-a, max_nodes - 1)[:max_nodes])  # the most active, in unit order
        else:
            shown = np.arange(len(a))
        # Plain lists first: indexing an array one number at a time cost more than the forward pass.
        units, zu, bu, au = shown.tolist(), z[shown].tolist(), biases[i][shown].tolist(), a[shown].tolist()
        layers.append(GraphLayer(i, layer_name(model, i), len(a), [
            Node(i, *node) for node in zip(units, zu, bu, au, strict=True)]))
        shown_units.append(shown)
    edges = []
    for i in range(depth + 1):
        targets = shown_units[i]
        below = ink if i == 0 else outs[i - 1]
        # Only sources that contribute: a pixel without ink (a digit inks ~20% of them) or a silent unit adds
        # exactly 0 and could not be an edge; the first layer's weights gathered for those columns alone.
        candidates = np.arange(784) if i == 0 else shown_units[i - 1]
        sources = candidates[below[candidates] != 0]
        # The first layer's normalisation folded in on the gathered part: (W / std) x ink = W x (ink / std).
        scale = below[sources] / np.float32(PIXEL_STD) if i == 0 else below[sources]
        contrib = weights[i][np.ix_(targets, sources)] * scale  # (shown_i, contributing sources)
        flat = contrib.reshape(-1)
        k = min(max_edges, len(flat))
        top = np.argpartition(-np.abs(flat), k - 1)[:k] if k < len(flat) else np.arange(len(flat))
        top = top[np.argsort(-np.abs(flat[top]), kind="stable")]  # strongest first
        top = top[flat[top] != 0]  # a weight of exactly 0 contributes nothing: no edge
        count = len(sources)
        edges.append([Edge(i, *edge) for edge in zip(sources[top % count].tolist(), targets[top // count].tolist(),
                                                     flat[top].tolist(), strict=True)])
    return NetworkGraph(pixels[0].cpu().numpy(), layers, edges, outs[-1])


def _host_layers(model: MLP) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Every linear layer's weights and bias as float32 numpy arrays on the host, the first bias with the input's
    normalisation folded in (folded_first_bias; the first weights as stored, folded where used): made once per
    version of the weights (an optimizer step or a loaded state bumps a tensor's `_version`), as Draw needs them
    on every stroke."""
    linears = model.linear_layers()
    key = tuple((p, p._version) for linear in linears for p in (linear.weight, linear.bias))
    kept = _HOST.get(linears[0])
    if kept is None or len(kept[0]) != len(key) or any(
            a is not b or u != v for (a, u), (b, v) in zip(kept[0], key, strict=True)):
        bias = [folded_first_bias(model)] + [linear.bias for linear in linears[1:]]
        # On the CPU views of the tensors, no copy: a folded copy of the first weights (H0 x 784) was another
        # 1.6 MB for every stroke to pull through the cache after the forward pass had read the stored ones.
        kept = _HOST[linears[0]] = (key, [linear.weight.detach().cpu().numpy() for linear in linears],
                                    [b.detach().cpu().numpy() for b in bias])
    return kept[1], kept[2]


_HOST: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # a model's entry (by its first layer) goes with it


@dataclass(frozen=True)
class UnitProfiles:
    """What each unit fires for on a labelled set, per layer (0 = first hidden, last = output, whose
    activation is its logit): mean output per true digit means[l] (H_l, 10), and the indices of its
    8 most-activating images top[l] (H_l, 8), most first, with those outputs top_values[l] (H_l, 8)."""

    means: list[np.ndarray]
    top: list[np.ndarray]
    top_values: list[np.ndarray]

    def favourite_digits(self, layer: int, unit: int) -> np.ndarray:
        """The digits ordered by the unit's mean output on them, most first, (10,)."""
        return np.argsort(-self.means[layer][unit], kind="stable")


@torch.inference_mode()
def unit_profiles(model: MLP, images: np.ndarray | torch.Tensor, labels: np.ndarray, k: int = 8,
                  batch_size: int = EVAL_BATCH) -> UnitProfiles:
    """Every unit's mean output per digit and its k most-activating images, from batched passes over
    images (N, 28, 28): the running sums per digit and a running top-k per unit, never all N x H at once
    beyond one batch. Computed once per model (well under a second for the 10,000 test digits)."""
    labels_t = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
    if len(labels_t) == 0:
        raise ValueError("no images to profile the units on")
    device = device_of(model)
    sums: list[torch.Tensor] | None = None
    best_values: list[torch.Tensor] = []
    best_index: list[torch.Tensor] = []
    with eval_mode(model):
        for start in range(0, len(labels_t), batch_size):
            batch = as_model_input(images[start:start + batch_size], device)
            onehot = torch.nn.functional.one_hot(labels_t[start:start + batch_size], 10).to(device, torch.float32)
            outputs = [a for _, a in layer_sums(model, batch)]  # [(B, H_l)]
            if sums is None:
                sums = [torch.zeros(a.shape[1], 10, device=device) for a in outputs]
                best_values = [torch.full((a.shape[1], 0), -torch.inf, device=device) for a in outputs]
                best_index = [torch.zeros((a.shape[1], 0), dtype=torch.int64, device=device) for a in outputs]
            index = torch.arange(start, start + len(batch), device=device)
            for layer, a in enumerate(outputs):
                sums[layer] += a.T @ onehot  # (H, 10)
                values = torch.cat([best_values[layer], a.T], 1)  # (H, kept + B)
                indices = torch.cat([best_index[layer], index.expand(a.shape[1], -1)], 1)
                kept = torch.topk(values, min(k, values.shape[1]), dim=1)
                best_values[layer] = kept.values
                best_index[layer] = torch.gather(indices, 1, kept.indices)
    counts = torch.bincount(labels_t, minlength=10).clamp(min=1).to(device, torch.float32)  # (10,)
    return UnitProfiles([(s / counts).cpu().numpy() for s in sums], [i.cpu().numpy() for i in best_index],
                        [v.cpu().numpy() for v in best_values])
