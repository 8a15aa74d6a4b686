"""The Train page's live controls of a run (its owner's only): Pause/Resume, Step, +1 epoch, slow motion, settings
changed while it trains; the step up close while paused; health in words with one-click fixes; the ready
experiments. The engine does the work (net/controls, net/step, net/advice, net/experiments); this draws it."""

from __future__ import annotations

import numpy as np
import streamlit as st

from mnist_core.net.advice import health_warnings
from mnist_core.net.controls import Control, ControlError, MAX_DELAY
from mnist_core.net.experiments import Experiment, experiment_link, EXPERIMENTS
from mnist_core.runs.jobs import JobState, TrainingJob
from mnist_core.runs.snapshot import RUNNING, Snapshot
from ui.caches import gallery_png, weights_png
from ui.galleries import gallery
from ui.i18n import LOCALIZED, N_, num, pct, said, significant, t
from ui.run_words import paused_words, SCHEDULE_LABELS

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
        st.session_state["t_control_error"] = said(e)
        return
    st.session_state.pop("t_control_error", None)
    if (test := answered(control, before)) is not None:
        job.wait_until(test, ANSWER_WAIT)


def paused_line(snap: Snapshot) -> None:
    """What everyone sees, owner and watchers: that the run is paused and where."""
    if snap.status == RUNNING and snap.paused is not None:
        st.warning(paused_words(snap.paused))
    elif snap.status == RUNNING and snap.delay:
        st.caption(t("Slow motion: {seconds} s between batches.", seconds=num(snap.delay, 3, trim=True)))


def controls_bar(job: TrainingJob, snap: Snapshot, who: str) -> None:
    """The owner's buttons while the run trains."""
    if snap.status != RUNNING or snap.halted:
        return
    # The three buttons side by side on any screen (a phone's columns stacked them a row each), the slider
    # beside them where there is room, else under them.
    row = st.container(horizontal=True, wrap=True, vertical_alignment="bottom", gap="medium")
    buttons = row.container(horizontal=True, gap="small", width="content")
    if snap.paused is None:
        buttons.button(t("Pause"), key="c_pause", on_click=send, args=(job, who, Control("pause")))
    else:
        buttons.button(t("Resume"), key="c_resume", type="primary", on_click=send,
                       args=(job, who, Control("resume")))
    # From where this page shows it paused: a click that reaches the run twice steps once.
    at = None if snap.paused is None else snap.paused.done
    buttons.button(t("Step"), key="c_step", on_click=send, args=(job, who, Control("step", at=at)),
                   help=t("Train one batch, then pause again"))
    buttons.button(t("+1 epoch"), key="c_epoch", on_click=send, args=(job, who, Control("epoch", at=at)),
                   help=t("Train to the end of this epoch, then pause again"))
    row.container(width=320).slider(
        t("Slow motion: seconds between batches"), 0.0, MAX_DELAY, float(snap.delay), 0.1, key="c_delay",
        format=LOCALIZED, on_change=lambda: send(job, who, Control("delay", value=st.session_state.c_delay)))
    if st.session_state.get("t_control_error"):
        st.error(st.session_state["t_control_error"])
    if snap.refused:
        st.error(t("Not changed: {reason}", reason=snap.refused))


LIVE_WIDGETS = [("lr", N_("learning rate"), 1e-5, 10.0, "%.5f"), ("momentum", N_("momentum"), 0.0, 0.99, "%.2f"),
                ("weight_decay", N_("weight decay"), 0.0, 1.0, "%.5f"),
                ("dropout", N_("dropout"), 0.01, 0.95, "%.2f"),
                ("augment", N_("augmentation"), 0.0, 2.0, "%.2f"), ("batch_size", N_("batch size"), 1, 60000, "%d")]


def follow_run(key: str, now: float, changes: int) -> None:
    """A live-setting box shows the run's value, and follows it when the run's value changes (an Apply, a fix
    button, another tab's change), unless the owner is typing a value of their own: that one
    stays until it is applied or another change lands. A keyed widget ignores a later `value=`, so the box is
    set through its session-state key, before it is drawn; only when the value differs, since each write makes
    the browser redraw the box with it, over whatever the owner is typing (the panel reruns every second)."""
    shown_key = f"{key}_shown"
    shown = st.session_state.get(shown_key)  # (the value this put in the box, the run's change count then)
    edited = shown is not None and key in st.session_state and st.session_state[key] != shown[0]
    if not edited or shown[1] != changes:
        if key not in st.session_state or st.session_state[key] != now:
            st.session_state[key] = now
        st.session_state[shown_key] = (now, changes)


def live_settings(job: TrainingJob, snap: Snapshot, who: str) -> None:
    """Settings the owner changes while the run trains, from the next batch (batch size: the next epoch)."""
    if snap.status != RUNNING or snap.halted:
        return
    with st.expander(t("Change settings while it trains"), expanded=snap.paused is not None):
        cols = st.columns(len(LIVE_WIDGETS))
        for col, (name, label, low, high, fmt) in zip(cols, LIVE_WIDGETS, strict=True):
            # The run's setting, not the schedule's moving rate (config.lr: its peak, until a change holds it): a
            # box written every second as the rate moved was redrawn over a rate its owner was typing.
            run_value = getattr(snap.config, name)
            now = type(low)(min(max(run_value, low), high))  # a run's dropout 0 in a box that starts at 0.01
            key = f"c_set_{name}"
            follow_run(key, now, len(snap.changes))
            built_without = name == "dropout" and snap.config.dropout == 0
            value = col.number_input(t(label), low, high, format=fmt, key=key, disabled=built_without,
                                     help=t("This network was built without dropout layers") if built_without
                                     else None)
            if col.button(t("Apply"), key=f"c_apply_{name}", disabled=built_without) and value != now:
                send(job, who, Control.set(name, value))
        if snap.config.schedule != "constant" and snap.lr:
            st.caption(t("The {schedule} schedule has the learning rate at {lr} now.",
                         schedule=t(SCHEDULE_LABELS[snap.config.schedule]), lr=significant(snap.lr)))
        st.caption(t("A change of the learning rate, momentum or batch size holds the learning rate from then on "
                     "(the schedule ends, or it would undo the change). Each change is marked on the charts."))


def step_panel(snap: Snapshot) -> None:
    """The step up close: the batch the next Step trains, and what one step does to it."""
    look = snap.look
    if snap.paused is None or look is None:
        return
    st.subheader(t("The next step up close: batch {batch} of epoch {epoch}", batch=look.batch + 1,
                   epoch=look.epoch))
    lr = f"{look.lr:.3g}"  # three significant digits, as the engine writes a learning rate
    st.markdown(t("**{size} digits** as the network sees them (after augmentation), learning rate **{lr}**. Now it "
                  "answers **{right} of {total}** right, loss **{loss}**; after this one step: **{right_after}** "
                  "right, loss **{loss_after}**.", size=look.batch_size, lr=lr, right=look.right_now,
                  total=len(look.labels), loss=num(look.loss_now, 4), right_after=look.right_after,
                  loss_after=num(look.loss_after, 4)))
    captions = [str(a) if a == y else t("{answer} (is {digit})", answer=a, digit=y)
                for a, y in zip(look.answers_now, look.labels, strict=True)]
    if len(look.images):
        gallery(look.images[:64], captions[:64], caption=t("The batch's digits with the network's answer now"),
                output_format="PNG", draw=gallery_png)
    rows = []
    for i, unit in enumerate(look.units):
        rows.append((unit, look.change_size[i]))
    # Built before the caption's t(): Babel does not extract a t() nested in another's arguments.
    units = ", ".join(t("{unit} (change {size})", unit=u, size=format(c, ".2g")) for u, c in rows)
    picture = np.concatenate([look.weights_now, look.gradient, look.weights_after])  # (3U, 28, 28)
    st.image(weights_png(picture, columns=len(look.units), scale=3), output_format="PNG",
             caption=t("First-layer units {units}: weights now (top), the gradient (middle), weights after the "
                       "step (bottom)", units=units))
    st.dataframe([{t("layer"): layer.name, t("gradient size"): f"{layer.grad_norm:.3g}",
                   t("update / weight"): f"{layer.update_ratio:.2g}"} for layer in look.layers], hide_index=True)
    st.caption(t("Update / weight: how much one step moves a layer's weights relative to their size; around 1e-3 "
                 "is healthy, 1e-1 means the learning rate is too high."))


_PERCENTS = {"share": 0, "change": 1}  # health params shown as percentages, with these decimals
_DECIMALS = {"train_f1": 3, "test_f1": 3, "points": 1}  # ... with a fixed number of decimals


def _shown(name: str, value: object) -> object:
    """A health warning's or fix's raw number as this browser's language writes it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    if isinstance(value, int):
        return num(value, 0)
    if not np.isfinite(value):  # a diverged loss: written as every page writes it ("∞", "nan")
        return num(value)
    if name in _PERCENTS:
        return pct(value, _PERCENTS[name])
    if name in _DECIMALS:
        return num(value, _DECIMALS[name])
    if name == "times" or abs(value) >= 100:
        return num(value, 0)
    return significant(value)  # three significant digits: 0,412, 0,001


def worded(record) -> str:
    """A health warning's text or a fix's label in this browser's language (the English `text`/`label` else)."""
    if not record.template:
        return getattr(record, "text", None) or record.label
    return t(record.template, **{k: _shown(k, v) for k, v in record.params.items()})


def health_words(job: TrainingJob, snap: Snapshot, who: str, mine: bool) -> None:
    """The rules' warnings, each with its fix buttons (for the owner, while the run trains)."""
    for i, warning in enumerate(health_warnings(snap.history, snap.batch_losses, snap.batches_per_epoch,
                                                snap.config, snap.lr or snap.config.lr)):
        st.warning(worded(warning))
        if mine and snap.status == RUNNING and warning.fixes:
            # Side by side while they fit, else one under the other: in equal columns a French label was cut to
            # "diviser le taux d'apprentissage …" on both, and /3 could not be told from /10.
            row = st.container(horizontal=True, wrap=True, gap="small")
            # Keyed by place: two fixes of one warning may change one setting (the rate by 3, or by 10).
            for j, fix in enumerate(warning.fixes):
                row.button(worded(fix), key=f"c_fix_{i}_{j}", on_click=send, args=(job, who, fix.control))


def experiments_list(start) -> None:
    """The ready experiments: each starts in one click (`start(experiment)`) and has a link to hand out."""
    base = (st.context.url or "").split("?")[0]
    with st.expander(t("Experiments to try"), expanded=False):
        for experiment in EXPERIMENTS.values():
            cols = st.columns([3, 1], vertical_alignment="center")
            cols[0].markdown(t("**{title}** · {look}  \n`{link}`", title=t(experiment.title), look=t(experiment.look),
                               link=experiment_link(experiment, base)))
            cols[1].button(t("Start"), key=f"x_{experiment.key}", on_click=start, args=(experiment,))


def experiment_note(experiment: Experiment) -> None:
    parts = [t("**Experiment: {title}.** {look}", title=t(experiment.title), look=t(experiment.look))]
    if experiment.delay:
        parts.append(t("Slow motion: {seconds} s between batches.", seconds=num(experiment.delay, 3, trim=True)))
    if experiment.then:
        parts.append(t("Afterwards: {then}.", then=t(experiment.then)))
    st.info(" ".join(parts))  # whole sentences, each translated on its own
