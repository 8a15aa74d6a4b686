"""The drawing canvas: streamlit-drawable-canvas as installed, re-registered with its fixed send delay
after each change (no setting for it) shortened, as that delay was most of the time from a stroke to the
prediction, and its toolbar's hover labels in the browser's language. Where the installed script does not
hold that number exactly once, the stock canvas is used (where it lacks the labels' hook, English labels)."""

from __future__ import annotations

import atexit
import contextvars
import functools
import hashlib
import importlib.util
import itertools
import shutil
import tempfile
import threading
from pathlib import Path

import numpy as np
import streamlit as st

from ui.i18n import language, N_, SOURCE, t

SEND_DELAY_MS = 20  # still merges the changes of one burst of events (they come within a frame)
STOCK_DELAY = "Bc = 200,"  # streamlit-drawable-canvas 0.13.0: `h.sender = Nh(send, Bc)`, a debounce
COMPONENT = "mnist_app.drawable_canvas"
# Added to the canvas's own style (it sits in a shadow root, where the page's CSS does not reach): the
# toolbar's undo and clear buttons were 22x22 px and showed only on hover, which a finger cannot do. Now
# 44x44 (a fingertip) and always shown, above the canvas, in room the canvas keeps for it (not a spacer
# element the page sends again on every stroke).
TOUCH_STYLE = """
.dc-toolbar, .dc-root:hover > .dc-toolbar { opacity: 1; top: -3.4rem; }
.dc-root { margin-top: 3.4rem; }
.dc-icon-button { min-width: 44px; min-height: 44px; }
.dc-icon-button svg { width: 1.4rem; height: 1.4rem; }
"""
_lock = threading.Lock()
_swapped: list[bool] = []  # [whether the quick canvas is in use], once decided for this process
_sends_quick: list[bool] = [False]  # [whether its script sends changes to a quick answer's route]
_served: list[Path] = []  # [the folder its files are served from], where they are
_registries: list = []  # [the runtime's component registry they were declared to]


def build_folder() -> Path:
    """Where the installed package keeps its script and style (found without importing it: the
    import registers its component, which works only inside a Streamlit run)."""
    spec = importlib.util.find_spec("streamlit_drawable_canvas")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("streamlit-drawable-canvas is not installed: pip install -r requirements.txt")
    return Path(next(iter(spec.submodule_search_locations))) / "frontend" / "build"


# The toolbar's buttons as 0.13.0 names them (their hover text and accessible name), translated with t(): the
# page sends them with the canvas's data, and the script's update of its settings relabels the buttons.
TOOLBAR_LABELS = (N_("Update the app with this drawing"), N_("Undo"), N_("Redo"), N_("Edit"), N_("Bring forward"),
                  N_("Send backward"), N_("Delete selected"), N_("Reset canvas & history"))
LABELS_HOOK = "Vc = (e, t, r) => {\n  e.latest.realtimeUpdateStreamlit = t.realtimeUpdateStreamlit,"
RELABEL = """
function mnistToolbarLabels(e, t) {
  const labels = t && t.toolbarLabels, one = e && e.toolbarHandles && e.toolbarHandles.undoButton;
  const card = one && one.closest(".dc-toolbar-card");
  if (!card) return;
  for (const b of card.querySelectorAll("button.dc-icon-button")) {
    const en = b.dataset.en || (b.dataset.en = b.getAttribute("aria-label") || "");
    const label = (labels && labels[en]) || en;
    if (b.title !== label) { b.title = label; b.setAttribute("aria-label", label); }
  }
}
"""


# Reset goes back to the canvas's initial drawing in 0.13.0; the page's initial drawing is the browser's last
# one, brought back after a reload or a page switch, which Reset then could not clear (new strokes landed on
# it and the mix was read and added to the class): Reset goes to the initial state without its strokes. (Not
# to {}: the history takes an empty state for "nothing yet", and the next stroke was then not sent.)
RESET_HOOK = "const c = h.history.initial ?? {};"
RESET_EMPTY = "const c = { ...(h.history.initial ?? {}), objects: [] };"


# Where 0.13.0 sends a change to Streamlit (a rerun of the page's fragment): with a `quickAnswer` in its data (the
# route's address and the page's ticket, ui/quick_answer.py) the change goes to that route instead, one request
# at a time (a change made meanwhile waits, and only the newest is sent), and the answer goes to the page's
# answer slots (`answer_slot`) as a "mnist-answer" event. A refused or failed request sends the change to
# Streamlit after all, and so does every change until the page hands out another ticket.
SEND_HOOK = '  e.latest.setStateValue("drawing", {\n    raw: t,\n    data: r\n  });'
QUICK = """
function mnistQuick(e, t, r) {
  const q = e.latest.data && e.latest.data.quickAnswer;
  if (!q || !r || e.mnistOff === q.ticket || typeof fetch !== "function") return false;
  e.mnistNext = { t, r, q, a: mnistAlpha(e) };
  mnistGuardClicks(e);
  if (!e.mnistBusy) mnistPost(e);
  return true;
}
// A button clicked while a drawing is still on its way to the server (Add to the class, Save) waits for it: the
// click's rerun reads the drawing the server holds, which must be the one on the screen.
function mnistGuardClicks(e) {
  window.mnistCanvases = window.mnistCanvases || new Set();
  window.mnistCanvases.add(e);
  if (window.mnistClickGuard) return;
  window.mnistClickGuard = true;
  document.addEventListener("click", (ev) => {
    const button = ev.target && ev.target.closest && ev.target.closest("button");
    const busy = [...window.mnistCanvases].filter((c) => c.mnistBusy);
    if (!button || !busy.length) return;
    ev.preventDefault();
    ev.stopImmediatePropagation();
    Promise.all(busy.map((c) => c.mnistIdle)).then(() => button.click());
  }, true);
}
// The drawing's alpha plane, one byte a pixel (its ink: the strokes are black on a transparent canvas), taken
// now; the server inflates it far faster than it decodes the PNG. Null where the browser cannot deflate.
function mnistAlpha(e) {
  try {
    if (typeof CompressionStream !== "function" || !e.canvas.toCanvasElement) return null;
    const c = e.canvas.toCanvasElement(1), d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    const a = new Uint8Array(d.length / 4);
    for (let i = 0; i < a.length; i++) a[i] = d[4 * i + 3];
    return { width: c.width, height: c.height, plane: a };
  } catch (err) {
    return null;
  }
}
async function mnistBody(job) {
  const body = { ticket: job.q.ticket, strokes: job.t };
  if (job.a) {
    const z = new Uint8Array(await new Response(new Blob([job.a.plane]).stream()
      .pipeThrough(new CompressionStream("deflate"))).arrayBuffer());
    let s = "";
    for (let i = 0; i < z.length; i += 0x8000) s += String.fromCharCode.apply(null, z.subarray(i, i + 0x8000));
    body.alpha = { width: job.a.width, height: job.a.height, deflated: btoa(s) };
  } else {
    body.image = job.r;
  }
  return JSON.stringify(body);
}
function mnistPost(e) {
  const job = e.mnistNext;
  e.mnistNext = null;
  e.mnistBusy = !!job;
  if (!job) {
    if (e.mnistDone) e.mnistDone();
    e.mnistIdle = e.mnistDone = null;
    return;
  }
  if (!e.mnistIdle) e.mnistIdle = new Promise((resolve) => { e.mnistDone = resolve; });
  mnistBody(job)
    .then((body) => fetch(job.q.url, { method: "POST", credentials: "same-origin",
                                       headers: { "Content-Type": "application/json" }, body }))
    .then((res) => res.ok ? res.json() : Promise.reject(new Error("HTTP " + res.status)))
    .then((a) => { if (!e.mnistNext) window.dispatchEvent(new CustomEvent("mnist-answer", { detail: a })); })
    .catch(() => {
      e.mnistOff = job.q.ticket;
      const last = e.mnistNext || job;
      e.mnistNext = null;
      e.latest.setStateValue("drawing", { raw: last.t, data: last.r });
    })
    .finally(() => mnistPost(e));
}
"""


def quick_script(script: str) -> str | None:
    """The canvas script with the shorter pause (None when the pause is not where 0.13.0 has it); where its
    settings' update is where 0.13.0 has it, the toolbar relabelled from the data's `toolbarLabels`; where
    its Reset is, Reset to an empty canvas; where it sends a change, the change sent to the quick answer's
    route when the data names one."""
    if script.count(STOCK_DELAY) != 1:
        return None
    quick = script.replace(STOCK_DELAY, f"Bc = {SEND_DELAY_MS},")
    if quick.count(RESET_HOOK) == 1:
        quick = quick.replace(RESET_HOOK, RESET_EMPTY)
    if quick.count(LABELS_HOOK) == 1:
        quick = quick.replace(LABELS_HOOK, LABELS_HOOK.replace("{\n", "{\n  mnistToolbarLabels(e, t),")) + RELABEL
    if quick.count(SEND_HOOK) == 1:
        quick = quick.replace(SEND_HOOK, "  mnistQuick(e, t, r) || " + SEND_HOOK.lstrip()) + QUICK
    return quick


def toolbar_labels() -> dict[str, str] | None:
    """The toolbar's labels in this browser's language (English label -> its text); None in English."""
    return None if language() == SOURCE else {label: t(label) for label in TOOLBAR_LABELS}


_quick_data: contextvars.ContextVar[dict | None] = contextvars.ContextVar("mnist_quick_answer", default=None)


def labelled(component):
    """The canvas component, its data carrying the toolbar's labels in this browser's language, and the quick
    answer's route and ticket where the page gave them (`st_canvas(quick=...)`)."""
    def out(*, data: dict, **kwargs):
        labels, quick = toolbar_labels(), _quick_data.get()
        extra = {**({"toolbarLabels": labels} if labels else {}), **({"quickAnswer": quick} if quick else {})}
        return component(data={**data, **extra} if extra else data, **kwargs)
    return out


def quick_sources(build: Path) -> tuple[str, str] | None:
    """The quick canvas's script and style, made from the package's build folder; None unless the
    folder holds one script with the pause where 0.13.0 has it, and one style."""
    scripts, styles = sorted(build.glob("index-*.js")), sorted(build.glob("index-*.css"))
    if len(scripts) != 1 or len(styles) != 1:
        return None
    script = quick_script(scripts[0].read_text(encoding="utf-8"))
    return None if script is None else (script, styles[0].read_text(encoding="utf-8") + TOUCH_STYLE)


def served_files(sources: tuple[str, str]) -> tuple[str, str] | None:
    """The quick canvas's script and style as files the server sends once (the browser caches them), not
    inline: inline, the 415 kB script rode in the canvas element that every stroke's rerun built,
    serialised and hashed again. Streamlit serves a component's files from the folder a package's
    manifest declares; this declares a folder of our own the same way. Returns the (script, style) file
    names, or None where there is no running server (AppTest) or this Streamlit has no such manifest API."""
    from streamlit.runtime import Runtime

    if not Runtime.exists():
        return None
    try:
        from streamlit.components.v2.get_bidi_component_manager import get_bidi_component_manager
    except ImportError:
        return None
    if importlib.util.find_spec("streamlit.components.v2.manifest_scanner") is None:  # what _register uses
        return None
    folder = Path(tempfile.mkdtemp(prefix="mnist-canvas-"))
    atexit.register(shutil.rmtree, folder, True)
    # Named by their content: a browser that cached another version's file never reuses it.
    names = tuple(f"index-{hashlib.sha1(text.encode()).hexdigest()[:12]}.{kind}"
                  for text, kind in zip(sources, ("js", "css"), strict=True))
    for name, text in zip(names, sources, strict=True):
        (folder / name).write_text(text, encoding="utf-8")
    _served.append(folder)
    _register(folder, get_bidi_component_manager())
    return names


def _register(folder: Path, registry) -> None:
    """Declares `folder` as the quick canvas's files to `registry` (a runtime's component registry)."""
    from streamlit.components.v2.manifest_scanner import ComponentConfig, ComponentManifest

    package, component = COMPONENT.split(".", 1)
    registry.register_from_manifest(
        ComponentManifest(name=package, version="1", components=[ComponentConfig(name=component, asset_dir=".")]),
        folder)
    _registries[:] = [registry]


def registered_here() -> None:
    """The served files declared to this process's runtime again if it is not the one they were declared to
    (a second AppTest in one process starts another runtime, which knew nothing of them)."""
    if not _served:
        return
    from streamlit.components.v2.get_bidi_component_manager import get_bidi_component_manager

    registry = get_bidi_component_manager()
    if not _registries or _registries[0] is not registry:  # checked again under the lock
        with _lock:
            if not _registries or _registries[0] is not registry:
                _register(_served[0], registry)


def served_folder() -> Path | None:
    """Where the quick canvas's files are served from in this process; None when they are inline."""
    return _served[0] if _served else None


def quick_canvas_in_use() -> bool:
    """Registers the quick canvas and makes the package's `st_canvas` draw it, once per server
    process; False where the installed package is not the one this was written for."""
    with _lock:
        if not _swapped:
            import streamlit_drawable_canvas as drawable

            sources = quick_sources(build_folder())
            _sends_quick[0] = sources is not None and "function mnistQuick(" in sources[0]
            if sources is not None:
                script, style = served_files(sources) or sources
                drawable.out = labelled(st.components.v2.component(COMPONENT, js=script, css=style,
                                                                   html='<div class="canvas-root"></div>',
                                                                   isolate_styles=True))
            _swapped.append(sources is not None)
        return _swapped[0]


class Drawn:
    """The canvas's result with its picture decoded at most once: the package's `image_data` decodes the PNG
    data URL again on every read (and the Draw page reads it twice a run)."""

    def __init__(self, result) -> None:
        self._result = result

    @functools.cached_property
    def image_data(self) -> np.ndarray | None:
        picture = self._result.image_data
        if picture is not None:
            picture.flags.writeable = False  # one decoded drawing, read by every step that follows
        return picture

    def __getattr__(self, name: str):
        return getattr(self._result, name)


def quick_answers_in_canvas() -> bool:
    """Whether this process's canvas sends its changes to a quick answer's route when the page names one."""
    return quick_canvas_in_use() and _sends_quick[0]


def st_canvas(quick: dict | None = None, **kwargs) -> Drawn:
    """streamlit_drawable_canvas.st_canvas, the quick one where it can be; `quick` ({"url", "ticket"},
    ui/quick_answer.ticket) sends its changes to that route instead of a rerun."""
    import streamlit_drawable_canvas as drawable

    quick_canvas_in_use()
    registered_here()
    token = _quick_data.set(quick)
    try:
        return Drawn(drawable.st_canvas(**kwargs))
    finally:
        _quick_data.reset(token)


# A slot for one part of a stroke's answer ("panel" or "compact"): shows the HTML the page's run gave it, then
# each answer the canvas's route sends (the "mnist-answer" event), until the next run. In the page itself (no
# shadow root), so the page's fonts apply; its content is its own, never Streamlit's (which would redraw it).
SLOT_JS = """
export default function({ data, parentElement }) {
  const root = parentElement.querySelector(".mnist-slot");
  if (!root || !data) return;
  if (root.dataset.serial !== String(data.serial)) {
    root.dataset.serial = String(data.serial);
    root.innerHTML = data.html;
  }
  if (root.mnistOn) window.removeEventListener("mnist-answer", root.mnistOn);
  const on = (ev) => {
    const html = ev.detail && ev.detail[data.part];
    if (typeof html === "string") root.innerHTML = html;
  };
  root.mnistOn = on;
  window.addEventListener("mnist-answer", on);
  return () => { window.removeEventListener("mnist-answer", on); if (root.mnistOn === on) root.mnistOn = null; };
}
"""
_slot: list = []


def answer_slot(part: str, html: str, key: str) -> None:
    """The `part` of the answer ("panel", "compact"), `html` as this run made it."""
    with _lock:
        if not _slot:
            _slot.append(st.components.v2.component("mnist_app.answer_slot", js=SLOT_JS,
                                                    html='<div class="mnist-slot"></div>', isolate_styles=False))
    _slot[0](data={"part": part, "html": html, "serial": next(_slot_serials)}, key=key, height="content")


_slot_serials = itertools.count(1)
