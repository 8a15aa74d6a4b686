"""Each browser's last drawing, kept on the server by owner key (not in session_state, which a reload
loses): the Draw page puts it back on the canvas after a page switch or a reload, and Inside looks at it. Each
tab's own last drawing too (by session): two tabs of one browser each add and save what they show."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field

import numpy as np
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from ui.browser import owner
from ui.keys import DRAWING_SEEN, DRAWINGS_KEPT
from ui.per_owner import PerOwner

MAX_STROKES = 256 * 1024  # characters of the strokes' JSON kept with a drawing (a few kB a stroke)


@dataclass(frozen=True)
class LastDrawing:
    # The canvas's Fabric.js JSON, for its `initial_drawing`, kept as text: as Python objects, a hostile 2 MB of
    # tiny JSON objects took ~48 MB of memory. None where there were none, or more than MAX_STROKES.
    strokes_json: str | None
    image: np.ndarray  # the canvas picture, RGBA uint8 (280, 280, 4)
    pixels: np.ndarray | None = None  # what the network read, MNIST-style (28, 28) in [0, 1]
    # Which drawing this is, in the order this process kept them: Inside turns to a drawing newer than it saw.
    serial: int = field(default_factory=lambda: next(_serials))


    @property
    def strokes(self) -> dict | None:
        return json.loads(self.strokes_json) if self.strokes_json else None


_serials = itertools.count(1)


@st.cache_resource(show_spinner=False)
def last_drawings() -> PerOwner[LastDrawing]:
    return PerOwner(DRAWINGS_KEPT)


@st.cache_resource(show_spinner=False)
def tab_drawings() -> PerOwner[tuple[LastDrawing | None]]:
    """Session id -> (its last drawing, None once cleared): a tuple, since the store forgets what is None."""
    return PerOwner(DRAWINGS_KEPT)


def last_drawing() -> LastDrawing | None:
    """This browser's last drawing, or None."""
    return last_drawings().get(owner())


def this_tabs_drawing() -> LastDrawing | None:
    """This tab's last drawing (None once it cleared its canvas); a tab that drew nothing yet: the browser's."""
    ctx = get_script_run_ctx()
    kept = tab_drawings().get(ctx.session_id) if ctx is not None else None
    return kept[0] if kept is not None else last_drawing()


def mark_drawing_seen() -> None:
    """Inside keeps to what a page sends it (a test digit, a collection's drawing) until a drawing newer than this
    browser's last one comes: called where a page chooses what Inside looks at."""
    last = last_drawing()
    st.session_state[DRAWING_SEEN] = last.serial if last is not None else None


def keep_drawing(strokes: dict | None, image: np.ndarray | None, pixels: np.ndarray | None = None) -> None:
    """This browser's drawing now (None: the canvas was cleared)."""
    ctx = get_script_run_ctx()
    keep_drawing_of(owner(), strokes, image, pixels, ctx.session_id if ctx is not None else None)


def keep_drawing_of(who: str, strokes: dict | str | None, image: np.ndarray | None,
                    pixels: np.ndarray | None = None, tab: str | None = None) -> None:
    """The drawing now of the browser whose owner key is `who` (its strokes as the canvas's JSON object, or that
    object's text already made), made in the tab whose session id is `tab` (a stroke answered outside a page run
    names it)."""
    text = strokes if isinstance(strokes, str) else (
        json.dumps(strokes, separators=(",", ":")) if isinstance(strokes, dict) else None)
    drawing = None if image is None else LastDrawing(text if text and len(text) <= MAX_STROKES else None, image, pixels)
    last_drawings().set(who, drawing)
    if tab:
        tab_drawings().set(tab, (drawing,))
