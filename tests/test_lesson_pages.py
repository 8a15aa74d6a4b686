"""The lesson's first ten minutes, under AppTest: joining (the join panel, the projector mode), nicknames
nobody else can take, the teacher's roster, private collections, the digit meant asked afresh."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from mnist_core.classroom.collection import ClassCollection
from mnist_core.classroom.nicknames import Nicknames
from mnist_core.net.controls import Control
from mnist_core.storage.drawings import Collections
from ui import keys

from .helpers import button, draw_seven, make_teacher, PROJECT, wait_for
from .test_class_pages import set_nickname, through_app_py  # noqa: F401  (the fixture: every run through app.py)

ADA = "ada-browser-0123456789abcdefgh"
BO = "bo-browser-0123456789abcdefghi"


def app_at(page: str, key: str = ADA, query: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(PROJECT / "app.py"), default_timeout=30)
    at.session_state["owner"] = key
    for name, value in (query or {}).items():
        at.query_params[name] = value
    at.switch_page(f"pages/{page}.py")
    return at.run()


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def test_a_second_browser_is_refused_a_nickname_the_first_holds(env, tmp_path):
    set_nickname(app_at("our_class", ADA), "Ada")
    bo = set_nickname(app_at("our_class", BO), "ADA")
    assert "this nickname is taken" in bo.session_state["_nickname_error"]
    names = Nicknames(tmp_path / "models")
    assert names.get(names.tag_of(BO)) is None and names.get(names.tag_of(ADA)) == "Ada"
    bo = set_nickname(bo, "Bo")
    assert names.get(names.tag_of(BO)) == "Bo"


def test_the_teacher_sees_the_roster_and_frees_or_renames_a_nickname(env, monkeypatch, tmp_path):
    names = Nicknames(tmp_path / "models")
    names.set(names.tag_of(ADA), "Ada")
    names.set(names.tag_of(BO), "Bo")
    room = ClassCollection(Collections(tmp_path / "drawings"))
    room.open("class-2026", owner="teacher-key-0123456789abcdef")
    room.add(draw_seven(), 7, ADA, "Ada")
    make_teacher(tmp_path / "models", "teacher-key-0123456789abcdef")
    at = app_at("our_class", "teacher-key-0123456789abcdef")
    roster = next(d for d in at.dataframe if list(d.value.columns) == ["nickname", "drawings", "models"])
    assert roster.value.to_dict("records") == [{"nickname": "Ada", "drawings": 1, "models": 0},
                                               {"nickname": "Bo", "drawings": 0, "models": 0}]
    at.selectbox(key="c_roster_pick").set_value(names.tag_of(BO)).run()
    at.text_input(key="c_roster_new").set_value("ada").run()
    button(at, "Rename").click().run()
    assert any("this nickname is taken" in e for e in errors(at))
    at.text_input(key="c_roster_new").set_value("Bea").run()
    button(at, "Rename").click().run()
    assert names.get(names.tag_of(BO)) == "Bea"
    at.selectbox(key="c_roster_pick").set_value(names.tag_of(ADA)).run()
    button(at, "Free it").click().run()
    assert names.get(names.tag_of(ADA)) is None


def test_a_students_roster_is_not_shown(env, tmp_path):
    at = app_at("our_class", BO)
    assert not any(e.label.startswith("Class roster") for e in at.expander)


def test_another_browsers_private_collection_is_neither_listed_nor_writable(env, canvas, tmp_path):
    store = Collections(tmp_path / "drawings")
    store.add("digits-ada", draw_seven(), 7, owner=ADA)  # Ada's own
    ClassCollection(store).open("class-2026", owner="teacher-key-0123456789abcdef")
    bo = app_at("our_class", BO)
    assert bo.selectbox(key="c_show").options == ["class-2026"]  # not digits-ada
    assert app_at("our_class", ADA).selectbox(key="c_show").options == ["class-2026", "digits-ada"]
    canvas["image"] = draw_seven()
    bo = app_at("draw", BO)
    bo.toggle(key="d_collect").set_value(True).run()
    field = next(t for t in bo.text_input if t.label == "Collection")
    field.set_value("digits-ada").run()
    assert any("is not yours" in w.value for w in bo.warning)
    assert all(b.disabled for b in bo.button if b.label == "Save drawing")  # shown off, not gone (65927a1)
    assert not any("right (" in m.value for m in bo.markdown)  # its owner's score is not shown either
    assert len(store.load("digits-ada")) == 1


def test_the_digit_meant_is_asked_afresh_after_a_refused_add(env, canvas, tmp_path):
    ClassCollection(Collections(tmp_path / "drawings")).open("class-2026", owner="teacher-key-0123456789abcdef")
    names = Nicknames(tmp_path / "models")
    names.set(names.tag_of(ADA), "Ada")
    canvas["image"] = np.zeros((280, 280, 4), np.uint8)  # blank
    at = app_at("draw", ADA)
    at.selectbox(key="d_class_label").set_value(5).run()
    button(at, "Add to the class collection").click().run()
    assert any("the drawing is blank" in e for e in errors(at))
    assert at.selectbox(key="d_class_label").value is None  # refused: the 5 is not left chosen
    canvas["image"] = draw_seven()
    at.run()
    button(at, "Add to the class collection").click().run()
    assert any("say which digit you meant" in e for e in errors(at))
    assert Collections(tmp_path / "drawings").load("class-2026") == []  # the 7 was not filed as a 5


def test_the_train_page_offers_an_open_class_collection_with_no_drawings_yet(env, tmp_path):
    ClassCollection(Collections(tmp_path / "drawings")).open("class-2026", owner="teacher-key-0123456789abcdef")
    at = app_at("train", BO)
    assert not any("No drawing collections yet" in c.value for c in at.caption)
    assert at.selectbox(key="tc_collection").options == ["class-2026"]


def test_the_join_panel_shows_the_schools_address_and_its_qr_code(env, monkeypatch):
    monkeypatch.setenv("MNIST_APP_URL", "https://digits.school.example")
    at = app_at("our_class", BO)
    button(at, "Show how to join").click().run()
    shown = " ".join(m.value for m in at.markdown)
    assert "https://digits.school.example/" in shown
    assert any("data-testid='join-qr'" in m.value and "data:image/png;base64," in m.value for m in at.markdown)


def test_without_a_setting_the_join_panel_never_shows_a_loopback_address(env, monkeypatch):
    monkeypatch.delenv("MNIST_APP_URL", raising=False)
    at = app_at("our_class", BO)
    button(at, "Show how to join").click().run()
    address = next(m.value for m in at.markdown if "join-address" in m.value)
    assert "localhost" not in address and "127.0.0." not in address or any(
        "no network address" in w.value for w in at.warning)


@pytest.mark.parametrize("query", [{"projector": "1"}])
def test_a_projector_link_opens_without_the_sidebar_in_large_type(env, query):
    at = app_at("leaderboard", BO, query)
    assert any("font-size: 22px" in h.proto.body for h in at.get("html"))
    assert any(b.label == "Leave projector mode" for b in at.button)
    button(at, "Leave projector mode").click().run()
    assert not any("font-size: 22px" in h.proto.body for h in at.get("html"))
    assert "projector" not in at.query_params


def test_open_for_the_class_is_not_the_main_button_once_open(env, monkeypatch, tmp_path):
    make_teacher(tmp_path / "models", "teacher-key-0123456789abcdef")
    at = app_at("our_class", "teacher-key-0123456789abcdef")
    assert button(at, "Open for the class").proto.type == "primary"
    button(at, "Open for the class").click().run()
    assert button(at, "Open for the class").proto.type == "secondary"


def test_a_clean_seven_gets_no_scribble_caption(env, canvas):
    canvas["image"] = draw_seven()
    at = app_at("draw", ADA)
    assert not any("scribble" in c.value for c in at.caption)


def test_mistakes_on_four_drawings_scores_only_the_digits_they_hold(env, tmp_path):
    from mnist_core.classroom.collection import split

    store = Collections(tmp_path / "drawings")
    i = 0
    while len(split(store.load("class-2026"))[1]) < 4:  # until four are held out
        store.add("class-2026", draw_seven(dx=i % 7 - 3), 7, owner="k", nickname="Ann")
        i += 1
    ClassCollection(store).open("class-2026")
    at = app_at("mistakes", ADA)
    at.radio(key="m_source").set_value("collection").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert table["digit"].tolist() == [7]  # no rows of zeros for digits without drawings
    accuracy = next(m.value for m in at.metric if m.label == "Accuracy on our handwriting")
    f1 = float(next(m.value for m in at.metric if m.label == "Macro-F1"))
    assert accuracy != "100.00%" or f1 == 1.0  # all right means a macro-F1 of 1 too
    assert any("cover the digits this set holds: 7" in c.value for c in at.caption)


def tiny_model_and_class(tmp_path, drawings: int = 40) -> None:
    """A saved 784-16-10 model `tiny` (1 epoch) and an open class collection with `drawings` drawings."""
    from mnist_core.net.config import TrainConfig
    from mnist_core.net.data import load_mnist
    from mnist_core.runs.body import save_run, train_run
    from mnist_core.runs.spec import RunSpec
    from mnist_core.storage.models import ModelStore

    from .helpers import bar_drawing

    store = ModelStore(tmp_path / "models")
    save_run(store, train_run(RunSpec(TrainConfig(hidden=(16,), epochs=1, device="cpu"), 1, 1, live_weights=False),
                              load_mnist(), lambda m: None, lambda: False), "tiny", model_id="a" * 32)
    room = Collections(tmp_path / "drawings")
    for i in range(drawings):
        room.add("class-2026", bar_drawing(i % 10), i % 10, owner="k", nickname="Ann")
    ClassCollection(room).open("class-2026")


def sidebar_table(at: AppTest) -> dict[str, str]:
    table = next(d for d in at.sidebar.dataframe if list(d.value.columns) == ["setting", "value"])
    return dict(zip(table.value["setting"], table.value["value"], strict=True))


def test_during_a_class_run_the_sidebar_shows_the_runs_settings_and_a_watcher_its_total_epochs(env, tmp_path):
    from ui.engine import job_registry

    tiny_model_and_class(tmp_path)
    at = app_at("train", ADA)
    at.selectbox(key="tc_base").set_value("tiny").run()
    at.number_input(key="tc_epochs").set_value(20).run()
    button(at, "Train more on our handwriting").click().run()
    assert not at.exception and not errors(at)
    job = job_registry()[0].get(at.session_state[keys.JOB])
    try:
        assert wait_for(lambda: job.snapshot().last_epoch > 0, 60)  # its first report: the run's total known
        # Paused, so that it is still the class run while the pages are drawn (a tiny run on a loaded machine
        # may otherwise end in between, and the sidebar go back to the next run's settings).
        job.control(job.owner, Control("pause"))
        assert job.wait_until(lambda state: state.paused is not None, 60) and job.snapshot().active
        shown = sidebar_table(at.run())  # the run's own settings, not the widgets' Recommended ones
        assert shown["layers"] == "784-16-10" and shown["epochs"] == "21"  # 1 trained before + 20
        assert any(h.value == "Settings for your next run" for h in at.sidebar.header)
        watcher = app_at("train", BO, {"job": job.id})
        # A share link's first view is the run alone (nothing a new browser must load a library for) ...
        assert not watcher.get("plotly_chart") and not watcher.sidebar.dataframe
        assert any("loss-chart" in m.value for m in watcher.markdown)
        watcher.run()  # ... and the whole page a second later (the live view's next tick reruns the app)
        assert sidebar_table(watcher)["epochs"] == "21"  # "Epoch 12 of 17" shows 17, not the 16 more
    finally:
        job.stop()
        job.wait(timeout=60)


def test_an_empty_class_collection_says_so_instead_of_a_blank_chart(env, tmp_path):
    ClassCollection(Collections(tmp_path / "drawings")).open("class-2026", owner="teacher-key-0123456789abcdef")
    at = app_at("our_class", BO)
    assert not at.exception
    assert any("has no drawings yet" in i.value for i in at.info)
    assert not at.get("plotly_chart") and not [d for d in at.dataframe if "nickname" in d.value.columns]


def test_without_mnist_the_hint_says_to_download_not_to_press_a_disabled_train(env, monkeypatch):
    monkeypatch.setenv("MNIST_DIR", str(env / "nothing-here"))
    at = app_at("train", BO)
    hints = [i.value for i in at.info]
    assert not any("press **Train**" in h for h in hints)
    assert any("**Download MNIST**" in h for h in hints)


def test_the_train_hint_reads_on_a_phone_too(env):
    hint = next(i.value for i in app_at("train", BO).info if "press **Train**" in i.value)
    assert "on the left" not in hint and "sidebar" in hint and "top left" in hint


def test_the_teacher_exports_the_leaderboard_and_clears_the_students_things_after_a_confirmation(
        env, monkeypatch, tmp_path):
    from mnist_core.storage.models import ModelStore

    from .helpers import save_tiny

    store = ModelStore(tmp_path / "models")
    save_tiny(store, "ada-net", 0.95, owner_key=ADA)
    Collections(tmp_path / "drawings").add("digits-ada", draw_seven(), 7, owner=ADA)
    ClassCollection(Collections(tmp_path / "drawings")).open("class-2026", owner="teacher-key-0123456789abcdef")
    make_teacher(tmp_path / "models", "teacher-key-0123456789abcdef")
    at = app_at("our_class", "teacher-key-0123456789abcdef")
    assert any("2 models" not in c.value and "**1** models" in c.value for c in at.caption)
    at.radio(key="c_end_how").set_value("delete").run()
    button(at, "Clear the students' things").click().run()
    assert store.exists("ada-net")  # asked first, nothing done yet
    assert any("Delete for good 1 models and 1 private collections?" in w.value for w in at.warning)
    button(at, "Yes, clear them").click().run()
    assert not at.exception and not errors(at)
    assert not store.exists("ada-net") and store.meta("default").name == "default"
    assert Collections(tmp_path / "drawings").names() == ["class-2026"]
    assert any("Cleared 1 models and 1 collections" in s.value for s in at.success)
