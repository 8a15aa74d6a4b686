"""A network edited in the lab saved as a model of its own: owned by whoever saved it, its metadata saying
what was edited from which model, its test scores measured on the edited network itself."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, UTC
from pathlib import Path

import numpy as np

from mnist_core.net.edits import Edit
from mnist_core.net.evaluate import evaluate
from mnist_core.net.history import Metrics
from mnist_core.net.lab import apply_edits
from mnist_core.net.model import MLP, parameter_count
from mnist_core.storage.models import EditedFrom, ModelMeta, ModelStore, StoreError


def edited_name(source: str) -> str:
    return f"{source[:50]}-edited"


def save_edited(store: ModelStore, source: MLP, source_meta: ModelMeta, edits: list[Edit], name: str, owner: str,
                test_images: np.ndarray, test_labels: np.ndarray) -> ModelMeta:
    """Apply `edits` to `source` and save the result under `name` (which must be free) as a new model with a
    new id, owned by `owner` (the store's owner tag). It keeps the source's training settings and history
    (how its weights were learned), its parent is the source (the teacher hiding the source hides it too),
    and its metrics are the edited network's own on the test set, so the
    leaderboard ranks it by what it does now. Raises StoreError (or ValueError for a bad edit)."""
    if not edits:
        raise StoreError("nothing was edited: the model is the same as the one it came from")
    edited = apply_edits(source, edits)
    scores = evaluate(edited, test_images, test_labels)
    meta = dataclasses.replace(
        source_meta, name=name, owner=owner, builtin=False, id=uuid.uuid4().hex, stopped=False,
        parameters=parameter_count(edited), created=datetime.now(UTC).isoformat(timespec="seconds"),
        metrics=Metrics(scores.accuracy, scores.macro_f1),
        edited_from=EditedFrom(source_meta.name, source_meta.id, tuple(edits)),
        # A copy of the source, as a model trained on from it is: hidden on the leaderboard with it.
        parent=source_meta.id or f"name:{source_meta.name}",
        history=list(source_meta.history))
    path: Path = store.save(edited, meta)
    return store.meta(path.stem)
