"""What the leaderboard page costs the server: listing N stored models (each full rerun) against the look
at the folder that each idle refresh makes (store_signature), on a temporary store of 784-256-10 models.

    python benchmarks/leaderboard_costs.py [--models 40] [--rounds 7]

Prints one JSON object: medians in milliseconds, and their ratio."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mnist_core.classroom.leaderboard import saved_entries, sort_entries, store_signature  # noqa: E402
from mnist_core.net.config import TrainConfig  # noqa: E402
from mnist_core.net.history import EpochRecord, Metrics
from mnist_core.net.model import build_model  # noqa: E402
from mnist_core.storage.models import ModelMeta, ModelStore  # noqa: E402


def median_ms(action, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store = ModelStore(Path(folder) / "models")
        spec = {"hidden": [256], "activation": "relu", "dropout": 0.1}
        for i in range(args.models):
            history = [EpochRecord(epoch=e, loss=0.1, train_f1=0.9, test_f1=0.9, test_accuracy=0.9, seconds=1.0)
                       for e in range(1, 7)]
            meta = ModelMeta(name=f"m{i:03d}", model=spec, config=TrainConfig(), history=history,
                             metrics=Metrics(test_accuracy=0.9 + i / 1000, test_f1=0.9), created="2026-11-29T20:00:00")
            store.save(build_model(spec), meta)
        listing = median_ms(lambda: sort_entries(saved_entries(store), "MNIST test accuracy"), args.rounds)
        look = median_ms(lambda: store_signature(store), args.rounds)
    print(json.dumps({"models": args.models + 1, "list_and_rank_ms": round(listing, 1),
                      "idle_look_ms": round(look, 2), "ratio": round(listing / look, 1)}))


if __name__ == "__main__":
    main()
