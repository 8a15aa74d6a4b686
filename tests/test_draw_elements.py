"""What one stroke on the Draw page makes the server build (issue #31): the elements of the canvas's
fragment, counted with AppTest, kept to what the answer needs. Every element is a message the script
thread serialises and hands to the event loop; a picture stored as a media file is one more HTTP request
per stroke. No timings: counts only."""

from __future__ import annotations

from collections import Counter

import numpy as np
from streamlit.testing.v1 import AppTest

from .helpers import draw_seven, PROJECT

# The fragment's elements for a drawing read (its answer, what the network sees, the steps, the network):
# raise it only for something new the page shows, never for the same things in more elements.
DRAWING_BUDGET = 15
BLANK_BUDGET = 8  # an empty canvas: the pad, the upload, the hint


def draw_page() -> AppTest:
    at = AppTest.from_file(str(PROJECT / "app.py"), default_timeout=30)
    at.switch_page("pages/draw.py")
    return at.run()


def _walk(node, out: list) -> None:
    for child in getattr(node, "children", {}).values():
        out.append(child)
        _walk(child, out)


def fragment_elements(at: AppTest) -> list:
    """The elements under the block that a stroke reruns: the top-level block holding the upload box."""
    for block in at.main.children.values():
        inside: list = []
        _walk(block, inside)
        if any(getattr(e, "type", "") == "file_uploader" for e in inside):
            return inside
    raise AssertionError("no fragment with the upload box on the Draw page")


def kinds(elements: list) -> Counter:
    return Counter(getattr(e, "type", type(e).__name__) for e in elements)


def test_a_drawing_builds_no_more_elements_than_its_answer_needs(env, canvas):
    canvas["image"] = draw_seven()
    at = draw_page()
    assert not at.exception
    assert any("predicted-digit" in m.value for m in at.markdown)  # the answer is there
    elements = fragment_elements(at)
    assert len(elements) <= DRAWING_BUDGET, kinds(elements)
    # Every picture of the answer travels inside its message: no media file to store, hash and fetch.
    for picture in at.get("imgs"):
        assert all(p.url.startswith("data:") for p in picture.proto.imgs), [p.url[:40] for p in picture.proto.imgs]


def test_an_empty_canvas_builds_only_the_pad_and_the_hint(env, canvas):
    canvas["image"] = np.zeros((280, 280, 4), np.uint8)
    at = draw_page()
    assert not at.exception
    elements = fragment_elements(at)
    assert len(elements) <= BLANK_BUDGET, kinds(elements)
