"""Engine figures of the engine issue, measured side by side in one process:

1. the notebook's recipe (784-128-10 on raw 0..255 pixels, Adam lr 1e-4, a per-sample Dataset in a
   DataLoader of batch 64, evaluation collecting labels into Python lists) against our Trainer on the
   same network and batch: seconds per whole epoch including train and test F1, and the ratio.
   The guide timed the notebook at about 8 s an epoch: 3 s training, 5 s evaluating. How the labels went
   into the lists decides the evaluation time, so both usual ways are timed, alternating with the rest:
   as tensors (`y_pred.extend(preds)`, which scikit-learn then converts one by one) reproduces the
   guide's 5 s and is the recipe of the figure; with `.tolist()`, the quickest way, it takes about 1 s,
   and the ratio against that stricter baseline is printed as well;
2. the Trainer's training phase (progress reports, stop checks) against a bare loop of the same
   network and batch: the overhead in percent.

Run: MNIST_DIR=../shared/data/mnist python benchmarks/engine_speed.py [--epochs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import f1_score
from torch import nn
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from mnist_core.net.config import TrainConfig  # noqa: E402
from mnist_core.net.data import load_mnist  # noqa: E402
from mnist_core.net.model import MLP  # noqa: E402
from mnist_core.net.train import DeviceData, Trainer  # noqa: E402


class NotebookDataset(Dataset):
    """As the notebook did: one sample at a time, converted to a float tensor of raw pixels."""

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return torch.tensor(self.images[i], dtype=torch.float32), int(self.labels[i])


def notebook_evaluation(model, eval_loaders, as_tensors: bool = False) -> float:
    """Seconds of the notebook's two evaluations (train and test F1), labels collected into lists with
    `.tolist()`, or as tensors (a list of one-element tensors, which scikit-learn then converts one by one)."""
    start = time.perf_counter()
    model.eval()
    for loader in eval_loaders:
        y_true, y_pred = [], []
        with torch.no_grad():
            for images, labels in loader:
                preds = model(images).argmax(1)
                if as_tensors:
                    y_pred.extend(preds)
                    y_true.extend(labels)
                else:
                    y_pred += preds.tolist()
                    y_true += labels.tolist()
        f1_score(y_true, y_pred, average="macro")
    return time.perf_counter() - start


def notebook_epoch(model, optimizer, train_loader, eval_loaders) -> tuple[float, float]:
    """Seconds of the training pass and of the two evaluations."""
    start = time.perf_counter()
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for images, labels in train_loader:
        optimizer.zero_grad()
        loss = loss_fn(model(images), labels)
        loss.backward()
        optimizer.step()
    trained = time.perf_counter()
    return trained - start, notebook_evaluation(model, eval_loaders)


def bare_epoch(model, optimizer, data: DeviceData, batch_size: int, seed: int) -> float:
    """The same training as the Trainer's, without reports, stop checks or scoring."""
    start = time.perf_counter()
    loss_fn = nn.CrossEntropyLoss()
    order = torch.randperm(len(data.train_labels), generator=torch.Generator().manual_seed(seed))
    images, labels = data.train_images[order], data.train_labels[order]
    model.train()
    for i in range(0, len(labels), batch_size):
        loss = loss_fn(model(images[i:i + batch_size]), labels[i:i + batch_size])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=5, help="epochs of each contender (alternating)")
    args = parser.parse_args()
    mnist = load_mnist()
    config = TrainConfig(hidden=(128,), dropout=0.0, lr=1e-4, schedule="constant", batch_size=64, device="cpu")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; network 784-128-10, batch 64")

    # 1. notebook recipe against the Trainer, alternating epochs so both see the same machine load.
    torch.manual_seed(0)
    nb_model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    nb_optimizer = torch.optim.Adam(nb_model.parameters(), lr=1e-4)
    train_set = NotebookDataset(mnist.train_images, mnist.train_labels.astype(np.int64))
    test_set = NotebookDataset(mnist.test_images, mnist.test_labels.astype(np.int64))
    train_loader = DataLoader(train_set, batch_size=64, shuffle=True)
    eval_loaders = [DataLoader(train_set, batch_size=64), DataLoader(test_set, batch_size=64)]
    trainer = Trainer(config, mnist)
    notebook_parts, ours, as_tensors = [], [], []
    for _ in range(args.epochs):
        notebook_parts.append(notebook_epoch(nb_model, nb_optimizer, train_loader, eval_loaders))
        ours.append(trainer.train(1)[0].seconds)
        as_tensors.append(notebook_evaluation(nb_model, eval_loaders, as_tensors=True))
    training = [p[0] for p in notebook_parts]
    recipe = [t + e for t, e in zip(training, as_tensors, strict=True)]  # as the guide timed it
    quickest = [sum(parts) for parts in notebook_parts]
    nb, quick, us = statistics.median(recipe), statistics.median(quickest), statistics.median(ours)

    def listed(seconds: list[float]) -> str:
        return ", ".join(f"{t:.2f}" for t in seconds)

    print(f"notebook recipe: {nb:.2f} s/epoch (train + train F1 + test F1; the guide: about 8 s), epochs "
          f"{listed(recipe)}; of which training {statistics.median(training):.2f} s (the guide: 3 s), evaluating "
          f"with labels collected as tensors {statistics.median(as_tensors):.2f} s (the guide: 5 s)")
    print(f"our Trainer:     {us:.2f} s/epoch (same), epochs {listed(ours)}; "
          f"test F1 after {args.epochs}: {trainer.history[-1].test_f1:.4f}")
    print(f"SPEEDUP vs notebook: {nb / us:.1f}x (goal >= 4x)")
    print(f"stricter: the recipe with labels collected by .tolist() (evaluating in "
          f"{statistics.median(p[1] for p in notebook_parts):.2f} s): {quick:.2f} s/epoch, epochs {listed(quickest)}; "
          f"ours {quick / us:.1f}x faster")

    # 2. progress reports and stop checks against a bare loop.
    data = trainer.data
    torch.manual_seed(0)
    bare_model = MLP((128,))
    bare_optimizer = torch.optim.Adam(bare_model.parameters(), lr=1e-4, fused=True)
    stop = threading.Event()
    lock = threading.Lock()
    received: list[float] = []
    train_phase: list[float] = []

    def on_progress(p) -> None:  # what a UI listener does: copy the losses under a lock
        with lock:
            received.extend(p.batch_losses)
        if p.batch == p.batches:
            train_phase.append(p.seconds)

    bare_times = []
    for epoch in range(args.epochs):
        bare_times.append(bare_epoch(bare_model, bare_optimizer, data, 64, epoch))
        trainer.train(1, on_progress, stop.is_set)
    bare, instrumented = statistics.median(bare_times), statistics.median(train_phase)
    print(f"bare loop: {bare:.2f} s/epoch; Trainer training phase with reports and stop checks: {instrumented:.2f} s")
    print(f"OVERHEAD of reports and stop checks: {100 * (instrumented / bare - 1):+.0f}% (goal <= 30%)")


if __name__ == "__main__":
    main()
