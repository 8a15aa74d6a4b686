"""Hostile files built cheaply, for the fault tests and benchmarks/reliability.py: gzip bombs posing
as IDX files, PNG decompression bombs, and a model file whose metadata lies about its size."""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

BLOCK = 16 << 20  # a bomb repeats one gzip member of this many zeros: built in a blink, any size


def gzip_idx_bomb(path: Path, items: int, expands_to: int) -> Path:
    """A gzipped IDX images file whose header promises `items` 28x28 images and whose content expands
    to about `expands_to` bytes (a multi-member gzip of zeros: a few KB per 16 MB)."""
    header = struct.pack(">HBBIII", 0, 0x08, 3, items, 28, 28)
    zeros = gzip.compress(bytes(BLOCK), compresslevel=9)
    first = min(expands_to, BLOCK)
    full, rest = divmod(expands_to - first, BLOCK)
    with open(path, "wb") as f:
        f.write(gzip.compress(header + bytes(max(0, first - len(header))), compresslevel=9))
        for _ in range(full):
            f.write(zeros)
        if rest:
            f.write(gzip.compress(bytes(rest), compresslevel=9))
    return path


def png_bomb(width: int, height: int) -> bytes:
    """A valid greyscale PNG of width x height black pixels, compressed row by row: a few hundred KB
    however many pixels it declares, and no memory spent building it."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    packer = zlib.compressobj(9)
    rows = max(1, (1 << 24) // (width + 1))  # compressed about 16 MB of rows at a time
    full, rest = divmod(height, rows)
    block = bytes((width + 1) * rows)  # each row: filter byte 0, then one zero byte per pixel
    parts = [packer.compress(block) for _ in range(full)] + [packer.compress(bytes((width + 1) * rest))]
    idat = b"".join(parts) + packer.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def lying_model(store_dir: Path, name: str = "liar", claims_hidden: int = 500_000) -> Path:
    """A model file of this app, saved by the store itself from a 784-50-10 MLP (about 158 KB), whose
    metadata then claims `claims_hidden` hidden units: a loader that trusts it allocates gigabytes."""
    import torch

    from mnist_core.net.config import TrainConfig
    from mnist_core.net.model import build_model
    from mnist_core.storage.models import ModelMeta, ModelStore

    model_config = {"hidden": [50], "activation": "relu", "dropout": 0.0}
    path = ModelStore(store_dir, builtin_dir=None).save(build_model(model_config),
                                                        ModelMeta(name=name, model=model_config, config=TrainConfig()))
    payload = torch.load(path, map_location="cpu", weights_only=True)
    payload["meta"]["model"]["hidden"] = [claims_hidden]
    torch.save(payload, path)
    return path


def long_history_model(store_dir: Path, name: str = "long", rows: int = 2_000_000) -> Path:
    """A real model file of this app (784-16-10) whose history then claims `rows` epochs: tens of MB of
    pickled metadata that a listing which unpickles every file reads at every page."""
    import torch

    from mnist_core.net.config import TrainConfig
    from mnist_core.net.model import build_model
    from mnist_core.storage.models import ModelMeta, ModelStore

    model_config = {"hidden": [16], "activation": "relu", "dropout": 0.0}
    path = ModelStore(store_dir, builtin_dir=None).save(build_model(model_config),
                                                        ModelMeta(name=name, model=model_config, config=TrainConfig()))
    payload = torch.load(path, map_location="cpu", weights_only=True)
    row = {"epoch": 1, "loss": 0.1, "train_f1": 0.9, "test_f1": 0.9, "test_accuracy": 0.9, "seconds": 1.0}
    payload["meta"]["history"] = [dict(row, epoch=i) for i in range(1, rows + 1)]
    torch.save(payload, path)
    return path
