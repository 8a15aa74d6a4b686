"""Who may change a stored model: the browser that trained it (by its owner tag) or the operator; never the
models that ship with the app."""

from __future__ import annotations

from mnist_core.storage.models import ModelMeta, ModelStore, SHIPS_WITH_THE_APP, StoreError
from mnist_core.texts import N_, worded


def may_change(store: ModelStore, meta: ModelMeta, owner: str, operator: bool = False) -> bool:
    """Whether this owner key (or the operator) may rename, delete or train on this model."""
    return not meta.builtin and (operator or store.owners.owns(owner, meta.owner))


def check_may_change(store: ModelStore, meta: ModelMeta, owner: str, operator: bool = False) -> None:
    """Raise StoreError, in words, unless `may_change`."""
    if meta.builtin:
        raise worded(StoreError, SHIPS_WITH_THE_APP, name=meta.name)
    if not may_change(store, meta, owner, operator):
        raise worded(StoreError, N_("'{name}' is not yours: only the browser that trained it may change it"),
                     name=meta.name)
