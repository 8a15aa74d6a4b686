"""The health of a training run: the size of each layer's gradient and the share of hidden units that died."""

from __future__ import annotations

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
