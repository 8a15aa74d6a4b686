"""Looking inside a trained MLP: weight images, hidden activations, saliency, nearest training digits
and 2-D maps of a layer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.neighbors import NearestNeighbors

from mnist_core.net.evaluate import EVAL_BATCH, predict_probs
from mnist_core.net.model import device_of, eval_mode, hidden_and_logits, MLP
from mnist_core.net.preprocess import as_model_input

# --- weights and activations -------------------------------------------------------------------

@torch.inference_mode()
def activations(model: MLP, image: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """For one 28x28 image (uint8 or [0, 1]): every hidden layer's activations [(H_i,)] and the
    probabilities of the ten digits (10,). Dropout is off (eval mode), as when predicting."""
    with eval_mode(model):
        hidden, logits = hidden_and_logits(model, as_model_input(image, device_of(model)))
    return [h[0].cpu().numpy() for h in hidden], torch.softmax(logits[0], 0).cpu().numpy()


@torch.inference_mode()
def features(model: MLP | None, images: np.ndarray | torch.Tensor, layer: int | None) -> np.ndarray:
    """Many images (N, 28, 28) described as vectors: their pixels in [0, 1] (layer None, (N, 784)) or
    the outputs of hidden layer `layer` (0-based, -1 = the last), (N, H_layer); float32 numpy. One
    image (28, 28) counts as N = 1."""
    if images.ndim == 2:
        images = images[None]
    if layer is None:
        return as_model_input(images).reshape(len(images), 28 * 28).numpy()
    depth = len(model.hidden)
    if not -depth <= layer < depth:
        raise ValueError(f"this network has {depth} hidden layer(s); layer {layer} does not exist")
    device = device_of(model)
    with eval_mode(model):
        parts = [hidden_and_logits(model, as_model_input(images[i:i + EVAL_BATCH], device))[0][layer].cpu()
                 for i in range(0, len(images), EVAL_BATCH)]
    return torch.cat(parts).numpy() if parts else np.zeros((0, model.hidden[layer]), np.float32)


def top_units(hidden: np.ndarray, k: int = 8) -> np.ndarray:
    """Indices of the k units of one layer's activations (H,) that fired most, strongest first."""
    k = min(k, len(hidden))
    return np.argsort(-hidden, kind="stable")[:k]


# --- saliency ----------------------------------------------------------------------------------

def saliency(model: MLP, image: np.ndarray, digit: int) -> np.ndarray:
    """Gradient times input for the logit of `digit`, (28, 28) float32: a pixel's ink times how much
    more ink there would raise the digit's score. Positive: this ink speaks for the digit; negative:
    against it. Pixels without ink get 0 (their ink is 0)."""
    with eval_mode(model):
        pixels = as_model_input(image, device_of(model)).clone().requires_grad_(True)  # (1, 28, 28)
        logit = model(pixels)[0, digit]
        # autograd.grad, not backward(): a model shared by many sessions gets no .grad written into it.
        (gradient,) = torch.autograd.grad(logit, pixels)
    return (gradient * pixels).detach()[0].cpu().numpy()


def occlusion(model: MLP, image: np.ndarray, digit: int, patch: int = 3) -> np.ndarray:
    """How far the probability of `digit` falls when the ink in a patch x patch square centred on each
    pixel is wiped out, (28, 28) float32 in [-1, 1]. Positive: that ink spoke for the digit."""
    if patch < 1:
        raise ValueError(f"patch must be at least 1 pixel, got {patch}")
    pixels = as_model_input(image)[0]  # (28, 28)
    # One copy per pixel with its square wiped: a batch of 784, one forward pass.
    rows = torch.arange(28).reshape(28, 1, 1, 1)
    cols = torch.arange(28).reshape(1, 28, 1, 1)
    low, high = -(patch // 2), patch - patch // 2  # the square's rows/cols relative to its centre pixel
    ys, xs = torch.arange(28).reshape(1, 1, 28, 1), torch.arange(28).reshape(1, 1, 1, 28)
    wiped = ((ys >= rows + low) & (ys < rows + high) & (xs >= cols + low) & (xs < cols + high))  # (28, 28, 28, 28)
    copies = pixels.expand(28, 28, 28, 28).masked_fill(wiped, 0.0).reshape(784, 28, 28)
    base = predict_probs(model, pixels[None])[0, digit].item()
    probs = predict_probs(model, copies)[:, digit].cpu()  # (784,)
    return (base - probs).reshape(28, 28).numpy().astype(np.float32)


# --- nearest training digits -------------------------------------------------------------------

class NearestDigits:
    """The stored vectors (N, D) closest to a query by Euclidean distance: brute force over all of
    them (60,000 x 784 answers in well under 200 ms), so no approximation."""

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.search = NearestNeighbors(algorithm="brute").fit(self.vectors)

    def query(self, vector: np.ndarray, k: int = 8) -> tuple[np.ndarray, np.ndarray]:
        """Indices (k,) of the nearest stored vectors, nearest first, and their distances (k,)."""
        vector = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        if vector.shape[1] != self.vectors.shape[1]:
            raise ValueError(f"query has {vector.shape[1]} values; the index holds {self.vectors.shape[1]}")
        distances, indices = self.search.kneighbors(vector, n_neighbors=min(k, len(self.vectors)))
        return indices[0], distances[0]


def pixel_index(images: np.ndarray) -> NearestDigits:
    """Nearest digits by their pixels in [0, 1]; one per dataset (it does not depend on a model)."""
    return NearestDigits(features(None, images, None))


def hidden_index(model: MLP, images: np.ndarray) -> NearestDigits:
    """Nearest digits as the model's last hidden layer sees them; built once per model (seconds)."""
    return NearestDigits(features(model, images, -1))


# --- maps of a layer ---------------------------------------------------------------------------

METHODS = ("pca", "tsne")


@dataclass
class Projection:
    """Points placed in 2-D from their features; `place` puts a new point on the same map."""

    points: np.ndarray  # (N, 2)
    method: str
    pca: PCA | None = None  # PCA maps new points exactly
    neighbours: NearestDigits | None = None  # t-SNE cannot: a new point goes amid its nearest ones

    def place(self, feature: np.ndarray) -> np.ndarray:
        """Where a new feature vector (D,) lands, (2,). PCA maps it exactly; t-SNE cannot place new
        points, so it goes to the middle of its 5 nearest neighbours on the map."""
        if self.pca is not None:
            return self.pca.transform(np.asarray(feature, dtype=np.float32).reshape(1, -1))[0]
        nearest, _ = self.neighbours.query(feature, 5)
        return self.points[nearest].mean(axis=0)


def project(features: np.ndarray, method: str = "pca", seed: int = 0) -> Projection:
    """A 2-D map of feature vectors (N, D): PCA (at once) or t-SNE (seconds: N of a few thousand)."""
    features = np.asarray(features, dtype=np.float32)
    if method == "pca":
        pca = PCA(n_components=2, random_state=seed)
        return Projection(pca.fit_transform(features), method, pca=pca)
    if method == "tsne":
        # The usual recipe: PCA to at most 50 dimensions first, which keeps the structure and speeds it up.
        reduced = PCA(n_components=min(50, *features.shape), random_state=seed).fit_transform(features) \
            if features.shape[1] > 50 else features
        perplexity = float(min(30, max(2, (len(features) - 1) // 3)))
        points = TSNE(n_components=2, init="pca", perplexity=perplexity, random_state=seed).fit_transform(reduced)
        return Projection(points.astype(np.float32), method, neighbours=NearestDigits(features))
    raise ValueError(f"unknown projection '{method}'; choose one of {', '.join(METHODS)}")


def unit_grid_order(weights: np.ndarray) -> np.ndarray:
    """Units (H, 28, 28) ordered by the size of their weights, largest first: the units that look at
    the digits hardest come first in a grid."""
    return np.argsort(-np.sqrt((weights.reshape(len(weights), -1) ** 2).sum(1)), kind="stable")

