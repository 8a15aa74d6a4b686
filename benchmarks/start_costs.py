"""What a run pays before it trains, this tree against another (a worktree of an older commit) in the same run,
alternating: the CPU seconds of importing each process's entry point in a fresh interpreter (the fork server's
training child, a Ray worker's actor, the command line), an epoch's macro-F1 on 60,000 labels (scikit-learn's
against ours), and on a local Ray instance the seconds from `run_on_ray` to the run's Started message for three
tiny runs in a row (a new worker each before; the kept one after); with --app, an app server's cold start:
seconds from `streamlit run app.py` to the first page's title in Chromium, and the server's CPU seconds then.

    python benchmarks/start_costs.py [--baseline ../base] [--rounds 3] [--runs 3] [--no-ray] [--app]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))  # the engine and the tests' helpers, imported where a part needs them
ENTRY_POINTS = ("mnist_core.runs.child", "mnist_core.runs.on_ray", "mnist_core.cli")

IMPORT = """import resource, sys
import {module}
usage = resource.getrusage(resource.RUSAGE_SELF)
print(usage.ru_utime + usage.ru_stime)"""

RAY_RUNS = """import json, sys, time
from mnist_core.net.config import TrainConfig
from mnist_core.runs import on_ray
from mnist_core.runs.spec import RunSpec, Started
from tests.helpers import small_data
import ray
on_ray.connect("local")
data, waits = small_data(), []
for _ in range({runs}):
    start, seen = time.monotonic(), []
    def send(message, seen=seen, start=start):
        if isinstance(message, Started):
            seen.append(time.monotonic() - start)
    spec = RunSpec(TrainConfig(hidden=(16,), epochs=1, batch_size=64, device="cpu"), epochs=1)
    on_ray.run_on_ray(spec, data, send, lambda: False)
    waits.append(seen[0])
ray.shutdown()
print(json.dumps(waits))"""


def in_tree(tree: Path, code: str) -> str:
    """Runs `code` in a fresh interpreter whose engine is `tree`'s; its last line of output."""
    env = {**os.environ, "PYTHONPATH": str(tree), "RAY_DEDUP_LOGS": "0"}
    out = subprocess.run([sys.executable, "-c", code], cwd=tree, env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def import_seconds(tree: Path, module: str) -> float:
    return float(in_tree(tree, IMPORT.format(module=module)))


def f1_milliseconds() -> tuple[float, float]:
    """An epoch's macro-F1 (60,000 labels, 97% right): scikit-learn's f1_score against net.evaluate.macro_f1."""
    import time

    import numpy as np
    from sklearn.metrics import f1_score

    from mnist_core.net.evaluate import macro_f1

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 60_000)
    preds = np.where(rng.random(60_000) < 0.97, labels, rng.integers(0, 10, 60_000))
    times = []
    for score in (lambda: f1_score(labels, preds, average="macro", labels=np.arange(10), zero_division=0),
                  lambda: macro_f1(labels, preds)):
        start = time.process_time()
        for _ in range(20):
            score()
        times.append((time.process_time() - start) / 20 * 1000)
    return times[0], times[1]


def cold_start(tree: Path, browser) -> tuple[float, float]:
    """An app server of `tree` started on a fresh model folder: seconds to the first page's title in a new
    browser context, and the server's CPU seconds by then."""
    import tempfile
    import time

    from benchmarks.suite_cpu import cpu_seconds
    from tests.e2e.helpers import App, LAPTOP
    from tests.helpers import REAL_MNIST

    folder = Path(tempfile.mkdtemp(prefix="cold-start-"))
    started = time.monotonic()
    app = App(folder / "models", REAL_MNIST, {"PYTHONPATH": str(tree)}, cwd=tree)
    try:
        context = browser.new_context(**LAPTOP)
        page = context.new_page()
        page.goto(app.url)
        page.get_by_role("heading").first.wait_for(timeout=120_000)
        seconds, cpu = time.monotonic() - started, cpu_seconds(app.process.pid)
        context.close()
        return seconds, cpu
    finally:
        app.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", type=Path, help="a worktree of the commit to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3, help="tiny Ray runs in a row")
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--app", action="store_true", help="also an app server's cold start, in Chromium")
    args = parser.parse_args()
    trees = {"before": args.baseline.resolve(), "now": PROJECT} if args.baseline else {"now": PROJECT}
    seconds: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        for module in ENTRY_POINTS:
            for name, tree in trees.items():
                seconds.setdefault((name, module), []).append(import_seconds(tree, module))
    print("CPU seconds to import, in a fresh interpreter (median of", args.rounds, "rounds, alternating):")
    for module in ENTRY_POINTS:
        row = "  ".join(f"{name} {statistics.median(seconds[(name, module)]):.2f}" for name in trees)
        print(f"  {module:24s} {row}")
    sklearn_ms, ours_ms = f1_milliseconds()
    print(f"an epoch's macro-F1 on 60,000 labels: scikit-learn {sklearn_ms:.1f} ms, net.evaluate {ours_ms:.2f} ms")
    if args.app:
        from playwright.sync_api import sync_playwright

        from tests.e2e.helpers import CHROMIUM, CHROMIUM_ARGS

        starts: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            for _ in range(args.rounds):
                for name, tree in trees.items():
                    starts[name].append(cold_start(tree, browser))
            browser.close()
        print("an app server's cold start: seconds to the first page's title in Chromium / the server's CPU seconds")
        for name, values in starts.items():
            print(f"  {name:7s} " + ", ".join(f"{s:.1f} s / {c:.1f}" for s, c in values))
    if not args.no_ray:
        print(f"local Ray, {args.runs} tiny runs in a row: seconds from run_on_ray to Started")
        for name, tree in trees.items():
            waits = json.loads(in_tree(tree, RAY_RUNS.format(runs=args.runs)))
            print(f"  {name:7s} " + ", ".join(f"{w:.2f}" for w in waits))


if __name__ == "__main__":
    main()
