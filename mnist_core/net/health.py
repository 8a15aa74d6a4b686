"""The health of a training run: the size of each layer's gradient, the share of hidden units that died, and
each layer's weights as a histogram now against at the start."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mnist_core.net.model import device_of, eval_mode, hidden_and_logits, MLP


def gradient_norms(model: MLP) -> list[float]:
    """The size (L2 norm) of the last gradient of each layer's weights, input layer first; 0 for a
    layer without one. Call between backward() and the next zero_grad()."""
    grads = [layer.weight.grad for layer in model.linear_layers()]
    norms = [torch.linalg.vector_norm(g) if g is not None else torch.zeros((), device=device_of(model)) for g in grads]
    return torch.stack(norms).tolist()  # one device sync for all layers


@torch.inference_mode()
def dead_share(model: MLP, probe: torch.Tensor) -> list[float]:
    """For each hidden layer, the share of its units whose output is the same for every probe image
    (N, 28, 28): a ReLU that never fires, or a tanh/sigmoid stuck at one end. Such units have stopped
    learning: no gradient reaches their weights."""
    with eval_mode(model):
        hidden, _ = hidden_and_logits(model, probe)
    # not (spread > tiny) rather than spread <= tiny: a unit gone to NaN (a diverged run) is dead too.
    return [float((~((h.max(0).values - h.min(0).values) > 1e-6)).float().mean()) for h in hidden]


SPREAD_BINS = 40


@dataclass
class LayerSpread:
    """One linear layer's weights as a histogram, now and at the run's start, over the same bins."""

    name: str  # "784 → 256"
    edges: list[float]  # SPREAD_BINS + 1, symmetric about 0
    start: list[int]  # counts at the start
    now: list[int]


def layer_weights(model: MLP) -> list[torch.Tensor]:
    """Each linear layer's weights, (out, in), detached CPU copies: the start a spread compares with."""
    return [layer.weight.detach().float().cpu().clone() for layer in model.linear_layers()]


def weight_spread(start: list[torch.Tensor], model: MLP, bins: int = SPREAD_BINS) -> list[LayerSpread]:
    """Per layer, histograms of the weights at `start` (from `layer_weights`) and now, over bins symmetric
    about 0 that hold both (a weight beyond them, a diverged run's, counts in the end bin)."""
    spreads = []
    for first, now in zip(start, layer_weights(model), strict=True):
        finite = torch.cat([first.flatten(), now.flatten()])
        finite = finite[torch.isfinite(finite)]
        limit = float(finite.abs().max()) if len(finite) else 1.0
        limit = limit if limit > 0 else 1.0
        edges = torch.linspace(-limit, limit, bins + 1)
        spreads.append(LayerSpread(f"{now.shape[1]} → {now.shape[0]}", edges.tolist(),
                                   _counts(first, bins, limit), _counts(now, bins, limit)))
    return spreads


def _counts(w: torch.Tensor, bins: int, limit: float) -> list[int]:
    w = torch.nan_to_num(w.flatten(), nan=0.0).clamp(-limit, limit)  # a NaN weight counts at 0, beyond at the end
    return torch.histc(w, bins, -limit, limit).long().tolist()
