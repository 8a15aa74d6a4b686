"""A class action refused: one line for the user."""

from __future__ import annotations


class ClassError(ValueError):
    """A class action refused (no class collection open, a bad nickname, blank drawing): one line."""
