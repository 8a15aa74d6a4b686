"""Inside -> Lab: edits on a copy of the current model (per unit: bias, incoming weights, off; global:
temperature, weight noise, pruning), scored before -> after on the MNIST test set and the open class
collection's held-out part at once; switching off units until the answer changes; saving the edit."""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from mnist_core.classroom.errors import ClassError
from mnist_core.net.edits import describe, Edit, Prune, ScaleWeights, ShiftBias, SwitchOff, Temperature, WeightNoise
from mnist_core.net.lab import apply_edits, before_after, BeforeAfter, knock_out_until_change
from mnist_core.net.model import layer_name, MLP
from mnist_core.net.preprocess import as_model_input
from mnist_core.storage.edited import edited_name, save_edited
from mnist_core.storage.models import ModelMeta, StoreError
from ui.browser import owner
from ui.caches import collection_part, loaded_model
from ui.current_model import current_model
from ui.engine import classroom, dataset, model_store
from ui.widgets import Notice

EDITS = "lab_edits"  # {model name: [Edit]} this session's per-unit edits, per model (a copy: nothing stored)
KNOCKOUT = "lab_knockout"
SAVED = Notice("lab_saved")
TEST, CLASS = "MNIST test set", "our handwriting (held out)"


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


def _figure_rows(result: BeforeAfter) -> list[dict]:
    """One row per figure, one column per set (narrow enough for a phone): 'before → after'."""
    labels = list(result.before)
    measures = (("accuracy", lambda f: f"{f.accuracy:.2%}"), ("loss", lambda f: f"{f.loss:.3f}"),
                ("mean confidence", lambda f: f"{f.mean_confidence:.1%}"),
                ("errors over 90% sure", lambda f: f"{f.confident_errors}"))
    return [{"": what, **{f"{label} ({result.before[label].count:,})":
                          f"{shown(result.before[label])} → {shown(result.after[label])}" for label in labels}}
            for what, shown in measures]


def _unit_controls(model: MLP, name: str) -> None:
    depth = len(model.hidden)
    sizes = (*model.hidden, 10)
    st.markdown("**One unit**")
    cols = st.columns([2, 1, 2, 2])
    layer = cols[0].selectbox("Layer", list(range(depth + 1)), key="lab_layer",
                              format_func=lambda i: f"{layer_name(model, i)} ({sizes[i]} units)")
    unit = cols[1].number_input("Unit", 0, sizes[layer] - 1, 0, key=f"lab_unit_{layer}")
    action = cols[2].selectbox("Change", ["switch off", "shift its bias", "scale its incoming weights"],
                               key="lab_action")
    amount = None
    if action == "shift its bias":
        amount = cols[3].slider("By", -5.0, 5.0, 1.0, 0.1, key="lab_shift")
    elif action == "scale its incoming weights":
        amount = cols[3].slider("Times", 0.0, 3.0, 0.5, 0.1, key="lab_scale")
    edit = (SwitchOff(layer, int(unit)) if action == "switch off" else
            ShiftBias(layer, int(unit), float(amount)) if action == "shift its bias" else
            ScaleWeights(layer, int(unit), float(amount)))
    # A callback, so the edit is in the list before the run that draws the figures (no second rerun).
    st.button(f"Apply: {describe(edit, model)}", key="lab_add", on_click=add_edits, args=(name, [edit]))


@st.fragment
def lab_view(name: str, created: str, image: np.ndarray) -> None:
    model, meta = loaded_model(name, created)
    if st.session_state.pop("lab_reset_next", None):  # after a save: before the widgets, which it resets
        reset(st.session_state.pop("lab_reset_model", name))
    SAVED.show()
    st.caption("Edits work on a copy of the model: nothing stored changes until you save it as a new model. "
               "Every change is scored at once on all 10,000 test digits and on the class's held-out handwriting.")
    _unit_controls(model, name)
    st.markdown("**The whole network**")
    cols = st.columns(3)
    cols[0].slider("Softmax temperature", 0.1, 5.0, 1.0, 0.1, key="lab_temperature",
                   help="Above 1: less sure of every answer; below 1: surer. The answers themselves do not change.")
    cols[1].slider("Weight noise (% of each layer's spread)", 0, 100, 0, 5, key="lab_noise")
    cols[2].slider("Prune the smallest weights (%)", 0, 99, 0, 1, key="lab_prune")
    edits = [*unit_edits(name), *global_edits()]
    try:
        edited = apply_edits(model, edits)
    except ValueError as e:
        st.error(str(e))
        unit_edits(name).pop()
        return
    if edits:
        st.markdown("**Edits**: " + "; ".join(describe(e, model) for e in edits))
    else:
        st.caption("No edits yet: before and after are the same network.")
    result = before_after(model, edited, scoring_sets(), image)
    st.dataframe(_figure_rows(result), hide_index=True, width="stretch")
    if CLASS not in result.before:
        st.caption("No class handwriting to score on: no class collection is open, or its held-out part is empty.")
    a, b = result.answer_before, result.answer_after
    st.markdown(f"<div data-testid='lab-answer'>This digit: <b>{a.digit}</b> ({a.probability:.0%}) → "
                f"<b>{b.digit}</b> ({b.probability:.0%})</div>", unsafe_allow_html=True)
    buttons = st.columns(3)
    if buttons[0].button("Switch off until the answer changes", key="lab_knock",
                         help="Switches off the units of the last hidden layer that fire most for this digit, one by "
                              "one, most first, until the network's answer changes"):
        try:
            st.session_state[KNOCKOUT] = (name, knock_out_until_change(model, image, edits=edits))
        except ValueError as e:
            st.error(str(e))
    buttons[1].button("Reset", key="lab_reset", on_click=reset, args=(name,))
    knocked = st.session_state.get(KNOCKOUT)
    if knocked and knocked[0] == name:
        knockout = knocked[1]
        lines = [f"{i + 1}. {layer_name(model, knockout.layer)} unit {s.unit} (was {s.activation:.2f}) off → reads "
                 f"{s.digit} ({s.probability:.0%})" for i, s in enumerate(knockout.steps)]
        verdict = (f"The answer changed from {knockout.digit_before} after {len(knockout.steps)} units"
                   if knockout.changed else f"Still {knockout.digit_before} with every active unit of the layer off")
        st.markdown(f"**{verdict}.**\n\n" + "\n".join(lines[-12:]))
        st.button("Keep these switched off", key="lab_keep", on_click=add_edits, args=(name, knockout.edits))
    save_panel(model, meta, edits)


def save_panel(model: MLP, meta: ModelMeta, edits: list[Edit]) -> None:
    left, right = st.columns([2, 1], vertical_alignment="bottom")
    new_name = left.text_input("Save as a new model", edited_name(meta.name), key=f"lab_name_{meta.name}")
    if right.button("Save", key="lab_save", disabled=not edits, type="primary"):
        store = model_store()
        data = dataset()
        try:
            saved = save_edited(store, model, meta, edits, new_name.strip(), store.owners.tag(owner()),
                                data.test_images, data.test_labels)
        except (StoreError, ValueError) as e:
            st.error(str(e))
            return
        current_model().choose(saved.name)
        st.session_state.update({"lab_reset_next": True, "lab_reset_model": meta.name})
        SAVED.say(f"Saved as **{saved.name}** (test accuracy {saved.metrics.test_accuracy:.2%}); it is now your "
                  "current model and on the leaderboard.")
        st.rerun()
