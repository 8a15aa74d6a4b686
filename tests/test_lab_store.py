"""An edited network saved as a model of its own (#28): typed metadata saying what was edited from which
model, older files without it still loading, its scores its own, and it on the leaderboard like any other."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mnist_core.classroom.leaderboard import saved_entries
from mnist_core.net.edits import Prune, SwitchOff, Temperature
from mnist_core.net.evaluate import evaluate, predict_probs
from mnist_core.net.lab import apply_edits
from mnist_core.storage.edited import edited_name, save_edited
from mnist_core.storage.models import EditedFrom, ModelStore, StoreError

from .helpers import make_digits, save_tiny


@pytest.fixture
def store(tmp_path) -> ModelStore:
    return ModelStore(tmp_path / "models", builtin_dir=None)


def test_an_edited_model_is_saved_as_a_new_model_owned_by_its_saver(store):
    source_meta = save_tiny(store, "mine", owner_key="teacher")
    source, _, _ = store.load("mine")
    images, labels = make_digits(200, seed=1)
    edits = [SwitchOff(0, 2), Prune(0.5), Temperature(2.0)]
    meta = save_edited(store, source, source_meta, edits, edited_name("mine"), store.owners.tag("student"),
                       images, labels)
    assert meta.name == "mine-edited" and meta.id and meta.id != source_meta.id
    assert meta.edited_from == EditedFrom("mine", source_meta.id, tuple(edits))
    assert meta.parent == source_meta.id  # hidden on the leaderboard with the model it came from
    assert store.owners.owns("student", meta.owner) and not store.owners.owns("teacher", meta.owner)
    loaded, again, _ = store.load("mine-edited")
    assert again.edited_from == meta.edited_from
    expected = apply_edits(source, edits)
    assert torch.equal(predict_probs(loaded, images), predict_probs(expected, images))
    assert meta.metrics.test_accuracy == pytest.approx(evaluate(expected, images, labels).accuracy)
    assert store.meta("mine").edited_from is None  # the source is untouched, and older files read as unedited
    entries = {e.name: e for e in saved_entries(store)}
    assert entries["mine-edited"].test_accuracy == meta.metrics.test_accuracy
    with pytest.raises(StoreError, match="exists already"):
        save_edited(store, source, source_meta, edits, "mine-edited", "", images, labels)
    with pytest.raises(StoreError, match="nothing was edited"):
        save_edited(store, source, source_meta, [], "other", "", images, labels)


def test_a_damaged_edit_record_is_one_line_about_that_file(store):
    source_meta = save_tiny(store, "mine")
    source, _, _ = store.load("mine")
    images, labels = make_digits(20, seed=2)
    save_edited(store, source, source_meta, [SwitchOff(0, 1)], "edited", "", images, labels)
    path = store.root / "edited.pt"
    payload = torch.load(path, weights_only=True)
    payload["meta"]["edited_from"]["edits"][0] = {"kind": "SwitchOff", "layer": "x", "unit": 1}
    torch.save(payload, path)
    with pytest.raises(StoreError, match=r"^model 'edited' .* is damaged: metadata field 'edited_from'") as e:
        store.meta("edited")
    assert "\n" not in str(e.value)
    assert [entry.name for entry in store.list() if entry.meta is not None] == ["mine"]
    assert np.isfinite(store.load("mine")[0].linear_layers()[0].weight.detach().numpy()).all()
