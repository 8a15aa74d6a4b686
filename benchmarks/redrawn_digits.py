"""Drawn digits made MNIST-style: accuracy on MNIST test digits redrawn as users draw them on a
280x280 canvas (random size, place, stroke width and polarity), against the same model on the
clean digits and against a plain resize of the canvas; and the time to preprocess and predict one
canvas (median over many).

Run: MNIST_DIR=../shared/data/mnist python benchmarks/redrawn_digits.py [--model NAME] [--count 2000]
(without --model it trains the default setting first).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from mnist_core.data import load_mnist  # noqa: E402
from mnist_core.evaluate import predict_probs, read_digit  # noqa: E402
from mnist_core.preprocess import mnist_style, plain_resize  # noqa: E402
from mnist_core.store import ModelStore  # noqa: E402
from mnist_core.synth import redraw  # noqa: E402
from mnist_core.train import TrainConfig, Trainer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", help="a stored model (default: train the default setting now)")
    parser.add_argument("--store")
    parser.add_argument("--count", type=int, default=2000, help="test digits to redraw")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(2)
    mnist = load_mnist()
    if args.model:
        model, meta, _ = ModelStore(args.store).load(args.model)
        label = f"model '{args.model}'"
    else:
        trainer = Trainer(TrainConfig(device="cpu"), mnist)
        trainer.train()
        model, label = trainer.model.eval(), "the default setting, trained now"
    rng = np.random.default_rng(args.seed)
    picks = rng.choice(len(mnist.test_labels), args.count, replace=False)
    images, labels = mnist.test_images[picks], mnist.test_labels[picks]
    canvases = [redraw(image, rng) for image in images]

    clean = predict_probs(model, images).argmax(1).numpy()
    styled = np.stack([mnist_style(c).output for c in canvases])
    drawn = predict_probs(model, styled).argmax(1).numpy()
    plain = predict_probs(model, np.stack([plain_resize(c) for c in canvases])).argmax(1).numpy()
    clean_acc, drawn_acc, plain_acc = (float((p == labels).mean()) for p in (clean, drawn, plain))
    print(f"{label}; {args.count} test digits, each redrawn once on a 280x280 canvas")
    print(f"clean digits:            {clean_acc:.2%}")
    print(f"redrawn, MNIST-style:    {drawn_acc:.2%}  (gap {100 * (clean_acc - drawn_acc):.2f} points; goal <= 1.0)")
    print(f"redrawn, plain resize:   {plain_acc:.2%}")
    for polarity in ("canvas", "dark_on_light", "light_on_dark"):
        chosen = [i for i, c in enumerate(canvases) if
                  {4: "canvas", 3: "dark_on_light"}.get(c.shape[2] if c.ndim == 3 else 0, "light_on_dark") == polarity]
        print(f"  {polarity:<14} {float((drawn[chosen] == labels[chosen]).mean()):.2%} of {len(chosen)}")

    times = []
    for canvas in canvases[:300]:
        start = time.perf_counter()
        read_digit(model, canvas)
        times.append(time.perf_counter() - start)
    print(f"preprocess + predict one 280x280 canvas: median {1000 * statistics.median(times):.2f} ms, "
          f"90th percentile {1000 * np.percentile(times, 90):.2f} ms (goal: median <= 5 ms)")


if __name__ == "__main__":
    main()
