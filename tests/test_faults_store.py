"""The store, the jobs and the drawings under misuse and faults: races behind a barrier, one user's
model taken over by another, malformed model files, read-only and full folders (real tmpfs mounts)."""

from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from mnist_core.cli import main
from mnist_core.net.config import TrainConfig
from mnist_core.net.model import MLP
from mnist_core.runs.jobs import JobRegistry
from mnist_core.runs.snapshot import ACTIVE, DONE, FAILED
from mnist_core.storage.drawings import Collections
from mnist_core.storage.models import ModelMeta, ModelStore, StoreError
from mnist_core.storage.owners import SECRET

from .helpers import PROJECT, wait_for

FAST = dict(hidden=(16,), dropout=0.0, lr=3e-3, schedule="constant", batch_size=10, epochs=2, device="cpu")


def meta(name: str, model: MLP, **extra) -> ModelMeta:
    return ModelMeta(name=name, model=model.config(), config=TrainConfig(), **extra)


@pytest.fixture
def store(tmp_path) -> ModelStore:
    return ModelStore(tmp_path / "models", builtin_dir=None)


@pytest.fixture
def registry(store, tiny):
    return JobRegistry(store, lambda: tiny, train_digits=len(tiny.train_labels))


def together(n: int, work) -> list:
    """Run `work(i)` in n threads released at once by a barrier; each result, or the exception raised."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as e:  # noqa: BLE001 (the outcome under test)
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


# --- races ---------------------------------------------------------------------------------------

def test_two_saves_of_one_new_name_at_once_exactly_one_wins(store):
    model = MLP((4,))
    for trial in range(20):
        name = f"race-{trial}"
        results = together(2, lambda i, name=name: store.save(model, meta(name, model, parameters=i)))
        errors = [r for r in results if isinstance(r, Exception)]
        assert len(errors) == 1 and isinstance(errors[0], StoreError) and "exists already" in str(errors[0])
        winner = next(i for i, r in enumerate(results) if not isinstance(r, Exception))
        assert store.meta(name).parameters == winner  # the file holds the save that was told it won
    assert not [p for p in store.root.iterdir() if p.name.endswith(".tmp")]


def test_two_submits_of_one_new_name_at_once_give_exactly_one_job(registry):
    slow = TrainConfig(**{**FAST, "epochs": 100})
    for trial in range(10):
        name = f"same-{trial}"
        results = together(2, lambda i, name=name: registry.submit(f"user{i}", slow, name=name))
        jobs = [r for r in results if not isinstance(r, Exception)]
        errors = [r for r in results if isinstance(r, Exception)]
        for job in jobs:
            job.stop()
        for job in jobs:
            assert job.wait(30)
        assert len(jobs) == 1 and len(errors) == 1 and "exists already" in str(errors[0])


# --- one user's model, another user -------------------------------------------------------------------

def test_train_more_after_the_name_was_deleted_and_retaken_refuses(registry):
    """A deletes x1, B trains its own x1, A clicks Train more on its old run: B's model is untouched."""
    a = registry.submit("alice", TrainConfig(**FAST), name="x1")
    assert a.wait(60) and a.status == DONE
    registry.store.delete("x1")
    b = registry.submit("bob", TrainConfig(**FAST), name="x1")
    assert b.wait(60) and b.status == DONE
    before = registry.store.meta("x1")
    with pytest.raises(StoreError, match="no longer the model this run made"):
        a.start(epochs=1)
    a.wait(60)
    after = registry.store.meta("x1")
    assert after.epochs == 2 and after.created == before.created and after.id == before.id
    assert registry.store.owners.owns("bob", after.owner)


def test_a_name_taken_by_a_rename_during_a_run_is_not_overwritten(registry):
    """A's run `target` trains; B's model is renamed to `target` behind the registry's back (the registry
    itself refuses that rename): A's save fails with a message, B's model stays."""
    b = registry.submit("bob", TrainConfig(**FAST), name="b")
    assert b.wait(60)
    a = registry.submit("alice", TrainConfig(**{**FAST, "epochs": 100}), name="target")
    assert wait_for(lambda: a.snapshot().batch > 0, 60)  # it has learned something, so it is saved at its end
    with pytest.raises(StoreError, match="held by a run"):
        registry.rename_model("b", "target", "bob")
    registry.store.rename("b", "target")  # as a second server on the same folder could
    b_id = registry.store.meta("target").id
    a.stop()
    assert a.wait(60) and a.status == FAILED and "exists already" in a.snapshot().error
    assert registry.store.meta("target").id == b_id and registry.store.meta("target").epochs == 2


def test_rename_then_train_more_follows_the_model(registry):
    job = registry.submit("alice", TrainConfig(**FAST), name="mine")
    assert job.wait(60)
    registry.rename_model("mine", "renamed", "alice")
    assert job.snapshot().name == "renamed"  # the panel shows the new name at once
    job.start(epochs=1)
    assert job.wait(60) and job.status == DONE, job.snapshot().error
    assert registry.store.meta("renamed").epochs == 3 and not registry.store.exists("mine")


def test_rename_and_delete_are_for_the_owner_only(registry):
    job = registry.submit("alice", TrainConfig(**FAST), name="hers")
    assert job.wait(60)
    for action in (lambda: registry.rename_model("hers", "mine", "bob"),
                   lambda: registry.delete_model("hers", "bob")):
        with pytest.raises(StoreError, match="not yours"):
            action()
    assert registry.store.exists("hers") and not registry.store.exists("mine")
    registry.rename_model("hers", "still-hers", "alice")
    registry.delete_model("still-hers", "bob", operator=True)  # the operator may
    assert not registry.store.exists("still-hers")


def test_an_active_runs_name_is_reserved_for_rename_and_delete(registry):
    job = registry.submit("alice", TrainConfig(**FAST), name="first")
    assert job.wait(60)
    job.start(epochs=100)  # Train more: `first` is held while it runs
    try:
        with pytest.raises(StoreError, match="held by a run"):
            registry.rename_model("first", "other", "alice")
        with pytest.raises(StoreError, match="being trained"):
            registry.delete_model("first", "alice")
    finally:
        job.stop()
        job.wait(60)


def test_finished_jobs_leave_the_registry_after_a_while(store, tiny):
    registry = JobRegistry(store, lambda: tiny, keep_seconds=0.0)
    old = registry.submit("alice", TrainConfig(**FAST), name="one")
    assert old.wait(60)
    kept = JobRegistry(store, lambda: tiny, keep_seconds=600.0)
    recent = kept.submit("alice", TrainConfig(**{**FAST, "epochs": 1}), name="two")
    assert recent.wait(60)
    registry.submit("alice", TrainConfig(**{**FAST, "epochs": 1}), name="three").wait(60)
    kept.submit("alice", TrainConfig(**{**FAST, "epochs": 1}), name="four").wait(60)
    assert registry.get(old.id) is None  # gone: the registry no longer only grows
    assert kept.get(recent.id) is recent  # a share link to a run that just finished still works


# --- the owner key never lands in a file or a listing ---------------------------------------------------

def test_files_hold_a_keyed_hash_of_the_owner_never_the_key(registry, capsys):
    key = "k" * 32
    assert registry.submit(key, TrainConfig(**FAST), name="owned").wait(60)
    raw = (registry.store.root / "owned.pt").read_bytes()
    assert key.encode() not in raw
    secret = registry.store.root / SECRET
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert main(["models", "--json", "--store", str(registry.store.root)]) == 0
    listing = capsys.readouterr().out
    assert key not in listing and registry.store.meta("owned").owner not in listing
    assert all("owner" not in entry for entry in json.loads(listing))


# --- malformed model files ------------------------------------------------------------------------------

def write_payload(path: Path, meta_values, weights=None) -> None:
    torch.save({"format": 1, "meta": meta_values, "model": weights if weights is not None else {},
                "optimizer": {}}, path)


def good_values(hidden=(4,)) -> tuple[dict, dict]:
    model = MLP(hidden)
    return meta("x", model, created="2026-01-01T00:00:00+00:00").to_dict(), \
        {k: v.clone() for k, v in model.state_dict().items()}


BAD_META = {
    "a list": lambda v: [1, 2, 3],
    "created an int": lambda v: {**v, "created": 12345},
    "metrics a string": lambda v: {**v, "metrics": "99%"},
    "metrics of strings": lambda v: {**v, "metrics": {"test_f1": "high"}},
    "history a string": lambda v: {**v, "history": "ten epochs"},
    "history of numbers": lambda v: {**v, "history": [1, 2]},
    "hidden a string": lambda v: {**v, "model": {**v["model"], "hidden": "4"}},
    "hidden of floats": lambda v: {**v, "model": {**v["model"], "hidden": [4.5]}},
    "hidden negative": lambda v: {**v, "model": {**v["model"], "hidden": [-4]}},
    "activation unknown": lambda v: {**v, "model": {**v["model"], "activation": "os.system"}},
    "dropout over one": lambda v: {**v, "model": {**v["model"], "dropout": 1.5}},
    "dropout negative": lambda v: {**v, "model": {**v["model"], "dropout": -0.2}},
    "no model": lambda v: {k: x for k, x in v.items() if k != "model"},
    "name a dict": lambda v: {**v, "name": {"a": 1}},
    "parameters text": lambda v: {**v, "parameters": "many"},
}


@pytest.mark.parametrize("case", list(BAD_META))
def test_a_malformed_model_file_is_one_damaged_line_and_hides_nothing(store, case, capsys):
    model = MLP((4,))
    store.save(model, meta("good", model, created="2026-01-01T00:00:00+00:00"))
    values, weights = good_values()
    write_payload(store.root / "bad.pt", BAD_META[case](values), weights)
    entries = {e.name: e for e in store.list()}
    assert entries["good"].meta is not None
    assert entries["bad"].meta is None and "damaged" in entries["bad"].error
    for action in (lambda: store.meta("bad"), lambda: store.load("bad")):
        with pytest.raises(StoreError, match="damaged"):
            action()
    assert main(["models", "--store", str(store.root)]) == 0
    out = capsys.readouterr().out
    assert "good" in out and sum("damaged" in line for line in out.splitlines()) == 1
    assert main(["predict", "--model", "bad", "--store", str(store.root), str(PROJECT / "README.md")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "damaged" in err and "Traceback" not in err


PEAK_SCRIPT = """
import resource, sys
import torch
from mnist_core.storage.models import ModelStore, StoreError
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    ModelStore(sys.argv[1], builtin_dir=None).load("huge")
    outcome = "loaded"
except StoreError as e:
    outcome = "refused: " + str(e)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) // 1024, outcome)
"""


def test_a_small_file_claiming_a_huge_network_is_refused_before_anything_is_allocated(store):
    """Metadata hidden [500000] with small weights (a ~158 KB file): refused on its shapes, the peak
    memory of the process (measured in a child, ru_maxrss) grows by a few MB, not 1.9 GB."""
    values, weights = good_values((4,))
    values["model"]["hidden"] = [500000]
    store.root.mkdir()
    write_payload(store.root / "huge.pt", values, {**weights, "pad": torch.zeros(38_000)})
    assert 100_000 < (store.root / "huge.pt").stat().st_size < 300_000
    result = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(store.root)], cwd=PROJECT, capture_output=True,
                            text=True, timeout=120)
    grown_mb, outcome = result.stdout.split(" ", 1)
    assert outcome.startswith("refused") and int(grown_mb) < 100, result.stdout + result.stderr


# --- read-only and full folders (real tmpfs mounts where this runs as root; else skipped) ---------------

def mount_tmpfs(folder: Path, options: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()}): read-only/full cases need one")


@pytest.fixture
def read_only(tmp_path):
    folder = tmp_path / "ro"
    mount_tmpfs(folder, "ro,size=1m")
    yield folder
    subprocess.run(["umount", str(folder)], check=False)


@pytest.fixture
def tiny_disk(tmp_path):
    folder = tmp_path / "full"
    mount_tmpfs(folder, "size=64k")
    yield folder
    subprocess.run(["umount", str(folder)], check=False)


def test_train_refuses_a_read_only_store_before_the_first_batch(read_only, tiny_dir, capsys):
    code = main(["train", "--epochs", "2", "--hidden", "8", "--data-dir", str(tiny_dir), "--store",
                 str(read_only / "models"), "--name", "m", "--device", "cpu"])
    out, err = capsys.readouterr()
    assert code == 2 and "Epoch" not in out and err.count("\n") == 1 and "read-only" in err


def test_a_save_into_a_read_only_store_says_so_in_words(read_only):
    model = MLP((4,))
    with pytest.raises(StoreError, match="read-only"):
        ModelStore(read_only, builtin_dir=None).save(model, meta("m", model))


def test_a_full_disk_keeps_the_old_model_and_leaves_no_debris(tiny_disk):
    store = ModelStore(tiny_disk, builtin_dir=None)
    small = MLP((4,))
    store.save(small, meta("m", small, parameters=1))
    big = MLP((64,))  # ~200 KB: does not fit
    with pytest.raises(StoreError, match="disk is full"):
        store.save(big, meta("m", big), overwrite=True)
    assert store.meta("m").parameters == 1
    assert sorted(p.name for p in tiny_disk.iterdir() if not p.name.startswith(".")) == ["m.pt"]
    assert not [p for p in tiny_disk.iterdir() if p.name.endswith(".tmp")]


def test_a_drawing_on_a_full_disk_leaves_no_empty_png(tiny_disk):
    drawings = Collections(tiny_disk)
    noise = np.random.default_rng(0).integers(0, 256, (280, 280, 4), dtype=np.uint8)  # ~300 KB as PNG
    with pytest.raises(OSError) as raised:
        drawings.add("c", noise, 3)
    assert raised.value.errno == errno.ENOSPC
    left = list((tiny_disk / "c").glob("*.png"))
    assert left == [] and drawings.load("c") == []


# --- collections ---------------------------------------------------------------------------------------

def test_only_the_maker_or_the_operator_clears_a_collection(tmp_path):
    drawings = Collections(tmp_path)
    image = np.zeros((28, 28), np.uint8)
    drawings.add("class", image, 1, owner="alice")
    with pytest.raises(ValueError, match="another browser's"):
        drawings.add("class", image, 2, owner="bob")  # alice's private collection: bob cannot add to it
    drawings.add("class", image, 2, owner="bob", shared=True)  # as a class collection takes everyone's
    assert drawings.names_of("alice") == ["class"] and drawings.names_of("bob") == []
    assert drawings.default_name("bob") != "class"  # the Draw page never offers bob alice's collection
    with pytest.raises(ValueError, match="not yours"):
        drawings.clear("class", owner="bob")
    assert len(drawings.load("class")) == 2
    drawings.clear("class", owner="alice")
    assert drawings.names() == []
    drawings.add("again", image, 1, owner="alice")
    drawings.clear("again", owner="bob", operator=True)
    assert drawings.names() == []


def test_a_big_photo_is_kept_at_a_sensible_size(tmp_path):
    """A 4000x3000 photo: kept at most 280 px a side, so a few hundred KB at most, not ~48 MB of PNG."""
    drawings = Collections(tmp_path)
    photo = np.random.default_rng(1).integers(0, 256, (3000, 4000, 3), dtype=np.uint8)
    file = drawings.add("photos", photo, 7)
    assert (tmp_path / "photos" / file).stat().st_size < 400_000
    assert drawings.load("photos")[0].image.shape == (210, 280, 3)


def test_a_labels_line_cut_short_is_skipped(tmp_path):
    drawings = Collections(tmp_path)
    drawings.add("c", np.zeros((28, 28), np.uint8), 3)
    drawings.add("c", np.zeros((28, 28), np.uint8), 4)
    labels = tmp_path / "c" / "labels.csv"
    text = labels.read_text()
    labels.write_text(text[: text.rindex(",") + 1])  # a full disk cut the last line after its comma
    assert [d.label for d in drawings.load("c")] == [3]


def test_jobs_keep_the_queue_and_the_reservation_consistent(registry):
    """Reserved names are those of queued and running jobs only."""
    job = registry.submit("alice", TrainConfig(**FAST), name="q")
    assert job.status in ACTIVE or job.wait(60)
    job.wait(60)
    registry.rename_model("q", "q2", "alice")  # finished: no longer reserved
    assert registry.store.exists("q2") and os.path.exists(registry.store.root / "q2.pt")


def test_a_run_into_a_read_only_store_is_refused_at_submit(read_only, tiny):
    registry = JobRegistry(ModelStore(read_only, builtin_dir=None), lambda: tiny)
    with pytest.raises(StoreError, match="read-only"):
        registry.submit("alice", TrainConfig(**FAST), name="m")
    assert registry.jobs == {}
