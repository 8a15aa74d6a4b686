"""Your last drawing comes back, in a real browser: on the Draw page's canvas after a page switch and after a
reload (ui/last_drawing.py; the canvas's initial_drawing), and in Inside after a reload."""

from __future__ import annotations

from ..helpers import wait_for
from .helpers import loop, open_app, shot, stroke, vertical_line, wait_idle

# Dark pixels on the canvas's drawn layer (the pen is dark on a light box): the strokes are on it.
INK = """c => {
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && d[i] + d[i + 1] + d[i + 2] < 300) n++; return n; }"""


def ink(page) -> int:
    return page.locator("canvas.dc-canvas.lower-canvas").first.evaluate(INK)  # the canvas is in an open shadow root


def go(page, name: str) -> None:
    page.locator('[data-testid="stSidebarNav"] a', has_text=name).first.dispatch_event("click")
    wait_idle(page)


def drawing_back(page) -> None:
    page.locator("canvas.upper-canvas").wait_for()
    page.get_by_test_id("predicted-digit").wait_for()
    assert page.get_by_test_id("predicted-digit").inner_text().strip() == "0"
    assert wait_for(lambda: ink(page) > 50, 15)  # the strokes are back on the canvas, not only the answer


def test_the_last_drawing_comes_back_after_a_page_switch_and_a_reload(app, page):
    open_app(page, app.url + "draw")
    page.locator("canvas.upper-canvas").wait_for()
    stroke(page, loop())
    page.get_by_test_id("predicted-digit").wait_for()
    assert ink(page) > 50
    go(page, "Mistakes")
    page.get_by_text("Where the network goes wrong").wait_for()
    go(page, "Draw")
    drawing_back(page)  # after a page switch: on the canvas, and read
    page.reload()
    wait_idle(page)
    drawing_back(page)  # after a reload: a new session, the same browser
    shot(page, "last-drawing-after-reload", full_page=False)
    page.reload()
    wait_idle(page)
    go(page, "Inside")
    page.get_by_text("my last drawing (Draw page)").first.wait_for()


def test_reset_clears_a_drawing_that_came_back(app, page):
    # The canvas's Reset went back to its initial drawing, here the one brought back: it could not be cleared,
    # and new strokes landed on it (read, and added to the class, as one digit).
    open_app(page, app.url + "draw")
    page.locator("canvas.upper-canvas").wait_for()
    stroke(page, loop())
    page.get_by_test_id("predicted-digit").wait_for()
    page.reload()
    wait_idle(page)
    drawing_back(page)
    page.get_by_role("button", name="Reset canvas & history").click()
    page.get_by_text("Draw a digit in the box (or upload a picture of one)").wait_for()
    assert wait_for(lambda: ink(page) == 0, 15)
    assert page.get_by_test_id("predicted-digit").count() == 0
    stroke(page, vertical_line())  # the next stroke is read (alone)
    assert page.get_by_test_id("predicted-digit").inner_text().strip() == "1"
    page.get_by_role("button", name="Reset canvas & history").click()
    page.get_by_text("Draw a digit in the box (or upload a picture of one)").wait_for()
    page.reload()  # and it stays cleared: the empty canvas is the last drawing now
    wait_idle(page)
    page.locator("canvas.upper-canvas").wait_for()
    page.get_by_text("Draw a digit in the box (or upload a picture of one)").wait_for()
    assert ink(page) == 0
