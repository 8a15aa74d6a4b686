"""Looking inside a trained MLP: weight images, hidden activations, saliency, nearest training digits
and 2-D maps of a layer."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import torch

from mnist_core.net.evaluate import EVAL_BATCH, predict_probs
from mnist_core.net.model import device_of, eval_mode, hidden_and_logits, MLP
from mnist_core.net.preprocess import as_model_input

if TYPE_CHECKING:
    from sklearn.decomposition import PCA

# scikit-learn is imported by the first map or nearest-digit search, not with this module: with it, every app
# server paid ~1 CPU s at its start for views few open. One thread imports it at a time: two script threads
# importing scikit-learn at once stopped with importlib's _DeadlockError (ui/startup.py).
_SKLEARN_IMPORT = threading.Lock()


def _sklearn() -> tuple[type, type, type]:
    """scikit-learn's PCA, TSNE and NearestNeighbors."""
    with _SKLEARN_IMPORT:
        from sklearn.decomposition import PCA
        from sklearn.manifold import TSNE
        from sklearn.neighbors import NearestNeighbors
    return PCA, TSNE, NearestNeighbors

T = TypeVar("T")

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
    them (60,000 x 784 answers in well under 200 ms), so no approximation in the space stored. `reduce`
    (a fitted PCA) maps a query into that space when the vectors were reduced (a layer wider than
    MAX_INDEX_DIMS: `hidden_index`)."""

    def __init__(self, vectors: np.ndarray, reduce: PCA | None = None) -> None:
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.reduce = reduce
        self.search = _sklearn()[2](algorithm="brute").fit(self.vectors)

    @property
    def nbytes(self) -> int:
        """What it holds in memory (the vectors; the reduction's components when there is one)."""
        return self.vectors.nbytes + (self.reduce.components_.nbytes if self.reduce is not None else 0)

    def query(self, vector: np.ndarray, k: int = 8) -> tuple[np.ndarray, np.ndarray]:
        """Indices (k,) of the nearest stored vectors, nearest first, and their distances (k,)."""
        vector = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        if self.reduce is not None:
            if vector.shape[1] != self.reduce.n_features_in_:
                raise ValueError(f"query has {vector.shape[1]} values; the index reads {self.reduce.n_features_in_}")
            vector = self.reduce.transform(vector).astype(np.float32)
        if vector.shape[1] != self.vectors.shape[1]:
            raise ValueError(f"query has {vector.shape[1]} values; the index holds {self.vectors.shape[1]}")
        distances, indices = self.search.kneighbors(vector, n_neighbors=min(k, len(self.vectors)))
        return indices[0], distances[0]


def pixel_index(images: np.ndarray) -> NearestDigits:
    """Nearest digits by their pixels in [0, 1]; one per dataset (it does not depend on a model)."""
    return NearestDigits(features(None, images, None))


# A layer wider than this is indexed in its MAX_INDEX_DIMS principal directions (fitted on INDEX_FIT_DIGITS
# digits): 60,000 x 8,192 float32 would be 1.97 GB a model (issue 26: four such models took +7.7 GB); reduced,
# 60,000 x 256 is 61 MB. Nearest digits in a wide layer are then nearest along the directions that vary most.
MAX_INDEX_DIMS = 256
INDEX_FIT_DIGITS = 4096
INDEX_CHUNK = 4096  # digits passed through the model at once: one chunk's features (4,096 x D) in memory at a time


def hidden_index(model: MLP, images: np.ndarray, max_dims: int = MAX_INDEX_DIMS) -> NearestDigits:
    """Nearest digits as the model's last hidden layer sees them; built once per model (seconds). The
    features are made a chunk at a time; a layer wider than `max_dims` is reduced (`MAX_INDEX_DIMS`)."""
    width = model.hidden[-1]
    reduce = None
    if width > max_dims:
        sample = features(model, images[:INDEX_FIT_DIGITS], -1)
        reduce = _sklearn()[0](n_components=min(max_dims, *sample.shape), svd_solver="randomized",
                               random_state=0).fit(sample)
        del sample
    parts = []
    for start in range(0, len(images), INDEX_CHUNK):
        chunk = features(model, images[start:start + INDEX_CHUNK], -1)
        parts.append(reduce.transform(chunk).astype(np.float32) if reduce is not None else chunk)
    vectors = np.concatenate(parts) if parts else np.zeros((0, reduce.n_components_ if reduce else width), np.float32)
    return NearestDigits(vectors, reduce)


def nbytes_of(value: object) -> int:
    """The bytes a cached value holds in arrays: numpy arrays, objects with `nbytes`, tuples and lists of them,
    a Projection's points and neighbours. What BytesLRU charges for it."""
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, (tuple, list)):
        return sum(nbytes_of(v) for v in value)
    if isinstance(value, Projection):
        return value.points.nbytes + (value.neighbours.nbytes if value.neighbours is not None else 0) + (
            value.pca.components_.nbytes if value.pca is not None else 0)
    size = getattr(value, "nbytes", 0)
    return size if isinstance(size, int) else 0


class BytesLRU:
    """A cache of heavy per-model things (nearest-digit indexes, layer maps), bounded in bytes: the least
    recently used are dropped once the total passes `budget` (the newest is kept even alone over it). Each
    key is built once even when several threads ask at the same moment (a 60,000-digit index is seconds)."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._items: OrderedDict[object, tuple[object, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[object, threading.Lock] = {}

    @property
    def nbytes(self) -> int:
        with self._lock:
            return sum(size for _, size in self._items.values())

    def keys(self) -> list:
        with self._lock:
            return list(self._items)

    def get(self, key: object, make: Callable[[], T]) -> T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key][0]
            building = self._building.setdefault(key, threading.Lock())
        with building:
            with self._lock:
                if key in self._items:
                    self._items.move_to_end(key)
                    return self._items[key][0]
            value = make()
            size = nbytes_of(value)
            with self._lock:
                self._items[key] = (value, size)
                total = sum(s for _, s in self._items.values())
                while total > self.budget and len(self._items) > 1:
                    _, (_, dropped) = self._items.popitem(last=False)
                    total -= dropped
                self._building.pop(key, None)
            return value


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
    PCA, TSNE, _ = _sklearn()  # noqa: N806 - the classes' own names
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

