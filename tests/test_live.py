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
    at.session_state["run_lr"] = 0.002  # the run's value moved, but the owner's stays
    at.run()
    assert at.number_input(key="c_set_lr").value == 0.05
    at.session_state["run_changes"] = 1  # a change landed (an Apply): the box shows the run's value again
    at.run()
    box = at.number_input(key="c_set_lr")
    assert (box.value, box.proto.set_value) == (0.002, True)
    at.session_state["run_lr"] = 0.001  # and follows the run's value from then on
    at.run()
    assert at.number_input(key="c_set_lr").value == 0.001


def settings_page():
    import streamlit as st

    from mnist_core.net.config import TrainConfig
    from mnist_core.runs.snapshot import RUNNING, Snapshot
    from ui.live import live_settings

    config = TrainConfig(lr=st.session_state.get("run_base", 0.003), schedule=st.session_state.get("run_schedule",
                                                                                                   "onecycle"))
    snap = Snapshot(id="j", owner="o", name="n", status=RUNNING, config=config, device="cpu",
                    lr=st.session_state.get("run_lr", 0.0004))
    live_settings(None, snap, "o")


def test_the_lr_box_shows_the_runs_setting_not_the_schedules_moving_rate_which_its_caption_gives():
    at = AppTest.from_function(settings_page, default_timeout=30).run()
    assert at.number_input(key="c_set_lr").value == 0.003  # the one-cycle's peak, as set
    assert any("one-cycle schedule has the learning rate at 0.0004 now" in c.value for c in at.caption)
    at.session_state["run_lr"] = 0.0009  # the schedule moved the rate: the box is not written, the caption says it
    at.run()
    box = at.number_input(key="c_set_lr")
    assert (box.value, box.proto.set_value) == (0.003, False)
    assert any("at 0.0009 now" in c.value for c in at.caption)
    at.session_state["run_base"], at.session_state["run_schedule"] = 0.05, "constant"  # a change held the rate
    at.run()
    assert at.number_input(key="c_set_lr").value == 0.05
    assert not any("schedule has the learning rate" in c.value for c in at.caption)
