"""Changed digits and how a model copes: shifts, rotations, noise, thicker or thinner strokes; robustness
curves, the shift grid."""

from __future__ import annotations

import numpy as np
import torch

from mnist_core.net.augment import dilate, erode, warp
from mnist_core.net.evaluate import predict_probs
from mnist_core.net.model import MLP
from mnist_core.net.preprocess import as_model_input

# Each change a digit can undergo, with the levels its robustness curve is measured at and their unit.
PERTURBATIONS: dict[str, tuple[tuple[float, ...], str]] = {
    "shift": ((0, 1, 2, 3, 4, 5, 6), "pixels"),
    "rotation": ((0, 10, 20, 30, 40, 50), "degrees"),
    "noise": ((0.0, 0.1, 0.2, 0.3, 0.4, 0.5), "noise std (1 = full ink)"),
    "thickness": ((-1.0, -0.5, 0.0, 1.0, 2.0, 3.0), "pixels thicker (negative: thinner)"),
}


def move_and_turn(images: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    """Images (N, 28, 28) moved by dx pixels right and dy down and turned by `degrees` clockwise about
    the centre, each image by its own amounts (N,); what comes in from the border is blank. Whole-pixel
    shifts without rotation move pixels exactly."""
    n = images.shape[0]
    angle = torch.deg2rad(degrees.to(images)).reshape(n)
    cos, sin = torch.cos(angle), torch.sin(angle)
    # affine_grid maps output coordinates to input ones, in units of half the image: move by -d, turn by -angle.
    theta = torch.stack([torch.stack([cos, sin, -dx.to(images).reshape(n) * 2 / 28], 1),
                         torch.stack([-sin, cos, -dy.to(images).reshape(n) * 2 / 28], 1)], 1)  # (N, 2, 3)
    return warp(images, theta)


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
        return move_and_turn(images, dx, dy, zeros)
    if kind == "rotation":  # clockwise or anticlockwise
        sense = torch.randint(0, 2, (n,), generator=generator) * 2 - 1
        return move_and_turn(images, zeros, zeros, sense * float(level))
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
    moved = move_and_turn(pixels, dx, dy, torch.zeros(len(dx)))
    side = 2 * radius + 1
    return predict_probs(model, moved).cpu().numpy().reshape(side, side, 10)


def shifted(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """One image (28, 28) moved dx pixels right and dy down, as [0, 1] float32."""
    moved = move_and_turn(as_model_input(image), torch.tensor([float(dx)]), torch.tensor([float(dy)]), torch.zeros(1))
    return moved[0].numpy()
