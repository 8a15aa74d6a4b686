"""The Draw page's reading of one picture as HTML: the answer, what the network sees, the steps and the lit-up
network, one block with its pictures inline. Built the same way for a stroke's rerun and for a stroke answered
without one (ui/quick_answer.py), in the reader's language."""

from __future__ import annotations

import html
import zlib

import numpy as np

from mnist_core.net.evaluate import Reading
from mnist_core.net.graph import network_graph
from mnist_core.net.model import MLP
from mnist_core.net.pictures import data_uri, pixels_svg, thumbnail
from ui.i18n import num, pct, percent_writer, t
from ui.network import network_svg

DRAW_EDGES = 60  # strongest edges per layer on Draw (Inside shows 150)


def probability_bars(probs: np.ndarray, digit: int) -> str:
    """The ten probabilities as plain HTML bars, drawn on every stroke: far cheaper for the browser than a
    Plotly chart (benchmarks/app_figures.py)."""
    tenth, whole = percent_writer(1), percent_writer(0)  # looked up once, not twenty times
    bars = "".join(
        f"<div title='{d}: {tenth(p)}' data-digit='{d}' style='flex:1;display:flex;flex-direction:column;"
        f"justify-content:flex-end;align-items:center;height:100%'>"
        f"<div style='font-size:12px;color:#444;white-space:nowrap'>{whole(p)}</div>"
        f"<div style='width:70%;height:{max(p, 0.004) * 150:.1f}px;background:{'#08519c' if d == digit else '#9ecae1'};"
        f"border-radius:2px 2px 0 0'></div>"
        f"<div style='border-top:1px solid #bbb;width:100%;text-align:center;font-weight:"
        f"{700 if d == digit else 400}'>{d}</div></div>"
        for d, p in enumerate(probs.tolist()))
    heading = html.escape(t("Probability of each digit"))
    return (f"<div data-testid='probability-bars' style='margin-top:4px'>"
            f"<div style='font-weight:600;margin-bottom:6px'>{heading}</div>"
            f"<div style='display:flex;align-items:flex-end;height:190px;gap:4px'>{bars}</div></div>")


CAPTION = "font-size:0.875rem;opacity:0.6"  # as st.caption looks, in either theme
WARNING = ("background:rgba(255,189,69,0.18);color:#926c05;border-radius:0.5rem;padding:0.75rem 1rem;"
           "margin:0.5rem 0")  # as st.warning looks


def step_captions(reading: Reading) -> list[str]:
    """The six steps' captions in this browser's language, their numbers written its way."""
    return [t(text, **{k: num(v, 1) if isinstance(v, float) else num(v, 0) for k, v in params.items()})
            for text, params in reading.steps.caption_templates()]


def steps_html(reading: Reading, captions: list[str]) -> str:
    """The five steps as one inline picture with their captions (`step_captions`): one HTML block, no media
    file to fetch."""
    steps = reading.steps
    # Grey on white, one channel: a third of an RGB strip to make and to compress. A step that changed nothing
    # is the same array as the one before (strokes already even: `stroked is cropped`), made small once.
    shown = (steps.ink, steps.cropped, steps.stroked, steps.fitted, steps.boxed)
    made: dict[int, np.ndarray] = {}
    for picture in shown:
        if id(picture) not in made:
            made[id(picture)] = thumbnail(picture, 84, rgb=False)
    pictures = [made[id(picture)] for picture in shown]
    gap = np.full((84, 12), 255, np.uint8)
    strip = np.hstack([part for picture in pictures for part in (picture, gap)][:-1])
    alt = html.escape(t("the first five steps"), quote=True)
    return (f"<div data-testid='reading-steps'><img src='{data_uri(strip)}' alt='{alt}' style='max-width:100%'>"
            f"<p style='{CAPTION};margin:0.25rem 0 0'>{html.escape('  ·  '.join(captions[:5]))}"
            "</p></div>")


def seen_html(reading: Reading, captions: list[str]) -> str:
    """What the network sees (28 x 28, enlarged with its pixel grid) and the last step's caption."""
    label = html.escape(t("what the network sees"), quote=True)
    return (f"<div data-testid='network-sees'>{pixels_svg(reading.steps.output, 8, label)}"
            f"<p style='{CAPTION};text-align:center;"
            f"margin:0.25rem 0 0'>{html.escape(captions[-1])}</p></div>")


def answer_html(reading: Reading, threshold: float, marker: str, upload: str | None) -> str:
    """The answer as one HTML block: where it reads from, the digit in large type, the doubt when unsure,
    all ten probabilities, and (folded) why a scribble gets a digit."""
    probs = reading.probs
    best, second = np.argsort(probs)[::-1][:2]
    doubt = ""
    if probs[best] < threshold:
        unsure = t("Not sure: {first} ({first_share}) or {second} ({second_share})?", first=best,
                   first_share=pct(probs[best], 0), second=second, second_share=pct(probs[second], 0))
        doubt = f"<div style='{WARNING}'>{html.escape(unsure)}</div>"
    sure = t("{share} sure", share=pct(probs[best], 1))
    reading_what = (t("Reading your drawing.") if upload is None else t("Reading the upload {name}.", name=upload))
    scribble = t("A scribble read as a digit, and very sure?")
    why = t("The network must answer one of the ten digits: it has only ever seen digits, never \"not a digit\", "
            "and its certainty only says which of the ten fits best.")
    # The digit's own </div> comes first (tests and benchmarks/load.py read the digit there).
    return (f"<div data-testid='reading-answer'><p style='{CAPTION};margin:0 0 0.5rem'>{html.escape(reading_what)}"
            f"</p><div style='display:flex;flex-wrap:wrap;gap:1rem;align-items:flex-start'>"
            f"<div style='flex:1 1 8rem'><div data-testid='predicted-digit' "
            f"style='font-size:110px;line-height:1;font-weight:700;text-align:center'>{best}</div>"
            f"<div style='text-align:center'>{html.escape(sure)}</div>{doubt}"
            f"<span data-testid='reading-marker' style='display:none'>{marker}</span></div>"
            f"<div style='flex:2 1 16rem'>{probability_bars(probs, int(best))}"
            # Asked, not told under every drawing: under a clean 7 read at 100% it read as a verdict on the 7.
            f"<details style='margin-top:0.75rem'><summary style='cursor:pointer'>{html.escape(scribble)}</summary>"
            f"<p style='{CAPTION};margin:0.5rem 0 0'>{html.escape(why, quote=False)}</p></details></div></div></div>")


INFO = ("background:rgba(28,131,225,0.1);color:#004280;border-radius:0.5rem;padding:1rem;"
        "margin:0 0 0.5rem")  # as st.info looks


def marker_of(image: np.ndarray) -> str:
    """A short name for one picture (tests and benchmarks/load.py find the answer to their drawing by it): its
    shape and a CRC-32 of its bytes, read in place (a SHA-1 of a copy cost 0.17 ms a stroke, this 0.07); a name,
    not a seal: nothing trusts it."""
    pixels = np.ascontiguousarray(image)
    return f"{zlib.crc32(pixels):08x}{'x'.join(map(str, pixels.shape))}"


def compact_html(reading: Reading | None) -> str:
    """The digit read, in one line right under the canvas: on a phone the drawing and the answer fit on one
    screen with the Add button (the full reading follows further down). Empty for no digit."""
    if reading is None or reading.blank:
        return ""
    best = int(np.argmax(reading.probs))
    # The digit in large type inside the translated sentence: the language places it.
    digit = f"<b style='font-size:2.2rem'>{best}</b>"
    line = t("Reads {digit} · {share} sure", digit=digit, share=pct(reading.probs[best], 0))
    return f"<div data-testid='compact-answer' style='font-size:1.5rem;line-height:1.2'>{line}</div>"


def hint_text() -> str:
    return t("Draw a digit in the box (or upload a picture of one): the network will say what it reads.")


def blank_text(upload: str | None) -> str:
    """What the page says for a picture with no digit in it (an empty canvas, or a blank upload)."""
    if upload is None:
        return hint_text()
    return t("The upload {name} reads as blank: no digit stands out from its background. Upload a photo or "
             "scan of one digit, dark on light or light on dark.", name=upload)


def hint_html(text: str, marker: str = "") -> str:
    """`text` as st.info shows it, with the blank picture's marker (none: nothing drawn)."""
    mark = f"<span data-testid='reading-marker' style='display:none'>blank-{marker}</span>" if marker else ""
    return f"<div data-testid='reading-hint' style='{INFO}'>{html.escape(text, quote=False)}</div>{mark}"


def network_html(reading: Reading, model: MLP, links: bool, params: dict[str, str] | None = None) -> str:
    """The whole network lit up for this drawing, under the answer; fewer edges than in Inside keep it light.
    With `links` a node links to its panel on Inside, which opens on this browser's last drawing (an upload
    is not kept); the links carry `params` (by default this session's, ui/network.link_params)."""
    graph = network_graph(model, reading.steps.output, max_edges=DRAW_EDGES)
    about = (t("The network for this drawing: darker nodes fire more; red lines push, blue hold back. Hover a "
               "node for its numbers; click (tap) one to open its panel on Inside.") if links else
             t("The network for this drawing: darker nodes fire more; red lines push, blue hold back. Hover a "
               "node for its numbers; Inside → Network to click one."))
    svg = network_svg(graph, height=340, links=links, params=params)
    return (f"<div data-testid='draw-network' style='margin-top:1rem'>{svg}"
            f"<p style='{CAPTION};margin:0'>{html.escape(about)}</p></div>")


def reading_html(reading: Reading, marker: str, model: MLP, threshold: float, upload: str | None = None,
                 show_network: bool = True, params: dict[str, str] | None = None) -> str:
    """The whole reading of a picture with a digit in it, as one HTML block (for Markdown: st.html's sanitiser
    drops SVG). The answer comes first in the HTML (the digit's own </div> is the first: tests and load.py
    read it there), what the network sees is shown first beside it; the steps below both."""
    network = network_html(reading, model, links=upload is None, params=params) if show_network else ""
    captions = step_captions(reading)
    return (f"<div style='display:flex;flex-wrap:wrap;gap:1rem;align-items:flex-start'>"
            f"<div style='flex:2 1 22rem;min-width:0'>{answer_html(reading, threshold, marker, upload)}{network}"
            f"</div><div style='flex:1 1 11rem;order:-1;min-width:0'>{seen_html(reading, captions)}</div></div>"
            f"<div style='margin-top:1rem'>{steps_html(reading, captions)}</div>")
