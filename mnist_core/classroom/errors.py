"""A class action refused: one line for the user."""

from __future__ import annotations

from mnist_core.texts import N_

NO_IDENTITY = N_("this browser has no identity yet; reload the page")


class ClassError(ValueError):
    """A class action refused (no class collection open, a bad nickname, blank drawing): one line."""
