"""Which compute devices exist here, and picking one from `auto` / `cpu` / `cuda` / `cuda:N` / `mps`."""

from __future__ import annotations

import torch


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
