"""Inside -> Lab: edits on a copy of the current model (per unit: bias, incoming weights, off; global:
temperature, weight noise, pruning), scored before -> after on the MNIST test set and the open class
collection's held-out part at once; switching off units until the answer changes; saving the edit."""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from mnist_core.classroom.errors import ClassError
from mnist_core.net.edits import Edit, Prune, ScaleWeights, ShiftBias, SwitchOff, Temperature, WeightNoise
from mnist_core.net.lab import apply_edits, before_after, BeforeAfter, knock_out_until_change
from mnist_core.net.model import MLP
from mnist_core.net.preprocess import as_model_input
from mnist_core.storage.edited import edited_name, save_edited
from mnist_core.storage.models import ModelMeta, StoreError
from ui.browser import owner
from ui.caches import collection_part, loaded_model
from ui.current_model import current_model
from ui.engine import classroom, dataset, model_store
from ui.i18n import listed, N_, num, pct, said, t
from ui.layers import layer_choice, layer_label
from ui.widgets import Notice

EDITS = "lab_edits"  # {model name: [Edit]} this session's per-unit edits, per model (a copy: nothing stored)
KNOCKOUT = "lab_knockout"
SAVED = Notice("lab_saved")
TEST, CLASS = N_("MNIST test set"), N_("our handwriting (held out)")  # the scoring sets' names (shown with t())
ACTIONS = {"switch off": N_("switch off"), "shift its bias": N_("shift its bias"),
           "scale its incoming weights": N_("scale its incoming weights")}  # the per-unit change: value -> label


@st.cache_resource
def test_tensor() -> tuple[torch.Tensor, np.ndarray]:
    """The 10,000 test digits as float (N, 28, 28) in [0, 1], made once: scoring an edit runs only the network."""
    data = dataset()
    return as_model_input(data.test_images), data.test_labels


def scoring_sets() -> dict[str, tuple]:
    sets = {TEST: test_tensor()}
    if (name := classroom().open_name()) is not None:
        try:
            held = collection_part(name, "held")[1]
        except (ValueError, OSError, ClassError):
            held = None
        if held is not None and len(held):
            sets[CLASS] = (as_model_input(held.images), held.labels)
    return sets


def unit_edits(name: str) -> list[Edit]:
    return st.session_state.setdefault(EDITS, {}).setdefault(name, [])


def global_edits() -> list[Edit]:
    """The three sliders as edits (none where a slider is at its neutral value)."""
    state = st.session_state
    edits: list[Edit] = []
    if state.get("lab_noise", 0) > 0:
        edits.append(WeightNoise(state["lab_noise"] / 100, seed=0))
    if state.get("lab_prune", 0) > 0:
        edits.append(Prune(state["lab_prune"] / 100))
    if state.get("lab_temperature", 1.0) != 1.0:
        edits.append(Temperature(float(state["lab_temperature"])))
    return edits


def add_edits(name: str, edits: list[Edit]) -> None:
    unit_edits(name).extend(edits)
    st.session_state.pop(KNOCKOUT, None)


def reset(name: str) -> None:
    st.session_state.setdefault(EDITS, {})[name] = []
    st.session_state.update({"lab_noise": 0, "lab_prune": 0, "lab_temperature": 1.0})
    st.session_state.pop(KNOCKOUT, None)


def signed(value: float) -> str:
    """A number with its sign, as this browser's language writes it: +1.5, -0.3, +2."""
    return ("+" if value >= 0 else "") + num(value, 2, trim=True)


def edit_text(edit: Edit, model: MLP) -> str:
    """One edit as a person reads it: 'hidden 1 unit 7: switched off', 'temperature 2'."""
    if isinstance(edit, ShiftBias | ScaleWeights | SwitchOff):
        where = dict(layer=layer_label(edit.layer, len(model.hidden)), unit=edit.unit)
        if isinstance(edit, ShiftBias):
            return t("{layer} unit {unit}: bias {amount}", amount=signed(edit.amount), **where)
        if isinstance(edit, ScaleWeights):
            return t("{layer} unit {unit}: incoming weights x {factor}", factor=num(edit.factor, 2, trim=True),
                     **where)
        return t("{layer} unit {unit}: switched off", **where)
    if isinstance(edit, Temperature):
        return t("temperature {value}", value=num(edit.value, 2, trim=True))
    if isinstance(edit, WeightNoise):
        return t("weight noise {share} of each layer's spread (seed {seed})", share=pct(edit.share, 0),
                 seed=edit.seed)
    return t("smallest {share} of each layer's weights pruned", share=pct(edit.share, 0))


def _figure_rows(result: BeforeAfter) -> list[dict]:
    """One row per figure, one column per set (narrow enough for a phone): 'before → after'."""
    labels = list(result.before)
    measures = ((t("accuracy"), lambda f: pct(f.accuracy, 2)), (t("loss"), lambda f: num(f.loss, 3)),
                (t("mean confidence"), lambda f: pct(f.mean_confidence, 1)),
                (t("errors over 90% sure"), lambda f: num(f.confident_errors, 0)))
    return [{"": what, **{t("{set} ({count})", set=t(label), count=num(result.before[label].count, 0)):
                          t("{before} → {after}", before=shown(result.before[label]), after=shown(result.after[label]))
                          for label in labels}}
            for what, shown in measures]


def _unit_controls(model: MLP, name: str) -> None:
    depth = len(model.hidden)
    sizes = (*model.hidden, 10)
    st.markdown(t("**One unit**"))
    cols = st.columns([2, 1, 2, 2])
    # Options' labels made now, in this run's language (a format_func may be called after the run).
    layers = {i: layer_choice(model, i) for i in range(depth + 1)}
    layer = cols[0].selectbox(t("Layer"), list(layers), key="lab_layer", format_func=layers.get)
    unit = cols[1].number_input(t("Unit"), 0, sizes[layer] - 1, 0, key=f"lab_unit_{layer}")
    actions = {value: t(label) for value, label in ACTIONS.items()}
    action = cols[2].selectbox(t("Change"), list(actions), key="lab_action", format_func=actions.get)
    amount = None
    if action == "shift its bias":
        amount = cols[3].slider(t("By"), -5.0, 5.0, 1.0, 0.1, key="lab_shift")
    elif action == "scale its incoming weights":
        amount = cols[3].slider(t("Times"), 0.0, 3.0, 0.5, 0.1, key="lab_scale")
    edit = (SwitchOff(layer, int(unit)) if action == "switch off" else
            ShiftBias(layer, int(unit), float(amount)) if action == "shift its bias" else
            ScaleWeights(layer, int(unit), float(amount)))
    # A callback, so the edit is in the list before the run that draws the figures (no second rerun).
    st.button(t("Apply: {edit}", edit=edit_text(edit, model)), key="lab_add", on_click=add_edits,
              args=(name, [edit]))


@st.fragment
def lab_view(name: str, created: str, image: np.ndarray) -> None:
    model, meta = loaded_model(name, created)
    if st.session_state.pop("lab_reset_next", None):  # after a save: before the widgets, which it resets
        reset(st.session_state.pop("lab_reset_model", name))
    SAVED.show()
    st.caption(t("Edits work on a copy of the model: nothing stored changes until you save it as a new model. "
                 "Every change is scored at once on all {count} test digits and on the class's held-out handwriting.",
                 count=num(len(test_tensor()[1]), 0)))
    _unit_controls(model, name)
    st.markdown(t("**The whole network**"))
    cols = st.columns(3)
    cols[0].slider(t("Softmax temperature"), 0.1, 5.0, 1.0, 0.1, key="lab_temperature",
                   help=t("Above 1: less sure of every answer; below 1: surer. The answers themselves do not change."))
    cols[1].slider(t("Weight noise (% of each layer's spread)"), 0, 100, 0, 5, key="lab_noise")
    cols[2].slider(t("Prune the smallest weights (%)"), 0, 99, 0, 1, key="lab_prune")
    edits = [*unit_edits(name), *global_edits()]
    try:
        edited = apply_edits(model, edits)
    except ValueError as e:
        st.error(said(e))
        unit_edits(name).pop()
        return
    if edits:
        st.markdown(t("**Edits**: {edits}", edits=listed([edit_text(e, model) for e in edits])))
    else:
        st.caption(t("No edits yet: before and after are the same network."))
    result = before_after(model, edited, scoring_sets(), image)
    st.dataframe(_figure_rows(result), hide_index=True, width="stretch")
    if CLASS not in result.before:
        st.caption(t("No class handwriting to score on: no class collection is open, or its held-out part is empty."))
    a, b = result.answer_before, result.answer_after
    answer = t("This digit: <b>{before}</b> ({before_share}) → <b>{after}</b> ({after_share})", before=a.digit,
               before_share=pct(a.probability, 0), after=b.digit, after_share=pct(b.probability, 0))
    st.markdown(f"<div data-testid='lab-answer'>{answer}</div>", unsafe_allow_html=True)
    buttons = st.columns(3)
    if buttons[0].button(t("Switch off until the answer changes"), key="lab_knock",
                         help=t("Switches off the units of the last hidden layer that fire most for this digit, one "
                                "by one, most first, until the network's answer changes")):
        try:
            st.session_state[KNOCKOUT] = (name, knock_out_until_change(model, image, edits=edits))
        except ValueError as e:
            st.error(said(e))
    buttons[1].button(t("Reset"), key="lab_reset", on_click=reset, args=(name,))
    knocked = st.session_state.get(KNOCKOUT)
    if knocked and knocked[0] == name:
        knockout = knocked[1]
        where = layer_label(knockout.layer, len(model.hidden))
        lines = [t("{step}. {layer} unit {unit} (was {was}) off → reads {digit} ({share})", step=i + 1, layer=where,
                   unit=s.unit, was=num(s.activation), digit=s.digit, share=pct(s.probability, 0))
                 for i, s in enumerate(knockout.steps)]
        verdict = (t("**The answer changed from {digit} after {count} units.**", digit=knockout.digit_before,
                     count=len(knockout.steps)) if knockout.changed else
                   t("**Still {digit} with every active unit of the layer off.**", digit=knockout.digit_before))
        st.markdown(verdict + "\n\n" + "\n".join(lines[-12:]))
        st.button(t("Keep these switched off"), key="lab_keep", on_click=add_edits, args=(name, knockout.edits))
    save_panel(model, meta, edits)


def save_panel(model: MLP, meta: ModelMeta, edits: list[Edit]) -> None:
    left, right = st.columns([2, 1], vertical_alignment="bottom")
    new_name = left.text_input(t("Save as a new model"), edited_name(meta.name), key=f"lab_name_{meta.name}")
    if right.button(t("Save"), key="lab_save", disabled=not edits, type="primary"):
        store = model_store()
        data = dataset()
        try:
            saved = save_edited(store, model, meta, edits, new_name.strip(), store.owners.tag(owner()),
                                data.test_images, data.test_labels)
        except (StoreError, ValueError) as e:
            st.error(said(e))
            return
        current_model().choose(saved.name)
        st.session_state.update({"lab_reset_next": True, "lab_reset_model": meta.name})
        SAVED.say(t("Saved as **{name}** (test accuracy {accuracy}); it is now your current model and on the "
                    "leaderboard.", name=saved.name, accuracy=pct(saved.metrics.test_accuracy, 2)))
        st.rerun()
