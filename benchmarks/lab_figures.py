"""The lab's before -> after on the whole MNIST test set (goal: the figures in under 1 s on 2 CPU cores),
and what the other looks inside the network cost for the shipped model: the lit-up network for one digit
(it redraws with every stroke), unit profiles (once per model), the knock-out sequence and a layer's maths.

Run: MNIST_DIR=../shared/data/mnist nice -n 10 python benchmarks/lab_figures.py [--threads 2] [--repeats 5]
Prints the median and the slowest of the repeats; the machine's load is printed too (shared machines vary).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from inside_figures import timed  # noqa: E402  (one timer for the Inside and lab figures; beside this script)

from mnist_core.net.data import load_mnist  # noqa: E402
from mnist_core.net.edits import Prune, ShiftBias, SwitchOff, Temperature, WeightNoise  # noqa: E402
from mnist_core.net.graph import network_graph, unit_profiles  # noqa: E402
from mnist_core.net.lab import apply_edits, before_after, figures, knock_out_until_change  # noqa: E402
from mnist_core.net.maths import layer_maths  # noqa: E402
from mnist_core.net.model import layers_label  # noqa: E402
from mnist_core.net.preprocess import as_model_input  # noqa: E402
from mnist_core.storage.models import ModelStore  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_mnist()
    model, meta, _ = ModelStore().load("default")
    test = as_model_input(data.test_images)  # prepared once per server, as the page caches it
    labels = data.test_labels
    image = data.test_images[0]
    edits = [SwitchOff(1, 3), ShiftBias(0, 5, 1.0), WeightNoise(0.1), Prune(0.3), Temperature(1.5)]
    print(f"model 'default' {layers_label(model.hidden)}, {len(labels):,} test digits, {args.threads} torch "
          f"thread(s), load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    rows = [
        ("apply 5 edits (a new model)", lambda: apply_edits(model, edits)),
        ("figures on 10,000 test digits (one model)", lambda: figures(model, test, labels)),
        ("edit + after figures (before cached)", lambda: figures(apply_edits(model, edits), test, labels)),
        ("before -> after, both models, + one digit",
         lambda: before_after(model, apply_edits(model, edits), {"test": (test, labels)}, image)),
        ("the lit-up network for one digit", lambda: network_graph(model, image)),
        ("knock-out sequence for one digit", lambda: knock_out_until_change(model, image)),
        ("maths of hidden layer 1 for one digit", lambda: layer_maths(model, image, 0)),
        ("unit profiles on 10,000 test digits", lambda: unit_profiles(model, test, labels)),
    ]
    for name, function in rows:
        function()  # warm
        median, worst = timed(function, args.repeats)
        print(f"  {name:<46} median {median * 1000:7.1f} ms   slowest {worst * 1000:7.1f} ms")
    after = figures(apply_edits(model, edits), test, labels)
    before = figures(model, test, labels)
    print(f"  accuracy {before.accuracy:.2%} -> {after.accuracy:.2%}, confident errors {before.confident_errors} "
          f"-> {after.confident_errors} (edits: switch off, bias, 10% noise, 30% pruned, temperature 1.5)")


if __name__ == "__main__":
    main()
