"""The stored models this browser is offered (the teacher's hidden ones left out, unless they are its own)."""

from __future__ import annotations

from mnist_core.classroom.leaderboard import HiddenEntries, model_hide_id
from mnist_core.storage.models import Listing
from ui.browser import is_teacher, owner
from ui.engine import model_store


def offered_models(damaged: bool = False) -> list[Listing]:
    """The stored models this browser is offered: those that read (a damaged file only if `damaged`), less
    the ones the teacher hid on the leaderboard, unless they are this browser's own (or this is the teacher).
    A damaged list of hidden entries hides every model but the shipped ones (fails closed; the leaderboard says
    why)."""
    store = model_store()
    hidden = HiddenEntries(store).view()
    who, teacher = owner(), is_teacher()

    def offered(entry: Listing) -> bool:
        if entry.meta is None:
            return damaged
        return (teacher or not hidden.hides(model_hide_id(entry.meta), entry.meta.builtin)
                or store.owners.owns(who, entry.meta.owner))

    return [e for e in store.list() if offered(e)]


def model_names(besides: str | None = None) -> list[str]:
    """The names of `offered_models`, as the store lists them; not `besides`."""
    return [e.name for e in offered_models() if e.name != besides]
