"""Each browser's last drawing, kept on the server by owner key (not in session_state, which a reload
loses): the Draw page puts it back on the canvas after a page switch or a reload, and Inside looks at it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from ui.browser import owner
from ui.keys import DRAWINGS_KEPT
from ui.per_owner import PerOwner


@dataclass(frozen=True)
class LastDrawing:
    strokes: dict | None  # the canvas's Fabric.js JSON, for its `initial_drawing`
    image: np.ndarray  # the canvas picture, RGBA uint8 (280, 280, 4)
    pixels: np.ndarray | None = None  # what the network read, MNIST-style (28, 28) in [0, 1]


@st.cache_resource(show_spinner=False)
def last_drawings() -> PerOwner[LastDrawing]:
    return PerOwner(DRAWINGS_KEPT)


def last_drawing() -> LastDrawing | None:
    """This browser's last drawing, or None."""
    return last_drawings().get(owner())


def keep_drawing(strokes: dict | None, image: np.ndarray | None, pixels: np.ndarray | None = None) -> None:
    """This browser's drawing now (None: the canvas was cleared)."""
    last_drawings().set(owner(), None if image is None else LastDrawing(strokes, image, pixels))
