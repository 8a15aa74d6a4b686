"""Drawn digits made MNIST-style: accuracy on MNIST test digits redrawn as users draw them on a
280x280 canvas (random size, place, stroke width and polarity), against the same model on the
clean digits and against a plain resize of the canvas; and the time to preprocess and predict one
canvas (median over many).

Run: MNIST_DIR=../shared/data/mnist python benchmarks/redrawn_digits.py [--model NAME] [--count 10000]
(without --model it trains the default setting first). All 10,000 test digits by default, redrawn
on every core (about 1.5 min on 2): a sample of 2,000 swings by +-0.3 points between seeds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from mnist_core.net.config import TrainConfig  # noqa: E402
from mnist_core.net.data import load_mnist  # noqa: E402
from mnist_core.net.evaluate import predict_probs, read_digit  # noqa: E402
from mnist_core.net.preprocess import mnist_style, plain_resize  # noqa: E402
from mnist_core.net.synth import redraw  # noqa: E402
from mnist_core.net.train import Trainer  # noqa: E402
from mnist_core.storage.models import ModelStore  # noqa: E402

BLOCK = 500  # digits per task; each block draws from its own generator, so the result does not depend on the cores


def redraw_block(images: np.ndarray, seed: int, start: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Redraw uint8 digits (B, 28, 28) on canvases and read them back: MNIST-style (B, 28, 28), plain
    resize (B, 28, 28) and each canvas's polarity."""
    rng = np.random.default_rng([seed, start])
    canvases = [redraw(image, rng) for image in images]
    polarity = [{4: "canvas", 3: "dark_on_light"}.get(c.shape[2] if c.ndim == 3 else 0, "light_on_dark")
                for c in canvases]
    return (np.stack([mnist_style(c).output for c in canvases]), np.stack([plain_resize(c) for c in canvases]),
            polarity)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", help="a stored model (default: train the default setting now)")
    parser.add_argument("--store")
    parser.add_argument("--count", type=int, default=10000, help="test digits to redraw (a random sample below 10,000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    mnist = load_mnist()
    count = min(args.count, len(mnist.test_labels))
    picks = np.arange(count) if count == len(mnist.test_labels) else \
        np.sort(np.random.default_rng(args.seed).choice(len(mnist.test_labels), count, replace=False))
    images, labels = mnist.test_images[picks], mnist.test_labels[picks]
    # Redrawn first, in worker processes, before torch starts its threads in this one.
    with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
        starts = range(0, count, BLOCK)
        blocks = list(pool.map(redraw_block, [images[i:i + BLOCK] for i in starts], [args.seed] * len(starts),
                               starts))
    styled, plained = (np.concatenate([b[k] for b in blocks]) for k in (0, 1))
    polarities = np.array([p for b in blocks for p in b[2]])
    torch.set_num_threads(2)
    if args.model:
        model, meta, _ = ModelStore(args.store).load(args.model)
        label = f"model '{args.model}'"
    else:
        trainer = Trainer(TrainConfig(device="cpu"), mnist)
        trainer.train()
        model, label = trainer.model.eval(), "the default setting, trained now"

    clean = predict_probs(model, images).argmax(1).numpy()
    drawn = predict_probs(model, styled).argmax(1).numpy()
    plain = predict_probs(model, plained).argmax(1).numpy()
    clean_acc, drawn_acc, plain_acc = (float((p == labels).mean()) for p in (clean, drawn, plain))
    print(f"{label}; {count} test digits, each redrawn once on a 280x280 canvas")
    print(f"clean digits:            {clean_acc:.2%}")
    print(f"redrawn, MNIST-style:    {drawn_acc:.2%}  (gap {100 * (clean_acc - drawn_acc):.2f} points; goals: "
          f"<= 1.0 for any model, <= 0.5 and >= 98.5% for the robust-drawings one)")
    print(f"redrawn, plain resize:   {plain_acc:.2%}")
    for polarity in ("canvas", "dark_on_light", "light_on_dark"):
        chosen = polarities == polarity
        print(f"  {polarity:<14} {float((drawn[chosen] == labels[chosen]).mean()):.2%} of {int(chosen.sum())}")

    rng = np.random.default_rng(args.seed)
    times = []
    for canvas in (redraw(image, rng) for image in images[:300]):
        start = time.perf_counter()
        read_digit(model, canvas)
        times.append(time.perf_counter() - start)
    print(f"preprocess + predict one 280x280 canvas: median {1000 * statistics.median(times):.2f} ms, "
          f"90th percentile {1000 * np.percentile(times, 90):.2f} ms (goal: median <= 5 ms)")


if __name__ == "__main__":
    main()
