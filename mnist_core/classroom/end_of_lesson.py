"""End of the lesson: the students' models and private collections archived or deleted in one step; the
shipped model, the class collections and the teacher's own things never touched."""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, UTC
from pathlib import Path

from mnist_core.classroom.leaderboard import Entry, MODEL, sort_entries
from mnist_core.storage.drawings import Collections
from mnist_core.storage.models import ModelStore, StoreError, SUFFIX
from mnist_core.texts import os_failure

ARCHIVE = ".archive"  # hidden: never listed as a model or a collection, and no name a user can choose


@dataclass
class Cleared:
    """What one end of the lesson did: the names, and where they went (None: deleted)."""

    models: list[str] = field(default_factory=list)
    collections: list[str] = field(default_factory=list)
    archive: Path | None = None  # the lesson's folder under each root's .archive


def students_things(store: ModelStore, collections: Collections, teacher: str) -> Cleared:
    """The models and private collections the end of the lesson clears: every stored model and non-class
    collection, less the shipped model(s), the class collections and those of the teacher (owner key)."""
    # The shipped models by their files' names too: a server may keep its models in the shipped folder itself.
    shipped = {p.name[:-len(SUFFIX)] for p in store.builtin_dir.glob(f"*{SUFFIX}")} if store.builtin_dir else set()
    models = [e.name for e in store.list() if e.meta is not None and not store.is_builtin(e.name)
              and e.name not in shipped and not (teacher and store.owners.owns(teacher, e.meta.owner))]
    private = [n for n in collections.names() if not collections.is_class(n)
               and not (teacher and collections.owners.owns(teacher, collections.owner_of(n)))]
    return Cleared(models, private)


def end_lesson(store: ModelStore, collections: Collections, teacher: str, archive: bool = True,
               when: datetime | None = None) -> Cleared:
    """Archive (moved under `.archive/lesson-<time>` of the model and drawing folders) or delete the
    students' models and private collections; raises StoreError with one line when a folder cannot be written
    (what was moved before stays moved: each move is whole)."""
    found = students_things(store, collections, teacher)
    stamp = (when or datetime.now(UTC)).strftime("lesson-%Y%m%d-%H%M%S")
    models_to = store.root / ARCHIVE / stamp if archive else None
    drawings_to = collections.root / ARCHIVE / stamp if archive else None
    try:
        for name in found.models:
            if models_to is None:
                store.delete(name)
            else:
                models_to.mkdir(parents=True, exist_ok=True)
                with store.locked():
                    (store.root / f"{name}{SUFFIX}").rename(models_to / f"{name}{SUFFIX}")
        for name in found.collections:
            folder = collections.root / name
            if drawings_to is None:
                shutil.rmtree(folder)
            else:
                drawings_to.mkdir(parents=True, exist_ok=True)
                folder.rename(drawings_to / name)
    except OSError as e:
        raise os_failure(StoreError, e, "model or drawing folder") from None
    found.archive = models_to
    return found


CSV_COLUMNS = ("rank", "name", "by", "MNIST test accuracy %", "test macro-F1", "epochs", "layers", "optimizer",
               "created")


def spreadsheet_safe(text: str) -> str:
    """A cell a spreadsheet shows as text: one starting with = + - @ would be run as a formula (a nickname
    like "=HYPERLINK(...)")."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def leaderboard_csv(entries: list[Entry], who: Callable[[Entry], str]) -> str:
    """The stored models as the leaderboard ranks them (best MNIST test accuracy first), as CSV text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for rank, e in enumerate(sort_entries([e for e in entries if e.kind == MODEL], "MNIST test accuracy"), 1):
        writer.writerow([rank, spreadsheet_safe(e.name), spreadsheet_safe(who(e)),
                         "" if e.test_accuracy is None else f"{100 * e.test_accuracy:.2f}",
                         "" if e.test_f1 is None else f"{e.test_f1:.4f}", e.epochs, e.layers, e.optimizer, e.created])
    return buffer.getvalue()
