"""A stroke answered without a script rerun: the canvas posts its picture to `/api/answer` (an HTTP route the app
serves beside Streamlit, `app.py`), which reads it with the same engine and the same HTML as the page's rerun
(ui/reading.py), keeps it as the browser's last drawing, and sends the answer back for the page to show. A
rerun cost the server 15-30 ms of CPU per stroke, mostly Streamlit's own work per run and per element; this
costs what the reading itself does (benchmarks/load.py). The page hands the canvas a ticket, signed with the
server's cookie secret: which model, device and settings it reads with, for which browser (a hash of its owner
key, checked against its cookie). Anything refused is answered with a status and a line, and the canvas falls
back to a rerun."""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import hmac
import io
import json
import threading
import time
import weakref
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, UnidentifiedImageError

if TYPE_CHECKING:  # torch loads with the first answer, not with app.py
    from mnist_core.net.model import MLP

PATH = "api/answer"  # under the server's base path; /_stcore/ and the like are Streamlit's
MAX_BODY = 2 * 1024 * 1024  # bytes: a 280 x 280 PNG is ~5-20 kB, its strokes' JSON a few more
TOO_BIG = f"a drawing is at most {MAX_BODY // 1024} kB"  # the one line a 413 says
MAX_SIDE = 1024  # pixels: the canvas is 280
TICKET_HOURS = 12.0  # a ticket older than a school day is refused (the page, rerun, gives a new one)
COOKIE = "mnist_owner"  # ui/identity.COOKIE (not imported: this module loads before any page run)
_served: list[bool] = []  # [True] once app.py has made the route for this process


class Refused(Exception):
    """A request the route will not answer: `status` is its HTTP status, the message one line."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Settings:
    """What a ticket says the answer is read with. `who` is a hash of the browser's owner key (the key itself
    is never written into a page's data)."""

    who: str
    model: str
    created: str  # the model's version: a retrained or replaced model refuses the old tickets
    device: str
    threshold: float
    network: bool
    language: str
    links: dict  # what the network's node links carry of the page's session (ui/network.link_params)
    tab: str  # the page's session id: the tab whose last drawing this is (ui/last_drawing.this_tabs_drawing)
    issued: float  # time.time() when the page made it


def owner_tag(owner: str) -> str:
    return hashlib.sha256(b"mnist-quick-answer-owner:" + owner.encode()).hexdigest()[:32]


def _key(secret: str) -> bytes:
    if not secret:
        raise Refused(503, "the server has no cookie secret to sign tickets with")
    return hashlib.sha256(b"mnist-quick-answer:" + secret.encode()).digest()


def sign(settings: Settings, secret: str) -> str:
    """The ticket: the settings as base64 JSON, a dot, their HMAC."""
    payload = base64.urlsafe_b64encode(json.dumps(asdict(settings), sort_keys=True).encode()).decode().rstrip("=")
    mac = hmac.new(_key(secret), payload.encode(), hashlib.sha256).hexdigest()[:32]
    return f"{payload}.{mac}"


def verify(ticket: object, secret: str, owner: str | None, now: float | None = None) -> Settings:
    """The settings of a ticket this server signed for the browser holding `owner` (its cookie), else Refused."""
    if not isinstance(ticket, str) or ticket.count(".") != 1 or len(ticket) > 4096:
        raise Refused(400, "no ticket, or not one")
    payload, mac = ticket.split(".")
    good = hmac.new(_key(secret), payload.encode(), hashlib.sha256).hexdigest()[:32]
    if not hmac.compare_digest(mac.encode(), good.encode()):
        raise Refused(403, "the ticket was not signed by this server")
    try:
        settings = Settings(**json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))
    except (ValueError, TypeError) as e:
        raise Refused(400, f"the ticket cannot be read: {e}") from None
    if not isinstance(settings.links, dict):
        raise Refused(400, "the ticket cannot be read: its links are not a mapping")
    if not owner or not hmac.compare_digest(owner_tag(owner), settings.who):
        raise Refused(403, "the ticket belongs to another browser")
    if (now if now is not None else time.time()) - settings.issued > TICKET_HOURS * 3600:
        raise Refused(403, "the ticket has expired: reload the page")
    return settings


def decode_picture(data_url: object) -> np.ndarray:
    """The canvas's PNG data URL as RGBA uint8 (H, W, 4), as streamlit-drawable-canvas decodes it."""
    if not isinstance(data_url, str) or not data_url.startswith("data:image/png;base64,"):
        raise Refused(400, "the picture must be a PNG data URL")
    try:
        raw = base64.b64decode(data_url.split(",", 1)[1], validate=True)
        with Image.open(io.BytesIO(raw)) as picture:
            if picture.format != "PNG" or max(picture.size) > MAX_SIDE:
                raise Refused(400, f"the picture must be a PNG of at most {MAX_SIDE} pixels a side")
            return np.asarray(picture.convert("RGBA"))
    except (binascii.Error, UnidentifiedImageError, OSError, ValueError):
        raise Refused(400, "the picture cannot be read as a PNG") from None


def inflate_alpha(alpha: object) -> np.ndarray:
    """The drawing as RGBA uint8 (H, W, 4) from its alpha plane ({"width", "height", "deflated": base64 of the
    zlib-deflated H x W bytes}): black ink on a transparent canvas, the same array its PNG decodes to."""
    if not isinstance(alpha, dict):
        raise Refused(400, "the alpha plane must be an object")
    width, height = alpha.get("width"), alpha.get("height")
    if not all(isinstance(v, int) and 0 < v <= MAX_SIDE for v in (width, height)):
        raise Refused(400, f"the picture must be at most {MAX_SIDE} pixels a side")
    try:
        packed = base64.b64decode(str(alpha.get("deflated", "")), validate=True)
        inflater = zlib.decompressobj()
        plane = inflater.decompress(packed, width * height + 1)  # a bomb stops at one byte over
    except (binascii.Error, zlib.error, ValueError) as e:
        raise Refused(400, f"the alpha plane cannot be read: {e}") from None
    if len(plane) != width * height or not inflater.eof:
        raise Refused(400, f"the alpha plane must hold {width} x {height} bytes")
    rgba = np.zeros((height, width, 4), np.uint8)
    rgba[..., 3] = np.frombuffer(plane, np.uint8).reshape(height, width)
    return rgba


def answer(body: bytes, owner: str | None, secret: str) -> dict:
    """One stroke's answer (its picture as a PNG data URL, `image`, or as its alpha plane, `alpha`: the
    canvas's two ways): {"panel": the reading's HTML, "compact": the line under the canvas, "marker",
    "digit" (None when blank)}. The drawing is kept as this browser's last one (None when the canvas is empty),
    as the page's rerun keeps it. Raises Refused."""
    if len(body) > MAX_BODY:
        raise Refused(413, TOO_BIG)
    try:
        request = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Refused(400, "the body must be JSON, nested at most a few hundred deep") from None
    if not isinstance(request, dict):
        raise Refused(400, "the body must be a JSON object")
    settings = verify(request.get("ticket"), secret, owner)
    image = inflate_alpha(request["alpha"]) if "alpha" in request else decode_picture(request.get("image"))
    strokes = request.get("strokes") if isinstance(request.get("strokes"), dict) else None

    from mnist_core.net.evaluate import read_digit
    from mnist_core.storage.models import StoreError
    from ui.caches import loaded_model
    from ui.engine import model_store
    from ui.i18n import speaking
    from ui.last_drawing import keep_drawing_of, MAX_STROKES
    from ui.reading import blank_text, compact_html, hint_html, hint_text, marker_of, reading_html

    strokes_text = None if strokes is None else json.dumps(strokes, separators=(",", ":"))  # made once: kept below
    if strokes_text is not None and len(strokes_text) > MAX_STROKES:
        raise Refused(413, f"the drawing's strokes are over {MAX_STROKES // 1024} kB: clear the canvas")
    try:
        current = model_store().meta(settings.model).created
    except (StoreError, OSError, ValueError):
        current = None
    if current != settings.created:
        raise Refused(409, "the model has changed since the page was drawn")
    model = _model_for(settings, loaded_model)
    drawn = bool(image[..., -1].any())  # the canvas is transparent where unpainted
    reading = read_digit(model, image) if drawn else None
    keep_drawing_of(owner, strokes_text if drawn else None, image if drawn else None,
                    reading.steps.output if reading is not None else None, str(settings.tab))
    marker = marker_of(image)
    with speaking(settings.language):
        if reading is None:
            panel = hint_html(hint_text())
        elif reading.blank:
            panel = hint_html(blank_text(None), marker)
        else:
            panel = reading_html(reading, marker, model, settings.threshold, None, settings.network,
                                 {str(k): str(v) for k, v in settings.links.items()})
        compact = compact_html(reading)
    digit = None if reading is None or reading.blank else int(np.argmax(reading.probs))
    return {"panel": panel, "compact": compact, "marker": marker, "digit": digit}


_models: weakref.WeakValueDictionary = weakref.WeakValueDictionary()  # (name, version, device) -> model


def _model_for(settings: Settings, loaded_model: Callable[[str, str, str], tuple]) -> MLP:
    """The ticket's model as ui.caches.loaded_model holds it, found again without its cache's key making (~0.2
    ms: Streamlit inspects and hashes the arguments). Held weakly: the model goes when that cache drops it."""
    key = (settings.model, settings.created, settings.device)
    model = _models.get(key)
    if model is None:
        model = _models[key] = loaded_model(*key)[0]
    return model


def answered(body: bytes, owner: str | None, secret: str, zipped: bool) -> bytes:
    """`answer` as the response's bytes (`answer_bytes`), the browser marked busy while it is made: a click read in
    a script thread meanwhile (`settle`) waits for it, and a second answer of the same browser is refused (429)."""
    with one_at_a_time(owner):
        return answer_bytes(body, owner, secret, zipped)


def answer_bytes(body: bytes, owner: str | None, secret: str, zipped: bool) -> bytes:
    """`answer` as JSON, gzipped at level 1 where the browser takes gzip (Streamlit's own middleware compresses
    at level 5, on the event loop: 60% more CPU for a 7% smaller answer of ~50 kB)."""
    content = json.dumps(answer(body, owner, secret), ensure_ascii=False, separators=(",", ":")).encode()
    return gzip.compress(content, compresslevel=1) if zipped else content


_busy: set[str] = set()  # the owner keys whose answer is being made
_busy_lock = threading.Lock()


def settle(owner: str, timeout: float = 5.0) -> None:
    """Returns once no answer of this browser is being made (at most `timeout` s): a click read right after a
    stroke (Add to the class) then reads the drawing that stroke made."""
    deadline = time.monotonic() + timeout
    while owner in _busy and time.monotonic() < deadline:
        time.sleep(0.005)


@contextmanager
def one_at_a_time(owner: str | None) -> Iterator[None]:
    with _busy_lock:
        if owner in _busy:
            raise Refused(429, "one drawing at a time: the last one is still being read")
        if owner:
            _busy.add(owner)
    try:
        yield
    finally:
        with _busy_lock:
            _busy.discard(owner)


def served() -> bool:
    """Whether this process serves the route (started through app.py's App: `streamlit run app.py`)."""
    return bool(_served)


def url() -> str:
    """The route's path as the browser asks for it."""
    from streamlit import config

    base = (config.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}/{PATH}" if base else f"/{PATH}"


async def endpoint(request):  # (starlette Request) -> Response: starlette loads with the server, not this module
    """The route: the body read (bounded however its length was declared), then the answer made, one at a time.
    Anything refused is a JSON {"error"} with its status."""
    from starlette.requests import ClientDisconnect
    from starlette.responses import JSONResponse, Response
    from streamlit import config

    if request.method != "POST":
        return JSONResponse({"error": "a drawing is posted"}, status_code=405, headers={"Allow": "POST"})
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        return JSONResponse({"error": TOO_BIG}, status_code=413)
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return JSONResponse({"error": TOO_BIG}, status_code=413)
    except ClientDisconnect:  # the browser left mid-request: nobody to answer
        return Response(status_code=400)
    secret = str(config.get_option("server.cookieSecret") or "")
    zipped = "gzip" in request.headers.get("accept-encoding", "")
    owner = request.cookies.get(COOKIE)
    try:
        # Made on the event loop itself, so one at a time (nothing awaits inside): in a worker thread each answer
        # cost the server 1.2 ms more at 30 students (10.0 against 8.7-8.8 ms, benchmarks/load.py), the thread woken
        # cold after every pause between strokes, for nothing gained under Python's one lock. An answer holds the
        # loop 6-9 ms; at 120 students the answers' p95 was the same either way (26-27 ms).
        content = answered(bytes(body), owner, secret, zipped)
    except Refused as e:
        return JSONResponse({"error": str(e)}, status_code=e.status)
    headers = {"Cache-Control": "no-store", "Vary": "Accept-Encoding"}
    if zipped:
        headers["Content-Encoding"] = "gzip"
    return Response(content, media_type="application/json", headers=headers)


class Front:
    """The route in front of Streamlit's middleware and router (pure ASGI: a request to its one path goes straight
    to `endpoint`; every other passes on untouched). Behind them each post also paid their path checks, session
    cookie, gzip wrapper, error handlers and a match against ~30 routes: a refused post cost the server 1.29-1.32
    ms of CPU there, 1.17-1.20 in front (one keep-alive client, 3,000 posts)."""

    def __init__(self, app) -> None:
        self.app = app
        self.path = url()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"] == self.path:
            from starlette.requests import Request

            response = await endpoint(Request(scope, receive))
            await response(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def middleware() -> list:
    """The route, for app.py's `st.App(..., middleware=middleware())`: served before Streamlit's own (`Front`)."""
    from starlette.middleware import Middleware

    _served[:] = [True]
    return [Middleware(Front)]


def ticket(owner: str, model: str, created: str, device: str, threshold: float, network: bool,
           language: str, links: dict[str, str], tab: str) -> dict | None:
    """What the page hands the canvas ({"url", "ticket"}), None where this process serves no route (AppTest, or
    a server started another way): the canvas then sends each stroke to a rerun, as before."""
    if not served():
        return None
    from streamlit import config

    secret = str(config.get_option("server.cookieSecret") or "")
    if not secret:
        return None
    settings = Settings(owner_tag(owner), model, created, device, float(threshold), bool(network), language,
                        dict(links), tab, time.time())
    return {"url": url(), "ticket": sign(settings, secret)}
