"""The class leaderboard: every stored model and every run training now as typed rows, their MNIST test
scores (from the saved history, else measured once) and accuracy on the class's held-out handwriting,
sorting, and the entries the operator hid."""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from mnist_core.classroom.nicknames import COMMAND_LINE, NICKNAMES, NO_NICKNAME, SHIPPED
from mnist_core.classroom.scoring import Examples, score
from mnist_core.net.config import Summary, TrainConfig
from mnist_core.net.controls import SettingChange
from mnist_core.net.evaluate import evaluate
from mnist_core.runs.snapshot import QUEUED, Snapshot
from mnist_core.storage.files import keep_aside, write_atomically
from mnist_core.storage.models import ModelMeta, ModelStore, StoreError, SUFFIX
from mnist_core.texts import N_, os_failure, worded

MODEL, RUN = "model", "run"
HIDDEN_FILE = ".leaderboard-hidden.json"  # in the model folder: the ids the operator hid
# Who a model is by when no nickname says it: models without an owner tag were not trained in a browser.


@dataclass(frozen=True)
class Entry:
    """One row of the leaderboard: a stored model, or a run training (or waiting) now."""

    key: str  # unique per row: "model:NAME" or "run:JOB_ID"
    hide_id: str  # what hiding it hides: the model's id (a run's: the model it makes), so both rows go together
    kind: str  # MODEL or RUN
    name: str
    owner_tag: str  # OwnerTags hash of who trained it ("" for the shipped and command-line models)
    builtin: bool
    layers: str  # "784-256-10"
    optimizer: str  # "adam, lr 0.003, one-cycle"
    batch_size: int
    dropout: float
    epochs: int  # trained so far (a run: the epoch it is in, of `last_epoch`)
    augment: float
    drawn: float
    train_seconds: float  # a run: this run so far
    test_accuracy: float | None  # MNIST test set; None: not in its history (measure it) or no epoch done yet
    test_f1: float | None  # macro-F1 on the MNIST test set (a run: after its last finished epoch)
    created: str = ""  # the model's version (ISO time); "" for a run
    status: str = "saved"  # saved, stopped early, queued, training
    last_epoch: int = 0  # a run: the epoch it ends with
    queue_position: int = 0  # a run waiting for its device: its place
    changes: tuple[SettingChange, ...] = ()  # settings changed while it trained
    summary: Summary | None = None  # how it trains, as the settings columns above come from (the app words it)


@dataclass(frozen=True)
class TestScores:
    accuracy: float
    macro_f1: float


def _settings(config: TrainConfig) -> dict:
    """The columns that describe how a model was trained: its config's one summary."""
    summary = config.summary()
    return {"layers": summary.layers, "optimizer": summary.optimizer, "batch_size": summary.batch_size,
            "dropout": summary.dropout, "augment": summary.augment, "drawn": summary.drawn, "summary": summary}


def model_hide_id(meta: ModelMeta) -> str:
    """A model's id; a model without one (the shipped model, older files) by its name."""
    return meta.id or f"name:{meta.name}"


def model_entry(meta: ModelMeta) -> Entry:
    metrics = meta.metrics
    return Entry(
        key=f"{MODEL}:{meta.name}", hide_id=model_hide_id(meta), kind=MODEL, name=meta.name,
        owner_tag=meta.owner, builtin=meta.builtin, **_settings(meta.config), epochs=meta.epochs,
        train_seconds=float(meta.train_seconds),
        test_accuracy=metrics.test_accuracy if metrics else None, test_f1=metrics.test_f1 if metrics else None,
        created=meta.created, changes=tuple(meta.changes),
        status="stopped early" if meta.stopped else "saved")


def saved_entries(store: ModelStore) -> list[Entry]:
    """Every readable model in the store (damaged files are the Train page's business), newest first."""
    return [model_entry(listing.meta) for listing in store.list() if listing.meta is not None]


def live_entries(runs: Iterable[Snapshot], owner_tag: Callable[[str], str]) -> list[Entry]:
    """Every run that trains or waits now (a registry's active snapshots), with its test F1 after its last
    finished epoch; `owner_tag` turns an owner key into the store's tag."""
    entries = []
    for snap in runs:
        last = snap.history[-1] if snap.history else None
        entries.append(Entry(
            key=f"{RUN}:{snap.id}", hide_id=snap.model_id, kind=RUN, name=snap.name,
            owner_tag=owner_tag(snap.owner), builtin=False,
            **_settings(snap.config), epochs=snap.epoch, train_seconds=float(snap.seconds),
            test_accuracy=None if last is None else last.test_accuracy,
            test_f1=None if last is None else last.test_f1,
            status="queued" if snap.status == QUEUED else "training",
            last_epoch=snap.last_epoch or snap.config.epochs, queue_position=snap.queue_position,
            changes=tuple(snap.changes)))
    return entries


def owner_label(entry: Entry, nickname: Callable[[str], str | None] | None = None) -> str:
    """Who an entry is by, for the projector: the nickname its owner chose, else what kind of model it is."""
    if entry.builtin:
        return SHIPPED
    if not entry.owner_tag:
        return COMMAND_LINE
    return (nickname(entry.owner_tag) if nickname else None) or NO_NICKNAME


def measure_test(store: ModelStore, name: str, images: np.ndarray, labels: np.ndarray) -> TestScores:
    """A model's MNIST test scores when its history has none: one evaluation (cache it per model version)."""
    model, _, _ = store.load(name)
    result = evaluate(model, images, labels)
    return TestScores(result.accuracy, result.macro_f1)


def examples_key(held: Examples) -> str:
    """Which drawings a held-out part holds: the key of every model's score on it (a drawing added to the
    learning part leaves it, and the scores, unchanged)."""
    digest = hashlib.sha256()
    for file, label in zip(held.files, held.labels.tolist(), strict=True):
        digest.update(f"{file}:{label}\n".encode())
    return digest.hexdigest()[:32]


def measure_class(store: ModelStore, name: str, held: Examples) -> float | None:
    """A model's accuracy on the class's held-out drawings; None while there are none (cache it per model
    version and `examples_key`)."""
    if not len(held):
        return None
    model, _, _ = store.load(name)
    return score(model, held).accuracy


# The orders the page offers: (sort key of an entry, best first). A missing figure sorts last.
def _figure(value: float | None) -> float:
    return -math.inf if value is None else value


def _created(entry: Entry) -> float:
    try:
        return datetime.fromisoformat(entry.created).timestamp()
    except ValueError:  # a run (no version yet) or an odd file: after the dated ones
        return -math.inf


SORTS: dict[str, Callable[[Entry, dict[str, float]], tuple]] = {
    "MNIST test accuracy": lambda e, extra: (-_figure(e.test_accuracy), e.name),
    "class handwriting accuracy": lambda e, extra: (-_figure(extra.get(e.key)), -_figure(e.test_accuracy), e.name),
    "training time (shortest)": lambda e, extra: (e.train_seconds, e.name),
    "newest": lambda e, extra: (-_created(e), e.name),
    "name": lambda e, extra: (e.name.lower(),),
}


def sort_entries(entries: Iterable[Entry], by: str, extra: dict[str, float] | None = None) -> list[Entry]:
    """Entries in the order `by` (a key of SORTS); `extra` holds figures kept outside the entries, by key."""
    return sorted(entries, key=lambda e: SORTS[by](e, extra or {}))


@dataclass(frozen=True)
class HiddenView:
    """The hidden entries as read once (for a page's whole run): the ids, or, when the list cannot be read,
    `problem` (one line) and every entry but the shipped ones hidden: it fails closed."""

    ids: frozenset[str]
    problem: str = ""

    def hides(self, hide_id: str, builtin: bool = False) -> bool:
        return (not builtin) if self.problem else hide_id in self.ids


class HiddenEntries:
    """The entries the operator hid from the leaderboard, as ids in a file in the model folder, written whole
    or not at all, twice (the file and a copy, `.previous`): a damaged one is read from the other. Only the
    operator may change it: students see the board without them. It fails closed: when neither copy reads,
    `hides` hides every student's entry (never shows what was hidden) and `ids` says so (StoreError). The damaged
    file is kept aside; the teacher's next Hide starts a new list, a Show is refused (it would show them all)."""

    def __init__(self, store: ModelStore) -> None:
        self.store = store
        self.path = Path(store.root) / HIDDEN_FILE
        self.copy = self.path.with_name(self.path.name + ".previous")

    @staticmethod
    def _parse(path: Path) -> tuple[set[str] | None, str]:
        """The ids in one copy (set() when there is none), or None and why it cannot be read."""
        try:
            values = json.loads(path.read_text())
        except FileNotFoundError:
            return set(), ""
        except (OSError, ValueError) as e:
            return None, f"{type(e).__name__}: {e}"
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            return None, "not a list of ids"
        return set(values), ""

    def ids(self) -> set[str]:
        """The hidden ids, with every descendant of a hidden model (copies trained on from it, theirs, ...: a
        model's `parent`); StoreError (one line) when neither copy of the file reads."""
        hidden = self.own_ids()
        if not hidden:
            return hidden
        parents = {model_hide_id(e.meta): e.meta.parent for e in self.store.list() if e.meta is not None}
        for child in parents:
            seen, node = set(), child
            while node and node not in seen:  # up its line of parents, stopping at a loop a hand made
                seen.add(node)
                if node in hidden:
                    hidden.add(child)
                    break
                node = parents.get(node, "")
        return hidden

    def own_ids(self) -> set[str]:
        """The ids the operator hid (from the copy when the file is damaged); StoreError when neither reads."""
        found, why = self._parse(self.path)
        if found is None and self.copy.exists():
            found, _ = self._parse(self.copy)
        if found is None:
            raise StoreError(f"the leaderboard's list of hidden entries ({self.path}) cannot be read ({why}): "
                             "every student's model is hidden until it is fixed or removed")
        return found

    def view(self) -> HiddenView:
        """The hidden ids read once, failing closed (HiddenView): what a page filters its lists with."""
        try:
            return HiddenView(frozenset(self.ids()))
        except StoreError as e:
            return HiddenView(frozenset(), str(e))

    def hides(self, entry_hide_id: str, builtin: bool = False) -> bool:
        """Whether an entry is hidden from students; every entry but the shipped ones while the list is damaged."""
        return self.view().hides(entry_hide_id, builtin)

    def _change(self, hide_id: str, operator: bool, hidden: bool) -> None:
        if not operator:
            raise worded(StoreError, N_("only the teacher (the app's operator) may hide or show leaderboard entries"))
        if not isinstance(hide_id, str) or not hide_id:
            raise worded(StoreError, N_("no such leaderboard entry"))
        try:
            with self.store.locked():
                try:
                    ids = self.own_ids()
                except StoreError:  # damaged beyond its copy: kept aside; a Hide starts a new list
                    aside = keep_aside(self.path)
                    if not hidden:  # a Show would write an empty list: it would show every entry hidden before
                        raise worded(StoreError, N_("the leaderboard's list of hidden entries cannot be read, so "
                                                    "nothing was shown again: hide an entry to start a new list (a "
                                                    "copy of the old one is kept as {copy}): {path}"),
                                     copy=aside.name, path=str(self.path)) from None
                    ids = set()
                ids = ids | {hide_id} if hidden else ids - {hide_id}
                data = json.dumps(sorted(ids)).encode()
                if self._parse(self.path)[0] is None:  # read from the copy: the damaged one is kept aside
                    keep_aside(self.path)
                write_atomically(self.copy, lambda f: f.write(data))
                write_atomically(self.path, lambda f: f.write(data))
        except OSError as e:
            raise os_failure(StoreError, e, "model folder", self.store.root) from None

    def hide(self, hide_id: str, operator: bool) -> None:
        self._change(hide_id, operator, hidden=True)

    def show(self, hide_id: str, operator: bool) -> None:
        self._change(hide_id, operator, hidden=False)


def store_signature(store: ModelStore) -> tuple:
    """Changes whenever a model is saved, renamed or deleted, an entry hidden or a nickname chosen (names,
    sizes, times of the files): a cheap look at the folder, so a live page notices without reading them."""
    try:
        with os.scandir(store.root) as it:
            return tuple(sorted((e.name, e.stat().st_mtime_ns, e.stat().st_size) for e in it
                                if e.name.endswith(SUFFIX) or e.name in (HIDDEN_FILE, NICKNAMES)))
    except OSError:
        return ()
