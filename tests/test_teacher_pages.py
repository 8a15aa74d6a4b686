"""Issue #26 in the pages, under AppTest through app.py (a session's widget values are what a browser sends: a
script can send any): who is the teacher is the teacher code entered in that browser, not a server switch;
settings only from what the Train page offers; an unreadable drawing one line on the Class and Draw pages; a
damaged hidden list hides every student's model from the pickers (fails closed)."""

from __future__ import annotations

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from mnist_core.classroom.collection import ClassCollection
from mnist_core.classroom.teacher import Teachers
from mnist_core.runs.jobs import JobRegistry
from mnist_core.storage.drawings import Collections

from .helpers import bar_drawing, button, PROJECT, save_tiny

STUDENT = "student-key-0123456789abcdefghij"
TEACHER = "teacher-key-0123456789abcdefghij"


@pytest.fixture(autouse=True)
def through_app_py(monkeypatch):
    """Every run through app.py, as on a server (AppTest otherwise runs a page alone, without the sidebar)."""
    from streamlit.runtime.pages_manager import PagesManager

    init = PagesManager.__init__

    def navigation_app(self, *args, **kwargs) -> None:
        init(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", navigation_app)


def app_at(page: str, key: str) -> AppTest:
    at = AppTest.from_file(str(PROJECT / "app.py"), default_timeout=30)
    at.session_state["owner"] = key
    at.switch_page(f"pages/{page}.py")
    return at.run()


def enter_code(at: AppTest, code: str) -> AppTest:
    at.text_input(key="teacher_code_input").set_value(code)
    next(b for b in at.button if b.label == "Enter").click()
    return at.run()


def labels(at: AppTest) -> set[str]:
    return {b.label for b in at.button}


def test_the_teacher_code_makes_that_browser_the_teacher_and_no_other(env, tmp_path):
    code = Teachers(tmp_path / "models").code()
    student = app_at("our_class", STUDENT)
    assert "Open for the class" not in labels(student)
    student = enter_code(student, "guess-" + code[:3])
    assert not student.exception
    assert any("not the teacher code" in e.value for e in student.sidebar.error)
    assert "Open for the class" not in labels(student)
    assert student.text_input(key="teacher_code_input").value == ""  # the box never keeps what was typed
    teacher = enter_code(app_at("our_class", TEACHER), code)
    assert not teacher.exception and not teacher.sidebar.error
    assert "Open for the class" in labels(teacher)
    again = app_at("our_class", TEACHER)  # a new session of the same browser (its cookie): still the teacher
    assert "Open for the class" in labels(again)
    assert "Open for the class" not in labels(app_at("our_class", STUDENT))
    button(again, "Open for the class").click().run()
    assert ClassCollection(Collections(tmp_path / "drawings")).open_name() is not None
    button(again, "Back to being a student").click().run()
    assert "Open for the class" not in labels(app_at("our_class", TEACHER))


def test_the_operator_switch_counts_only_on_a_loopback_server(env, monkeypatch):
    from ui import keys

    monkeypatch.setattr(keys, "OPERATOR_SWITCH", True)
    address = st.get_option("server.address")
    try:
        st.config.set_option("server.address", "0.0.0.0")  # every interface: the switch is ignored
        assert "Open for the class" not in labels(app_at("our_class", STUDENT))
        st.config.set_option("server.address", "127.0.0.1")
        assert "Open for the class" in labels(app_at("our_class", STUDENT))
    finally:
        st.config.set_option("server.address", address)


def forge(monkeypatch, at: AppTest, key: str, text: str) -> None:
    """From now on this session's browser sends `text` as the selectbox `key`'s choice, as a script on
    Streamlit's protocol can (a WidgetState whose string_value is no option; Streamlit 1.67 passes such a
    value on as it is). AppTest itself refuses to send a value its options do not hold."""
    from streamlit.proto.WidgetStates_pb2 import WidgetState
    from streamlit.testing.v1.element_tree import Selectbox

    target = at.selectbox(key=key).id
    real = Selectbox._widget_state

    def state(self) -> WidgetState:
        if self.id != target:
            return real.fget(self)
        return WidgetState(id=self.id, string_value=text)

    monkeypatch.setattr(Selectbox, "_widget_state", property(state))


def jobs_of(key: str) -> list:
    from ui.engine import job_registry

    registry: JobRegistry = job_registry()[0]
    return registry.jobs_of(key)


def one_error(at: AppTest) -> str:
    assert not at.exception
    [error] = [e.value for e in at.error]
    assert "\n" not in error and "Traceback" not in error
    return error


def test_a_forged_batch_size_is_refused_in_one_line_and_nothing_trains(env, monkeypatch):
    at = app_at("train", STUDENT)
    # The forged choice and the click in one message: the click's callback runs before the script, so before
    # Streamlit puts the selectbox back to an option it offers (1.67 resets a value it does not list).
    forge(monkeypatch, at, "t_batch_size", "1")
    button(at, "Train").click().run()
    assert "batch_size 1 is not offered" in one_error(at)
    assert jobs_of(STUDENT) == []


def test_a_forged_preset_name_is_one_line_not_a_traceback(env, monkeypatch):
    at = app_at("train", STUDENT)
    forge(monkeypatch, at, "t_preset", "no-such")
    at.run()  # the box's on_change runs with the forged name
    assert "no preset called 'no-such'" in one_error(at)
    button(at, "Train").click().run()
    assert not at.exception and jobs_of(STUDENT) == []


def test_an_unreadable_drawing_is_one_line_on_the_class_and_draw_pages(env, canvas, tmp_path):
    from PIL import Image

    room = ClassCollection(Collections(tmp_path / "drawings"))
    room.open("class-2026", owner=TEACHER)
    room.add(bar_drawing(3), 3, STUDENT, "Kiwi")
    bomb = room.add(bar_drawing(4), 4, STUDENT, "Kiwi")
    Image.new("L", (15000, 15000)).save(tmp_path / "drawings" / "class-2026" / bomb)
    for page in ("our_class", "draw"):
        canvas["image"] = bar_drawing(3)
        at = app_at(page, STUDENT)
        assert not at.exception, page
        [warning] = [w.value for w in at.warning if bomb in w.value]
        assert "1 file of" in warning and "too large" in warning and "Traceback" not in warning
    assert any("**1** drawing by **1** person" in m.value for m in app_at("our_class", STUDENT).markdown)


def test_a_damaged_hidden_list_hides_every_students_model_from_the_pickers(env, canvas, tmp_path):
    from mnist_core.classroom.leaderboard import HIDDEN_FILE
    from mnist_core.storage.models import ModelStore

    store = ModelStore(tmp_path / "models")
    save_tiny(store, "someone-elses", owner_key="m" * 32)
    save_tiny(store, "my-own", owner_key=STUDENT)
    (tmp_path / "models" / HIDDEN_FILE).write_text("[not json")
    at = app_at("draw", STUDENT)
    assert not at.exception
    offered = {option for box in at.selectbox for option in box.options}
    assert {"default", "my-own"} <= offered and "someone-elses" not in offered
    teacher = TEACHER
    Teachers(tmp_path / "models").enter(teacher, Teachers(tmp_path / "models").code())
    offered = {option for box in app_at("draw", teacher).selectbox for option in box.options}
    assert "someone-elses" in offered  # the teacher sees them all, to mend the list on the leaderboard
