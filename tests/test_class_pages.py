"""The class's handwriting in the pages, under AppTest: the sidebar's nickname, the Draw page's class panel,
the Class page (teacher and student), the Mistakes page on a collection's held-out part."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from mnist_core.classroom.collection import ClassCollection
from mnist_core.classroom.nicknames import Nicknames
from mnist_core.storage.drawings import Collections

from .helpers import bar_drawing, button, draw_seven, make_teacher, PROJECT

KEY = "browser-key-0123456789abcdefghij"  # one browser's owner key, as its cookie would give it


def app_at(page: str, key: str = KEY) -> AppTest:
    """A new session of the browser with owner key `key`, on `page`, through app.py."""
    at = AppTest.from_file(str(PROJECT / "app.py"), default_timeout=30)
    at.session_state["owner"] = key
    at.switch_page(f"pages/{page}.py")
    return at.run()


@pytest.fixture(autouse=True)
def through_app_py(monkeypatch):
    """Every run through app.py, as on a server. AppTest forgets at each run that the app uses
    st.navigation and, finding a pages/ folder, runs a known page alone: without app.py's sidebar."""
    from streamlit.runtime.pages_manager import PagesManager

    init = PagesManager.__init__

    def navigation_app(self, *args, **kwargs) -> None:
        init(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", navigation_app)


def set_nickname(at: AppTest, name: str) -> AppTest:
    """Through the sidebar's form."""
    at.text_input(key="nickname_input").set_value(name)
    next(b for b in at.button if b.label == "Save nickname").click()
    return at.run()


def test_the_sidebar_sets_this_browsers_nickname(env, tmp_path):
    names = Nicknames(tmp_path / "models")
    at = set_nickname(app_at("our_class"), "<b>x</b>")
    assert "a nickname is 1-24" in at.session_state["_nickname_error"]
    at = set_nickname(app_at("our_class"), "**b** [a](x) :fr: $y$")  # 24 characters at most
    # The refusal quotes what was typed, shown as typed: every Markdown mark escaped, no :emoji: left.
    [refusal] = [e.value for e in at.error]
    assert r"\*\*b\*\* \[a\]\(x\)" in refusal and r"\$y\$" in refusal and ":fr:" not in refusal
    assert names.get(names.tag_of(KEY)) is None
    at = set_nickname(app_at("our_class"), " Kiwi ")
    assert "_nickname_error" not in at.session_state
    assert names.get(names.tag_of(KEY)) == "Kiwi"
    assert app_at("our_class").text_input(key="nickname_input").value == "Kiwi"  # a new session, the same browser
    other = app_at("our_class", key="another-browser-0123456789abcd")
    assert other.text_input(key="nickname_input").value == ""


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def test_the_class_page_with_nothing_open_says_who_opens_one(env):
    at = app_at("our_class")
    assert not at.exception
    assert any("No class collection is open; the teacher opens one" in i.value for i in at.info)
    assert not any(b.label == "Open for the class" for b in at.button)  # only the operator opens one


def test_a_student_adds_to_the_class_collection_under_a_nickname(env, canvas, monkeypatch, tmp_path):
    ClassCollection(Collections(tmp_path / "drawings")).open("class-2026", owner="teacher-key")
    canvas["image"] = draw_seven()
    at = app_at("draw")
    assert not at.exception
    # No nickname yet: refused in one line.
    button(at, "Add to the class collection").click().run()
    assert any("choose a nickname first" in e for e in errors(at))
    names = Nicknames(tmp_path / "models")
    names.set(names.tag_of(KEY), "Kiwi")
    at.run()
    assert any("as **Kiwi**" in m.value for m in at.markdown)
    # The digit meant must be said.
    button(at, "Add to the class collection").click().run()
    assert any("say which digit you meant" in e for e in errors(at))
    at.selectbox(key="d_class_label").set_value(7).run()
    button(at, "Add to the class collection").click().run()
    assert not errors(at)
    drawings = Collections(tmp_path / "drawings").load("class-2026")
    assert [(d.label, d.nickname) for d in drawings] == [(7, "Kiwi")]
    # A blank canvas is refused.
    canvas["image"] = np.zeros((280, 280, 4), np.uint8)
    at.run()
    assert at.selectbox(key="d_class_label").value is None  # asked afresh after each drawing added
    at.selectbox(key="d_class_label").set_value(3).run()
    button(at, "Add to the class collection").click().run()
    assert any("the drawing is blank" in e for e in errors(at))
    assert len(Collections(tmp_path / "drawings").load("class-2026")) == 1
    # The Class page counts it under the nickname; the student may remove it.
    at.switch_page("pages/our_class.py").run()
    assert not at.exception
    assert any("**1** drawing by **1** person" in m.value for m in at.markdown)
    people = at.dataframe[0].value
    assert people.to_dict("records") == [{"nickname": "Kiwi", "drawings": 1}]
    button(at, "Remove it").click().run()
    assert Collections(tmp_path / "drawings").load("class-2026") == []


def test_the_teacher_opens_and_closes_the_class_collection(env, monkeypatch, tmp_path):
    make_teacher(tmp_path / "models", KEY)
    at = app_at("our_class")
    at.text_input(key="c_name").set_value("../up").run()
    button(at, "Open for the class").click().run()
    assert any("invalid collection name" in e for e in errors(at))
    at.text_input(key="c_name").set_value("class-3b").run()
    button(at, "Open for the class").click().run()
    assert ClassCollection(Collections(tmp_path / "drawings")).open_name() == "class-3b"
    assert any("class-3b" in s.value and "is open" in s.value for s in at.success)
    assert not any("after choosing a nickname" in s.value for s in at.success)  # the students choose one
    button(at, "Close it").click().run()
    assert ClassCollection(Collections(tmp_path / "drawings")).open_name() is None


def test_a_collection_opened_next_is_the_one_shown(env, tmp_path):
    # The box keeps what it showed: after a second collection is opened it went on showing the first.
    store = Collections(tmp_path / "drawings")
    store.add("class-3a", draw_seven(), 7, owner=KEY)
    make_teacher(tmp_path / "models", KEY)
    at = app_at("our_class")
    at.text_input(key="c_name").set_value("class-3a").run()
    button(at, "Open for the class").click().run()
    assert at.selectbox(key="c_show").value == "class-3a"
    at.text_input(key="c_name").set_value("class-3b").run()
    button(at, "Open for the class").click().run()
    assert at.selectbox(key="c_show").value == "class-3b"
    assert any("**class-3b** has no drawings yet" in i.value for i in at.info)
    at.selectbox(key="c_show").set_value("class-3a").run()  # looking back at the last one stays possible
    assert at.selectbox(key="c_show").value == "class-3a"
    at.run()
    assert at.selectbox(key="c_show").value == "class-3a"


def test_another_students_drawing_cannot_be_removed(env, tmp_path):
    store = Collections(tmp_path / "drawings")
    ClassCollection(store).open("class-2026", owner="teacher-key")
    store.add("class-2026", draw_seven(), 7, owner="someone-else", nickname="Fox", shared=True)
    at = app_at("our_class")
    assert any("**1** drawing by **1** person" in m.value for m in at.markdown)
    assert not any(b.label == "Remove it" for b in at.button)  # nothing of this browser's to remove


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_import_a_zip_on_the_class_page_and_a_hostile_one_is_one_line(env, tmp_path):
    store = Collections(tmp_path / "drawings")
    store.add("last-year", draw_seven(), 7, owner="t", nickname="Owl")
    exported = store.zip_bytes("last-year")
    at = set_nickname(app_at("our_class"), "Kiwi")  # a student: what they import is by them
    at.file_uploader(key="c_import_file").set_value(("evil.zip", zip_of({"labels.csv": b"../../x.png,1\n",
                                                                         "x.png": b"png"}), "application/zip"))
    at.run()
    button(at, "Import").click().run()
    assert any(e.startswith("Not imported:") and "not a plain PNG file name" in e for e in errors(at)), errors(at)
    at.file_uploader(key="c_import_file").set_value(("2025.zip", exported, "application/zip")).run()
    at.text_input(key="c_import_name").set_value("class-2025").run()
    button(at, "Import").click().run()
    assert any("Imported 1 drawing into **class-2025**" in s.value for s in at.success)
    assert [(d.label, d.nickname) for d in store.load("class-2025")] == [(7, "Kiwi")]  # not the zip's "Owl"


@pytest.mark.parametrize("part", ["held"])
def test_mistakes_on_a_collections_held_out_part(env, tmp_path, part):
    from mnist_core.classroom.collection import split

    store = Collections(tmp_path / "drawings")
    for i in range(30):
        store.add("class-2026", draw_seven(dx=i % 7 - 3), 7 if i % 3 else 1, owner="k", nickname="Ann")
    held = split(store.load("class-2026"))[1]
    assert held  # 30 drawings: some are held out
    ClassCollection(store).open("class-2026")
    at = AppTest.from_file(str(PROJECT / "pages" / "mistakes.py"), default_timeout=30).run()
    at.radio(key="m_source").set_value("collection").run()
    assert not at.exception
    assert at.selectbox(key="m_collection").value == "class-2026"
    wrong = sum(d.label != 7 for d in held)
    assert any(f"{len(held)} held-out drawings" in c.value for c in at.caption)
    assert any(m.label == "Misread drawings" and m.value == f"{wrong:,}" for m in at.metric)


def tiny_model_and_class(tmp_path):
    """A model "tiny" trained one epoch on the tiny MNIST, and a collection "class-2026" of 40 drawings; returns
    the store and the run (to save again under another name)."""
    from mnist_core.net.config import TrainConfig
    from mnist_core.net.data import load_mnist
    from mnist_core.runs.body import save_run, train_run
    from mnist_core.runs.spec import RunSpec
    from mnist_core.storage.models import ModelStore

    store = ModelStore(tmp_path / "models")
    result = train_run(RunSpec(TrainConfig(hidden=(16,), epochs=1, device="cpu"), 1, 1, live_weights=False),
                       load_mnist(), lambda m: None, lambda: False)
    save_run(store, result, "tiny", model_id="a" * 32)
    drawings = Collections(tmp_path / "drawings")
    for i in range(40):
        drawings.add("class-2026", bar_drawing(i % 10), i % 10, owner="k", nickname="Ann")
    return store, result


def test_train_more_on_our_handwriting_is_a_run_and_shows_before_and_after(env, tmp_path):
    import time

    store, _ = tiny_model_and_class(tmp_path)
    ClassCollection(Collections(tmp_path / "drawings")).open("class-2026")
    at = app_at("train")
    at.selectbox(key="tc_base").set_value("tiny").run()
    at.number_input(key="tc_epochs").set_value(1).run()
    button(at, "Train more on our handwriting").click().run()
    assert not at.exception and not errors(at)
    deadline = time.monotonic() + 90
    while not any("our handwriting (held-out part)" in m.label for m in at.metric) and time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()
    labels = [m.label for m in at.metric]
    assert "On our handwriting (held-out part): tiny → tiny-class-2026" in labels
    assert "On the MNIST test set: tiny → tiny-class-2026" in labels
    # A new model, trained on from the old one (its history goes on); the old one unchanged.
    after, before = store.meta("tiny-class-2026"), store.meta("tiny")
    assert after.id != before.id and len(after.history) == 2 and len(before.history) == 1


def test_train_more_with_nothing_held_out_yet_says_so_before_the_run(env, tmp_path):
    from mnist_core.classroom.collection import held_out

    drawings = Collections(tmp_path / "drawings")
    while True:  # one drawing in the learning part, none held out
        file = drawings.add("class-2026", bar_drawing(1), 1, owner="k", nickname="Ann")
        if not held_out(file):
            break
        drawings.remove("class-2026", file, "k")
    ClassCollection(drawings).open("class-2026")
    at = app_at("train")
    assert not at.exception
    assert any("No drawings are held out yet" in w.value for w in at.warning)


def test_a_model_that_reads_as_well_as_before_shows_no_rise(env, tmp_path):
    # The same weights saved twice: 0.00 points, grey and without an arrow (a "+0.00" was drawn as a green rise).
    from mnist_core.runs.body import save_run

    store, result = tiny_model_and_class(tmp_path)
    save_run(store, result, "tiny-again", model_id="b" * 32)

    def page() -> None:
        from ui.class_training import before_after

        before_after("tiny", "tiny-again", "class-2026")

    at = AppTest.from_function(page, default_timeout=30).run()
    assert not at.exception
    assert len(at.metric) == 2
    for metric in at.metric:
        assert metric.delta.startswith("+0.00 points")
        proto = metric.proto
        assert proto.color == proto.GRAY and proto.direction == proto.NONE
