"""Train more on our handwriting, on a simulated class: 30 students, each with a drawing style of their own
(slant, aspect, pen, size, a distortion of their own, habits such as crossed 7s and flagged 1s), draw
every digit; the collection is split as the app splits it, and a model is trained on as the app's
"Train more on our handwriting" does (MNIST mixed with the learning part, through runs.train_run).
Prints before -> after on the class's held-out part, on new drawings by the same students, on a new
class, and on the MNIST test set; and, as the baseline measured in the same run, the same extra epochs
on MNIST alone.

Run: MNIST_DIR=../shared/data/mnist python benchmarks/class_handwriting.py [--model default]
[--students 30] [--per-digit 1] [--epochs 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from mnist_core.classroom.collection import split  # noqa: E402
from mnist_core.classroom.fine_tune import class_extra, fine_tune_config  # noqa: E402
from mnist_core.classroom.scoring import examples, score  # noqa: E402
from mnist_core.classroom.simulated import simulated_class, simulated_students  # noqa: E402
from mnist_core.net.data import load_mnist  # noqa: E402
from mnist_core.net.evaluate import evaluate  # noqa: E402
from mnist_core.net.model import build_model  # noqa: E402
from mnist_core.runs.body import start_from_store, train_run  # noqa: E402
from mnist_core.runs.spec import RunSpec, StartState  # noqa: E402
from mnist_core.storage.models import ModelStore  # noqa: E402


def trained_on(start: StartState, config, data, extra, threads: int):
    spec = RunSpec(config, config.epochs, threads, start, live_weights=False, extra=extra)
    result = train_run(spec, data, lambda message: None, lambda: False)
    model = build_model(result.model)
    model.load_state_dict(result.weights)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--per-digit", type=int, default=1, help="drawings of each digit by each student")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--share", type=float, default=None, help="share of each epoch for the class's drawings")
    parser.add_argument("--augment", type=float, default=None, help="deformation strength of the class's drawings")
    parser.add_argument("--lr-factor", type=float, default=None, help="learning rate as a share of the model's")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_mnist()
    styles = simulated_students(args.students, args.seed)
    made = time.perf_counter()
    collection = [d for _, d in simulated_class(data.train_images, data.train_labels, styles, args.per_digit,
                                                args.seed)]
    learn, held = split(collection)
    same_students = examples([d for _, d in simulated_class(data.train_images, data.train_labels, styles, 3,
                                                            args.seed + 1000)])
    new_class = examples([d for _, d in simulated_class(data.train_images, data.train_labels,
                                                        simulated_students(args.students, args.seed + 2000), 3,
                                                        args.seed + 2000)])
    print(f"{args.students} simulated students x 10 digits x {args.per_digit}: {len(collection)} drawings, "
          f"{len(learn)} to learn from, {len(held)} held out; {len(same_students)} new drawings by the same "
          f"students, {len(new_class)} by {args.students} other students (made in "
          f"{time.perf_counter() - made:.0f} s)")

    store = ModelStore()
    start, meta = start_from_store(store, args.model)
    start.optimizer = {}
    before, _, _ = store.load(args.model)
    config = fine_tune_config(meta.config, args.epochs, device="cpu")
    if args.lr_factor:
        config = replace(config, lr=meta.config.lr * args.lr_factor)
    extra = class_extra(learn, "simulated")
    extra.share = args.share or extra.share
    extra.augment = extra.augment if args.augment is None else args.augment
    print(f"model {args.model}: 784-{'-'.join(map(str, meta.model['hidden']))}-10; Train more: {config.epochs} "
          f"epochs, lr {config.lr:g} cosine, class share {extra.share:.0%} of each epoch, "
          f"deformed at {extra.augment:g}")
    began = time.perf_counter()
    mnist_only = trained_on(start, config, data, None, args.threads)
    with_class = trained_on(start, config, data, extra, args.threads)
    print(f"(both runs trained in {time.perf_counter() - began:.0f} s; the machine is shared and noisy)")

    held_examples = examples(held)
    rows = [("class learning part", examples(learn)), ("class held-out part", held_examples),
            ("same students, new drawings", same_students),
            ("another class", new_class)]
    models = [("before", before), ("MNIST only", mnist_only), ("with the class", with_class)]
    print(f"\n{'accuracy on':30s}" + "".join(f"{name:>16s}" for name, _ in models))
    for label, part in rows:
        print(f"{label + f' ({len(part)})':30s}" + "".join(f"{score(m, part).accuracy:16.2%}" for _, m in models))
    mnist = [evaluate(m, data.test_images, data.test_labels).accuracy for _, m in models]
    print(f"{'MNIST test (10000)':30s}" + "".join(f"{a:16.2%}" for a in mnist))
    gain = score(with_class, held_examples).accuracy - score(before, held_examples).accuracy
    print(f"\nclass held-out: {100 * gain:+.1f} points; MNIST test: {100 * (mnist[2] - mnist[0]):+.2f} points "
          f"(goal: up clearly, MNIST down at most 0.2)")


if __name__ == "__main__":
    main()
