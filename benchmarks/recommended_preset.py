"""The Recommended preset (the CLI's default, the Train page's first choice) before and after issue #30,
trained in the same run, alternating, on one torch thread: each one's training time and its figures on
the proxies of `net/hands.py` (MNIST test, redrawn digits and their gap, scans16, sklearn, hands misreads).

"before" is the preset as it was (TrainConfig()'s defaults, no drawn digits); "now" is
PRESETS["recommended"]. The drawn digits of "now" are drawn by its first run into an empty cache (that
run's time includes them, shown apart) and read from the cache by the later rounds, as a second run
with the same seed reads them on a person's machine.

Candidates beside them: --try FIELD=VALUE[,FIELD=VALUE] ... (each on top of TrainConfig()).

Run: MNIST_DIR=../shared/data/mnist nice -n 15 python benchmarks/recommended_preset.py [--rounds 2]
     [--count 2000] [--seed 0] [--try drawn=0.1 drawn=0.1,hands=true]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from mnist_core.net.config import PRESETS, TrainConfig  # noqa: E402
from mnist_core.net.data import load_mnist  # noqa: E402
from mnist_core.net.hands import accuracies, proxy_sets  # noqa: E402
from mnist_core.net.train import Trainer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--count", type=int, default=2000, help="MNIST test digits for redrawn and scans16")
    parser.add_argument("--per-kind", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--try", dest="tries", nargs="*", default=[],
                        help="more candidates, each FIELD=VALUE[,FIELD=VALUE] on top of TrainConfig(): drawn=0.15")
    args = parser.parse_args()
    from sklearn.datasets import load_digits

    mnist = load_mnist()
    digits = load_digits()
    with ProcessPoolExecutor(1) as pool:  # rendered before torch starts its threads here
        sets = proxy_sets(mnist.test_images, mnist.test_labels, args.count, args.seed,
                          (np.round(digits.images * (255 / 16)).astype(np.uint8), digits.target), args.per_kind,
                          mapper=pool.map)
    torch.set_num_threads(1)
    configs = {"before": replace(TrainConfig(), seed=args.seed, device="cpu"),
               "now": replace(PRESETS["recommended"], seed=args.seed, device="cpu")}
    for text in args.tries:
        values = dict(part.split("=") for part in text.split(","))
        configs[text] = TrainConfig.from_dict({**configs["before"].to_dict(), **{
            k: (v.lower() == "true") if v.lower() in ("true", "false") else float(v) if "." in v else int(v)
            for k, v in values.items()}})
    print("now differs from before in: " + ", ".join(f"{k} {v}" for k, v in configs["now"].to_dict().items()
                                         if configs["before"].to_dict()[k] != v), flush=True)
    times: dict[str, list[float]] = {name: [] for name in configs}
    models = {}
    with tempfile.TemporaryDirectory() as cache:
        os.environ["MNIST_CACHE"] = cache  # empty: the first "now" draws its digits
        for round_ in range(args.rounds):
            for name, config in configs.items():
                start = time.perf_counter()
                trainer = Trainer(config, mnist)
                drawn_start = time.perf_counter()
                trainer.drawn_digits()
                drawing = time.perf_counter() - drawn_start
                train_start = time.perf_counter()
                trainer.train()
                train = time.perf_counter() - train_start
                times[name].append(train + drawing)
                models[name] = trainer.model
                print(f"round {round_ + 1} {name}: {time.perf_counter() - start:.1f} s in all, training "
                      f"{train:.1f} s, drawing {drawing:.1f} s; test {trainer.history[-1].test_accuracy:.2%}",
                      flush=True)
    for name in configs:
        print(f"{name}: training + drawing {', '.join(f'{t:.1f}' for t in times[name])} s")
    later = slice(1, None) if args.rounds > 1 else slice(None)
    for name in list(configs)[1:]:
        ratio = np.median(times[name][later]) / np.median(times["before"][later])
        print(f"{name} / before, median of rounds {'2+' if args.rounds > 1 else '1'}: {ratio:.3f}; "
              f"round 1 (drawing): {times[name][0] / times['before'][0]:.3f}")
    figures = {name: accuracies(model, sets) for name, model in models.items()}
    print(f"{'set':<26}{'digits':>8}" + "".join(f"{m:>22}" for m in configs))
    for name, proxy in sets.items():
        print(f"{name:<26}{len(proxy.labels):>8}" + "".join(f"{figures[m][name]:>22.2%}" for m in configs))
    for name in configs:
        print(f"{name}: redrawn gap {100 * (figures[name]['mnist via predict'] - figures[name]['redrawn']):.2f} points")


if __name__ == "__main__":
    main()
