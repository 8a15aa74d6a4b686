"""The Inside page's figures: how fast each look inside answers for the shipped model (nearest training
digits above all: goal under 200 ms for 60,000 on CPU), what the robustness curves show for the shipped
(augmented) model against a model trained without augmentation, and what the training-health reports
cost a training epoch.

Run: MNIST_DIR=../shared/data/mnist python benchmarks/inside_figures.py [--threads 1] [--no-compare]
(--threads 1 is what the app's server uses; the comparison trains the recommended preset, ~30 s).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from mnist_core.net.config import PRESETS  # noqa: E402
from mnist_core.net.data import load_mnist  # noqa: E402
from mnist_core.net.health import dead_share, gradient_norms  # noqa: E402
from mnist_core.net.inside import (  # noqa: E402
    activations,
    features,
    hidden_index,
    occlusion,
    pixel_index,
    project,
    saliency,
)
from mnist_core.net.model import layers_label, weight_images  # noqa: E402
from mnist_core.net.perturb import PERTURBATIONS, robustness_curve, shift_grid  # noqa: E402
from mnist_core.net.train import REPORT_EVERY, Trainer  # noqa: E402
from mnist_core.storage.models import ModelStore  # noqa: E402


def timed(function, repeats: int) -> tuple[float, float]:
    """Median and slowest seconds of `repeats` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), max(times)


def once(function):
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the app's server uses 1)")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--no-compare", action="store_true", help="skip training a model without augmentation")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_mnist()
    model, meta, _ = ModelStore().load("default")
    print(f"model: default ({layers_label(model.hidden)}), torch threads {args.threads}")

    # Nearest training digits: built once, then one query per look.
    by_pixels, build_pixels = once(lambda: pixel_index(data.train_images))
    by_hidden, build_hidden = once(lambda: hidden_index(model, data.train_images))
    queries = data.test_images[:args.queries]
    pixel_times, hidden_times, both_times = [], [], []
    for image in queries:
        start = time.perf_counter()
        by_pixels.query(features(None, image, None)[0], 8)
        middle = time.perf_counter()
        by_hidden.query(features(model, image, -1)[0], 8)
        end = time.perf_counter()
        pixel_times.append(middle - start)
        hidden_times.append(end - middle)
        both_times.append(end - start)
    print(f"nearest digits among {len(data.train_labels):,}: build once: pixels {build_pixels:.2f} s, "
          f"hidden layer {build_hidden:.2f} s")
    for label, times in (("pixels", pixel_times), ("hidden layer", hidden_times), ("both", both_times)):
        print(f"  query by {label}: median {statistics.median(times) * 1000:.0f} ms, "
              f"slowest {max(times) * 1000:.0f} ms over {len(times)} queries")

    image = data.test_images[0]
    for label, call in (("weight images", lambda: weight_images(model)),
                        ("activations", lambda: activations(model, image)),
                        ("saliency (gradient x input)", lambda: saliency(model, image, 7)),
                        ("occlusion (3x3)", lambda: occlusion(model, image, 7, 3)),
                        ("shift grid 11x11", lambda: shift_grid(model, image, 5))):
        median, slowest = timed(call, 20)
        print(f"{label}: median {median * 1000:.1f} ms, slowest {slowest * 1000:.1f} ms")

    # Robustness on the whole test set, the shipped model against one trained without augmentation.
    models = {"default (augmented)": model}
    if not args.no_compare:
        trainer, seconds = once(lambda: Trainer(PRESETS["recommended"], data))
        _, seconds = once(lambda: trainer.train())
        models["recommended (no augmentation)"] = trainer.model.eval()
        print(f"trained the recommended preset for the comparison in {seconds:.0f} s")
    for kind, (_, unit) in PERTURBATIONS.items():
        for name, candidate in models.items():
            start = time.perf_counter()
            curve = robustness_curve(candidate, data.test_images, data.test_labels, kind)
            seconds = time.perf_counter() - start
            points = ", ".join(f"{level:g}: {accuracy:.1%}" for level, accuracy in curve)
            print(f"{kind} ({unit}) {name}: {points}  [{seconds:.1f} s]")

    # The map: PCA of 1,000+ test digits, and t-SNE on request.
    sample = data.test_images[:1100]
    hidden_last = features(model, sample, -1)
    _, pca_seconds = once(lambda: project(hidden_last, "pca"))
    _, tsne_seconds = once(lambda: project(hidden_last, "tsne"))
    print(f"map of {len(sample)} test digits (last hidden layer): PCA {pca_seconds:.2f} s, t-SNE {tsne_seconds:.1f} s")

    # Training health: what the reports add to an epoch of the recommended preset.
    trainer = Trainer(PRESETS["recommended"], data)
    record = trainer.train(1)[0]
    norms_seconds, _ = timed(lambda: gradient_norms(trainer.model), 50)
    probe = trainer.data.train_images[:2048]
    dead_seconds, _ = timed(lambda: dead_share(trainer.model, probe), 10)
    weights_seconds, _ = timed(lambda: weight_images(trainer.model), 50)
    reports = -(-trainer.batches_per_epoch() // REPORT_EVERY)
    added = reports * (norms_seconds + weights_seconds) + dead_seconds  # weights: at most every 0.5 s, so fewer
    print(f"training health per epoch: {reports} gradient reports x {norms_seconds * 1e6:.0f} us, dead-unit probe "
          f"{dead_seconds * 1000:.1f} ms, weight copies <= {reports} x {weights_seconds * 1e6:.0f} us; "
          f"at most {added * 1000:.0f} ms of a {record.seconds:.1f} s epoch ({added / record.seconds:.1%})")
    print(f"dead units after 1 epoch of the recommended preset: {record.dead_share}")


if __name__ == "__main__":
    main()
