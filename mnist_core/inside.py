"""Looking inside a trained MLP: weight images, hidden activations, saliency, nearest training digits,
brittleness under shifts and other changes, 2-D maps of a layer, and the health of a training run."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.neighbors import NearestNeighbors
from torch import nn
from torch.nn import functional as F

from .augment import dilate, erode
from .evaluate import EVAL_BATCH, eval_mode, predict_probs
from .model import ACTIVATIONS, MLP
from .preprocess import as_model_input

_ACTIVATION_TYPES = tuple(ACTIVATIONS.values())


# --- weights and activations -------------------------------------------------------------------

def weight_images(model: MLP) -> np.ndarray:
    """Each first-layer unit's 784 incoming weights as a 28x28 image, (H0, 28, 28) float32. A positive
    weight is a pixel whose ink excites the unit; a negative one, ink that inhibits it."""
    return model.linear_layers()[0].weight.detach().cpu().reshape(-1, 28, 28).numpy().copy()


def _hidden_and_logits(model: MLP, images: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
    """The output of every hidden layer's activation, [(N, H_i)], and the logits (N, 10), for images
    (N, 28, 28) in [0, 1] on the model's device. The same arithmetic as `MLP.forward` for small batches."""
    x = model.normalise(images)  # (N, 784)
    hidden = []
    for module in model.layers:
        x = module(x)
        if isinstance(module, _ACTIVATION_TYPES):
            hidden.append(x)
    return hidden, x


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.inference_mode()
def activations(model: MLP, image: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """For one 28x28 image (uint8 or [0, 1]): every hidden layer's activations [(H_i,)] and the
    probabilities of the ten digits (10,). Dropout is off (eval mode), as when predicting."""
    with eval_mode(model):
        hidden, logits = _hidden_and_logits(model, as_model_input(image, _device(model)))
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
    device = _device(model)
    with eval_mode(model):
        parts = [_hidden_and_logits(model, as_model_input(images[i:i + EVAL_BATCH], device))[0][layer].cpu()
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
        pixels = as_model_input(image, _device(model)).clone().requires_grad_(True)  # (1, 28, 28)
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


# --- brittleness -------------------------------------------------------------------------------

# Each change a digit can undergo, with the levels its robustness curve is measured at and their unit.
PERTURBATIONS: dict[str, tuple[tuple[float, ...], str]] = {
    "shift": ((0, 1, 2, 3, 4, 5, 6), "pixels"),
    "rotation": ((0, 10, 20, 30, 40, 50), "degrees"),
    "noise": ((0.0, 0.1, 0.2, 0.3, 0.4, 0.5), "noise std (1 = full ink)"),
    "thickness": ((-1.0, -0.5, 0.0, 1.0, 2.0, 3.0), "pixels thicker (negative: thinner)"),
}


def warp(images: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    """Images (N, 28, 28) moved by dx pixels right and dy down and turned by `degrees` clockwise about
    the centre, each image by its own amounts (N,); what comes in from the border is blank. Whole-pixel
    shifts without rotation move pixels exactly."""
    n = images.shape[0]
    angle = torch.deg2rad(degrees.to(images)).reshape(n)
    cos, sin = torch.cos(angle), torch.sin(angle)
    # affine_grid maps output coordinates to input ones, in units of half the image: move by -d, turn by -angle.
    theta = torch.stack([torch.stack([cos, sin, -dx.to(images).reshape(n) * 2 / 28], 1),
                         torch.stack([-sin, cos, -dy.to(images).reshape(n) * 2 / 28], 1)], 1)  # (N, 2, 3)
    grid = F.affine_grid(theta, [n, 1, 28, 28], align_corners=False)
    return F.grid_sample(images[:, None], grid, mode="bilinear", padding_mode="zeros", align_corners=False)[:, 0]


def thicken(images: torch.Tensor, amount: float) -> torch.Tensor:
    """Strokes `amount` pixels fatter (negative: thinner), a fraction of a step blended; (N, 28, 28)."""
    step = dilate if amount > 0 else erode
    whole, part = divmod(abs(amount), 1.0)
    for _ in range(int(whole)):
        images = step(images)
    if part:
        images = images + part * (step(images) - images)
    return images


def perturb(images: torch.Tensor, kind: str, level: float, generator: torch.Generator) -> torch.Tensor:
    """Images (N, 28, 28) in [0, 1] changed by one of PERTURBATIONS at one level. Random choices (the
    direction of a shift, the sense of a rotation, the noise) come from `generator`."""
    n = images.shape[0]
    if kind not in PERTURBATIONS:
        raise ValueError(f"unknown change '{kind}'; choose one of {', '.join(PERTURBATIONS)}")
    if level == 0:
        return images
    zeros = torch.zeros(n)
    if kind == "shift":  # each digit moved `level` pixels left, right, up or down
        direction = torch.randint(0, 4, (n,), generator=generator)
        dx = torch.tensor([1.0, -1.0, 0.0, 0.0])[direction] * level
        dy = torch.tensor([0.0, 0.0, 1.0, -1.0])[direction] * level
        return warp(images, dx, dy, zeros)
    if kind == "rotation":  # clockwise or anticlockwise
        sense = torch.randint(0, 2, (n,), generator=generator) * 2 - 1
        return warp(images, zeros, zeros, sense * float(level))
    if kind == "noise":
        noise = torch.randn(images.shape, generator=generator) * level
        return (images + noise.to(images)).clamp(0, 1)
    return thicken(images, float(level)).clamp(0, 1)


def robustness_curve(model: MLP, images: np.ndarray, labels: np.ndarray, kind: str,
                     levels: tuple[float, ...] | None = None, seed: int = 0) -> list[tuple[float, float]]:
    """Accuracy on labelled images (N, 28, 28) at each level of one change: [(level, accuracy)]."""
    levels = PERTURBATIONS[kind][0] if levels is None and kind in PERTURBATIONS else levels
    originals = as_model_input(images)
    labels = np.asarray(labels).astype(np.int64)
    curve = []
    for level in levels:
        generator = torch.Generator().manual_seed(seed)  # the same directions and noise at every level
        changed = perturb(originals, kind, level, generator)
        preds = predict_probs(model, changed).argmax(1).cpu().numpy()
        curve.append((float(level), float((preds == labels).mean())))
    return curve


def shift_grid(model: MLP, image: np.ndarray, radius: int = 3) -> np.ndarray:
    """Probabilities (2r+1, 2r+1, 10) for the image moved by every whole-pixel (dx, dy) with |dx|, |dy|
    <= radius; [dy + r, dx + r] is the image moved dx right and dy down."""
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
    dy, dx = (t.reshape(-1) for t in torch.meshgrid(offsets, offsets, indexing="ij"))
    pixels = as_model_input(image).expand(len(dx), 28, 28)
    moved = warp(pixels, dx, dy, torch.zeros(len(dx)))
    side = 2 * radius + 1
    return predict_probs(model, moved).cpu().numpy().reshape(side, side, 10)


def shifted(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """One image (28, 28) moved dx pixels right and dy down, as [0, 1] float32."""
    moved = warp(as_model_input(image), torch.tensor([float(dx)]), torch.tensor([float(dy)]), torch.zeros(1))
    return moved[0].numpy()


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


# --- the health of a training run --------------------------------------------------------------

def gradient_norms(model: MLP) -> list[float]:
    """The size (L2 norm) of the last gradient of each layer's weights, input layer first; 0 for a
    layer without one. Call between backward() and the next zero_grad()."""
    grads = [layer.weight.grad for layer in model.linear_layers()]
    norms = [torch.linalg.vector_norm(g) if g is not None else torch.zeros((), device=_device(model)) for g in grads]
    return torch.stack(norms).tolist()  # one device sync for all layers


@torch.inference_mode()
def dead_share(model: MLP, probe: torch.Tensor) -> list[float]:
    """For each hidden layer, the share of its units whose output is the same for every probe image
    (N, 28, 28): a ReLU that never fires, or a tanh/sigmoid stuck at one end. Such units have stopped
    learning: no gradient reaches their weights."""
    with eval_mode(model):
        hidden, _ = _hidden_and_logits(model, probe)
    # not (spread > tiny) rather than spread <= tiny: a unit gone to NaN (a diverged run) is dead too.
    return [float((~((h.max(0).values - h.min(0).values) > 1e-6)).float().mean()) for h in hidden]


def unit_grid_order(weights: np.ndarray) -> np.ndarray:
    """Units (H, 28, 28) ordered by the size of their weights, largest first: the units that look at
    the digits hardest come first in a grid."""
    return np.argsort(-np.sqrt((weights.reshape(len(weights), -1) ** 2).sum(1)), kind="stable")

