"""What a training child of the app's server holds in memory: one run through the jobs registry (the local
runner, as the app does), its child process's peak resident memory, and how much of it is its own.

    python benchmarks/child_memory.py [--rounds 2]

Prints, per run, the child's peak RSS, its peak private memory (USS: pages no other process shares) and
PSS, from /proc/PID/smaps_rollup sampled every 50 ms, and this process's RSS holding the data set.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from mnist_core.net.config import TrainConfig  # noqa: E402
from mnist_core.net.data import load_mnist  # noqa: E402
from mnist_core.runs.child import LocalRunner  # noqa: E402
from mnist_core.runs.jobs import JobRegistry  # noqa: E402
from mnist_core.storage.models import ModelStore  # noqa: E402


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry))
            except (OSError, IndexError):
                pass
    return found


def memory_mb(pid: int) -> dict[str, float]:
    """Rss, Pss and private (Private_Clean + Private_Dirty) of one process, in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, number = line.split(":")[0], line.split()[1]
        values[name] = int(number) / 1024
    return {"rss": values["Rss"], "pss": values["Pss"], "private": values["Private_Clean"] + values["Private_Dirty"]}


def own_rss_mb() -> float:
    return memory_mb(os.getpid())["rss"]


def one_run(registry: JobRegistry, number: int) -> dict[str, float]:
    """Train 784-32-10 for 1 epoch; the child's peak figures while it ran."""
    known = {pid for server in children_of(os.getpid()) for pid in children_of(server)}
    job = registry.submit("bench", TrainConfig(hidden=(32,), epochs=1, device="cpu"), name=f"memory-{number}")
    peak = {"rss": 0.0, "pss": 0.0, "private": 0.0}
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            # A training child: a child of the fork server (itself a child of this process).
            for pid in {p for server in children_of(os.getpid()) for p in children_of(server)} - known:
                try:
                    for key, value in memory_mb(pid).items():
                        peak[key] = max(peak[key], value)
                except (OSError, KeyError):
                    pass
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    job.wait(600)
    done.set()
    watcher.join()
    assert job.snapshot().saved, job.snapshot().error
    return peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    data = load_mnist()
    print(f"this process (the server's part): {own_rss_mb():.0f} MB with the data set loaded", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        registry = JobRegistry(ModelStore(folder), lambda: data, runner=LocalRunner())
        for number in range(args.rounds):
            peak = one_run(registry, number)
            print(f"run {number + 1}: the child's peak RSS {peak['rss']:.0f} MB, private {peak['private']:.0f} MB, "
                  f"PSS {peak['pss']:.0f} MB; this process {own_rss_mb():.0f} MB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
