"""Simulated classes, for benchmarks and tests: students who each draw in a style of their own."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnist_core.storage.drawings import Drawing

# --- Simulated classes (benchmarks and tests): students who each draw in a style of their own -------------
QUIRKS = {  # habits a school teaches that MNIST's American writers rarely had, with how common each is
    "flag1": 0.8,  # a 1 with a long up-stroke (continental)
    "base1": 0.3,  # a 1 standing on a bar
    "crossed7": 0.7,  # a 7 crossed in the middle
    "slashed0": 0.2,  # a 0 struck through
}


@dataclass(frozen=True)
class Style:
    """One simulated student's handwriting, the same in every digit they draw."""

    slant: float  # shear: > 0 leans right
    aspect: float  # width factor: < 1 narrow, > 1 wide
    rotation: float  # radians
    pen: int  # extra stroke radius, pixels of a 112-pixel digit
    size: float  # the digit's share of the canvas side
    wobble: float  # amplitude of the student's own smooth distortion, pixels of 28
    seed: int  # of that distortion
    quirks: frozenset[str]


def student_style(rng: np.random.Generator) -> Style:
    """A random student: narrow or wide hands, most slanting right, some pens fat; each with habits."""
    aspect = rng.uniform(0.65, 0.85) if rng.random() < 0.5 else rng.uniform(1.1, 1.35)
    return Style(slant=float(rng.uniform(-0.2, 0.5)), aspect=float(aspect), rotation=float(rng.uniform(-0.12, 0.12)),
                 pen=int(rng.integers(0, 4)), size=float(rng.uniform(0.35, 0.9)), wobble=float(rng.uniform(0.5, 1.5)),
                 seed=int(rng.integers(2**31)), quirks=frozenset(q for q, p in QUIRKS.items() if rng.random() < p))


def _add_quirks(big: np.ndarray, label: int, quirks: frozenset[str]) -> np.ndarray:
    """Strokes a habit adds, drawn on a (112, 112) digit in [0, 1]."""
    from PIL import Image, ImageDraw

    rows, cols = np.nonzero(big > 0.5)
    if not len(rows):
        return big
    top, bottom, left, right = rows.min(), rows.max(), cols.min(), cols.max()
    picture = Image.fromarray((big * 255).astype(np.uint8))
    pen = ImageDraw.Draw(picture)
    if label == 1 and "flag1" in quirks:
        c = int(cols[rows < top + 6].mean())
        pen.line([(c, top), (c - 26, top + 30)], fill=255, width=9)
    if label == 1 and "base1" in quirks:
        c = int(cols[rows > bottom - 6].mean())
        pen.line([(c - 20, bottom), (c + 20, bottom)], fill=255, width=9)
    if label == 7 and "crossed7" in quirks:
        r = int(top + 0.55 * (bottom - top))
        ink = np.nonzero(big[r] > 0.5)[0]
        c = int(ink.mean()) if len(ink) else (left + right) // 2
        pen.line([(c - 18, r), (c + 18, r)], fill=255, width=9)
    if label == 0 and "slashed0" in quirks:
        pen.line([(right - 4, top + 4), (left + 4, bottom - 4)], fill=255, width=9)
    return np.asarray(picture, np.float32) / 255


def student_drawing(digit: np.ndarray, label: int, style: Style, rng: np.random.Generator,
                    canvas: int = 280) -> np.ndarray:
    """An MNIST digit (28, 28) uint8 as this student draws it: an RGBA canvas (canvas, canvas, 4) like
    the Draw page's, with the student's habits, slant, aspect, pen and own distortion, and a little
    variation of their own from drawing to drawing."""
    from PIL import Image
    from scipy import ndimage

    from mnist_core.net.preprocess import disk

    big = np.asarray(Image.fromarray(digit).resize((112, 112), Image.Resampling.BILINEAR), np.float32) / 255
    big = _add_quirks(big, label, style.quirks)
    # Output pixel (y, x) samples the input at centre + A @ (y - c, x - c): slant, aspect, rotation.
    angle = style.rotation + rng.uniform(-0.05, 0.05)
    cos, sin = np.cos(angle), np.sin(angle)
    shape = np.array([[1.0, 0.0], [-style.slant, 1.0 / (style.aspect * rng.uniform(0.95, 1.05))]])
    matrix = np.array([[cos, -sin], [sin, cos]]) @ shape
    yy, xx = np.mgrid[0:112, 0:112].astype(np.float32) - 56
    field = np.random.default_rng(style.seed).normal(size=(2, 112, 112))
    field = ndimage.gaussian_filter(field, (0, 14, 14))
    field *= style.wobble * 4 / (np.abs(field).max() + 1e-9)
    ys = matrix[0, 0] * yy + matrix[0, 1] * xx + 56 + field[0]
    xs = matrix[1, 0] * yy + matrix[1, 1] * xx + 56 + field[1]
    warped = ndimage.map_coordinates(big, [ys, xs], order=1, cval=0.0)
    mask = warped > 0.4
    if style.pen:
        mask = ndimage.binary_dilation(mask, disk(style.pen))
    ink = np.clip(ndimage.gaussian_filter(mask.astype(np.float32), 1.0) * 1.2, 0, 1)
    rows, cols = np.nonzero(ink > 0.05)
    if not len(rows):
        return np.zeros((canvas, canvas, 4), np.uint8)
    ink = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    scale = style.size * rng.uniform(0.9, 1.1) * canvas / max(ink.shape)
    height, width = (max(1, min(canvas, round(s * scale))) for s in ink.shape)
    ink = np.asarray(Image.fromarray(ink, mode="F").resize((width, height), Image.Resampling.BILINEAR))
    rgba = np.zeros((canvas, canvas, 4), np.uint8)
    top, left = rng.integers(0, canvas - height + 1), rng.integers(0, canvas - width + 1)
    rgba[top:top + height, left:left + width, 3] = (np.clip(ink, 0, 1) * 255).round().astype(np.uint8)
    return rgba


def simulated_students(count: int = 30, seed: int = 0) -> list[Style]:
    """`count` students' styles, the same for a seed."""
    rng = np.random.default_rng(seed)
    return [student_style(rng) for _ in range(count)]


def simulated_class(images: np.ndarray, labels: np.ndarray, styles: list[Style], per_digit: int = 1,
                    seed: int = 0) -> list[tuple[str, Drawing]]:
    """Each student (a style) drawing every digit `per_digit` times from MNIST digits (images (N, 28, 28)
    uint8, labels (N,)): (student name, drawing) pairs, with file names unique to the seed."""
    rng = np.random.default_rng(seed)
    by_digit = [np.flatnonzero(labels == d) for d in range(10)]
    drawn = []
    for s, style in enumerate(styles):
        for d in range(10):
            for k in range(per_digit):
                image = student_drawing(images[rng.choice(by_digit[d])], d, style, rng)
                drawn.append((f"student-{s:02d}", Drawing(f"sim-{seed}-{s:02d}-{d}-{k}.png", d, image)))
    return drawn
