"""Augmentation overhead: seconds per epoch of the same training with and without augmentation
(deformations and drawn digits), alternating in one run (goal: at most 25% more); and the one-time
cost of drawing the drawn digits (cached on disk afterwards).

Run: MNIST_DIR=../shared/data/mnist python benchmarks/augment_overhead.py [--preset robust-drawings] [--rounds 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from mnist_core.net.config import PRESETS  # noqa: E402
from mnist_core.net.data import load_mnist  # noqa: E402
from mnist_core.net.model import layers_label  # noqa: E402
from mnist_core.net.train import Trainer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", default="robust-drawings", choices=list(PRESETS))
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    config = replace(PRESETS[args.preset], device="cpu")
    strength = config.augment or 0.7
    mnist = load_mnist()
    plain = Trainer(replace(config, augment=0.0, drawn=0.0), mnist)
    augmented = Trainer(replace(config, augment=strength), plain.data)
    began = time.perf_counter()
    drawn = len(augmented.drawn_digits()[0])  # made once before the first epoch, or read from the cache
    drawing = time.perf_counter() - began
    plain_times, augmented_times = [], []
    for _ in range(args.rounds):
        plain_times.append(plain.train(1)[0].seconds)
        augmented_times.append(augmented.train(1)[0].seconds)
    a, b = statistics.median(plain_times), statistics.median(augmented_times)
    print(f"{args.preset} ({layers_label(config.hidden)}), augmentation {strength}, {drawn} drawn "
          f"digits: {a:.2f} s/epoch without, {b:.2f} s/epoch with; overhead {100 * (b / a - 1):+.0f}% (goal <= 25%)")
    print(f"drawing the {drawn} digits before the first epoch: {drawing:.1f} s "
          f"({'read from the cache' if drawing < 2 else 'made now, cached for the next run'})")


if __name__ == "__main__":
    main()
