"""The Draw page in a real browser: real mouse strokes on the canvas, the answer read off the page."""

import re

import pytest

from ..helpers import png_of_a_one
from .helpers import loop, MARKER, open_app, shot, stroke, switch_on, vertical_line, wait_idle


def predicted(page) -> str:
    return page.get_by_test_id("predicted-digit").inner_text().strip()


@pytest.fixture
def draw_page(app, page):
    open_app(page, app.url + "draw")
    page.locator("canvas.upper-canvas").wait_for()
    page.get_by_text("Draw a digit in the box").first.wait_for()
    return page


def test_a_vertical_stroke_reads_as_one(draw_page):
    stroke(draw_page, vertical_line())
    assert predicted(draw_page) == "1"
    assert draw_page.get_by_text("6. centred by mass: what the network sees").count() == 1


def test_a_loop_reads_as_zero_and_clear_brings_back_the_hint(draw_page):
    stroke(draw_page, loop())
    assert predicted(draw_page) == "0"
    draw_page.get_by_role("button", name="Reset canvas & history").click()
    draw_page.get_by_text("Draw a digit in the box").first.wait_for()
    assert draw_page.get_by_test_id("predicted-digit").count() == 0


def test_the_switch_shows_the_plain_resize_beside_the_proper_pipeline(draw_page):
    stroke(draw_page, vertical_line())
    assert draw_page.get_by_text("Plain resize of the whole canvas, no centring").count() == 0
    draw_page.get_by_text("Settings: model, device, brush").click()  # the switch sits in the folded settings
    switch_on(draw_page, "Show what a plain resize feeds the network")
    draw_page.get_by_text("Plain resize of the whole canvas, no centring").wait_for()
    wait_idle(draw_page)


def test_a_finger_drawing_on_a_touch_screen_is_read(app, browser):
    """A phone or tablet: touch events only (no mouse), sent through the browser's input layer."""
    context = browser.new_context(viewport={"width": 900, "height": 1200}, has_touch=True, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        open_app(page, app.url + "draw")
        canvas = page.locator("canvas.upper-canvas")
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        touch = context.new_cdp_session(page)

        def finger(kind: str, x: float | None = None, y: float | None = None) -> None:
            points = [] if x is None else [{"x": box["x"] + x, "y": box["y"] + y}]
            touch.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

        line = vertical_line()
        finger("touchStart", *line[0])
        for x, y in line[1:]:
            finger("touchMove", x, y)
        finger("touchEnd")
        page.get_by_test_id("predicted-digit").wait_for(timeout=20_000)
        wait_idle(page)
        assert predicted(page) == "1"
    finally:
        shot(page, "draw-by-touch")
        context.close()


def upload(page, name: str, content: bytes, shown: str | re.Pattern | None = None) -> None:
    """Uploads a file, then waits for the reading to change, or for `shown` where the reading stays (a bad
    upload beside a drawing: the drawing is still read, the marker stays the same)."""
    before = page.locator(MARKER).first.text_content() if page.locator(MARKER).count() else None
    page.locator("input[type=file]").set_input_files(files=[{"name": name, "mimeType": "image/png",
                                                              "buffer": content}])
    if shown is not None:
        page.get_by_text(shown).wait_for(timeout=20_000)
    else:
        page.wait_for_function(
            "prev => { const m = document.querySelector(\"" + MARKER + "\"); return !m || m.textContent !== prev; }",
            arg=before, timeout=20_000)
    wait_idle(page)


def test_upload_then_draw_reads_the_newer_and_says_so(draw_page):
    upload(draw_page, "one.png", png_of_a_one())
    draw_page.get_by_text("Reading the upload one.png.").wait_for()
    assert predicted(draw_page) == "1"
    stroke(draw_page, loop())
    # .first: under load a rerun can show the old and the new copy of this line for a moment (one element each)
    draw_page.get_by_text("Reading your drawing.").first.wait_for()
    wait_idle(draw_page)
    assert predicted(draw_page) == "0"
    draw_page.get_by_text("You drew and uploaded: which should the network read?").wait_for()
    shot(draw_page, "draw-upload-then-draw")
    draw_page.get_by_role("button", name="Remove the upload").click()
    wait_idle(draw_page)
    draw_page.get_by_text("Reading your drawing.").wait_for()
    assert draw_page.get_by_text("one.png").count() == 0


def test_a_bad_upload_is_an_error_and_the_drawing_is_still_read(draw_page):
    stroke(draw_page, loop())
    upload(draw_page, "broken.png", b"not a picture at all",
           shown=re.compile(r"The upload could not be read: .*Reading your drawing instead"))
    assert predicted(draw_page) == "0"
    shot(draw_page, "draw-bad-upload")


def test_a_dash_is_read_as_a_digit_and_the_page_says_why(draw_page):
    stroke(draw_page, [(50 + i * 9, 140) for i in range(21)])
    assert predicted(draw_page).isdigit()
    draw_page.get_by_text("A scribble read as a digit, and very sure?").click()  # folded beside the answer
    draw_page.get_by_text('never "not a digit"', exact=False).wait_for()
    shot(draw_page, "draw-dash")


def sent_frames(page) -> list[int]:
    """A growing list: one entry per websocket frame the page sends (a rerun request is one)."""
    frames: list[int] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: frames.append(len(payload))))
    return frames


def test_a_stroke_is_answered_over_http_without_a_rerun(app, page):
    """The canvas posts the stroke's alpha plane to the app's own route and shows the answer it sends: no script
    rerun, nothing on the websocket (issue #31: a rerun was most of a stroke's server CPU)."""
    frames, posts = sent_frames(page), []
    page.on("request", lambda r: posts.append(r.post_data_json) if r.url.endswith("/api/answer") else None)
    open_app(page, app.url + "draw")
    page.locator("canvas.upper-canvas").wait_for()
    page.get_by_text("Draw a digit in the box").first.wait_for()
    wait_idle(page)
    assert page.get_by_test_id("compact-answer").count() == 0  # no answer yet: no line under the canvas
    assert not page.get_by_text("Why? Look inside").is_visible()
    before = len(frames)
    stroke(page, vertical_line())
    assert predicted(page) == "1" and "Reads" in page.get_by_test_id("compact-answer").inner_text()
    assert page.get_by_text("Why? Look inside").is_visible()
    assert len(posts) == 1 and set(posts[0]) == {"ticket", "alpha", "strokes"}, posts
    assert len(frames) == before, "the stroke went to a rerun"
    stroke(page, loop())  # a second stroke on the first: the two read together, as a rerun would
    assert len(posts) == 2 and len(frames) == before
    page.get_by_role("button", name="Reset canvas & history").click()
    page.get_by_text("Draw a digit in the box").first.wait_for()
    assert page.get_by_test_id("predicted-digit").count() == 0 and len(posts) == 3


def test_a_refused_quick_answer_falls_back_to_a_rerun(app, page):
    """Where the route answers with an error (or cannot be reached), the stroke goes to a rerun, as before."""
    page.route("**/api/answer", lambda route: route.fulfill(status=503, body='{"error": "down"}'))
    frames = sent_frames(page)
    open_app(page, app.url + "draw")
    page.locator("canvas.upper-canvas").wait_for()
    page.get_by_text("Draw a digit in the box").first.wait_for()
    wait_idle(page)
    before = len(frames)
    stroke(page, vertical_line())
    assert predicted(page) == "1" and len(frames) > before


def test_a_ticket_is_good_only_for_the_browser_it_was_made_for(app, page):
    """Replaying a page's ticket from elsewhere: refused without that browser's cookie, or with it altered."""
    import json
    import urllib.error
    import urllib.request

    posts = []
    page.on("request", lambda r: posts.append(r.post_data) if r.url.endswith("/api/answer") else None)
    open_app(page, app.url + "draw")
    page.locator("canvas.upper-canvas").wait_for()
    page.get_by_text("Draw a digit in the box").first.wait_for()
    stroke(page, vertical_line())
    sent = json.loads(posts[-1])
    mine = "; ".join(f"{c['name']}={c['value']}" for c in page.context.cookies() if c["name"] == "mnist_owner")

    def status(body: dict, cookie: str) -> int:
        request = urllib.request.Request(app.url + "api/answer", json.dumps(body).encode(),
                                         {"Content-Type": "application/json", "Cookie": cookie})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as e:
            return e.code

    payload, mac = sent["ticket"].split(".")
    altered = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1] + "." + mac
    assert status(sent, mine) == 200
    assert status(sent, "") == 403
    assert status(sent, "mnist_owner=" + "x" * 32) == 403
    assert status({**sent, "ticket": altered}, mine) in (400, 403)
    assert status({**sent, "alpha": {"width": 9999, "height": 1, "deflated": ""}}, mine) == 400


def test_a_button_clicked_while_the_stroke_is_on_its_way_waits_for_it(app, page):
    """Save pressed right after a stroke whose answer is slow to come: the drawing saved is the one on the screen
    (the click waits for the stroke to reach the server; a helper session saw an older one added)."""
    import time

    open_app(page, app.url + "draw")
    page.locator("canvas.upper-canvas").wait_for()
    page.get_by_text("Settings: model, device, brush").first.wait_for()
    page.get_by_text("Save drawings into a collection, and score the model on it").click()
    wait_idle(page)
    page.get_by_label("This drawing is a").click()
    page.get_by_role("option", name="1", exact=True).click()
    wait_idle(page)
    page.route("**/api/answer", lambda route: (time.sleep(1.5), route.continue_()))
    box = page.locator("canvas.upper-canvas").bounding_box()
    page.mouse.move(box["x"] + 140, box["y"] + 40)
    page.mouse.down()
    for y in range(40, 250, 10):
        page.mouse.move(box["x"] + 140, box["y"] + y)
    page.mouse.up()
    page.get_by_role("button", name="Save drawing").click()  # at once: the stroke's request is still held
    page.get_by_text("1 of 1").wait_for(timeout=30_000)  # saved, and read as a 1: the stroke, not an empty canvas
    wait_idle(page)
