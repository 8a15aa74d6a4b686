"""The classroom load test: simulated students speaking Streamlit's own websocket protocol to the app.

    python benchmarks/load.py --students 30 [--runs 2 [--hidden 32]] [--seconds 60] [--cold] [--url URL] --json

Starts `streamlit run app.py` on a free loopback port with its own empty model store (unless --url).
Each student opens the Draw page the way Chromium does (a `rerun_script` BackMsg naming the page), then
every 2 s sends a new real MNIST test digit as the canvas sends it on mouse-up (the fabric.js drawing and a
PNG data URL): where the page hands the canvas a quick answer's route and ticket (ui/quick_answer.py), as
an HTTP POST there (the picture's alpha plane, deflated, as Chromium's canvas sends it) on one keep-alive
connection, with the owner cookie the page's script writes, and times
the response; else as the canvas widget's value, timing send -> the ForwardMsg that carries the predicted
digit, then fetching the pictures that answer shows (`/media/...`, one HTTP request each, as Chromium does
right after, on the server's same event loop). Either way the digit is checked. K of the
students first open Train and click Train (the recommended preset, 1 epoch), keeping the page's live
fragment polling as the browser would, and wait for "saved". --cold sends every join at once to a
server no one has opened yet. Prints one JSON object, with the server's memory after the warm-up and
at the end (`server_rss_mb_warm`, `server_rss_mb`). Through `python -m mnist_core serve`, give --url
and --server-pids (it prints them); each student keeps its own cookies.
--baseline DIR runs the same class a second time against `streamlit run app.py` from DIR (a git worktree
of an older commit) and prints both, side by side, with the ratio of their server CPU per answer. The older
tree's server runs without the optional speed-ups its requirements lack (SPEEDUPS: Streamlit takes them
whenever installed), as a fresh clone of it would.
Loopback only; every loop is bounded; the server it started is stopped by PID.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gzip
import io
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import websockets
from PIL import Image
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from benchmarks.suite_cpu import cpu_seconds  # noqa: E402

CANVAS = 280  # pages/draw.py draws a 280 x 280 canvas
DRAW_EVERY = 2.0  # seconds between a student's drawings
JOIN_TIMEOUT = 90.0  # a join that shows no canvas within this is a join failure
ANSWER_TIMEOUT = 30.0  # a drawing without an answer within this is an error
RUN_TIMEOUT = 600.0  # the most the test waits for queued runs after the drawing ends
PREDICTED = re.compile(r"data-testid='predicted-digit'[^>]*>(\d)<")
MARKER = re.compile(r"data-testid='reading-marker'[^>]*>([0-9a-z-]+)<")
SAVED = re.compile(r"Trained \d+ epochs?; saved as \*\*([^*]+)\*\*")
FAILED = re.compile(r"Training failed|Stopped before training began|MNIST is not in")
# What Chromium's Streamlit client sends as context on every rerun (captured with Playwright).
CONTEXT = {"timezone": "UTC", "timezone_offset": 0, "locale": "en-US", "is_embedded": False, "color_scheme": "light"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- the drawings
@dataclass
class Drawing:
    label: int
    value: str  # the canvas widget's JSON value, as the browser sends it
    alpha: dict | None = None  # its alpha plane as the canvas sends it to a quick answer's route (made once)

    def alpha_plane(self) -> dict:
        """What the canvas's script sends a quick answer's route: the picture's alpha plane (its ink), deflated."""
        if self.alpha is None:
            encoded = json.loads(self.value)["drawing"]["data"].split(";base64,", 1)[1]
            plane = np.asarray(Image.open(io.BytesIO(base64.b64decode(encoded))).convert("RGBA"))[..., 3]
            self.alpha = {"width": int(plane.shape[1]), "height": int(plane.shape[0]),
                          "deflated": base64.b64encode(zlib.compress(plane.tobytes())).decode("ascii")}
        return self.alpha


def canvas_value(digit: np.ndarray) -> str:
    """An MNIST digit (28, 28) uint8 as the drawable canvas reports a drawing: black ink on a transparent
    280 x 280 canvas as a PNG data URL, plus a fabric.js path through the ink (the `raw` drawing)."""
    alpha = Image.fromarray(digit).resize((CANVAS, CANVAS), Image.BILINEAR)
    rgba = np.zeros((CANVAS, CANVAS, 4), np.uint8)
    rgba[..., 3] = np.asarray(alpha)
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG")
    ys, xs = np.nonzero(digit > 128)
    order = np.argsort(ys * 28 + xs)[:: max(1, len(ys) // 40)]
    path = [["M" if i == 0 else "L", float(xs[j] * 10 + 5), float(ys[j] * 10 + 5)] for i, j in enumerate(order)]
    stroke = {"type": "Path", "version": "7.4.0", "originX": "center", "originY": "center", "left": 140,
              "top": 140, "width": 200, "height": 200, "fill": None, "stroke": "#000000", "strokeWidth": 18,
              "strokeLineCap": "round", "strokeLineJoin": "round", "scaleX": 1, "scaleY": 1, "path": path}
    raw = {"version": "7.4.0", "objects": [stroke]}
    data = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    return json.dumps({"drawing": {"raw": raw, "data": data}}, separators=(",", ":"))


def real_digits(count: int) -> list[Drawing]:
    """`count` MNIST test digits that the built-in model reads right from their canvas PNG (decoded the
    way the canvas package does), so that any wrong answer under load is the server's fault."""
    import torch

    from mnist_core.net.data import find_data_dir, read_idx
    from mnist_core.net.evaluate import read_digit
    from mnist_core.storage.models import ModelStore

    torch.set_num_threads(1)
    data_dir = find_data_dir(os.environ.get("MNIST_DIR") or PROJECT.parent / "shared" / "data" / "mnist")
    images = read_idx(data_dir / "t10k-images-idx3-ubyte.gz", "images")
    labels = read_idx(data_dir / "t10k-labels-idx1-ubyte.gz", "labels")
    with tempfile.TemporaryDirectory() as empty:
        model, _, _ = ModelStore(empty).load("default", "cpu")
    chosen: list[Drawing] = []
    for index in np.random.default_rng(0).permutation(len(images)):
        value = canvas_value(images[index])
        encoded = json.loads(value)["drawing"]["data"].split(";base64,", 1)[1]
        picture = np.asarray(Image.open(io.BytesIO(base64.b64decode(encoded))))
        if read_digit(model, picture).digit == int(labels[index]):
            chosen.append(Drawing(int(labels[index]), value))
        if len(chosen) == count:
            return chosen
    return chosen


# ---------------------------------------------------------------- one browser session over the protocol
@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    join_failures: list[str] = field(default_factory=list)
    wrong: int = 0
    pictures: int = 0  # /media pictures fetched after the answers
    quick: int = 0  # answers that came from the quick answer's route (no script rerun)
    runs_queued: int = 0
    runs_saved: int = 0
    runs_failed: int = 0
    cpu_start: float | None = None  # the server's CPU seconds when the class starts, and when it ends
    cpu_end: float | None = None
    rss_warm: float | None = None  # the server's MB after the warm-up (a cold class: before it joins), at the end
    rss_end: float | None = None


class Session:
    """One simulated browser tab: sends BackMsgs, reads ForwardMsgs, remembers widgets, fragments and the
    messages the server lets it cache (it sends their hashes back, as the browser does)."""

    def __init__(self, ws, url: str, query: str = "", base: str = "", cookies: str = "") -> None:
        self.ws, self.url, self.query, self.base, self.cookies = ws, url, query, base, cookies
        self.fetches: list[asyncio.Task] = []  # the pictures the browser fetches, this answer's
        self.fetched = 0
        self.page_hash = ""
        self.widgets: dict[str, object] = {}  # element kind + label/key -> widget id
        self.fragment_of: dict[str, str] = {}  # widget id -> id of the fragment that drew it
        self.cache: dict[str, ForwardMsg] = {}
        self.auto_rerun: dict[str, float] = {}  # fragment id -> interval the browser reruns it at
        self.texts: list[str] = []  # markdown and alert bodies since the last send
        self.exceptions: list[str] = []
        self.finished = asyncio.Event()
        self.pages: list[str] = []
        self.quick: dict | None = None  # the canvas's quick answer route and ticket, where the page gave them
        self.http: Http | None = None
        self.reader = asyncio.get_running_loop().create_task(self._read())

    async def send(self, page_name: str = "", widgets: list | None = None, fragment: str = "",
                   auto: bool = False) -> None:
        """A `rerun_script` as the browser sends it: a page by name on the first view, else this page's
        hash; the widgets that changed (the browser sends every widget's value: the server keeps the
        others' last values either way), the fragment that drew them, the cached messages' hashes."""
        msg = BackMsg()
        rerun = msg.rerun_script
        rerun.query_string = self.query
        if page_name:
            rerun.page_name = page_name
        else:
            rerun.page_script_hash = self.page_hash
        for widget in widgets or []:
            rerun.widget_states.widgets.append(widget)
        if fragment:
            rerun.fragment_id = fragment
            rerun.is_auto_rerun = auto
        rerun.cached_message_hashes.extend(self.cache)
        for key, value in CONTEXT.items():
            setattr(rerun.context_info, key, value)
        rerun.context_info.url = self.url
        self.finished.clear()
        self.texts.clear()
        await self.ws.send(msg.SerializeToString())

    async def _read(self) -> None:
        try:
            await self._read_all()
        except websockets.ConnectionClosedError as e:  # not our own close
            self.exceptions.append(f"the server closed the connection: {e}")

    async def _read_all(self) -> None:
        async for raw in self.ws:
            msg = ForwardMsg()
            msg.ParseFromString(raw)
            kind = msg.WhichOneof("type")
            if kind == "ref_hash":
                if msg.ref_hash not in self.cache:
                    self.exceptions.append(f"server referred to a message this client never had: {msg.ref_hash}")
                    continue
                cached = ForwardMsg()
                cached.CopyFrom(self.cache[msg.ref_hash])
                cached.metadata.CopyFrom(msg.metadata)
                msg, kind = cached, cached.WhichOneof("type")
            elif msg.metadata.cacheable and msg.hash:
                self.cache[msg.hash] = msg
            if kind == "new_session":
                self.page_hash = msg.new_session.page_script_hash
            elif kind == "navigation":
                self.page_hash = msg.navigation.page_script_hash or self.page_hash
                self.pages = [page.url_pathname or page.page_name for page in msg.navigation.app_pages]
            elif kind == "delta":
                self._delta(msg)
            elif kind == "auto_rerun":
                self.auto_rerun[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
            elif kind == "stop_auto_rerun":
                for fragment in msg.stop_auto_rerun.fragment_ids:
                    self.auto_rerun.pop(fragment, None)
            elif kind == "script_finished":
                if msg.script_finished == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                    self.exceptions.append("the script did not compile")
                if msg.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:  # a rerun follows that one
                    self.finished.set()
            elif kind == "page_not_found":
                self.exceptions.append(f"page not found: {msg.page_not_found.page_name}")

    def _delta(self, msg: ForwardMsg) -> None:
        delta = msg.delta
        if delta.WhichOneof("type") != "new_element":
            return
        element = delta.new_element
        kind = element.WhichOneof("type")
        if kind == "markdown":
            self.texts.append(element.markdown.body)
        elif kind == "alert":
            self.texts.append(element.alert.body)
        elif kind == "exception":
            self.exceptions.append(f"{element.exception.type}: {element.exception.message}")
        elif kind == "imgs":
            for picture in element.imgs.imgs:
                if picture.url.startswith("/media/"):  # a data: URI is in the message already
                    self.fetches.append(asyncio.get_running_loop().create_task(self._fetch(picture.url)))
        elif kind == "bidi_component":
            component = element.bidi_component
            try:
                data = json.loads(component.json) if component.json else {}
            except ValueError:
                data = {}
            if component.component_name.endswith("drawable_canvas"):
                self.widgets["canvas"] = component.id
                self.fragment_of[component.id] = delta.fragment_id
                self.quick = data.get("quickAnswer") if isinstance(data, dict) else None
            elif component.component_name.endswith("answer_slot") and isinstance(data.get("html"), str):
                self.texts.append(data["html"])  # a slot's answer as the page's run made it
            elif component.component_name.endswith("owner_cookie") and data.get("name") and data.get("value"):
                # What the page's script does with it: the browser's cookie, sent with its next requests.
                jar = dict(c.split("=", 1) for c in self.cookies.split("; ") if "=" in c)
                jar[data["name"]] = data["value"]
                self.cookies = "; ".join(f"{k}={v}" for k, v in jar.items())
        elif kind == "button":
            self.widgets[f"button:{element.button.label}"] = element.button.id
        elif kind == "number_input":
            self.widgets[f"number:{element.number_input.label}"] = element.number_input.id
        elif kind == "text_input":
            self.widgets[f"text:{element.text_input.label}"] = element.text_input.id

    async def _fetch(self, path: str) -> None:
        """GET one picture as the browser does (its own connection, the page's cookies); a failed fetch is
        an exception of this session's answer."""
        host, port = urllib.parse.urlparse(self.base).hostname, urllib.parse.urlparse(self.base).port
        prefix = urllib.parse.urlparse(self.base).path.rstrip("/")
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), ANSWER_TIMEOUT)
            cookie = f"Cookie: {self.cookies}\r\n" if self.cookies else ""
            writer.write(f"GET {prefix}{path} HTTP/1.1\r\nHost: {host}:{port}\r\n{cookie}Connection: close\r\n\r\n"
                         .encode())
            body = await asyncio.wait_for(reader.read(), ANSWER_TIMEOUT)
            writer.close()
        except (OSError, TimeoutError) as e:
            self.exceptions.append(f"picture {path}: {e}")
            return
        status = body.split(b"\r\n", 1)[0]
        if b" 200 " not in status + b" ":
            self.exceptions.append(f"picture {path}: {status.decode(errors='replace')}")
        else:
            self.fetched += 1

    async def pictures(self) -> None:
        """Waits for the pictures of the last answer to be fetched."""
        fetches, self.fetches = self.fetches, []
        await asyncio.gather(*fetches)

    async def run_to_end(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self.finished.wait(), timeout)
            return True
        except TimeoutError:
            return False


class Http:
    """One keep-alive HTTP/1.1 connection to the server, as a browser keeps one for its requests."""

    def __init__(self, base: str) -> None:
        parts = urllib.parse.urlparse(base)
        self.host, self.port = parts.hostname, parts.port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, cookies: str) -> tuple[int, bytes]:
        """(status, body) of one POST of JSON; reconnects once where the server closed the connection."""
        for attempt in (1, 2):
            try:
                if self.writer is None:
                    self.reader, self.writer = await asyncio.wait_for(
                        asyncio.open_connection(self.host, self.port), ANSWER_TIMEOUT)
                cookie = f"Cookie: {cookies}\r\n" if cookies else ""
                # As Chromium asks: the server compresses the answer (Streamlit's gzip middleware), which is
                # CPU the server spends on every answer.
                self.writer.write(f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{cookie}"
                                  f"Accept-Encoding: gzip, deflate, br, zstd\r\nContent-Type: application/json\r\n"
                                  f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
                head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), ANSWER_TIMEOUT)
                lines = head.decode("latin-1").split("\r\n")
                status = int(lines[0].split()[1])
                fields = (line.partition(":") for line in lines[1:] if line)
                headers = {k.strip().lower(): v.strip() for k, _, v in fields}
                if headers.get("transfer-encoding", "").lower() == "chunked":
                    payload = b""
                    while size := int((await asyncio.wait_for(self.reader.readline(), ANSWER_TIMEOUT)).strip(), 16):
                        payload += await asyncio.wait_for(self.reader.readexactly(size + 2), ANSWER_TIMEOUT)
                        payload = payload[:-2]
                    await self.reader.readline()
                else:
                    payload = await asyncio.wait_for(self.reader.readexactly(int(headers.get("content-length", "0"))),
                                                     ANSWER_TIMEOUT)
                encoding = headers.get("content-encoding", "")
                if encoding == "gzip":
                    payload = gzip.decompress(payload)
                elif encoding:
                    raise ValueError(f"an answer encoded as {encoding}, which this client did not ask for")
                return status, payload
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as e:
                self.close()
                if attempt == 2:
                    raise OSError(f"POST {path}: {e}") from None
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def quick_answer(session: Session, drawing: Drawing) -> int | None:
    """One drawing sent as the canvas sends it to the quick answer's route; its digit, or None (an exception of
    the session says why)."""
    sent = json.loads(drawing.value)["drawing"]
    body = json.dumps({"ticket": session.quick["ticket"], "alpha": drawing.alpha_plane(), "strokes": sent["raw"]},
                      separators=(",", ":")).encode()
    session.http = session.http or Http(session.base)
    prefix = urllib.parse.urlparse(session.base).path.rstrip("/")
    path = session.quick["url"] if session.quick["url"].startswith("/") else f"{prefix}/{session.quick['url']}"
    try:
        status, answer = await session.http.post(path, body, session.cookies)
    except OSError as e:
        session.exceptions.append(str(e))
        return None
    if status != 200:
        session.exceptions.append(f"quick answer: HTTP {status}: {answer[:200].decode(errors='replace')}")
        return None
    found = json.loads(answer)
    shown = PREDICTED.search(found.get("panel") or "")
    if found.get("digit") is None or shown is None or int(shown.group(1)) != found["digit"]:
        session.exceptions.append(f"quick answer without its digit: {str(found)[:200]}")
        return None
    return int(found["digit"])


def widget(widget_id: str, **value) -> object:
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    state = WidgetState(id=widget_id)
    for name, v in value.items():
        if name == "double_array_value":
            state.double_array_value.data.extend(v)
        else:
            setattr(state, name, v)
    return state


def page_cookies(base: str) -> str:
    """The cookies a browser keeps from loading the page (behind `mnist_core serve`, HAProxy's: which app
    process holds this student's session), as a Cookie header; each student has a jar of its own."""
    with urllib.request.urlopen(base, timeout=JOIN_TIMEOUT) as response:
        return "; ".join(c.split(";", 1)[0] for c in response.headers.get_all("Set-Cookie") or [])


async def join(base: str, page: str, tally: Tally, query: str = "") -> Session | None:
    """Opens a page as a browser's first view does (the page, then the websocket with the page's cookies);
    None (and a join failure) unless it renders cleanly."""
    ws_url = base.replace("http", "ws", 1) + "_stcore/stream"
    try:
        cookies = await asyncio.to_thread(page_cookies, base)
        ws = await websockets.connect(ws_url, subprotocols=["streamlit"], max_size=2**26, open_timeout=JOIN_TIMEOUT,
                                      ping_interval=None, additional_headers={"Cookie": cookies} if cookies else None)
    except (OSError, TimeoutError, websockets.InvalidHandshake) as e:
        tally.join_failures.append(f"connect: {e}")
        return None
    session = Session(ws, base + page + (f"?{query}" if query else ""), query, base, cookies)
    await session.send(page_name=page)
    ready = await session.run_to_end(JOIN_TIMEOUT)
    folder_pages = "app" in session.pages  # the old pages-folder sidebar lists app.py itself
    problem = (session.exceptions and f"exception: {session.exceptions[0]}") or \
        (not ready and "no end of the first run") or \
        (folder_pages and "the pages-folder app, not app.py's navigation") or \
        (page == "draw" and "canvas" not in session.widgets and "no canvas") or \
        (page == "" and "button:Train" not in session.widgets and "no Train button")
    if problem:
        tally.join_failures.append(str(problem)[:300])
        await ws.close()
        return None
    return session


async def student(base: str, digits: list[Drawing], offset: int, start_at: float, until: float, tally: Tally,
                  warm: bool) -> None:
    """Opens Draw, then draws digits[offset], digits[offset + 1], ... one every 2 s until `until`."""
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    session = await join(base, "draw", tally)
    if session is None:
        return
    canvas = session.widgets["canvas"]
    fragment = session.fragment_of.get(canvas, "")
    await asyncio.sleep(random.random() * DRAW_EVERY)  # students do not draw in step
    n = 0
    try:
        while time.monotonic() < until:
            drawing = digits[(offset + n) % len(digits)]
            n += 1
            next_at = time.monotonic() + DRAW_EVERY
            sent = time.monotonic()
            if session.quick:
                answer = await quick_answer(session, drawing)
                took = time.monotonic() - sent
                tally.quick += answer is not None
            else:
                await session.send(widgets=[widget(canvas, json_value=drawing.value)], fragment=fragment)
                answer = await answer_of(session, ANSWER_TIMEOUT)
                took = time.monotonic() - sent
            if answer is not None and not session.quick:  # the rest of the answer, its pictures, as a browser
                await session.run_to_end(ANSWER_TIMEOUT)
                await session.pictures()
                if session.exceptions:
                    answer = None
            if answer is None:
                tally.errors.append(session.exceptions[-1] if session.exceptions else "no answer within "
                                    f"{ANSWER_TIMEOUT:.0f} s")
                session.exceptions.clear()
            else:
                if warm:
                    tally.latencies.append(took)
                if answer != drawing.label:
                    tally.wrong += 1
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    finally:
        tally.pictures += session.fetched
        if session.http is not None:
            session.http.close()
        await session.ws.close()


async def answer_of(session: Session, timeout: float) -> int | None:
    """The predicted digit, as soon as the delta carrying it arrives; None on an exception or timeout."""
    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline:
        for text in session.texts[seen:]:
            if found := PREDICTED.search(text):
                return int(found.group(1))
        seen = len(session.texts)
        if session.exceptions:
            return None
        await asyncio.sleep(0.002)
    return None


async def trainer(base: str, number: int, start_at: float, tally: Tally, stop_polling_at: float,
                  hidden: str | None = None) -> None:
    """Opens Train, sets 1 epoch (and `hidden` layers, else the preset's), clicks Train, polls the live
    fragments as the browser does (their `auto_rerun` intervals) and counts the run saved when the page says so."""
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    session = await join(base, "", tally)
    if session is None:
        return
    try:
        epochs = session.widgets.get("number:Epochs")
        if epochs is None:
            tally.errors.append("no Epochs input on the Train page")
            return
        settings = [widget(epochs, int_value=1)]
        if hidden is not None:
            if "text:Hidden layers" not in session.widgets:
                tally.errors.append("no Hidden layers box on the Train page")
                return
            settings.append(widget(session.widgets["text:Hidden layers"], string_value=hidden))
        await session.send(widgets=settings)  # each message carries every setting, as the browser's does
        await session.run_to_end(ANSWER_TIMEOUT)
        await session.send(widgets=[*settings, widget(session.widgets["button:Train"], trigger_value=True)])
        await session.run_to_end(ANSWER_TIMEOUT)
        if session.exceptions:
            tally.errors.append(f"train click: {session.exceptions[0]}")
            return
        tally.runs_queued += 1
        last = {}
        while time.monotonic() < stop_polling_at:
            if any(SAVED.search(t) for t in session.texts):
                tally.runs_saved += 1
                return
            if any(FAILED.search(t) for t in session.texts):
                tally.runs_failed += 1
                tally.errors.append("a run failed: " + next(t for t in session.texts if FAILED.search(t))[:200])
                return
            if session.exceptions:
                tally.errors.append(f"training page: {session.exceptions[0]}")
                return
            now = time.monotonic()
            for fragment, interval in list(session.auto_rerun.items()):
                if now - last.get(fragment, 0) >= interval and session.finished.is_set():
                    last[fragment] = now
                    texts = list(session.texts)
                    await session.send(fragment=fragment, auto=True)
                    session.texts.extend(texts)  # keep what the page said since the click
            await asyncio.sleep(0.1)
        tally.errors.append(f"trainer {number}: run not saved within the wait")
    finally:
        await session.ws.close()


# ---------------------------------------------------------------- the server
def rss_mb(pids: list[int]) -> float:
    """Resident memory of the server processes together (training children not included)."""
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def server_cpu_seconds(pids: list[int]) -> float:
    """CPU time the server processes have used (all their threads; training children not included)."""
    return sum(cpu_seconds(pid) for pid in pids)


def required(project: Path) -> set[str]:
    """The packages a tree's requirements.txt pins, as import names ('uvloop', 'segno'; '-' read as '_')."""
    path = project / "requirements.txt"
    lines = path.read_text().splitlines() if path.exists() else []
    return {re.split(r"[=<>~!\[; ]", line.strip(), maxsplit=1)[0].lower().replace("-", "_")
            for line in lines if line.strip() and not line.lstrip().startswith(("#", "-"))}


# Streamlit's "performance" extra: its server takes each of these whenever it is installed, whether or not a tree's
# requirements ask for it; one environment serving two trees would hand the older one this tree's.
SPEEDUPS = ("httptools", "uvloop")


def blocked_packages(project: Path, folder: Path) -> str | None:
    """A folder for an older tree's PYTHONPATH in which each of the SPEEDUPS its requirements lack fails to
    import, so that its server runs as a fresh clone of it would (pip install -r its requirements.txt); None
    when it lacks none."""
    lacking = [name for name in SPEEDUPS if name not in required(project)] if project != PROJECT else []
    return blocking(lacking, folder, f"not in the requirements of {project}") if lacking else None


def blocking(names: list[str], folder: Path, why: str) -> str:
    """A folder that, first on PYTHONPATH, makes each of `names` fail to import (ModuleNotFoundError, as when it
    is not installed)."""
    for name in names:
        (folder / "blocked" / name).mkdir(parents=True, exist_ok=True)
        (folder / "blocked" / name / "__init__.py").write_text(f"raise ModuleNotFoundError('{name}: {why}')\n")
    return str(folder / "blocked")


class Server:
    """`streamlit run app.py` on a free loopback port with its own model store; stopped by PID. An older tree
    (`project`) runs without the packages its requirements lack (`blocked_packages`); any tree without those in
    `block` (a comparison)."""

    def __init__(self, folder: Path, project: Path = PROJECT, block: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.store = folder / "models"
        data = os.environ.get("MNIST_DIR") or str(PROJECT.parent / "shared" / "data" / "mnist")
        env = {**os.environ, "MNIST_DIR": data, "MNIST_MODELS": str(self.store)}
        blocked = blocking(list(block), folder, "blocked for a comparison") if block else None
        blocked = blocked_packages(project, folder) or blocked  # the same folder: both sets blocked
        if blocked:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [blocked, env.get("PYTHONPATH")]))
            print(f"{project}: its server runs without {', '.join(sorted(os.listdir(blocked)))}",
                  file=sys.stderr)
        self.log_path = folder / "streamlit.log"
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port",
             str(self.port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
            cwd=project, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"streamlit did not answer on {self.url}; see {self.log_path}")

    def saved_runs(self) -> int:
        return len(list(self.store.glob("*.pt"))) if self.store.exists() else 0

    def saved_layers(self) -> list[str]:
        """The saved runs' layer sizes ("784-32-10"), as their files record them."""
        from mnist_core.net.model import layers_label
        from mnist_core.storage.models import ModelStore

        listed = ModelStore(self.store, builtin_dir=None).list() if self.store.exists() else []
        return sorted(layers_label(tuple(e.meta.model["hidden"])) for e in listed if e.meta is not None)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.log.close()


async def warm_up(base: str, digits: list[Drawing], sessions: int = 1) -> None:
    """First drawings of `sessions` students at once (one per server process: a balancer sends each to the
    least busy), so that a warm run measures a served class, not the first imports."""
    tally = Tally()
    joined = await asyncio.gather(*(join(base, "draw", tally) for _ in range(sessions)))
    if None in joined:
        raise RuntimeError(f"a warm-up session could not open Draw: {tally.join_failures}")
    for session in joined:
        if session.quick:
            await quick_answer(session, digits[0])
            continue
        await session.send(widgets=[widget(session.widgets["canvas"], json_value=digits[0].value)],
                           fragment=session.fragment_of.get(session.widgets["canvas"], ""))
    await asyncio.gather(*(answer_of(session, 120) for session in joined if not session.quick))
    for session in joined:
        if session.http is not None:
            session.http.close()
        await session.ws.close()


async def load(base: str, students: int, runs: int, seconds: float, cold: bool, digits: list[Drawing],
               pids: list[int], hidden: str | None = None) -> Tally:
    """The class; `pids`: the server's processes (their CPU and memory are measured; none: not measured)."""
    tally = Tally()
    if not cold:
        await warm_up(base, digits, max(1, len(pids)))
    tally.cpu_start = server_cpu_seconds(pids) if pids else None
    tally.rss_warm = rss_mb(pids) if pids else None
    start = time.monotonic()
    # A cold class joins within a second; a warm one over the first two seconds.
    spread = 1.0 if cold else 2.0
    until = start + seconds
    tasks = [student(base, digits, i * 7, start + spread * i / max(1, students), until, tally, warm=True)
             for i in range(students - runs)]
    tasks += [trainer(base, i, start + spread * i / max(1, runs), tally, until + RUN_TIMEOUT, hidden)
              for i in range(runs)]
    await asyncio.gather(*tasks)
    tally.cpu_end = server_cpu_seconds(pids) if pids else None
    tally.rss_end = rss_mb(pids) if pids else None
    return tally


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return round(float(np.percentile(values, q)), 4)


def measure(args, digits: list[Drawing], project: Path, given_pids: list[int]) -> dict:
    """One class against one server (started from `project`, unless --url without --baseline)."""
    began, client_began = time.monotonic(), time.process_time()
    with tempfile.TemporaryDirectory(prefix="mnist-load-") as folder:
        server = None if args.url and project == PROJECT else Server(Path(folder), project)
        base = server.url if server else args.url.rstrip("/") + "/"
        pids = [server.process.pid] if server else given_pids
        try:
            rss_start = rss_mb(pids) if pids else None
            tally = asyncio.run(load(base, args.students, args.runs, args.seconds, args.cold, digits, pids,
                                     args.hidden))
            saved_on_disk = server.saved_runs() if server else None
            saved_layers = server.saved_layers() if server else None
        finally:
            if server:
                server.stop()
                log = server.log_path.read_text(errors="replace")
                if "Traceback" in log or "Error" in log:
                    print("--- the server's log ended with:\n" + log[-3000:], file=sys.stderr)
    report = {
        "students": args.students, "p50_s": percentile(tally.latencies, 50), "p95_s": percentile(tally.latencies, 95),
        "max_s": round(max(tally.latencies), 4) if tally.latencies else None, "errors": len(tally.errors),
        "join_failures": len(tally.join_failures), "runs_queued": tally.runs_queued, "runs_saved": tally.runs_saved,
        "server_rss_mb": round(tally.rss_end, 1) if tally.rss_end is not None else None,
        "seconds": round(time.monotonic() - began, 1),
        "answers": len(tally.latencies), "wrong_answers": tally.wrong, "cold": args.cold, "runs": args.runs,
        "server_rss_mb_start": round(rss_start, 1) if rss_start is not None else None,
        "server_rss_mb_warm": round(tally.rss_warm, 1) if tally.rss_warm is not None else None,
        "runs_on_disk": saved_on_disk, "runs_layers": saved_layers,
        "first_errors": tally.errors[:3], "first_join_failures": tally.join_failures[:3],
    }
    # This client shares the machine with the server: what it took is what the server could not have.
    report["client_cpu_share"] = round((time.process_time() - client_began) / (time.monotonic() - began), 2)
    if tally.cpu_start is not None and tally.latencies:
        # Everything the server did while the class ran, per answer (joins and Train pages included).
        report["server_cpu_ms_per_answer"] = round(1000 * (tally.cpu_end - tally.cpu_start) / len(tally.latencies), 1)
    if tally.latencies:
        report["mean_s"] = round(statistics.fmean(tally.latencies), 4)
    report["pictures"] = tally.pictures
    report["quick_answers"] = tally.quick
    report["load_average"] = round(os.getloadavg()[0], 2)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, required=True, help="simulated students, trainers included")
    parser.add_argument("--runs", type=int, default=0, help="how many of them click Train (1 epoch) first")
    parser.add_argument("--hidden", help="the trainers' hidden layers ('32'); default: the preset's")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the students draw")
    parser.add_argument("--cold", action="store_true", help="all join a fresh server within a second, no warm-up")
    parser.add_argument("--url", help="an app already running (loopback only); default: start one")
    parser.add_argument("--server-pids", default="", help="with --url: the server's process ids, comma-separated "
                        "(`mnist_core serve` prints them), to report their memory and CPU")
    parser.add_argument("--baseline", help="a folder with another version of the app (a git worktree of an older "
                        "commit): the same class is run against it too, and both are printed with their ratio")
    parser.add_argument("--json", action="store_true", help="print only the JSON object")
    args = parser.parse_args(argv)
    if args.runs > args.students:
        parser.error("--runs counts students who train: at most --students")
    if args.url and urllib.parse.urlparse(args.url).hostname not in ("127.0.0.1", "localhost", "::1"):
        parser.error("--url must be a loopback address: this tool sends load, and only to this machine")
    if not (1 <= args.students <= 1000 and 0 < args.seconds <= 3600):
        parser.error("--students 1..1000 and --seconds up to 3600")
    try:
        given_pids = [int(p) for p in args.server_pids.split(",") if p.strip()]
    except ValueError:
        parser.error("--server-pids: process ids separated by commas, like 1234,1235")
    if given_pids and not args.url:
        parser.error("--server-pids goes with --url (without it, the tool measures the server it starts)")
    digits = real_digits(max(50, min(500, args.students * 4)))
    report = measure(args, digits, PROJECT, given_pids)
    if args.baseline:
        before = measure(args, digits, Path(args.baseline).resolve(), [])
        report = {"new": report, "baseline": before, "baseline_dir": str(Path(args.baseline).resolve())}
        new_cpu, old_cpu = report["new"].get("server_cpu_ms_per_answer"), before.get("server_cpu_ms_per_answer")
        if new_cpu and old_cpu:
            report["cpu_ratio"] = round(old_cpu / new_cpu, 2)  # how many times less CPU the new one takes
        if not args.json:
            for name in ("server_cpu_ms_per_answer", "p50_s", "p95_s", "max_s", "answers", "quick_answers", "pictures",
                         "errors",
                         "wrong_answers", "client_cpu_share", "load_average"):
                print(f"{name:26} {str(before.get(name)):>14} {str(report['new'].get(name)):>14}", file=sys.stderr)
            print(f"{'(baseline, new)':26} ratio of server CPU per answer: {report.get('cpu_ratio')}", file=sys.stderr)
    print(json.dumps(report) if args.json else json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
