"""Shapes people write that MNIST's writers seldom did, made from an MNIST digit rewritten at 4x (112x112): a
5 without its top bar or with the bar left as a detached tick, a 4 closed at the top like a 9, a squeezed
digit, a 7 crossed on its stem, a 1 with a lead-in flag. Training's drawn digits (`synth.drawn_digits`, with
real hands) are written so in part (`restyled`), and the real-hands proxy (`hands`) rewrites MNIST *test*
digits with the same strokes; only numpy, PIL and scipy."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

UP = 4  # digits are rewritten at 4x MNIST's resolution (112x112), so strokes added stay smooth
INK = 0.3  # level that counts as ink at 4x
TOP_BAND = 0.22  # a 5's top bar lies in this share of its ink box's height (from the top)
TICK_GAP = 0.08  # a tick sits this share of the box height above the remaining ink: detached
NARROW = (0.25, 0.4)  # a narrow 4's width as a share of its height


def enlarge(digit: np.ndarray) -> np.ndarray:
    """uint8 (28, 28) -> float32 (112, 112) in [0, 1], bicubic (smooth strokes to cut and join)."""
    big = Image.fromarray(digit).resize((28 * UP, 28 * UP), Image.Resampling.BICUBIC)
    return np.clip(np.asarray(big, np.float32) / 255, 0, 1)


def ink_box(ink: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the ink (> INK), inclusive; ValueError on a blank image."""
    rows, cols = np.nonzero(ink > INK)
    if rows.size == 0:
        raise ValueError("a blank digit has no ink to rewrite")
    return int(rows.min()), int(rows.max()), int(cols.min()), int(cols.max())


def pen_width(ink: np.ndarray) -> float:
    """The stroke's width in pixels: twice the ink's area over its outline's length."""
    mask = ink > INK
    outline = mask & ~ndimage.binary_erosion(mask)
    return max(2.0, 2.0 * mask.sum() / max(int(outline.sum()), 1))


def stroke(ink: np.ndarray, points: list[tuple[float, float]], width: float) -> np.ndarray:
    """`ink` (H, W) with a pen line through (row, col) `points` of `width` pixels, drawn at 4x its
    resolution and averaged down (anti-aliased), combined by maximum."""
    h, w = ink.shape
    canvas = Image.new("L", (w * 4, h * 4), 0)
    draw = ImageDraw.Draw(canvas)
    scaled = [(c * 4 + 2, r * 4 + 2) for r, c in points]
    draw.line(scaled, fill=255, width=max(1, round(width * 4)), joint="curve")
    for x, y in (scaled[0], scaled[-1]):  # round pen ends
        radius = width * 2
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=255)
    line = np.asarray(canvas.resize((w, h), Image.Resampling.BOX), np.float32) / 255
    return np.maximum(ink, line)


def without_top_bar(ink: np.ndarray, tick: bool, rng: np.random.Generator) -> np.ndarray:
    """A 5 (112, 112) with its top band (TOP_BAND of its ink box) blanked: no top bar; with `tick`, a
    short stroke for the bar above what is left, TICK_GAP of the box height clear of it."""
    top, bottom, left, right = ink_box(ink)
    cut = top + int(round(TOP_BAND * (bottom - top + 1)))
    out = ink.copy()
    out[:cut] = 0
    if not tick:
        return out
    rest_top, _, _, _ = ink_box(out)
    # The stem is what is left's top: the tick starts above it and runs right, a third of the width.
    cols = np.nonzero(out[rest_top] > INK)[0]
    start = float(cols.mean())
    length = (right - left + 1) * rng.uniform(0.25, 0.45)
    row = rest_top - TICK_GAP * (bottom - top + 1) - pen_width(ink) / 2 - rng.uniform(0, 4)
    lift = rng.uniform(-0.15, 0.1) * length  # a tick is rarely level
    return stroke(out, [(row, start), (row + lift, start + length)], pen_width(ink))


def closed_top(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 4 (112, 112) closed at the top: a stroke from its left arm's top to its right arm's top, bowed
    slightly upwards, as a 4 written like a 9."""
    top, bottom, left, right = ink_box(ink)
    mask = ink > INK
    middle = (left + right) // 2
    tops = []
    for part in (slice(left, middle), slice(middle, right + 1)):
        rows, cols = np.nonzero(mask[:, part])
        first = rows.min()
        tops.append((float(first), float(cols[rows == first].mean() + part.start)))
    (r0, c0), (r1, c1) = tops
    bow = rng.uniform(0.0, 0.08) * (bottom - top + 1)
    mid = (min(r0, r1) - bow, (c0 + c1) / 2)
    return stroke(ink, [(r0, c0), mid, (r1, c1)], pen_width(ink))


def squeezed(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A digit (112, 112) cropped to its ink and squeezed to NARROW of its height wide."""
    top, bottom, left, right = ink_box(ink)
    crop = ink[top:bottom + 1, left:right + 1]
    height = crop.shape[0]
    width = max(2, round(height * rng.uniform(*NARROW)))
    if width >= crop.shape[1]:
        return crop
    return np.asarray(Image.fromarray(crop, mode="F").resize((width, height), Image.Resampling.BOX))


def crossed_seven(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 7 (112, 112) with a short bar across its stem a little below the middle, as much of Europe writes
    it; unchanged where the stem cannot be found there."""
    top, bottom, left, right = ink_box(ink)
    height, width = bottom - top + 1, right - left + 1
    row = top + rng.uniform(0.5, 0.62) * height
    cols = np.nonzero(ink[int(row)] > INK)[0]
    if cols.size == 0:
        return ink
    centre = float(cols.mean()) + rng.uniform(-0.05, 0.1) * width
    half = max(width * rng.uniform(0.2, 0.3), 2 * pen_width(ink))
    lift = rng.uniform(-0.06, 0.03) * height  # rarely level: a little rising to the right
    return stroke(ink, [(row - lift, centre - half), (row + lift, centre + half)], pen_width(ink))


def flagged_one(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 1 (112, 112) with a lead-in stroke rising to its top from the left, as the 1 of many hands; a
    short flag, well below the top so it does not read as a 7's bar."""
    top, bottom, _, _ = ink_box(ink)
    height = bottom - top + 1
    cols = np.nonzero(ink[top:top + max(2, height // 12)] > INK)[1]
    peak = (float(top) + pen_width(ink) / 2, float(cols.mean()))
    drop, back = rng.uniform(0.2, 0.32) * height, rng.uniform(0.15, 0.25) * height
    return stroke(ink, [(peak[0] + drop, peak[1] - back), peak], pen_width(ink))


# Styles by digit, for training's drawn digits: the shapes above that keep the digit's class. Narrow
# digits come from real hands' width changes (`synth.HANDS_WIDTH`); squeezing them more to a narrow 4 as
# well read the narrow 4s of the hands proxy worse (80.2% against 85.6%, benchmarks/real_hands.py), so
# it is left out, and that kind of the proxy stays one training never wrote.
TRAINING_STYLES: dict[int, tuple[str, ...]] = {1: ("1 flag",), 4: ("4 closed",), 5: ("5 no bar", "5 tick"),
                                               7: ("7 crossed",)}
STYLE_SHARE = 0.4  # of the drawn digits of a styled class, this share is written in one of its styles
VERSION = "1"  # of the styles and their share: a change makes new drawn-digit cache files


def restyle(ink: np.ndarray, style: str, rng: np.random.Generator) -> np.ndarray:
    """Ink (112, 112) in [0, 1] rewritten in `style` (a name of `TRAINING_STYLES` or "4 narrow")."""
    if style == "5 no bar":
        return without_top_bar(ink, False, rng)
    if style == "5 tick":
        return without_top_bar(ink, True, rng)
    if style == "4 closed":
        return closed_top(ink, rng)
    if style == "4 narrow":
        return squeezed(ink, rng)
    if style == "7 crossed":
        return crossed_seven(ink, rng)
    if style == "1 flag":
        return flagged_one(ink, rng)
    raise ValueError(f"no style called '{style}'")


def restyled(digit: np.ndarray, label: int, rng: np.random.Generator, share: float = STYLE_SHARE) -> np.ndarray:
    """One uint8 MNIST digit (28, 28) of class `label`, rewritten in one of its class's styles with
    probability `share` (at 4x, then area-averaged back to uint8 (28, 28), in place in its frame), else as
    given. Draws the same random numbers whatever the digit, so each digit's draws stay its own."""
    styles = TRAINING_STYLES.get(int(label), ())
    chance, pick = rng.random(), rng.integers(1 << 30)
    if not styles or chance >= share or not digit.any():
        return digit
    style_rng = np.random.default_rng(pick)
    ink = restyle(enlarge(digit), styles[int(style_rng.integers(len(styles)))], style_rng)
    small = Image.fromarray(ink.astype(np.float32), mode="F").resize((28, 28), Image.Resampling.BOX)
    return np.clip(np.round(np.asarray(small) * 255), 0, 255).astype(np.uint8)
