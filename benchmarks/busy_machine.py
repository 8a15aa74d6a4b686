"""Training on a busy machine: an epoch of `train --hidden 128 --batch-size 64`, quiet, with one CPU kept busy by
another process from before the run, and with it busy from the moment training starts; with the old fixed
thread count (one per usable CPU), the CLI's own choice (`mnist_core.net.device.CpuThreads`: one per CPU left
free, followed during the run) and, for comparison, the old count with OMP_WAIT_POLICY=PASSIVE. All in one
run, alternating, so the machine's background load hits every setting alike.

    python benchmarks/busy_machine.py [--repeats 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from mnist_core.net.device import busy_cpus, usable_cpus  # noqa: E402


def spin() -> subprocess.Popen:
    """Another process keeping one CPU busy."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def epoch_seconds(threads: int | None, store: str, passive: bool = False, busy_when_training: bool = False) -> float:
    """Seconds of one epoch through the CLI; with `busy_when_training` one CPU is kept busy from the moment
    training starts (after the CLI has chosen its threads), as when another run starts beside it."""
    command = [sys.executable, "-m", "mnist_core", "train", "--hidden", "128", "--batch-size", "64", "--epochs", "1",
               "--augment", "0", "--drawn", "0", "--store", store, "--name", f"busy-{time.monotonic_ns()}", "--json"]
    if threads is not None:
        command += ["--threads", str(threads)]
    env = {**os.environ, "MNIST_DIR": os.environ.get("MNIST_DIR") or str(PROJECT.parent / "shared" / "data" / "mnist")}
    if passive:  # libgomp reads it when torch loads: OpenMP threads sleep at once instead of spinning
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    spinner = None
    with subprocess.Popen(command, cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as train:
        try:
            if busy_when_training:
                for line in train.stderr:
                    if line.startswith("Training with"):
                        spinner = spin()
                        break
            out, err = train.communicate(timeout=900)
        finally:
            if spinner is not None:
                spinner.kill()
                spinner.wait()
    if train.returncode != 0:
        raise RuntimeError(f"train failed: {err[-2000:]}")
    return float(json.loads(out.strip().splitlines()[-1])["seconds"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    old = usable_cpus()
    settings = {"old": (old, False), "new": (None, False), "passive": (old, True)}  # threads (None: CLI's choice)
    times: dict[str, list[float]] = {}
    background = busy_cpus(1.0)  # what the rest of the machine keeps busy before we start
    with tempfile.TemporaryDirectory(prefix="busy-") as store:
        for _ in range(args.repeats):
            for load in ("quiet", "busy", "busy mid-run"):
                spinner = None
                if load == "busy":  # one CPU kept busy by another process before the run starts
                    spinner = spin()
                    time.sleep(0.5)
                try:
                    for setting, (threads, passive) in settings.items():
                        seconds = epoch_seconds(threads, store, passive, busy_when_training=load == "busy mid-run")
                        times.setdefault(f"{load}: {setting}", []).append(round(seconds, 3))
                finally:
                    if spinner is not None:
                        spinner.kill()
                        spinner.wait()
    median = {key: round(statistics.median(values), 3) for key, values in times.items()}
    report = {
        "epoch_seconds_median": median, "epoch_seconds": times,
        "settings": {"old": f"{old} threads (one per usable CPU)", "new": "the CLI's choice (CPUs left free)",
                     "passive": f"{old} threads with OMP_WAIT_POLICY=PASSIVE"},
        "usable_cpus": old, "background_busy_cpus_at_start": round(background, 2),
        "busy_over_quiet_new": round(median["busy: new"] / median["quiet: new"], 2),
        "busy_over_quiet_old": round(median["busy: old"] / median["quiet: old"], 2),
        "busy_mid_run_over_quiet_new": round(median["busy mid-run: new"] / median["quiet: new"], 2),
        "busy_mid_run_over_quiet_old": round(median["busy mid-run: old"] / median["quiet: old"], 2),
        "quiet_new_over_old": round(median["quiet: new"] / median["quiet: old"], 2),
    }
    print(json.dumps(report) if args.json else json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
