"""Figures of the live controls (issue 27), measured on real MNIST with the server's real child process:

- per-epoch training time with the controls there but unused, against the code before them (a git worktree
  of that commit, `--base`), alternating in one run: the ratio (target: within 3%);
- Pause: from `job.control(pause)` to the job's snapshot saying Paused (median and worst of 20; target < 0.5 s);
- Step: from `job.control(step)` to the snapshot at the next batch with its step up close (median of 20);
- a live learning-rate change: from the control to the run's Changed record, against one batch's time.

These are the engine's answers as the page reads them (the page redraws its live part every second);
the Train page's own figures need the browser and are not measured here.

Run: git worktree add /tmp/base27 bf7424e
     MNIST_DIR=../shared/data/mnist nice -n 10 python benchmarks/live_controls.py --base /tmp/base27
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

# One epoch of the recommended network on the CPU, the way a job trains it (the body of a run), with the
# controls of this tree when it has them: a pipe polled before every batch, nothing ever sent.
EPOCH_SCRIPT = """
import sys, time, multiprocessing
sys.path.insert(0, {root!r})
import torch
from mnist_core.net.config import TrainConfig
from mnist_core.net.data import load_mnist
from mnist_core.net.train import Trainer
torch.set_num_threads(1)
data = load_mnist()
trainer = Trainer(TrainConfig(hidden=(256,), epochs=1, device="cpu"), data)
kwargs = {{}}
try:
    from mnist_core.net.controls import LiveControls
    receiving, sending = multiprocessing.Pipe(duplex=False)
    kwargs["controls"] = LiveControls(lambda wait: receiving.recv() if receiving.poll(wait) else None, lambda e: None)
except ImportError:
    pass
trainer.train(1, **kwargs)  # a first epoch warms up; the second is measured
cpu = time.process_time()
trainer.train(1, **kwargs)
print(trainer.history[-1].seconds, time.process_time() - cpu)
"""


def epoch_seconds(root: Path) -> tuple[float, float]:
    """One epoch's wall seconds and the CPU seconds the process spent on it (one torch thread: the CPU time
    is what the controls could add, and it holds still when other work on the machine stretches the wall)."""
    env = dict(os.environ)
    if env.get("MNIST_DIR"):  # given relative to where the benchmark was started, not to each tree
        env["MNIST_DIR"] = str(Path(env["MNIST_DIR"]).resolve())
    out = subprocess.run([sys.executable, "-c", EPOCH_SCRIPT.format(root=str(root))], cwd=root, check=True,
                         capture_output=True, text=True, env=env).stdout
    wall, cpu = out.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def wait(predicate, timeout: float = 30.0, every: float = 0.002) -> float:
    start = time.perf_counter()
    while not predicate():
        if time.perf_counter() - start > timeout:
            raise TimeoutError("the run did not answer")
        time.sleep(every)
    return time.perf_counter() - start


def control_figures(rounds: int) -> None:
    from mnist_core.net.config import TrainConfig
    from mnist_core.net.controls import Control
    from mnist_core.net.data import load_mnist
    from mnist_core.runs.child import start_child_server
    from mnist_core.runs.jobs import JobRegistry
    from mnist_core.storage.models import ModelStore

    data = load_mnist()
    start_child_server()
    registry = JobRegistry(ModelStore(Path(tempfile.mkdtemp()) / "models", builtin_dir=None), lambda: data)
    job = registry.submit("bench", TrainConfig(hidden=(256,), epochs=50, device="cpu"), name="bench")
    wait(lambda: job.snapshot().batch >= 40, timeout=120)
    pauses, steps, changes = [], [], []
    for i in range(rounds):
        job.control("bench", Control("pause"))
        pauses.append(wait(lambda: job.snapshot().paused is not None))
        at = job.snapshot().paused
        job.control("bench", Control("step"))
        # Paused again one batch on (an epoch's end says "batch 469 of 469"), with the next step's look.
        steps.append(wait(lambda at=at: (p := job.snapshot().paused) is not None and p != at
                          and job.snapshot().look is not None))
        job.control("bench", Control("resume"))
        wait(lambda: job.snapshot().paused is None)
        before = len(job.snapshot().changes)
        job.control("bench", Control.set("lr", 1e-3 * (1 + i % 3)))
        changes.append(wait(lambda before=before: len(job.snapshot().changes) > before))
        time.sleep(0.2)  # a few batches between rounds
    snap = job.snapshot()
    batch_seconds = snap.seconds / max(1, (snap.epoch - 1) * snap.batches + snap.batch)
    job.stop()
    job.wait(60)
    print(f"pause -> Paused: median {statistics.median(pauses):.3f} s, worst {max(pauses):.3f} s ({rounds} rounds)")
    print(f"step -> next batch with its look: median {statistics.median(steps):.3f} s, worst {max(steps):.3f} s")
    print(f"live lr change -> Changed: median {statistics.median(changes) * 1000:.1f} ms, worst "
          f"{max(changes) * 1000:.1f} ms; one batch takes {batch_seconds * 1000:.1f} ms on average")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", type=Path, help="a worktree of the commit before the live controls")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=3, help="epoch measurements of each tree, alternating")
    args = parser.parse_args()
    control_figures(args.rounds)
    if args.base:
        ours, base = [], []
        for _ in range(args.epochs):
            base.append(epoch_seconds(args.base))
            ours.append(epoch_seconds(PROJECT))
        for i, what in enumerate(("wall", "CPU")):
            a, b = [o[i] for o in ours], [o[i] for o in base]
            pairs = [x / y for x, y in zip(a, b, strict=True)]  # each run against the one just before it
            print(f"per-epoch {what} seconds, controls unused: {statistics.median(a):.2f} "
                  f"({', '.join(f'{v:.2f}' for v in a)}) against before them {statistics.median(b):.2f} "
                  f"({', '.join(f'{v:.2f}' for v in b)}): ratio of medians "
                  f"{statistics.median(a) / statistics.median(b):.3f}, "
                  f"median of paired ratios {statistics.median(pairs):.3f}")


if __name__ == "__main__":
    main()
