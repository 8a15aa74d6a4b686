"""Simulated user drawings: MNIST digits redrawn as people draw them on a canvas or as a scanner saw
them (for training, tests, benchmarks and robustness curves), and a disk cache of the drawn training digits."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from mnist_core.folders import folder_setting, PROJECT_ROOT
from mnist_core.net.preprocess import disk, mnist_style
from mnist_core.net.preprocess import VERSION as READING_VERSION
from mnist_core.net.styles import restyled
from mnist_core.net.styles import VERSION as STYLES_VERSION

POLARITIES = ("canvas", "dark_on_light", "light_on_dark")


# With `hands`: slant (shear of the rows) and width change (factor, log-uniform) of a drawing, and the
# share of drawings that come out as a small grey scan instead of a canvas, at SCAN_SIDES pixels.
HANDS_SLANT = 0.4
HANDS_WIDTH = (0.6, 1.8)
SCAN_SHARE = 0.35
SCAN_SIDES = (8, 24)


def slant_and_width(image: np.ndarray, slant: float, width: float) -> np.ndarray:
    """A float image (H, W) with its rows shifted by `slant` x their height above the middle (the top
    row moves right for slant > 0) and its width times `width`, on a field wide enough for all of it."""
    h, w = image.shape
    out_w = int(np.ceil(w * width + abs(slant) * h)) + 2
    # output (row, col) -> input: the middle row's centre stays the centre; row r moves slant x (middle - r)
    matrix = np.array([[1.0, 0.0], [slant / width, 1.0 / width]])
    offset = np.array([0.0, (w - 1) / 2 - ((out_w - 1) / 2 + slant * (h - 1) / 2) / width])
    return ndimage.affine_transform(image, matrix, offset=offset, order=1, output_shape=(h, out_w))


def scan(ink: np.ndarray, rng: np.random.Generator, side: int | None = None,
         square: bool | None = None) -> np.ndarray:
    """Cropped ink (h, w) in [0, 1] -> a small uint8 grey scan, dark on light paper: `side` (else
    SCAN_SIDES) pixels on its longer side, stretched to fill a square box if `square` (else half the
    time), area-averaged (anti-aliased), with paper and ink grey levels. Given, `side` and `square` draw
    no random numbers; not given, the numbers drawn are those of before they existed."""
    side = int(rng.integers(SCAN_SIDES[0], SCAN_SIDES[1] + 1)) if side is None else side
    h, w = ink.shape
    if square if square is not None else rng.random() < 0.5:
        shape = (side, side)
    else:
        shape = (max(1, round(h * side / max(h, w))), max(1, round(w * side / max(h, w))))
    small = np.asarray(Image.fromarray(ink.astype(np.float32), mode="F").resize(shape[::-1], Image.Resampling.BOX))
    small = np.clip(small / max(float(small.max()), 1e-6), 0, 1)
    paper, dark = rng.uniform(170, 255), rng.uniform(0, 90)
    # A margin of paper round the digit, so paper stays the commonest level (preprocess takes that
    # for the background) even under a fat digit filling its box.
    field_side = side + 2 * (side // 3 + 2)
    field = np.full((field_side, field_side), paper, np.float32)
    top, left = (field_side - shape[0]) // 2, (field_side - shape[1]) // 2
    field[top:top + shape[0], left:left + shape[1]] += (dark - paper) * small
    return np.round(field).astype(np.uint8)


def redraw(digit: np.ndarray, rng: np.random.Generator, canvas: int = 280,
           polarity: str | None = None, hands: bool = False) -> np.ndarray:
    """One 28x28 uint8 MNIST digit -> a canvas-sized drawing of it.

    Random size (its box from a quarter to almost the whole canvas), random place, strokes from
    thinner to much thicker than the original, and one of three polarities: 'canvas' (RGBA, ink in
    the alpha channel over transparency, as the drawing widget returns), 'dark_on_light' (RGB paper)
    and 'light_on_dark' (grey, chalk on a board). Returns uint8, (canvas, canvas, 4|3) or (canvas, canvas).
    With `hands`, the digit is also slanted and made narrower or wider, and SCAN_SHARE of them come
    back as a small grey scan (`scan`, uint8 (s, s)) instead of a canvas; without, the same random
    numbers are drawn as before `hands` existed.
    """
    polarity = polarity or POLARITIES[rng.integers(len(POLARITIES))]
    size = rng.uniform(0.25, 0.95) * canvas  # the digit's 20-pixel box becomes this many pixels
    scale = size / 20
    side = max(28, round(28 * scale))
    big = np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BILINEAR)) / 255.0
    if hands:
        width = float(np.exp(rng.uniform(*np.log(HANDS_WIDTH))))
        big = slant_and_width(big, rng.uniform(-HANDS_SLANT, HANDS_SLANT), width)
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
    if hands and rng.random() < SCAN_SHARE:
        return scan(ink, rng)
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


TRAIN_CANVAS = 140  # drawings for training: half the Draw page's canvas, 5x faster to make, read back the same
# Of the drawing recipe, then of how preprocess reads drawings back: a change to either makes new cache files.
VERSION = f"1/{READING_VERSION}"


def drawn_digits(digits: np.ndarray, seed: int, canvas: int = TRAIN_CANVAS, hands: bool = False,
                 labels: np.ndarray | None = None) -> np.ndarray:
    """uint8 digits (N, 28, 28) -> float32 (N, 28, 28) in [0, 1]: each redrawn on a canvas as a person
    would (`redraw`, with `hands` as real hands and scans differ too) and read back as the Draw page
    reads a drawing (`preprocess.mnist_style`). With `hands` and the digits' `labels` (N,), a share of
    some classes is first written in shapes people write (`styles.restyled`: 4s closed at the top, 5s
    without their bar ...), from a generator of its own (without labels the drawings are those of before)."""
    rng = np.random.default_rng(seed)
    style_rng = np.random.default_rng([seed, 1]) if hands and labels is not None else None
    drawn = np.zeros((len(digits), 28, 28), np.float32)
    for i, digit in enumerate(digits):
        if style_rng is not None:
            digit = restyled(digit, int(labels[i]), style_rng)
        drawn[i] = mnist_style(redraw(digit, rng, canvas, hands=hands)).output
    return drawn


def find_cache_dir(cache: str | os.PathLike | None = None) -> Path:
    """`cache` if given, else $MNIST_CACHE, else `data/cache` in the project."""
    return folder_setting(cache, "MNIST_CACHE", PROJECT_ROOT / "data" / "cache")


def cached_drawn_digits(digits: np.ndarray, seed: int, cache: str | os.PathLike | None = None,
                        hands: bool = False, labels: np.ndarray | None = None) -> np.ndarray:
    """`drawn_digits` (about 3 ms a digit) kept on disk, keyed by the digits, the seed, the labels and the
    recipe, so a second run with the same setting starts at once; a cache that cannot be read or written is
    skipped (the drawings are made again), never an error."""
    styled = hands and labels is not None
    key = hashlib.sha256(np.ascontiguousarray(digits, dtype=np.uint8).tobytes())
    if styled:
        key.update(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
    key.update(f"{seed}/{TRAIN_CANVAS}/{VERSION}{'/hands' if hands else ''}"
               f"{f'/styles {STYLES_VERSION}' if styled else ''}".encode())
    path = find_cache_dir(cache) / f"drawn-{key.hexdigest()[:24]}.npy"
    try:
        drawn = np.load(path)
        if drawn.shape == (len(digits), 28, 28) and drawn.dtype == np.float32:
            return drawn
    except (OSError, ValueError):
        pass
    drawn = drawn_digits(digits, seed, hands=hands, labels=labels)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.stem}.{os.getpid()}.partial.npy")
        np.save(partial, drawn)
        os.replace(partial, path)  # whole or not at all: another process may read it meanwhile
    except OSError:
        pass
    return drawn
