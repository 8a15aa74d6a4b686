"""Random deformations of batches of digits on the training device: affine, elastic, stroke width."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.nn import functional as F

from .preprocess import as_model_input

# At strength 1.0 (the sliders in the app scale these): the largest rotation, scale change, shear,
# shift (in pixels), elastic displacement (in pixels) and share of a stroke-width step.
MAX_ROTATION = math.radians(15)
MAX_SCALE = 0.15
MAX_SHEAR = 0.3
MAX_SHIFT = 2.0
ELASTIC_PIXELS = 1.5
CHUNK = 8192  # images deformed at once: big enough to be fast, small enough for any memory


COARSE = 5  # the sampling grid is drawn on 5x5 control points and interpolated to 28x28


def _interpolation(device: torch.device) -> torch.Tensor:
    """(25, 784): bilinear interpolation from the 5x5 control points to the 28x28 pixel centres."""
    basis = torch.eye(COARSE * COARSE, device=device).reshape(-1, 1, COARSE, COARSE)
    return F.interpolate(basis, size=(28, 28), mode="bilinear", align_corners=True).reshape(COARSE * COARSE, 784)


def _sampling_grid(n: int, strength: float, generator: torch.Generator, device: torch.device,
                   elastic: bool) -> torch.Tensor:
    """Where each output pixel samples its input, (N, 28, 28, 2) in grid units: a random affine map
    (rotation, scale, shear, shift) plus, if elastic, smooth random displacements.

    Both are set on 5x5 control points (which span the pixel centres) and interpolated: exact for
    the affine part, and a smooth field for the elastic part; one small matrix product in all."""
    def uniform(*shape: int, limit: float = 1.0) -> torch.Tensor:
        return (torch.rand(*shape, generator=generator, device=device) * 2 - 1) * limit * strength

    angle, scale, shear = uniform(n, 1, limit=MAX_ROTATION), 1 + uniform(n, 1, limit=MAX_SCALE), \
        uniform(n, 1, limit=MAX_SHEAR)
    shift_x, shift_y = uniform(n, 1, limit=MAX_SHIFT * 2 / 28), uniform(n, 1, limit=MAX_SHIFT * 2 / 28)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    line = torch.linspace(-27 / 28, 27 / 28, COARSE, device=device)  # first and last pixel centres
    y, x = (t.reshape(1, -1) for t in torch.meshgrid(line, line, indexing="ij"))  # (1, 25)
    coarse = torch.stack([cos * x + (shear * cos - sin) * y + shift_x,
                          sin * x + (shear * sin + cos) * y + shift_y], dim=1)  # (N, 2, 25)
    if elastic:
        coarse = coarse + uniform(n, 2, COARSE * COARSE, limit=ELASTIC_PIXELS * 2 / 28)
    fine = coarse.reshape(2 * n, -1) @ _interpolation(device)  # (2N, 784)
    return fine.reshape(n, 2, 28, 28).permute(0, 2, 3, 1)


def dilate(images: torch.Tensor) -> torch.Tensor:
    """Grey dilation by one pixel (the pixel and its 4 neighbours) of (N, 28, 28): strokes one pixel fatter."""
    padded = F.pad(images, (1, 1, 1, 1))
    return torch.maximum(
        torch.maximum(torch.maximum(padded[:, 1:-1, :-2], padded[:, 1:-1, 2:]),
                      torch.maximum(padded[:, :-2, 1:-1], padded[:, 2:, 1:-1])), images)


def erode(images: torch.Tensor) -> torch.Tensor:
    """Grey erosion by one pixel of (N, 28, 28): strokes one pixel thinner."""
    return -dilate(-images)


def _strokes(images: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """A third of the images made thicker (up to `strength` of a one-pixel grey dilation) and a third
    thinner (up to 0.6 of an erosion: a full one erases strokes two pixels wide); (N, 28, 28),
    changed in place and returned."""
    n = images.shape[0]
    choice = torch.randint(0, 3, (n,), generator=generator, device=images.device)
    amount = torch.rand(n, 1, 1, generator=generator, device=images.device) * min(strength, 1.0)
    for kind, limit in ((1, 1.0), (2, 0.6)):
        index = torch.nonzero(choice == kind).squeeze(1)
        chosen = images[index]
        changed = dilate(chosen) if kind == 1 else erode(chosen)
        images[index] = chosen + limit * amount[index] * (changed - chosen)
    return images


@torch.no_grad()
def augment(images: torch.Tensor, strength: float, generator: torch.Generator, elastic: bool = True) -> torch.Tensor:
    """Deformed copies of images (N, 28, 28) in [0, 1]; strength 0 returns them unchanged."""
    if strength <= 0 or len(images) == 0:
        return images
    out = torch.empty_like(images)
    for start in range(0, len(images), CHUNK):
        batch = images[start:start + CHUNK].unsqueeze(1)  # (B, 1, 28, 28)
        n = batch.shape[0]
        grid = _sampling_grid(n, strength, generator, batch.device, elastic)
        warped = F.grid_sample(batch, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        out[start:start + n] = _strokes(warped.squeeze(1), strength, generator).clamp_(0, 1)
    return out


def preview(images: np.ndarray, strength: float, seed: int = 0, rounds: int = 2, elastic: bool = True) -> np.ndarray:
    """A few uint8 digits (N, 28, 28) and `rounds` deformed copies of them, as uint8 (rounds + 1, N, 28, 28):
    what the trainer shows the network at this strength."""
    originals = as_model_input(images)
    generator = torch.Generator().manual_seed(seed)
    copies = [originals] + [augment(originals, strength, generator, elastic) for _ in range(rounds)]
    return (torch.stack(copies) * 255).round().to(torch.uint8).numpy()
