"""Galleries of digits as the pages draw them: two halves side by side, which Streamlit's columns stack on a
phone's narrow screen, so that a caption stays readable there (one 10-column picture shrunk to a 390 px phone
wrote its captions 5 px tall); a clickable one picks the digit clicked."""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable

import numpy as np
import streamlit as st
from PIL import Image

from mnist_core.net.pictures import gallery_image
from ui.charts import layout
from ui.i18n import t


def halves(count: int, columns: int) -> list[slice]:
    """Where a gallery of `count` digits `columns` wide splits into its two halves (each columns // 2 wide, the
    first holding whole rows): one slice when it fits in half a row."""
    half = max(1, columns // 2)
    if count <= half:
        return [slice(0, count)]
    first = math.ceil(math.ceil(count / 2) / half) * half  # half the digits, rounded up to whole rows
    return [slice(0, first), slice(first, count)]


def gallery(images: np.ndarray, captions: list[str], columns: int = 10, caption: str | None = None, *,
            scale: int = 3, keep_rows: bool = False, output_format: str = "JPEG",
            draw: Callable[..., np.ndarray | bytes] = gallery_image) -> None:
    """Digits (N, 28, 28) with a caption under each, in two halves of columns // 2, `caption` under both. An
    ordered list splits into its first and second half (each in order on a phone); with `keep_rows` (a grid
    whose rows mean something, N a multiple of `columns`) each half holds its columns of every row. `draw`
    (images, captions, columns=, scale=) makes a half's picture: `gallery_image`, or a cached one."""
    order = np.arange(len(images))
    if keep_rows:
        grid = order.reshape(-1, columns)
        parts = [grid[:, :columns // 2].ravel(), grid[:, columns // 2:].ravel()]
    else:
        parts = [order[part] for part in halves(len(images), columns)]
    cells = st.columns(len(parts)) if len(parts) > 1 else [st.container()]
    for cell, part in zip(cells, parts, strict=True):
        cell.image(draw(images[part], [captions[i] for i in part], columns=max(1, columns // 2), scale=scale),
                   output_format=output_format)
    if caption:
        st.caption(caption)


def clickable_gallery(images: np.ndarray, indices: np.ndarray, captions: list[str], columns: int,
                      key: str) -> int | None:
    """A gallery (two halves, each one picture, as fast as st.image) in which a click on a digit picks it: an
    almost invisible marker sits on each thumbnail, as on the confusion matrix's cells. Both halves are in the
    container keyed `key`. Returns the index (from `indices`) of a newly clicked digit, else None."""
    parts = halves(len(images), columns)
    picked = None
    with st.container(key=key):
        cells = st.columns(len(parts)) if len(parts) > 1 else [st.container()]
        for side, (cell, part) in enumerate(zip(cells, parts, strict=True)):
            with cell:
                pick = _clickable_half(images[part], indices[part], captions[part], max(1, columns // 2),
                                       f"{key}_{side}")
            picked = pick if pick is not None else picked
    return picked


def _clickable_half(images: np.ndarray, indices: np.ndarray, captions: list[str], columns: int,
                    key: str) -> int | None:
    picture = gallery_image(images, captions, columns=columns)
    height, width = picture.shape[:2]
    rows = -(-len(indices) // columns)
    cell_w, cell_h = width / columns, height / rows
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="JPEG", quality=90)  # encodes and loads faster than PNG
    source = "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()
    spots = np.arange(len(indices))
    figure = {
        "data": [{"type": "scatter", "mode": "markers", "x": ((spots % columns + 0.5) * cell_w).tolist(),
                  "y": ((spots // columns + 0.45) * cell_h).tolist(), "customdata": [int(i) for i in indices],
                  "text": captions, "hovertemplate": t("%{text}: click to look closer<extra></extra>"),
                  "marker": {"symbol": "square", "size": 40, "opacity": 0.01, "color": "#000"}}],
        # Shrunk to a narrow column the picture keeps its shape, at the chart's top.
        "layout": layout(height + 10, images=[{"source": source, "xref": "x", "yref": "y", "x": 0, "y": 0,
                                               "sizex": width, "sizey": height, "sizing": "stretch", "layer": "below"}],
                         xaxis={"range": [0, width], "visible": False, "fixedrange": True},
                         yaxis={"range": [height, 0], "visible": False, "fixedrange": True, "scaleanchor": "x",
                                "constrain": "domain", "constraintoward": "top"},
                         width=width, margin={"l": 0, "r": 0, "t": 0, "b": 0}, showlegend=False,
                         clickmode="event+select", dragmode=False),
    }
    # Shrunk to a phone's width, a chart keeps its height: its box is cut to the picture's shape instead, or
    # the room it leaves (a fifth of a phone's screen) would sit between the halves.
    st.html(f"<style>.stElementContainer.st-key-{key} {{aspect-ratio: {width} / {height + 10} !important; "
            f"width: 100% !important; height: auto !important; max-height: {height + 10}px !important; "
            "contain: size !important; overflow: hidden !important; flex: none !important}</style>")
    clicked = st.plotly_chart(figure, key=key, on_select="rerun", selection_mode="points",
                              config={"displayModeBar": False})
    points = clicked.selection.points if clicked is not None else []
    pick = int(points[0]["customdata"]) if points and points[0].get("customdata") is not None else None
    if pick is None or st.session_state.get(f"{key}_last") == pick:
        return None
    st.session_state[f"{key}_last"] = pick
    return pick
