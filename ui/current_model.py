"""This browser's current model, one object for every page (kept on the server per owner key, so a page
switch or a reload keeps it); the model picker; renaming and deleting models, which it follows."""

from __future__ import annotations

import threading

import streamlit as st

from mnist_core.net.model import MLP
from mnist_core.storage.models import ModelMeta, StoreError
from ui import keys
from ui.browser import is_teacher, owner
from ui.caches import loaded_model, model_version
from ui.engine import job_registry, model_store
from ui.i18n import said, t
from ui.models import model_names
from ui.per_owner import PerOwner
from ui.run_words import changes_words


def _meta_or_none(name: str) -> ModelMeta | None:
    try:
        return model_store().meta(name)
    except StoreError:  # gone, damaged, or a name that is not a name
        return None


class CurrentModel:
    """One browser's current model: the name it was chosen by and the id of the model chosen, so a rename
    is followed and a model replaced under the same name is not taken for it. While the chosen model is
    not in the store (deleted, replaced, or moved away for a moment) it is `default`, and the choice stays."""

    def __init__(self) -> None:
        self._chosen: tuple[str, str] | None = None  # (name, model id)
        self._missing: str | None = None  # the chosen name, when `name()` last found it gone
        self._lock = threading.Lock()

    def choose(self, name: str) -> None:
        """Make `name` the current model on every page (StoreError if it cannot be read)."""
        meta = model_store().meta(name)
        with self._lock:
            self._chosen = (name, meta.id)

    def renamed(self, old: str, new: str) -> None:
        """The model `old` is now called `new` (said at once, not left to be found by its id)."""
        with self._lock:
            if self._chosen is not None and self._chosen[0] == old:
                self._chosen = (new, self._chosen[1])

    def chosen(self) -> str | None:
        """The name it was last chosen by (or followed to), whether or not it is in the store now."""
        with self._lock:
            return self._chosen[0] if self._chosen is not None else None

    def name(self) -> str:
        """The current model's name: as chosen (followed through a rename), else `default` when the chosen
        model is gone, damaged or replaced by another of its name."""
        with self._lock:
            chosen = self._chosen
        name, missing = keys.DEFAULT_MODEL, None
        if chosen is not None:
            wanted, model_id = chosen
            meta = _meta_or_none(wanted)
            if meta is not None and (not model_id or meta.id == model_id):
                name = wanted
            elif model_id and (moved := model_store().find_id(model_id)) is not None:
                name = moved
                with self._lock:
                    if self._chosen == chosen:
                        self._chosen = (moved, model_id)
            else:
                missing = wanted
        self._missing = missing
        return name

    def missing(self) -> str | None:
        """The chosen model's name when the last `name()` found it no longer in the store, else None."""
        return self._missing

    def load(self, device: str = "cpu") -> tuple[MLP, ModelMeta]:
        """The current model, loaded (once per version and device)."""
        name = self.name()
        try:
            return loaded_model(name, model_version(name), device)
        except StoreError as e:  # its metadata reads but its weights do not: say so, use the shipped model
            st.warning(t("{problem}. Using the shipped model `{default}` instead.", problem=said(e),
                         default=keys.DEFAULT_MODEL))
            return loaded_model(keys.DEFAULT_MODEL, model_version(keys.DEFAULT_MODEL), device)


@st.cache_resource
def current_models() -> PerOwner[CurrentModel]:
    """Every browser's CurrentModel, by owner key."""
    return PerOwner(keys.OWNERS_KEPT)


def current_model() -> CurrentModel:
    """This browser's current model."""
    return current_models().setdefault(owner(), CurrentModel)


def model_picker(label: str | None = None) -> str:
    """A select box of the stored models, set to (and setting) the current model; says when the chosen
    model is gone. The choice is made in the widget's callback, which runs before any script does: a page
    switch clicked right after a pick (which interrupts the rerun that would have read the box) keeps it."""
    names = model_names()
    model = current_model()
    current = model.name()
    if missing := model.missing():
        st.info(t("Your model **{missing}** is no longer in the store (deleted or replaced by its owner); using "
                  "**{current}**.", missing=missing, current=current))
    key = "model_picker"
    # The box shows the current model, whichever page or browser tab changed it last.
    st.session_state[key] = current if current in names else names[0]

    def picked() -> None:
        try:
            model.choose(st.session_state[key])
        except StoreError as e:  # damaged since it was listed
            st.session_state["model_picker_error"] = said(e)

    chosen = st.selectbox(label or t("Model"), names, key=key, on_change=picked)
    if error := st.session_state.pop("model_picker_error", None):
        st.error(error)
        return current
    return chosen


def rename_model(name: str, new_name: str, who: str) -> None:
    """Rename a model of this browser's; StoreError (one line) when it is another's, built in, held by an
    active run, or the new name is taken or invalid. The current model follows the rename."""
    registry, _ = job_registry()
    new_name = new_name.strip()
    registry.rename_model(name, new_name, who, is_teacher())
    if (chosen := current_models().get(who)) is not None:
        chosen.renamed(name, new_name)


def delete_model(name: str, who: str) -> None:
    """Delete a model of this browser's; StoreError (one line) when it is another's, built in or training.
    A browser whose current model it was falls back to `default`."""
    registry, _ = job_registry()
    registry.delete_model(name, who, is_teacher())


def changes_caption(name: str) -> None:
    """Under a model's name: the settings changed while it trained ("learning rate changed at epoch 2.4 (0.003 →
    0.3)"), if any, so a model is not read as if it had trained on its settings alone."""
    meta = _meta_or_none(name)
    if meta is not None and meta.changes:
        st.caption(t("**{name}**: {changes}.", name=name, changes=changes_words(meta.changes)))
