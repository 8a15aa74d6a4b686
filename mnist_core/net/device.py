"""Which compute devices exist here, picking one from `auto` / `cpu` / `cuda` / `cuda:N` / `mps`, and how many
CPU threads a training run should use given the CPUs other processes leave free."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import torch

BUSY_SHARE = 0.3  # a CPU that others keep busy this share of the time is not free for a torch thread


class DeviceError(ValueError):
    """A device was asked for that this machine does not have."""


def available_devices() -> list[str]:
    """Every usable device, best first for training an MLP: each CUDA GPU, then MPS, then the CPU."""
    devices = [f"cuda:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        devices.append("mps")
    devices.append("cpu")
    return devices


def resolve_device(name: str = "auto") -> torch.device:
    """Turn a user's device name into a torch.device, or raise DeviceError saying what exists."""
    name = (name or "auto").strip().lower()
    present = available_devices()
    if name == "auto":
        return torch.device(present[0])
    canonical = "cuda:0" if name == "cuda" else name
    if canonical not in present:
        raise DeviceError(f"device '{name}' is not available here; choose one of: auto, {', '.join(present)}")
    return torch.device(canonical)


def usable_cpus(cgroup: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """CPUs this process may run on: its affinity, capped by a container's CPU quota."""
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = cgroup.read_text().split()[:2]
        if quota != "max":
            count = min(count, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, count)


def _cpu_times(stat: Path, cpus: set[int]) -> tuple[float, float]:
    """(busy, total) jiffies summed over `cpus`, from a /proc/stat-format file."""
    busy = total = 0.0
    for line in stat.read_text().splitlines():
        name, *numbers = line.split()
        if not name.startswith("cpu") or name == "cpu" or int(name[3:]) not in cpus:
            continue
        values = [float(v) for v in numbers[:8]]  # user nice system idle iowait irq softirq steal
        total += sum(values)
        busy += sum(values) - values[3] - values[4]
    return busy, total


def busy_cpus(window: float = 0.25, stat: Path = Path("/proc/stat")) -> float:
    """How many of this process's CPUs were busy over the next `window` seconds (with other processes, or
    this one's other threads); 0.0 where /proc/stat cannot be read."""
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))
    try:
        busy0, total0 = _cpu_times(stat, cpus)
        time.sleep(window)
        busy1, total1 = _cpu_times(stat, cpus)
    except (OSError, ValueError):
        return 0.0
    if total1 <= total0:
        return 0.0
    return len(cpus) * (busy1 - busy0) / (total1 - total0)


def free_cpus(busy: float, usable: int) -> int:
    """CPUs left for a run when others keep `busy` CPUs busy: at least one."""
    return max(1, min(usable, math.floor(usable - busy + BUSY_SHARE)))


def training_threads(window: float = 0.25) -> int:
    """Torch threads for a CPU training run started now: one per CPU that others leave free. With libgomp,
    two threads on two CPUs with one busy elsewhere stalled at every parallel step (an epoch 4x slower);
    one thread lost a fifth. Measure while this process is idle (before training starts)."""
    return free_cpus(busy_cpus(window), usable_cpus())


class CpuThreads:
    """Keeps a training run's torch threads at the CPUs that other processes leave free, from its start to
    its end: `adjust()` is cheap, and once every `every` seconds it measures what the machine was busy with
    apart from this process and changes the thread count if that changed. Call it from the training
    thread (torch's thread count belongs to the thread that sets it), e.g. in the per-batch stop check."""

    def __init__(self, fixed: int | None = None, every: float = 0.25, stat: Path = Path("/proc/stat")) -> None:
        self.fixed, self.every, self.stat = fixed, every, stat
        self.usable = usable_cpus()
        self.cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))
        self.threads = max(1, fixed) if fixed else training_threads()
        torch.set_num_threads(self.threads)
        self._mark = self._sample()
        self._last = time.monotonic()

    def _sample(self) -> tuple[float, float, float] | None:
        """(busy jiffies, all jiffies, this process's CPU seconds) now; None where /proc/stat is unreadable."""
        try:
            busy, total = _cpu_times(self.stat, self.cpus)
        except (OSError, ValueError):
            return None
        return busy, total, time.process_time()

    def others_busy(self, before: tuple[float, float, float], after: tuple[float, float, float],
                    seconds: float) -> float:
        """CPUs kept busy by other processes between two samples `seconds` apart."""
        busy, total = after[0] - before[0], after[1] - before[1]
        if total <= 0 or seconds <= 0:
            return 0.0
        return max(0.0, len(self.cpus) * busy / total - (after[2] - before[2]) / seconds)

    def adjust(self) -> int:
        """The thread count, changed first if the load of the last `every` seconds calls for another."""
        if self.fixed or self._mark is None or time.monotonic() - self._last < self.every:
            return self.threads
        now, sample = time.monotonic(), self._sample()
        if sample is None:
            return self.threads
        wanted = free_cpus(self.others_busy(self._mark, sample, now - self._last), self.usable)
        self._mark, self._last = sample, now
        if wanted != self.threads:
            torch.set_num_threads(wanted)
            self.threads = wanted
        return self.threads

