"""Augmentation overhead: seconds per epoch of the same training with and without augmentation,
alternating in one run (goal: at most 25% more).

Run: MNIST_DIR=../shared/data/mnist python benchmarks/augment_overhead.py [--preset robust-drawings] [--rounds 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from mnist_core.data import load_mnist  # noqa: E402
from mnist_core.train import PRESETS, Trainer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", default="robust-drawings", choices=list(PRESETS))
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    config = replace(PRESETS[args.preset], device="cpu")
    strength = config.augment or 0.7
    mnist = load_mnist()
    plain = Trainer(replace(config, augment=0.0), mnist)
    augmented = Trainer(replace(config, augment=strength), plain.data)
    plain_times, augmented_times = [], []
    for _ in range(args.rounds):
        plain_times.append(plain.train(1)[0].seconds)
        augmented_times.append(augmented.train(1)[0].seconds)
    a, b = statistics.median(plain_times), statistics.median(augmented_times)
    print(f"{args.preset} (784-{'-'.join(map(str, config.hidden))}-10), augmentation {strength}: "
          f"{a:.2f} s/epoch without, {b:.2f} s/epoch with; overhead {100 * (b / a - 1):+.0f}% (goal <= 25%)")


if __name__ == "__main__":
    main()
