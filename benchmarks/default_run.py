"""The default `python -m mnist_core train` run: its final test macro-F1 and wall time (goal: >= 0.98
in well under a minute on 2 CPU cores). Runs the real command line, for a few seeds.

Run: MNIST_DIR=../shared/data/mnist python benchmarks/default_run.py [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("extra", nargs="*", help="more arguments for `train`, e.g. --device cpu")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as store:
        for seed in args.seeds:
            start = time.perf_counter()
            out = subprocess.run([sys.executable, "-m", "mnist_core", "train", "--json", "--seed", str(seed),
                                  "--store", store, "--name", f"seed{seed}", *args.extra],
                                 cwd=PROJECT, check=True, capture_output=True, text=True).stdout
            wall = time.perf_counter() - start
            last = [json.loads(line) for line in out.splitlines()][-1]
            print(f"seed {seed}: {last['epoch']} epochs, test macro-F1 {last['test_f1']:.4f}, "
                  f"test accuracy {last['test_accuracy']:.2%}, {wall:.1f} s wall (command start to saved model)",
                  flush=True)


if __name__ == "__main__":
    main()
