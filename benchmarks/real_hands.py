"""Real hands: accuracy of the shipped `default` before and after on proxies of real handwriting, each
read through the predict path (`preprocess.mnist_style`, then the model, as `evaluate.read_many` does),
and the MNIST test accuracy. None of these digits is ever trained on.

- redrawn: MNIST test digits redrawn on a 280x280 canvas by `synth.redraw` (as `redrawn_digits.py`)
- sklearn: scikit-learn's `load_digits`, 1,797 digits by 43 writers (UCI optdigits), 8x8 grey: real,
  another source, but coarse; fed as 8x8 images
- scans16: MNIST test digits rendered here as scans differ (slant, aspect, pen width drawn from
  other distributions than training's, stretched to fill a 16x16 box, blurred, grey, dark on light)

The project's own 2,007 scanned digits are not here; their figure is the project's.

Run: MNIST_DIR=../shared/data/mnist python benchmarks/real_hands.py [--old-ref 7188a07] [--count 10000]
     [--store DIR --models NAME ...]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from mnist_core.net.data import load_mnist  # noqa: E402
from mnist_core.net.evaluate import predict_probs  # noqa: E402
from mnist_core.net.preprocess import disk, mnist_style  # noqa: E402
from mnist_core.net.synth import redraw  # noqa: E402
from mnist_core.storage.models import BUILTIN_DIR, ModelStore  # noqa: E402

PROJECT = Path(__file__).resolve().parent.parent
OLD_REF = "7188a07"  # the last commit with the default made by `robust-drawings` before real-hands training
BLOCK = 500


def scan_like(digit: np.ndarray, rng: np.random.Generator, size: int = 16) -> np.ndarray:
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


def styled_block(kind: str, images: np.ndarray, seed: int, start: int) -> tuple[np.ndarray, np.ndarray]:
    """Render uint8 digits (B, 28, 28) as `kind` and read them back MNIST-style: (B, 28, 28) in [0, 1],
    and whether preprocessing took the ink for the background (B,) (the image's border read as ink)."""
    rng = np.random.default_rng([seed, start])
    if kind == "redrawn":
        rendered = [redraw(d, rng) for d in images]
    elif kind == "scans16":
        rendered = [scan_like(d, rng) for d in images]
    else:
        rendered = list(images)  # as given (MNIST itself, sklearn's 8x8)
    steps = [mnist_style(image) for image in rendered]
    # Grey scans only (a canvas's ink is its alpha, never inverted; a big drawing may touch the edges).
    inverted = [kind != "redrawn" and float(np.concatenate([s.ink[0], s.ink[-1], s.ink[:, 0], s.ink[:, -1]]).mean())
                > 0.5 for s in steps]
    return np.stack([s.output for s in steps]), np.array(inverted)


def render(kind: str, images: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
        starts = range(0, len(images), BLOCK)
        blocks = list(pool.map(styled_block, [kind] * len(starts), [images[i:i + BLOCK] for i in starts],
                               [seed] * len(starts), starts))
    return np.concatenate([b[0] for b in blocks]), np.concatenate([b[1] for b in blocks])


def old_default(ref: str, folder: Path) -> Path:
    """The shipped default.pt as it was at git `ref`, written into `folder`."""
    blob = subprocess.run(["git", "show", f"{ref}:mnist_core/builtin_models/default.pt"], cwd=PROJECT,
                          check=True, capture_output=True).stdout
    (folder / "default.pt").write_bytes(blob)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--old-ref", default=OLD_REF, help="git commit whose default.pt is 'old'")
    parser.add_argument("--count", type=int, default=10000, help="MNIST test digits for redrawn and scans16")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--store", help="a store with more models to score (--models)")
    parser.add_argument("--models", nargs="*", default=[])
    args = parser.parse_args()
    from sklearn.datasets import load_digits

    began = time.perf_counter()
    mnist = load_mnist()
    count = min(args.count, len(mnist.test_labels))
    picks = np.sort(np.random.default_rng(args.seed).choice(len(mnist.test_labels), count, replace=False))
    test, test_labels = mnist.test_images[picks], mnist.test_labels[picks].astype(np.int64)
    digits = load_digits()
    hands = np.round(digits.images * (255 / 16)).astype(np.uint8)  # (1797, 8, 8), ink light on dark
    # Rendered in worker processes before torch starts its threads in this one.
    all_labels = mnist.test_labels.astype(np.int64)
    sets = {"MNIST test (as trained)": (mnist.test_images, all_labels)}
    for label, kind, images, labels in (("MNIST test via predict", "plain", mnist.test_images, all_labels),
                                        ("redrawn (synth.redraw)", "redrawn", test, test_labels),
                                        ("sklearn digits 8x8", "plain", hands, digits.target.astype(np.int64)),
                                        ("scans16 (MNIST test)", "scans16", test, test_labels)):
        styled, inverted = render(kind, images, args.seed)
        sets[label] = styled, labels
        if inverted.any():  # no model can read these: preprocessing took the ink for paper
            print(f"{label}: {inverted.sum()} of {len(inverted)} read with the wrong polarity by preprocess "
                  "(the ink covers over half of the image)")
            sets[f"  {kind}, polarity right"] = styled[~inverted], labels[~inverted]
    print(f"rendered and preprocessed in {time.perf_counter() - began:.0f} s "
          f"({count} MNIST test digits for redrawn and scans16, seed {args.seed})", flush=True)
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as folder:
        models = {f"old default ({args.old_ref})": ModelStore(old_default(args.old_ref, Path(folder)), None),
                  "new default": ModelStore(BUILTIN_DIR, None)}
        loaded = {label: store.load("default")[0] for label, store in models.items()}
    for name in args.models:
        loaded[name] = ModelStore(args.store).load(name)[0]
    print(f"{'set':<26}" + "".join(f"{label:>24}" for label in loaded))
    for label, (images, labels) in sets.items():
        row = [float((predict_probs(m, images).argmax(1).numpy() == labels).mean()) for m in loaded.values()]
        print(f"{label:<26}" + "".join(f"{acc:>24.2%}" for acc in row), flush=True)


if __name__ == "__main__":
    main()
