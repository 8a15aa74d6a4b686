"""ui/galleries: a gallery's two halves (which Streamlit's columns stack on a phone) hold the right digits,
in order, with their own captions; a grid whose rows mean something keeps them in each half."""

import numpy as np
from streamlit.testing.v1 import AppTest

from ui.galleries import halves

DRAWN: list[tuple[list[int], list[str], int]] = []  # what each half's picture was made of, by gallery_page


def record(images: np.ndarray, captions: list[str], columns: int, scale: int) -> np.ndarray:
    DRAWN.append(([int(i[0, 0]) for i in images], list(captions), columns))
    return np.zeros((28, 28 * columns), np.uint8)


def gallery_page():
    import numpy as np
    import streamlit as st

    from tests.test_galleries import record
    from ui.galleries import gallery

    count, columns = st.session_state.get("count", 7), st.session_state.get("columns", 10)
    images = np.zeros((count, 28, 28), np.uint8)
    images[:, 0, 0] = np.arange(count)  # each digit says which it is
    gallery(images, [f"c{i}" for i in range(count)], columns, "under both",
            keep_rows=st.session_state.get("rows", False), draw=record)


def test_an_ordered_gallery_splits_into_whole_rows_of_half_the_width():
    assert halves(60, 10) == [slice(0, 30), slice(30, 60)]  # the Mistakes page: 6 rows of 5 in each half
    assert halves(64, 10) == [slice(0, 35), slice(35, 64)]  # a step up close's batch
    assert halves(12, 10) == [slice(0, 10), slice(10, 12)]
    assert halves(7, 10) == [slice(0, 5), slice(5, 7)]
    assert halves(5, 10) == [slice(0, 5)]  # half a row: one picture
    assert halves(8, 8) == [slice(0, 4), slice(4, 8)]
    assert halves(0, 10) == [slice(0, 0)]


def run(**state) -> tuple[AppTest, list]:
    DRAWN.clear()
    at = AppTest.from_function(gallery_page, default_timeout=30)
    for key, value in state.items():
        at.session_state[key] = value
    return at.run(), list(DRAWN)


def test_each_half_is_drawn_from_its_own_digits_and_captions_and_the_caption_goes_under_both():
    at, drawn = run(count=7, columns=10)
    assert not at.exception
    assert drawn == [([0, 1, 2, 3, 4], ["c0", "c1", "c2", "c3", "c4"], 5), ([5, 6], ["c5", "c6"], 5)]
    assert len(at.columns) == 2 and len(at.get("image")) == 2
    assert [c.value for c in at.caption] == ["under both"]
    at, drawn = run(count=3, columns=10)  # fits in half a row: one picture, no columns
    assert drawn == [([0, 1, 2], ["c0", "c1", "c2"], 5)] and len(at.columns) == 0


def test_a_grid_of_rows_keeps_each_rows_left_and_right_columns_in_its_halves():
    _, drawn = run(count=8, columns=4, rows=True)  # two rows of 4: 0 1 2 3 / 4 5 6 7
    assert drawn == [([0, 1, 4, 5], ["c0", "c1", "c4", "c5"], 2), ([2, 3, 6, 7], ["c2", "c3", "c6", "c7"], 2)]
