"""The class leaderboard: the engine (rows from the store and the live runs, scores, sorting, hiding) on
tiny generated models, and the page under AppTest (empty store, hiding as operator, a student's view)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from mnist_core.classroom.collection import ClassCollection, held_out, split
from mnist_core.classroom.leaderboard import (
    examples_key,
    HIDDEN_FILE,
    HiddenEntries,
    live_entries,
    measure_class,
    measure_test,
    MODEL,
    owner_label,
    RUN,
    saved_entries,
    sort_entries,
    store_signature,
)
from mnist_core.classroom.nicknames import COMMAND_LINE, Nicknames, NO_NICKNAME, SHIPPED
from mnist_core.classroom.scoring import Examples, examples, score
from mnist_core.net.config import TrainConfig
from mnist_core.runs.jobs import JobRegistry
from mnist_core.storage.drawings import Collections
from mnist_core.storage.models import ModelStore, StoreError
from ui.tables import DASH

from .helpers import current_model_of, draw_seven, FAST, make_teacher, PROJECT, save_tiny, wait_for


@pytest.fixture
def store(tmp_path):
    return ModelStore(tmp_path / "models")  # with the shipped `default`, as in the app


def test_every_stored_model_is_a_row_with_its_settings_and_test_scores(store):
    save_tiny(store, "alices", 0.95, owner_key="alice-key", optimizer="sgd", lr=0.05, augment=0.7, drawn=0.3,
              batch_size=64, epochs=3)
    save_tiny(store, "from-cli", 0.91)
    rows = {e.name: e for e in saved_entries(store)}
    assert set(rows) == {"alices", "from-cli", "default"}
    alice = rows["alices"]
    assert (alice.kind, alice.layers, alice.optimizer, alice.batch_size, alice.augment, alice.drawn) == (
        MODEL, "784-8-10", "sgd, lr 0.05, one-cycle", 64, 0.7, 0.3)
    assert (alice.test_accuracy, alice.test_f1, alice.epochs, alice.train_seconds) == (0.95, 0.94, 1, 12.5)
    assert alice.hide_id == store.meta("alices").id and alice.owner_tag and "alice-key" not in alice.owner_tag
    shipped = store.meta("default").metrics.test_accuracy  # from the shipped model's own history
    assert rows["default"].builtin and rows["default"].test_accuracy == pytest.approx(shipped)
    # Who each is by: a nickname where its owner has one; the shipped and command-line models say what they are.
    nicknames = {alice.owner_tag: "Ada"}.get
    assert owner_label(alice, nicknames) == "Ada"
    assert owner_label(alice) == NO_NICKNAME
    assert owner_label(rows["from-cli"], nicknames) == COMMAND_LINE
    assert owner_label(rows["default"], nicknames) == SHIPPED


def test_a_model_without_test_scores_is_measured(store, tiny):
    save_tiny(store, "bare", accuracy=None)
    entry = next(e for e in saved_entries(store) if e.name == "bare")
    assert entry.test_accuracy is None and entry.test_f1 is None
    scores = measure_test(store, "bare", tiny.test_images, tiny.test_labels)
    model, _, _ = store.load("bare")
    from mnist_core.net.evaluate import evaluate
    expected = evaluate(model, tiny.test_images, tiny.test_labels)
    assert scores.accuracy == expected.accuracy and scores.macro_f1 == expected.macro_f1
    assert 0.0 <= scores.accuracy <= 1.0


def test_sorting_puts_the_best_first_and_missing_figures_last(store):
    save_tiny(store, "old-good", 0.97, minutes_ago=30)
    save_tiny(store, "new-poor", 0.80, minutes_ago=1)
    save_tiny(store, "unscored", None, minutes_ago=5)
    entries = [e for e in saved_entries(store) if not e.builtin]
    assert [e.name for e in sort_entries(entries, "MNIST test accuracy")] == ["old-good", "new-poor", "unscored"]
    assert [e.name for e in sort_entries(entries, "newest")] == ["new-poor", "unscored", "old-good"]
    assert [e.name for e in sort_entries(entries, "name")] == ["new-poor", "old-good", "unscored"]
    by_key = {e.name: e.key for e in entries}
    extra = {by_key["new-poor"]: 0.9, by_key["old-good"]: 0.5}
    assert [e.name for e in sort_entries(entries, "class handwriting accuracy", extra)] == [
        "new-poor", "old-good", "unscored"]


def test_only_the_operator_hides_and_the_hidden_ids_are_kept_in_the_store_folder(store):
    meta = save_tiny(store, "rude-name", owner_key="alice-key")
    hidden = HiddenEntries(store)
    assert hidden.ids() == set()
    with pytest.raises(StoreError, match="only the teacher"):
        hidden.hide(meta.id, operator=False)
    assert hidden.ids() == set() and not (store.root / HIDDEN_FILE).exists()
    hidden.hide(meta.id, operator=True)
    hidden.hide("name:default", operator=True)
    assert HiddenEntries(ModelStore(store.root)).ids() == {meta.id, "name:default"}  # another process sees it
    with pytest.raises(StoreError, match="only the teacher"):
        hidden.show(meta.id, operator=False)
    hidden.show(meta.id, operator=True)
    assert hidden.ids() == {"name:default"}
    assert store.exists("rude-name")  # hiding changes no model
    assert [e.name for e in saved_entries(store)] == ["rude-name", "default"]  # nor the store's own listing


def test_a_damaged_hidden_list_is_one_line_and_the_operator_can_write_it_again(store):
    store.root.mkdir(parents=True, exist_ok=True)
    (store.root / HIDDEN_FILE).write_text("{not json")
    hidden = HiddenEntries(store)
    with pytest.raises(StoreError, match="cannot be read") as caught:
        hidden.ids()
    assert "\n" not in str(caught.value)
    (store.root / HIDDEN_FILE).write_text(json.dumps({"a": 1}))
    with pytest.raises(StoreError, match="not a list of ids"):
        hidden.ids()
    hidden.hide("some-id", operator=True)
    assert hidden.ids() == {"some-id"}
    assert list(store.root.glob(f"{HIDDEN_FILE}.damaged-*")), "the unreadable list is kept aside, not lost"


def test_the_store_signature_changes_with_each_save_rename_delete_and_hide(store):
    before = store_signature(store)
    save_tiny(store, "one")
    after_save = store_signature(store)
    store.rename("one", "two")
    after_rename = store_signature(store)
    HiddenEntries(store).hide("x", operator=True)
    after_hide = store_signature(store)
    store.delete("two")
    assert len({before, after_save, after_rename, after_hide, store_signature(store)}) == 5


def test_live_runs_are_rows_with_their_owner_and_live_test_f1_then_leave(tmp_path, tiny):
    store = ModelStore(tmp_path / "models", builtin_dir=None)
    registry = JobRegistry(store, lambda: tiny, train_digits=len(tiny.train_labels))
    assert live_entries(registry.active_snapshots(), store.owners.tag) == []
    job = registry.submit("alice-key", TrainConfig(**{**FAST, "epochs": 200}), name="live")
    wait_for(lambda: job.snapshot().history, timeout=60)  # an epoch done: its test F1 is known
    [entry] = live_entries(registry.active_snapshots(), store.owners.tag)
    assert (entry.kind, entry.name, entry.status, entry.layers, entry.last_epoch) == (RUN, "live", "training",
                                                                                      "784-16-10", 200)
    assert entry.test_f1 in [r.test_f1 for r in job.snapshot().history]  # after an epoch of this run
    assert entry.owner_tag == store.owners.tag("alice-key") and entry.hide_id == job.model_id
    assert entry.epochs >= 1 and entry.train_seconds > 0
    job.stop()
    assert job.wait(30)
    assert live_entries(registry.active_snapshots(), store.owners.tag) == []
    [saved] = saved_entries(store)
    assert saved.name == "live" and saved.hide_id == entry.hide_id  # a run hidden stays hidden once saved
    assert saved.owner_tag == entry.owner_tag and saved.status == "stopped early"


def add_until(collections: Collections, name: str, in_held_out: bool, label: int = 7) -> str:
    """Adds a drawn seven to the part asked for (the split hashes the random file name: one that lands in
    the other part is removed again)."""
    while True:
        file = collections.add(name, draw_seven(), label, owner="student-key-0123456789abcd", nickname="Ada",
                               shared=True)  # as the class collection adds a student's drawing
        if held_out(file) == in_held_out:
            return file
        collections.remove(name, file, operator=True)


def held_part(collections: Collections, name: str) -> Examples:
    return examples(split(collections.load(name))[1])


def test_the_class_held_out_part_is_scored_and_keyed_by_its_drawings(tmp_path, store):
    collections = Collections(tmp_path / "drawings")
    assert measure_class(store, "default", held_part(collections, "ours")) is None  # nothing to score yet
    add_until(collections, "ours", in_held_out=True)
    add_until(collections, "ours", in_held_out=True, label=1)  # a seven labelled 1: the model cannot be right
    held = held_part(collections, "ours")
    assert len(held) == 2
    accuracy = measure_class(store, "default", held)
    model, _, _ = store.load("default")
    assert accuracy == score(model, held).accuracy == 0.5
    # A drawing added to the learning part changes the collection but not the held-out part's key.
    key = examples_key(held)
    add_until(collections, "ours", in_held_out=False)
    assert examples_key(held_part(collections, "ours")) == key
    add_until(collections, "ours", in_held_out=True)
    assert examples_key(held_part(collections, "ours")) != key


# --- the page under AppTest ------------------------------------------------------------------------

TEACHER_KEY = "T" * 32


def board(operator: bool, monkeypatch, who: str = "t" * 32) -> AppTest:
    """The leaderboard through app.py (as in the browser), for a browser whose cookie holds `who`; with
    `operator`, the teacher's browser (it entered the teacher code)."""
    import os

    if operator:
        who = TEACHER_KEY
        make_teacher(Path(os.environ["MNIST_MODELS"]), who)
    at = AppTest.from_file(str(PROJECT / "app.py"), default_timeout=30)
    at.session_state["owner"] = who
    at.switch_page("pages/leaderboard.py")
    return at.run()


def displayed(at: AppTest, index: int):
    """A table's cells as the browser shows them (a styled table's display values)."""
    from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df

    styler = at.dataframe[index].proto.arrow_data.styler
    return convert_arrow_bytes_to_pandas_df(styler.display_values) if styler.display_values else \
        at.dataframe[index].value.astype(str)


def table_rows(at: AppTest, index: int) -> list[dict]:
    return at.dataframe[index].value.to_dict("records")


def test_an_empty_store_shows_the_shipped_model_and_no_runs(env, monkeypatch):
    at = board(False, monkeypatch)
    assert not at.exception
    assert any("No run is training right now" in c.value for c in at.caption)
    [row] = table_rows(at, 0)
    from mnist_core.storage.models import ModelStore

    shipped = ModelStore().meta("default").metrics.test_accuracy
    assert row["name"] == "default" and row["by"] == SHIPPED
    assert row["MNIST test accuracy"] == pytest.approx(100 * shipped, abs=0.005)
    assert row["layers"] == "784-512-256-10" and row["#"] == 1
    assert all(t.key == "projector_toggle" for t in at.toggle) and not at.expander  # a student: no hiding
    shown = displayed(at, 0)  # what the browser shows: no raw None, the score formatted
    assert "None" not in shown.to_string() and shown["MNIST test accuracy"][0].endswith("%")
    # A missing cell Streamlit draws itself (not from the formatted values): "None" unless told the dash.
    assert [frame.proto.placeholder for frame in at.dataframe] == [DASH] * len(at.dataframe)


def test_a_model_without_scores_gets_them_measured_once_and_cached(env, monkeypatch):
    import ui.caches  # its own reference is what the page's cache calls

    store = ModelStore(env / "models")
    save_tiny(store, "bare", accuracy=None)
    calls = []
    real = ui.caches.measure_test
    monkeypatch.setattr(ui.caches, "measure_test", lambda *a: calls.append(a[1]) or real(*a))
    at = board(False, monkeypatch)
    row = next(r for r in table_rows(at, 0) if r["name"] == "bare")
    assert 0 <= row["MNIST test accuracy"] <= 100 and row["test F1"] is not None
    at.selectbox(key="lb_sort").set_value("name").run()
    board(False, monkeypatch)  # another browser
    assert calls == ["bare"]


def test_the_operator_hides_an_entry_and_students_no_longer_see_it(env, monkeypatch):
    store = ModelStore(env / "models")
    meta = save_tiny(store, "rude", owner_key="s" * 32)
    save_tiny(store, "fine")
    student = board(False, monkeypatch)
    assert {r["name"] for r in table_rows(student, 0)} == {"rude", "fine", "default"}
    assert not any(b.label == "Hide" for b in student.button)

    teacher = board(True, monkeypatch)
    teacher.selectbox(key="lb_hide_pick").set_value("model:rude").run()
    next(b for b in teacher.button if b.label == "Hide").click().run()
    assert not teacher.exception
    assert HiddenEntries(store).ids() == {meta.id}
    assert any("Hidden: rude" in s.value for s in teacher.success)
    assert {r["name"] for r in table_rows(teacher, 0)} == {"fine", "default"}
    teacher.toggle(key="lb_show_hidden").set_value(True).run()
    rows = {r["name"]: r for r in table_rows(teacher, 0)}
    assert rows["rude"]["hidden"] == "hidden" and rows["fine"]["hidden"] == ""

    student = board(False, monkeypatch)
    assert {r["name"] for r in table_rows(student, 0)} == {"fine", "default"}
    assert not student.toggle and not any(b.label in ("Hide", "Show again") for b in student.button)

    teacher.selectbox(key="lb_hide_pick").set_value("model:rude").run()
    next(b for b in teacher.button if b.label == "Show again").click().run()
    assert HiddenEntries(store).ids() == set()
    assert {r["name"] for r in table_rows(board(False, monkeypatch), 0)} == {"rude", "fine", "default"}


@pytest.mark.parametrize("where, title", [("Mistakes", "Where the network goes wrong"),
                                          ("Inside", "Inside the network")])
def test_a_picked_row_opens_in_mistakes_or_inside_as_the_current_model(env, monkeypatch, where, title):
    store = ModelStore(env / "models")
    save_tiny(store, "pick-me", 0.5)
    save_tiny(store, "other", 0.6)
    at = board(False, monkeypatch)
    assert next(b for b in at.button if b.label == f"Open in {where}").disabled
    at.selectbox(key="lb_pick").set_value("model:pick-me").run()
    next(b for b in at.button if b.label == f"Open in {where}").click().run()
    assert not at.exception
    # That page now runs, for this model: the browser's current model (kept per browser, on every page).
    assert [t.value for t in at.title] == [title]
    assert current_model_of(at) == "pick-me"


def test_nicknames_and_the_class_handwriting_column(env, monkeypatch):
    store = ModelStore(env / "models")
    save_tiny(store, "adas", 0.9, owner_key="ada-key-0123456789abcdefgh")
    save_tiny(store, "anon", 0.8, owner_key="bob-key-0123456789abcdefgh")
    Nicknames(store.root).set(store.owners.tag("ada-key-0123456789abcdefgh"), "Ada")
    at = board(False, monkeypatch)
    rows = {r["name"]: r for r in table_rows(at, 0)}
    assert (rows["adas"]["by"], rows["anon"]["by"], rows["default"]["by"]) == ("Ada", NO_NICKNAME, SHIPPED)
    assert "class handwriting" not in rows["adas"]  # no class collection open: no column
    assert "class handwriting accuracy" not in at.selectbox(key="lb_sort").options

    collections = Collections(env / "drawings")
    ClassCollection(collections).open("our-class", owner="t" * 32)
    at = board(False, monkeypatch)
    assert any("no held-out drawings yet" in c.value for c in at.caption)
    for _ in range(2):
        add_until(collections, "our-class", in_held_out=True)
    at = board(False, monkeypatch)
    assert not at.exception
    rows = {r["name"]: r for r in table_rows(at, 0)}
    assert rows["default"]["class handwriting"] == 100.0  # the shipped model reads the drawn sevens
    assert all(0 <= r["class handwriting"] <= 100 for r in rows.values())
    assert any("2 held-out drawings of the class collection **our-class**" in c.value for c in at.caption)
    at.selectbox(key="lb_sort").set_value("class handwriting accuracy").run()
    assert table_rows(at, 0)[0]["name"] == "default"


def test_a_model_whose_settings_changed_live_says_so_on_the_leaderboard_and_in_mistakes(env, monkeypatch):
    from mnist_core.net.controls import SettingChange

    store = ModelStore(env / "models")
    changes = [SettingChange(2.4, "lr", 0.003, 0.3), SettingChange(3.0, "batch_size", 64, 256)]
    save_tiny(store, "changed", 0.9, changes=changes)
    save_tiny(store, "plain", 0.8)
    rows = {e.name: e for e in saved_entries(store)}
    said = "learning rate changed at epoch 2.4 (0.003 → 0.3); batch size changed at epoch 3.0 (64 → 256)"
    assert rows["changed"].changes == tuple(changes) and rows["plain"].changes == ()
    at = board(False, monkeypatch)
    table = {r["name"]: r for r in table_rows(at, 0)}
    assert table["changed"]["changed live"] == said and table["plain"]["changed live"] == ""
    # Opened in Mistakes, the model's caption says it too; a model without changes has no such caption.
    at.selectbox(key="lb_pick").set_value("model:changed").run()
    next(b for b in at.button if b.label == "Open in Mistakes").click().run()
    assert not at.exception and at.title[0].value == "Where the network goes wrong"
    assert any(c.value == f"**changed**: {said}." for c in at.caption)
    # A model without changes has no such caption (AppTest goes back to the Leaderboard on a later rerun, so the
    # caption is drawn on its own here, with the changed model beside it as the probe's control).
    for name, shown in (("plain", False), ("changed", True)):
        alone = AppTest.from_string(f"import ui.startup\nfrom ui.current_model import changes_caption\n"
                                    f"changes_caption({name!r})\n", default_timeout=30).run()
        assert not alone.exception and any("changed at epoch" in c.value for c in alone.caption) == shown
    # In French: a sentence per kind of change, agreeing with it (le taux ... changé, la taille ... changée).
    at = AppTest.from_string("import ui.startup\nfrom ui.current_model import changes_caption\n"
                             "changes_caption('changed')\n", default_timeout=30)
    at.query_params["lang"] = "fr"
    at.run()
    assert not at.exception and any(c.value == "**changed** : taux d'apprentissage changé à l'époque 2,4 (0,003 → 0,3)"
                                    " ; taille de lot changée à l'époque 3,0 (64 → 256)." for c in at.caption)
