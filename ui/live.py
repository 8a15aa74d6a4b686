"""The Train page's live controls of a run (its owner's only): Pause/Resume, Step, +1 epoch, slow motion, settings
changed while it trains; the step up close while paused; health in words with one-click fixes; the ready
experiments. The engine does the work (net/controls, net/step, net/advice, net/experiments); this draws it."""

from __future__ import annotations

import numpy as np
import streamlit as st

from mnist_core.net.advice import health_warnings
from mnist_core.net.controls import Control, ControlError, MAX_DELAY
from mnist_core.net.experiments import Experiment, experiment_link, EXPERIMENTS
from mnist_core.net.pictures import gallery_image, weight_grid
from mnist_core.runs.jobs import JobState, TrainingJob
from mnist_core.runs.snapshot import RUNNING, Snapshot

ANSWER_WAIT = 1.0  # seconds a Pause, Step or Resume click waits for the run's answer before the page redraws


def answered(control: Control, before: JobState):
    """When the run has done what `control` asked, as a test of its state (None: nothing to wait for): paused
    with its step up close (Pause; Step: paused again elsewhere), or training again (Resume, +1 epoch)."""
    if control.action in ("pause", "step"):
        return lambda s: s.paused is not None and s.paused != before.paused and s.look is not None
    if control.action in ("resume", "epoch"):
        return lambda s: s.paused is None
    return None


def send(job: TrainingJob, who: str, control: Control) -> None:
    """A button's click: the control to the run, or why not in a line; then a moment's wait for the run's
    answer, so that the redraw this click causes shows it (a child answers within a batch: benchmarks)."""
    before = job.state
    try:
        job.control(who, control)
    except ControlError as e:
        st.session_state["t_control_error"] = str(e)
        return
    st.session_state.pop("t_control_error", None)
    if (test := answered(control, before)) is not None:
        job.wait_until(test, ANSWER_WAIT)


def paused_line(snap: Snapshot) -> None:
    """What everyone sees, owner and watchers: that the run is paused and where."""
    if snap.status == RUNNING and snap.paused is not None:
        st.warning(snap.paused.text)
    elif snap.status == RUNNING and snap.delay:
        st.caption(f"Slow motion: {snap.delay:g} s between batches.")


def controls_bar(job: TrainingJob, snap: Snapshot, who: str) -> None:
    """The owner's buttons while the run trains."""
    if snap.status != RUNNING or snap.halted:
        return
    cols = st.columns([1, 1, 1, 3], vertical_alignment="bottom")
    if snap.paused is None:
        cols[0].button("Pause", key="c_pause", on_click=send, args=(job, who, Control("pause")))
    else:
        cols[0].button("Resume", key="c_resume", type="primary", on_click=send, args=(job, who, Control("resume")))
    cols[1].button("Step", key="c_step", on_click=send, args=(job, who, Control("step")),
                   help="Train one batch, then pause again")
    cols[2].button("+1 epoch", key="c_epoch", on_click=send, args=(job, who, Control("epoch")),
                   help="Train to the end of this epoch, then pause again")
    cols[3].slider("Slow motion: seconds between batches", 0.0, MAX_DELAY, float(snap.delay), 0.1, key="c_delay",
                   on_change=lambda: send(job, who, Control("delay", value=st.session_state.c_delay)))
    if st.session_state.get("t_control_error"):
        st.error(st.session_state["t_control_error"])
    if snap.refused:
        st.error(f"Not changed: {snap.refused}")


LIVE_WIDGETS = [("lr", "learning rate", 1e-5, 10.0, "%.5f"), ("momentum", "momentum", 0.0, 0.99, "%.2f"),
                ("weight_decay", "weight decay", 0.0, 1.0, "%.5f"), ("dropout", "dropout", 0.01, 0.95, "%.2f"),
                ("augment", "augmentation", 0.0, 2.0, "%.2f"), ("batch_size", "batch size", 1, 60000, "%d")]


def follow_run(key: str, now: float, changes: int) -> None:
    """A live-setting box shows the run's value, and follows it when the run's value changes (an Apply, a fix
    button, a schedule moving the learning rate), unless the owner is typing a value of their own: that one
    stays until it is applied or another change lands. A keyed widget ignores a later `value=`, so the box is
    set through its session-state key, before it is drawn."""
    shown_key = f"{key}_shown"
    shown = st.session_state.get(shown_key)  # (the value this put in the box, the run's change count then)
    edited = shown is not None and key in st.session_state and st.session_state[key] != shown[0]
    if not edited or shown[1] != changes:
        st.session_state[key] = now
        st.session_state[shown_key] = (now, changes)


def live_settings(job: TrainingJob, snap: Snapshot, who: str) -> None:
    """Settings the owner changes while the run trains, from the next batch (batch size: the next epoch)."""
    if snap.status != RUNNING or snap.halted:
        return
    with st.expander("Change settings while it trains", expanded=snap.paused is not None):
        cols = st.columns(len(LIVE_WIDGETS))
        for col, (name, label, low, high, fmt) in zip(cols, LIVE_WIDGETS, strict=True):
            run_value = snap.lr if name == "lr" and snap.lr else getattr(snap.config, name)
            now = type(low)(min(max(run_value, low), high))  # a run's dropout 0 in a box that starts at 0.01
            key = f"c_set_{name}"
            follow_run(key, now, len(snap.changes))
            built_without = name == "dropout" and snap.config.dropout == 0
            value = col.number_input(label, low, high, format=fmt, key=key, disabled=built_without,
                                     help="This network was built without dropout layers" if built_without else None)
            if col.button("Apply", key=f"c_apply_{name}", disabled=built_without) and value != now:
                send(job, who, Control.set(name, value))
        st.caption("A change of the learning rate, momentum or batch size holds the learning rate from then on "
                   "(the schedule ends, or it would undo the change). Each change is marked on the charts.")


def step_panel(snap: Snapshot) -> None:
    """The step up close: the batch the next Step trains, and what one step does to it."""
    look = snap.look
    if snap.paused is None or look is None:
        return
    st.subheader(f"The next step up close: batch {look.batch + 1} of epoch {look.epoch}")
    st.markdown(f"**{look.batch_size} digits** as the network sees them (after augmentation), learning rate "
                f"**{look.lr:.3g}**. Now it answers **{look.right_now} of {len(look.labels)}** right, loss "
                f"**{look.loss_now:.4f}**; after this one step: **{look.right_after}** right, loss "
                f"**{look.loss_after:.4f}**.")
    captions = [f"{a}" + ("" if a == y else f" (is {y})") for a, y in zip(look.answers_now, look.labels, strict=True)]
    st.image(gallery_image(look.images[:64], captions[:64]) if len(look.images) else np.zeros((1, 1)),
             caption="The batch's digits with the network's answer now", output_format="PNG")
    rows = []
    for i, unit in enumerate(look.units):
        rows.append((unit, look.change_size[i]))
    picture = np.concatenate([look.weights_now, look.gradient, look.weights_after])  # (3U, 28, 28)
    st.image(weight_grid(picture, columns=len(look.units), scale=3), output_format="PNG",
             caption="First-layer units " + ", ".join(f"{u} (change {c:.2g})" for u, c in rows)
             + ": weights now (top), the gradient (middle), weights after the step (bottom)")
    st.dataframe([{"layer": layer.name, "gradient size": f"{layer.grad_norm:.3g}",
                   "update / weight": f"{layer.update_ratio:.2g}"} for layer in look.layers], hide_index=True)
    st.caption("Update / weight: how much one step moves a layer's weights relative to their size; around 1e-3 "
               "is healthy, 1e-1 means the learning rate is too high.")


def health_words(job: TrainingJob, snap: Snapshot, who: str, mine: bool) -> None:
    """The rules' warnings, each with its fix buttons (for the owner, while the run trains)."""
    for i, warning in enumerate(health_warnings(snap.history, snap.batch_losses, snap.batches_per_epoch,
                                                snap.config, snap.lr or snap.config.lr)):
        st.warning(warning.text)
        if mine and snap.status == RUNNING and warning.fixes:
            cols = st.columns(len(warning.fixes))
            # Keyed by place: two fixes of one warning may change one setting (the rate by 3, or by 10).
            for j, (col, fix) in enumerate(zip(cols, warning.fixes, strict=True)):
                col.button(fix.label, key=f"c_fix_{i}_{j}", on_click=send,
                           args=(job, who, fix.control))


def experiments_list(start) -> None:
    """The ready experiments: each starts in one click (`start(experiment)`) and has a link to hand out."""
    base = (st.context.url or "").split("?")[0]
    with st.expander("Experiments to try", expanded=False):
        for experiment in EXPERIMENTS.values():
            cols = st.columns([3, 1], vertical_alignment="center")
            cols[0].markdown(f"**{experiment.title}** · {experiment.look}  \n"
                             f"`{experiment_link(experiment, base)}`")
            cols[1].button("Start", key=f"x_{experiment.key}", on_click=start, args=(experiment,))


def experiment_note(experiment: Experiment) -> None:
    extra = f" Slow motion: {experiment.delay:g} s between batches." if experiment.delay else ""
    then = f" Afterwards: {experiment.then}." if experiment.then else ""
    st.info(f"**Experiment: {experiment.title}.** {experiment.look}{extra}{then}")
