"""The Train page's live panel (ui/live.py), in AppTest: a live-setting box follows the run without writing
over what its owner types."""

from streamlit.testing.v1 import AppTest


def box_page():
    import streamlit as st

    from ui.live import follow_run

    follow_run("c_set_lr", st.session_state.get("run_lr", 0.003), st.session_state.get("run_changes", 0))
    st.number_input("learning rate", 1e-5, 10.0, format="%.5f", key="c_set_lr")


def test_a_live_box_is_set_only_when_the_runs_value_moves_so_a_rerun_keeps_what_the_owner_types():
    at = AppTest.from_function(box_page, default_timeout=30).run()
    box = at.number_input(key="c_set_lr")
    assert (box.value, box.proto.set_value) == (0.003, True)  # the run's value, put in the box
    at.run()  # the panel's rerun each second, nothing moved: the browser is not told to redraw the box
    assert at.number_input(key="c_set_lr").proto.set_value is False
    at.number_input(key="c_set_lr").set_value(0.05).run()  # the owner's own value, not applied yet
    at.run()
    box = at.number_input(key="c_set_lr")
    assert (box.value, box.proto.set_value) == (0.05, False)
    at.session_state["run_lr"] = 0.002  # the schedule moved the run's value, but the owner's stays
    at.run()
    assert at.number_input(key="c_set_lr").value == 0.05
    at.session_state["run_changes"] = 1  # a change landed (an Apply): the box shows the run's value again
    at.run()
    box = at.number_input(key="c_set_lr")
    assert (box.value, box.proto.set_value) == (0.002, True)
    at.session_state["run_lr"] = 0.001  # and follows the schedule from then on
    at.run()
    assert at.number_input(key="c_set_lr").value == 0.001
