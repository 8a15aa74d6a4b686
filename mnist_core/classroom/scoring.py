"""The class's drawings as the network sees them, and a model scored on them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch import nn

from mnist_core.classroom.errors import ClassError
from mnist_core.net.evaluate import evaluate, Evaluation
from mnist_core.net.preprocess import mnist_style
from mnist_core.storage.drawings import Drawing


@dataclass
class Examples:
    """Drawings as the network sees them: images float32 (N, 28, 28) in [0, 1], labels int64 (N,), and
    the file each came from (blank drawings are left out)."""

    images: np.ndarray
    labels: np.ndarray
    files: list[str]

    def __len__(self) -> int:
        return len(self.labels)


def examples(drawings: list[Drawing], seen: dict[str, np.ndarray | None] | None = None) -> Examples:
    """Each drawing made MNIST-style, as the Draw page reads it. `seen` (file -> (28, 28) output, None when
    blank) keeps each drawing's reading for the next call: a drawing's file never changes."""
    seen = {} if seen is None else seen
    for d in drawings:
        if d.file not in seen:
            steps = mnist_style(d.image)
            seen[d.file] = None if steps.blank else steps.output.astype(np.float32)
    kept = [d for d in drawings if seen[d.file] is not None]
    images = np.stack([seen[d.file] for d in kept]) if kept else np.zeros((0, 28, 28), np.float32)
    return Examples(images, np.array([d.label for d in kept], np.int64), [d.file for d in kept])


def score(model: nn.Module, drawings: list[Drawing] | Examples) -> Evaluation:
    """A model's scores on drawings (accuracy, confusion, mistakes; indices refer to `examples(drawings)`)."""
    data = drawings if isinstance(drawings, Examples) else examples(drawings)
    if not len(data):
        raise ClassError("no drawings to score yet")
    return evaluate(model, data.images, data.labels)
