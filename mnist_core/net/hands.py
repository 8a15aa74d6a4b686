"""Proxies of real hands, for benchmarks and the shipped model's test only (never trained on), all drawn
from MNIST *test* digits: `proxy_sets` renders each as `benchmarks/real_hands.py` reads it. Among them a
set of its own (`hands_set`): the digits rewritten the way the project's real scanned misreads are written,
then scanned small, grey and anti-aliased.

Kinds (`KINDS`), each a shape people write, not a rule for one confusion:
- "5 no bar": a 5 whose top bar was never written (its top band blank), the stem and belly left
- "5 tick": the same with a short tick above the belly, detached from it, for the bar
- "4 closed": a 4 closed at the top like a 9 (a stroke joins the tops of its two arms)
- "4 narrow": a 4 squeezed narrow, so its crossbar barely shows
- "square": any digit stretched to fill a square box, as scanners of form fields did (a wide 0 or 2
  becomes a flat band, a 1 a broad stroke)

The strokes are `styles`' own, which also write a share of training's drawn digits (training digits, never
these): the kinds training writes ("5 no bar", "5 tick", "4 closed") flatter a model trained so; "4 narrow"
and "square" are shapes training does not write that way.

Every digit is rewritten at 4x (112x112), then scanned (`synth.scan`: area-averaged to a small grey
image, dark ink on light paper), so the benchmark reads it through `preprocess.mnist_style` as
`predict` reads a scan.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from scipy import ndimage

from mnist_core.net.evaluate import predict_probs
from mnist_core.net.preprocess import disk, mnist_style
from mnist_core.net.styles import enlarge, ink_box, restyle
from mnist_core.net.synth import redraw, scan

KINDS = ("5 no bar", "5 tick", "4 closed", "4 narrow", "square")
SCAN_SIDE = (16, 28)  # pixels on a scan's longer side


@dataclass(frozen=True)
class HandsSet:
    """The proxy: uint8 grey scans (a list: their sizes differ), labels int64 (N,), each one's kind (N,)
    and the MNIST test index it was drawn from (N,)."""

    scans: list[np.ndarray]
    labels: np.ndarray
    kinds: np.ndarray
    sources: np.ndarray


def rewrite(digit: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """One uint8 MNIST digit (28, 28) rewritten as `kind` and scanned: uint8 (s, s), dark on light."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got '{kind}'")
    ink = enlarge(digit) if kind == "square" else restyle(enlarge(digit), kind, rng)
    top, bottom, left, right = ink_box(ink)
    crop = ink[top:bottom + 1, left:right + 1]
    side = int(rng.integers(SCAN_SIDE[0], SCAN_SIDE[1] + 1))
    return scan(crop, rng, side=side, square=kind == "square")


def hands_set(test_images: np.ndarray, test_labels: np.ndarray, seed: int = 0,
              per_kind: int = 500) -> HandsSet:
    """`per_kind` digits of each kind, from MNIST *test* digits (uint8 (N, 28, 28), labels (N,)) of the
    kind's class (5s, 4s; "square": any), picked by `seed` without repeats within a kind; the same seed
    gives the same set."""
    rng = np.random.default_rng(seed)
    scans, labels, kinds, sources = [], [], [], []
    for kind in KINDS:
        pool = np.nonzero(test_labels == int(kind[0]))[0] if kind[0].isdigit() else np.arange(len(test_labels))
        picks = np.sort(rng.choice(pool, min(per_kind, len(pool)), replace=False))
        for index in picks:
            scans.append(rewrite(test_images[index], kind, rng))
            labels.append(int(test_labels[index]))
            kinds.append(kind)
            sources.append(int(index))
    return HandsSet(scans, np.array(labels, np.int64), np.array(kinds), np.array(sources, np.int64))


def scan16(digit: np.ndarray, rng: np.random.Generator, size: int = 16) -> np.ndarray:
    """One uint8 MNIST digit (28, 28) -> a uint8 (size, size) grey scan, dark ink on light paper: slanted
    and stretched (normal draws, unlike training's uniform ones), pen changed at 4x by a disk, cropped
    and stretched to fill the box (area-averaged), blurred, with the paper's and ink's grey levels."""
    big = np.asarray(Image.fromarray(digit).resize((112, 112), Image.Resampling.BICUBIC), np.float32) / 255
    slant, stretch = np.clip(rng.normal(0, 0.25), -0.6, 0.6), np.exp(np.clip(rng.normal(0, 0.2), -0.5, 0.5))
    matrix = np.array([[1.0, 0.0], [slant, 1.0 / stretch]])  # output (row, col) -> input: shear, then width
    centre = np.array([56.0, 56.0])
    big = ndimage.affine_transform(big, matrix, offset=centre - matrix @ centre, order=1, output_shape=(112, 160))
    pen = int(rng.choice([-2, -1, 0, 0, 1, 2, 3]))  # 4x pixels each side: -0.5..+0.75 MNIST pixels
    if pen:
        changed = (ndimage.grey_dilation if pen > 0 else ndimage.grey_erosion)(big, footprint=disk(abs(pen)))
        big = changed if changed.sum() > 0.3 * big.sum() else big
    rows, cols = np.nonzero(big > 0.3)
    crop = big[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    small = np.asarray(Image.fromarray(crop, mode="F").resize((size, size), Image.Resampling.BOX))
    small = ndimage.gaussian_filter(small, rng.uniform(0.2, 0.7))
    small = np.clip(small / max(float(small.max()), 1e-6), 0, 1) ** rng.uniform(0.7, 1.4)
    paper, ink = rng.uniform(200, 255), rng.uniform(0, 70)
    return np.round(paper + (ink - paper) * small).astype(np.uint8)


BLOCK = 500  # images per task; each block draws from its own generator, so results do not depend on the cores


def read_block(kind: str, images: list[np.ndarray] | np.ndarray, seed: int, start: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """Render images as `kind` ("redrawn": `synth.redraw` from uint8 (B, 28, 28); "scans16": `scan16`;
    "plain": as given) and read them back as `predict` does (`mnist_style`): (B, 28, 28) in [0, 1], and
    whether preprocessing took the ink for the paper (B,) (the image's border read as ink; grey scans only,
    a canvas's ink is its alpha and a big drawing may touch the edges)."""
    rng = np.random.default_rng([seed, start])
    if kind == "redrawn":
        rendered = [redraw(d, rng) for d in images]
    elif kind == "scans16":
        rendered = [scan16(d, rng) for d in images]
    else:
        rendered = list(images)
    steps = [mnist_style(image) for image in rendered]
    inverted = [kind != "redrawn" and float(np.concatenate([s.ink[0], s.ink[-1], s.ink[:, 0], s.ink[:, -1]]).mean())
                > 0.5 for s in steps]
    return np.stack([s.output for s in steps]), np.array(inverted, bool)


@dataclass(frozen=True)
class Proxy:
    """One proxy set as the model reads it: images (N, 28, 28), float32 in [0, 1] (uint8 for "mnist"),
    labels int64 (N,), and how many of them preprocessing read with the wrong polarity."""

    images: np.ndarray
    labels: np.ndarray
    inverted: int = 0


def proxy_sets(test_images: np.ndarray, test_labels: np.ndarray, count: int, seed: int,
               sklearn: tuple[np.ndarray, np.ndarray] | None = None, per_kind: int = 500,
               mapper=map) -> dict[str, Proxy]:
    """Every proxy by name, from MNIST test digits (uint8 (N, 28, 28), labels (N,)): "mnist" (as trained,
    no preprocessing), "mnist via predict", "redrawn" and "scans16" (`count` test digits picked by `seed`),
    "sklearn" (scikit-learn's 8x8 digits, uint8 (M, 8, 8) light on dark, and labels, if given), "hands"
    (`hands_set`, `per_kind` a kind) and "hands: KIND" for each kind. `mapper` (map, or a process pool's)
    renders the blocks."""
    labels = test_labels.astype(np.int64)
    count = min(count, len(labels))
    picks = np.sort(np.random.default_rng(seed).choice(len(labels), count, replace=False))
    misreads = hands_set(test_images, test_labels, seed, per_kind)
    jobs = {"mnist via predict": ("plain", test_images, labels),
            "redrawn": ("redrawn", test_images[picks], labels[picks]),
            "scans16": ("scans16", test_images[picks], labels[picks]),
            "hands": ("plain", misreads.scans, misreads.labels)}
    if sklearn is not None:
        jobs["sklearn"] = ("plain", sklearn[0], sklearn[1].astype(np.int64))
    sets = {"mnist": Proxy(test_images, labels)}  # uint8, as the trainer scores it
    for name, (kind, images, answers) in jobs.items():
        starts = range(0, len(images), BLOCK)
        blocks = list(mapper(read_block, [kind] * len(starts), [images[i:i + BLOCK] for i in starts],
                             [seed] * len(starts), starts))
        read = np.concatenate([b[0] for b in blocks])
        inverted = np.concatenate([b[1] for b in blocks])
        sets[name] = Proxy(read, answers, int(inverted.sum()))
    for kind in KINDS:
        chosen = misreads.kinds == kind
        sets[f"hands: {kind}"] = Proxy(sets["hands"].images[chosen], misreads.labels[chosen])
    return sets


def accuracies(model: torch.nn.Module, sets: dict[str, Proxy]) -> dict[str, float]:
    """The model's accuracy on each proxy (as `predict` reads: argmax of its probabilities)."""
    return {name: float((predict_probs(model, proxy.images).argmax(1).cpu().numpy() == proxy.labels).mean())
            for name, proxy in sets.items()}
