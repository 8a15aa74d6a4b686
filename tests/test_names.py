"""Issue #26, a leaderboard nobody can fake: one reading of a name (storage/names.py), model names unique as people
read them and never posing as the app's labels, and a hidden model's descendants hidden with it."""

from __future__ import annotations

import pytest

from mnist_core.classroom.leaderboard import HiddenEntries
from mnist_core.net.config import TrainConfig
from mnist_core.net.model import build_model
from mnist_core.runs.jobs import JobRegistry
from mnist_core.storage.models import ModelMeta, ModelStore, StoreError
from mnist_core.storage.names import as_read, poses_as_app_label, UnreadableName

from .helpers import FAST

CONFIG = {"hidden": [8], "activation": "relu", "dropout": 0.0}


def _save(store: ModelStore, name: str, **meta) -> ModelMeta:
    saved = ModelMeta(name=name, model=CONFIG, config=TrainConfig(), **meta)
    store.save(build_model(CONFIG), saved)
    return saved


@pytest.mark.parametrize("look_alike", ["aIice1", "ALICE 1", "\u0430lice1", "ａｌｉｃｅ１", "𝐚𝐥𝐢𝐜𝐞𝟏", "alice_1",
                                       "alíce1"])
def test_look_alikes_read_as_one_name(look_alike):
    assert as_read(look_alike) == as_read("alice1")
    assert as_read("bob") != as_read("alice1")


@pytest.mark.parametrize("invisible", ["\u3164", "a\u200bb", "a\u00a0b", "\u0301x", "ab\u202e", "x\u2800"])
def test_invisible_and_formatting_characters_are_refused_in_one_line(invisible):
    with pytest.raises(UnreadableName, match="does not show") as refused:
        as_read(invisible)
    assert "\n" not in str(refused.value)


def test_names_posing_as_the_apps_labels():
    assert poses_as_app_label("default.") == "default"
    assert poses_as_app_label("shipped with the app.") == "shipped with the app"
    assert poses_as_app_label("Command-Line") == "command line"
    assert poses_as_app_label("defaults") is None


def test_a_model_name_that_reads_as_another_or_as_the_app_is_refused(tmp_path):
    store = ModelStore(tmp_path)  # with the shipped 'default'
    _save(store, "alice1")
    for name, words in (("aIice1", "reads as the model 'alice1'"), ("default.", "reads as the app's own 'default'"),
                        ("shipped-with-the-app", "app's own")):
        with pytest.raises(StoreError, match=words):
            _save(store, name)
    _save(store, "bob")
    with pytest.raises(StoreError, match="reads as the model 'alice1'"):
        store.rename("bob", "ALICE_1")
    assert sorted(e.name for e in store.list() if not e.meta.builtin) == ["alice1", "bob"]


def test_the_registry_refuses_a_look_alike_name_before_the_run(tmp_path, tiny):
    registry = JobRegistry(ModelStore(tmp_path, builtin_dir=None), lambda: tiny, train_digits=len(tiny.train_labels))
    assert registry.submit("alice", TrainConfig(**FAST), name="alice1").wait(60)
    with pytest.raises(StoreError, match="reads as the model 'alice1'"):
        registry.submit("mallory", TrainConfig(**FAST), name="aIice1")


def test_a_hidden_models_descendants_are_hidden_with_it(tmp_path, tiny):
    store = ModelStore(tmp_path, builtin_dir=None)
    registry = JobRegistry(store, lambda: tiny, train_digits=len(tiny.train_labels))
    assert registry.submit("teacher", TrainConfig(**FAST), name="rude").wait(60)
    child = registry.submit("student", TrainConfig(**FAST), name="rude-class", base="rude")
    assert child.wait(60)
    grandchild = registry.submit("student", TrainConfig(**FAST), name="rude-class-again", base="rude-class")
    assert grandchild.wait(60)
    child.start(1)  # Train more of the child: it stays a descendant
    assert child.wait(60)
    rude, kid, grandkid = (store.meta(n) for n in ("rude", "rude-class", "rude-class-again"))
    assert kid.parent == rude.id and grandkid.parent == kid.id
    assert registry.submit("other", TrainConfig(**FAST), name="unrelated").wait(60)
    hidden = HiddenEntries(store)
    hidden.hide(rude.id, operator=True)
    assert hidden.ids() == {rude.id, kid.id, grandkid.id} and hidden.own_ids() == {rude.id}
    assert not hidden.hides(store.meta("unrelated").id)
