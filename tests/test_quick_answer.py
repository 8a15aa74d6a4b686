"""A stroke answered over HTTP (ui/quick_answer.py): tickets only this server signs, for one browser; the
picture in either of the canvas's two forms; the same reading, kept as that browser's last drawing; refusals
with a status and a line. The route itself, in a real browser and a real server: tests/e2e/test_draw_page.py."""

from __future__ import annotations

import base64
import gzip
import io
import json
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from ui import quick_answer as qa

from .helpers import draw_seven

SECRET = "a-cookie-secret"
OWNER = "o" * 32


def settings(created: str, **changes) -> qa.Settings:
    values = {"who": qa.owner_tag(OWNER), "model": "default", "created": created, "device": "cpu",
              "threshold": 0.8, "network": True, "language": "en", "links": {}, "tab": "tab-1",
              "issued": time.time()}
    return qa.Settings(**{**values, **changes})


def png_url(image: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(image, "RGBA").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def alpha_of(image: np.ndarray, extra: bytes = b"") -> dict:
    plane = np.ascontiguousarray(image[..., 3]).tobytes() + extra
    return {"width": image.shape[1], "height": image.shape[0],
            "deflated": base64.b64encode(zlib.compress(plane)).decode()}


@pytest.fixture
def created(env) -> str:
    from ui.engine import model_store

    return model_store().meta("default").created


def body(ticket: str, **picture) -> bytes:
    return json.dumps({"ticket": ticket, "strokes": {"objects": []}, **picture}).encode()


def test_a_ticket_is_good_only_as_signed_for_its_browser():
    good = qa.sign(settings("v1"), SECRET)
    assert qa.verify(good, SECRET, OWNER).model == "default"
    refused = {
        "another browser": lambda: qa.verify(good, SECRET, "x" * 32),
        "no cookie": lambda: qa.verify(good, SECRET, None),
        "another server": lambda: qa.verify(good, "another-secret", OWNER),
        "its settings changed": lambda: qa.verify(qa.sign(settings("v1", model="theirs"), SECRET).split(".")[0]
                                                  + "." + good.split(".")[1], SECRET, OWNER),
        "expired": lambda: qa.verify(good, SECRET, OWNER, now=time.time() + qa.TICKET_HOURS * 3600 + 1),
        "not a ticket": lambda: qa.verify("nonsense", SECRET, OWNER),
    }
    for why, attempt in refused.items():
        with pytest.raises(qa.Refused) as e:
            attempt()
        assert e.value.status in (400, 403), why


def test_the_alpha_plane_is_the_same_picture_as_the_png():
    image = draw_seven()
    assert np.array_equal(qa.inflate_alpha(alpha_of(image)), qa.decode_picture(png_url(image)))


def test_a_picture_that_is_not_what_it_says_is_refused():
    image = draw_seven()
    for bad in (alpha_of(image, b"x" * 10), {**alpha_of(image), "width": 5000}, {**alpha_of(image), "deflated": "!!"},
                {"width": 8, "height": 8, "deflated": base64.b64encode(zlib.compress(b"\0" * 10**7)).decode()}):
        with pytest.raises(qa.Refused) as e:
            qa.inflate_alpha(bad)
        assert e.value.status == 400
    for bad in ("data:image/jpeg;base64,AAAA", "data:image/png;base64,notbase64!", 42):
        with pytest.raises(qa.Refused):
            qa.decode_picture(bad)


def test_a_drawing_is_read_as_the_page_reads_it_and_kept_as_the_browsers_last(created):
    from mnist_core.net.evaluate import read_digit
    from ui.caches import loaded_model
    from ui.last_drawing import last_drawings, tab_drawings
    from ui.reading import marker_of

    image = draw_seven()
    ticket = qa.sign(settings(created), SECRET)
    found = qa.answer(body(ticket, alpha=alpha_of(image)), OWNER, SECRET)
    model, _ = loaded_model("default", created, "cpu")
    assert found["digit"] == read_digit(model, image).digit == 7
    assert "data-testid='predicted-digit' style='font-size:110px;line-height:1;font-weight:700;text-align:center'>7<" \
        in found["panel"]
    assert found["marker"] == marker_of(image) and found["marker"] in found["panel"]
    assert "Reads <b" in found["compact"] and "draw-network" in found["panel"]
    kept = last_drawings().get(OWNER)
    assert kept is not None and np.array_equal(kept.image, image) and kept.strokes == {"objects": []}
    assert tab_drawings().get("tab-1") == (kept,)  # the tab's own, which its Add and Save read
    assert kept.pixels is not None and kept.pixels.shape == (28, 28)
    # The same from the PNG; without the network when the page has it off; in the page's language.
    same = qa.answer(body(ticket, image=png_url(image)), OWNER, SECRET)
    assert same["panel"] == found["panel"]
    quiet = qa.answer(body(qa.sign(settings(created, network=False, language="fr"), SECRET), alpha=alpha_of(image)),
                      OWNER, SECRET)
    assert "draw-network" not in quiet["panel"] and "sûr" in quiet["panel"]


def test_an_empty_canvas_forgets_the_drawing_and_says_what_to_do(created):
    """...in its own tab: another tab of the same browser keeps its drawing for its Add and Save."""
    from ui.last_drawing import last_drawings, tab_drawings

    ticket, other_tab = qa.sign(settings(created), SECRET), qa.sign(settings(created, tab="tab-2"), SECRET)
    qa.answer(body(other_tab, alpha=alpha_of(draw_seven())), OWNER, SECRET)
    qa.answer(body(ticket, alpha=alpha_of(draw_seven(dx=20))), OWNER, SECRET)
    empty = qa.answer(body(ticket, alpha=alpha_of(np.zeros((280, 280, 4), np.uint8))), OWNER, SECRET)
    assert empty["digit"] is None and empty["compact"] == "" and "Draw a digit in the box" in empty["panel"]
    assert last_drawings().get(OWNER) is None and tab_drawings().get("tab-1") == (None,)
    assert np.array_equal(tab_drawings().get("tab-2")[0].image, draw_seven())


def test_a_changed_model_a_huge_body_or_no_json_is_refused_and_nothing_is_kept(created):
    from ui.last_drawing import last_drawings

    image = alpha_of(draw_seven())
    cases = {409: body(qa.sign(settings("another-version"), SECRET), alpha=image),
             413: b" " * (qa.MAX_BODY + 1), 400: b"{not json"}
    for status, sent in cases.items():
        with pytest.raises(qa.Refused) as e:
            qa.answer(sent, OWNER, SECRET)
        assert e.value.status == status
    assert last_drawings().get(OWNER) is None


def test_no_route_no_ticket(env):
    """Outside a server started through app.py's App (AppTest here) the page gets no ticket: strokes rerun."""
    qa._served.clear()
    assert qa.ticket(OWNER, "default", "v1", "cpu", 0.8, True, "en", {}, "tab-1") is None


def test_one_answer_at_a_time_per_browser(created):
    """A second request of the same browser while its first is being read is refused; another browser's is not."""
    ticket = qa.sign(settings(created), SECRET)
    with qa.one_at_a_time(OWNER):
        with pytest.raises(qa.Refused) as e:
            qa.answered(body(ticket, alpha=alpha_of(draw_seven())), OWNER, SECRET, zipped=False)
        assert e.value.status == 429
        other = "p" * 32
        theirs = qa.sign(settings(created, who=qa.owner_tag(other)), SECRET)
        found = qa.answered(body(theirs, alpha=alpha_of(draw_seven())), other, SECRET, zipped=False)
        assert json.loads(found)["digit"] == 7
    zipped = qa.answered(body(ticket, alpha=alpha_of(draw_seven())), OWNER, SECRET, zipped=True)
    assert json.loads(gzip.decompress(zipped))["digit"] == 7


def test_odd_requests_are_refused_in_a_line_not_a_traceback(created):
    """What a hostile student sent (helper session, 2026-12-07): a non-ASCII MAC, JSON nested 1,500 deep, strokes
    of 2 MB of tiny objects (kept, they held ~48 MB of memory)."""
    ticket = qa.sign(settings(created), SECRET)
    deep = b"[" * 1500 + b"]" * 1500
    huge = json.dumps({"ticket": ticket, "alpha": alpha_of(draw_seven()), "strokes": {"objects": [{}] * 150_000}})
    for sent, status in ((json.dumps({"ticket": "a.\u00e9"}).encode(), 403), (deep, 400), (huge.encode(), 413)):
        with pytest.raises(qa.Refused) as e:
            qa.answer(sent, OWNER, SECRET)
        assert e.value.status == status and "\n" not in str(e.value)



async def post(app, data: bytes, owner: str, method: str = "POST", path: str | None = None) -> tuple[int, bytes]:
    """One request (a POST to the route, unless told) through the ASGI app itself, no socket: its status and body."""
    path = qa.url() if path is None else path
    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": [(b"cookie", f"{qa.COOKIE}={owner}".encode())], "http_version": "1.1", "scheme": "http",
             "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1), "root_path": ""}
    received, said = [{"type": "http.request", "body": data, "more_body": False}], []

    async def receive() -> dict:
        return received.pop(0) if received else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        said.append(message)

    await app(scope, receive, send)
    return said[0]["status"], b"".join(m.get("body", b"") for m in said[1:])


@pytest.fixture
def route(created, monkeypatch):
    """The route in front of an app that answers 404 to anything else, signing with SECRET as the server's cookie
    secret."""
    from starlette.applications import Starlette
    from streamlit import config

    before = config.get_option("server.cookieSecret")
    config.set_option("server.cookieSecret", SECRET)
    yield qa.Front(Starlette())
    config.set_option("server.cookieSecret", before)


def test_the_route_reads_one_drawing_at_a_time_and_a_browser_still_being_read_is_refused(created, route,
                                                                                           monkeypatch):
    """Answers are made one at a time (with a thread each, 120 students' answers waited on each other for
    Python's lock: p95 2.5 s, 0.11 s one at a time, benchmarks/load.py): four browsers posting at once are each
    answered, never two answers made at once; a browser whose answer is still being made (a click reading its
    drawing meanwhile waits for it: `settle`) is refused at once rather than read twice."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    running, most = [0], [0]
    real = qa.answer_bytes

    def counted(data: bytes, owner: str | None, secret: str, zipped: bool) -> bytes:
        running[0] += 1
        most[0] = max(most[0], running[0])
        try:
            time.sleep(0.05)  # a slow answer: a second one made meanwhile (another thread) would be counted
            return real(data, owner, secret, zipped)
        finally:
            running[0] -= 1

    monkeypatch.setattr(qa, "answer_bytes", counted)

    def drawing(owner: str) -> bytes:
        return body(qa.sign(settings(created, who=qa.owner_tag(owner)), SECRET), alpha=alpha_of(draw_seven()))

    async def lesson() -> tuple[tuple[int, bytes], list[tuple[int, bytes]]]:
        owners = ["a" * 32, "b" * 32, "c" * 32, "d" * 32]
        answers = await asyncio.gather(*(post(route, drawing(owner), owner) for owner in owners))
        with qa.one_at_a_time("e" * 32):  # e's answer being made when e posts again
            again = await post(route, drawing("e" * 32), "e" * 32)
        return again, list(answers)

    # On a thread of its own: a browser test's Playwright may hold this thread's event loop (same worker).
    with ThreadPoolExecutor(1) as pool:
        again, answers = pool.submit(asyncio.run, lesson()).result(timeout=60)
    assert again[0] == 429 and "one drawing at a time" in json.loads(again[1])["error"]
    assert [status for status, _ in answers] == [200] * 4
    assert all(json.loads(content)["digit"] == 7 for _, content in answers)
    assert most[0] == 1


def test_the_route_stands_in_front_of_the_app_and_lets_every_other_request_through(created, route):
    """Front answers its one path itself (a drawing posted; anything else there is refused with a line) and hands
    every other request to the app behind it untouched (here Starlette's bare 404)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    async def requests() -> list[tuple[int, bytes]]:
        return [await post(route, b"", OWNER, method="GET"), await post(route, b"", OWNER),
                await post(route, b"", OWNER, path="/_stcore/health")]

    with ThreadPoolExecutor(1) as pool:
        (get, empty, other) = pool.submit(asyncio.run, requests()).result(timeout=60)
    assert get[0] == 405 and "posted" in json.loads(get[1])["error"]
    assert empty[0] == 400 and "JSON" in json.loads(empty[1])["error"]
    assert other[0] == 404
