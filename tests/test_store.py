import pytest
import torch

from mnist_core.net.config import TrainConfig
from mnist_core.net.history import EpochRecord
from mnist_core.net.model import MLP
from mnist_core.storage.models import model_name, ModelMeta, ModelStore, StoreError


def meta(name: str, model: MLP, **extra) -> ModelMeta:
    return ModelMeta(name=name, model=model.config(), config=TrainConfig(), **extra)


@pytest.fixture
def store(tmp_path) -> ModelStore:
    return ModelStore(tmp_path / "models", builtin_dir=tmp_path / "builtin")


def test_saved_model_reloads_to_identical_predictions(store):
    torch.manual_seed(0)
    model = MLP((16, 8), "tanh", 0.2).eval()
    record = EpochRecord(epoch=1, loss=0.5, train_f1=0.8, test_f1=0.7, test_accuracy=0.75, seconds=1.5,
                         grad_norms=[0.1])
    store.save(model, meta("a", model, history=[record], created="2026-01-01T00:00:00+00:00"))
    loaded, loaded_meta, _ = store.load("a")
    images = torch.rand(10, 28, 28)
    assert torch.equal(model(images), loaded(images))
    assert loaded_meta.history == [record] and loaded_meta.model["activation"] == "tanh"


@pytest.mark.parametrize("name", ["../x", "/etc/x", "a/b", ".hidden", "", "x" * 65, "a b", "m.pt", "c:\\x"])
def test_names_that_are_not_plain_are_refused(store, name):
    model = MLP((4,))
    with pytest.raises(StoreError, match="invalid model name"):
        model_name(name)
    with pytest.raises(StoreError, match="invalid model name"):
        store.save(model, meta(name, model))
    with pytest.raises(StoreError, match="invalid model name"):
        store.load(name)


def test_existing_model_is_not_overwritten_unless_asked(store):
    model = MLP((4,))
    store.save(model, meta("a", model, parameters=1))
    with pytest.raises(StoreError, match="exists already"):
        store.save(model, meta("a", model, parameters=2))
    assert store.meta("a").parameters == 1
    store.save(model, meta("a", model, parameters=2), overwrite=True)
    assert store.meta("a").parameters == 2


def test_a_crash_while_writing_leaves_the_old_model_and_no_debris(store, monkeypatch):
    model = MLP((4,))
    store.save(model, meta("a", model, parameters=1))

    def crash(obj, f, *args, **kwargs):
        f.write(b"half a model")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(StoreError, match="disk full"):
        store.save(model, meta("a", model, parameters=2), overwrite=True)
    monkeypatch.undo()
    assert store.meta("a").parameters == 1
    assert sorted(p.name for p in store.root.iterdir() if p.name != ".lock") == ["a.pt"]


def test_damaged_file_gets_a_clear_error_and_the_others_stay_usable(store):
    model = MLP((4,))
    store.save(model, meta("good", model, created="2026-01-02T00:00:00+00:00"))
    (store.root / "bad.pt").write_bytes(b"not a model at all")
    with pytest.raises(StoreError, match="'bad'.*damaged"):
        store.load("bad")
    listing = {e.name: e for e in store.list()}
    assert listing["good"].meta is not None and listing["bad"].meta is None and "damaged" in listing["bad"].error
    store.load("good")


def test_loading_never_runs_code_from_the_file(store, tmp_path):
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    store.root.mkdir(parents=True)
    torch.save({"format": 1, "meta": {}, "model": {}, "evil": Evil()}, store.root / "evil.pt")
    with pytest.raises(StoreError, match="damaged"):
        store.load("evil")
    assert not marker.exists()


def test_list_rename_delete(store):
    model = MLP((4,))
    store.save(model, meta("old", model, created="2026-01-01T00:00:00+00:00"))
    store.save(model, meta("new", model, created="2026-02-01T00:00:00+00:00"))
    assert [e.name for e in store.list()] == ["new", "old"]
    store.rename("old", "older")
    assert [e.name for e in store.list()] == ["new", "older"] and store.meta("older").name == "older"
    with pytest.raises(StoreError, match="exists already"):
        store.rename("older", "new")
    store.delete("older")
    assert [e.name for e in store.list()] == ["new"]
    with pytest.raises(StoreError, match="no model named 'older'"):
        store.delete("older")


def test_builtin_models_are_listed_but_cannot_be_changed(store):
    model = MLP((4,))
    builtin = ModelStore(store.builtin_dir, builtin_dir=None)
    builtin.save(model, meta("default", model))
    assert store.meta("default").builtin and store.is_builtin("default")
    store.load("default")
    for action in (lambda: store.delete("default"), lambda: store.rename("default", "x"),
                   lambda: store.save(model, meta("default", model), overwrite=True)):
        with pytest.raises(StoreError, match="ships with the app"):
            action()
    assert (store.builtin_dir / "default.pt").exists()


def test_store_folder_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_MODELS", str(tmp_path / "env"))
    assert ModelStore().root == tmp_path / "env"
    assert ModelStore(tmp_path / "arg").root == tmp_path / "arg"


def test_a_store_opened_on_the_builtin_folder_is_a_plain_store(tmp_path):
    model = MLP((4,))
    shipped = ModelStore(tmp_path / "builtin", builtin_dir=tmp_path / "builtin")
    shipped.save(model, meta("default", model))
    assert not shipped.meta("default").builtin
    shipped.delete("default")


def test_default_model_names_have_one_date_format():
    from datetime import datetime

    from mnist_core.storage.models import default_model_name

    assert default_model_name((16, 8), datetime(2026, 11, 29, 9, 5, 7)) == "mlp-16-8-20261129-090507"
    model_name(default_model_name((800, 800) * 3))  # a long one is still a valid name


def test_metadata_is_typed_once_and_a_bad_config_is_one_line_about_that_file(tmp_path):
    store = ModelStore(tmp_path, builtin_dir=None)
    model = MLP((8,))
    store.save(model, ModelMeta(name="typed", model=model.config(), config=TrainConfig(hidden=(8,), lr=0.01)))
    loaded = store.meta("typed")
    assert isinstance(loaded.config, TrainConfig) and loaded.config.lr == 0.01 and loaded.metrics is None
    path = tmp_path / "typed.pt"
    payload = torch.load(path, weights_only=True)
    payload["meta"]["config"]["lr"] = -1  # a hand edit TrainConfig refuses
    torch.save(payload, path)
    with pytest.raises(StoreError, match=r"^model 'typed' .* is damaged: metadata field 'config'") as refused:
        store.meta("typed")
    assert "\n" not in str(refused.value)
