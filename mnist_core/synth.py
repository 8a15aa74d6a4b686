"""Simulated user drawings: MNIST digits redrawn as people draw them on a canvas (for tests,
benchmarks and robustness curves)."""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

from .preprocess import disk

POLARITIES = ("canvas", "dark_on_light", "light_on_dark")


def redraw(digit: np.ndarray, rng: np.random.Generator, canvas: int = 280,
           polarity: str | None = None) -> np.ndarray:
    """One 28x28 uint8 MNIST digit -> a canvas-sized drawing of it.

    Random size (its box from a quarter to almost the whole canvas), random place, strokes from
    thinner to much thicker than the original, and one of three polarities: 'canvas' (RGBA, ink in
    the alpha channel over transparency, as the drawing widget returns), 'dark_on_light' (RGB paper)
    and 'light_on_dark' (grey, chalk on a board). Returns uint8, (canvas, canvas, 4|3) or (canvas, canvas).
    """
    polarity = polarity or POLARITIES[rng.integers(len(POLARITIES))]
    size = rng.uniform(0.25, 0.95) * canvas  # the digit's 20-pixel box becomes this many pixels
    scale = size / 20
    side = max(28, round(28 * scale))
    big = np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BILINEAR)) / 255.0
    mask = big > 0.5
    # Stroke width: MNIST strokes are ~2.5 px of 28; change by -0.3..+1.2 of that, in canvas pixels.
    change = rng.uniform(-0.3, 1.2) * scale
    radius = int(round(abs(change)))
    if radius:
        changed = (ndimage.binary_dilation if change > 0 else ndimage.binary_erosion)(mask, disk(radius))
        if changed.sum() > 0.3 * mask.sum():  # never erode a digit away
            mask = changed
    ink = ndimage.gaussian_filter(mask.astype(np.float32), sigma=max(0.5, scale / 6))  # soft brush edge
    ink = np.clip(ink * 1.2, 0, 1)
    rows, cols = np.nonzero(ink > 0.05)
    ink = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    if max(ink.shape) > canvas:  # a thick stroke grew past the canvas: shrink it back in
        factor = canvas / max(ink.shape)
        shape = (max(1, int(ink.shape[1] * factor)), max(1, int(ink.shape[0] * factor)))
        ink = np.asarray(Image.fromarray(ink, mode="F").resize(shape, Image.Resampling.BOX))
    field = np.zeros((canvas, canvas), np.float32)
    top = rng.integers(0, canvas - ink.shape[0] + 1)
    left = rng.integers(0, canvas - ink.shape[1] + 1)
    field[top:top + ink.shape[0], left:left + ink.shape[1]] = ink
    level = (field * 255).round().astype(np.uint8)
    if polarity == "canvas":
        rgba = np.zeros((canvas, canvas, 4), np.uint8)
        rgba[..., 3] = level  # black strokes over a transparent background
        return rgba
    if polarity == "dark_on_light":
        paper = 255 - level
        return np.stack([paper, paper, paper], axis=-1)
    return level
