"""When two names are the same name: compared after Unicode NFKC (full-width and other compatibility
look-alikes become plain letters) and case folding ("ADA", "ａｄａ" and "Ada" are one name)."""

from __future__ import annotations

import unicodedata


def fold_name(text: str) -> str:
    """The form two names are compared in: NFKC, then casefold, then NFKC again (casefold can undo it)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
