"""Draw page: draw or upload a digit, see every preprocessing step and what the network reads."""

from __future__ import annotations

import hashlib
import html

import numpy as np
import streamlit as st

import ui.startup  # noqa: F401  (first: a page run alone on a fresh server still leaves the pages-folder mode)
from mnist_core.classroom.errors import ClassError
from mnist_core.net.device import available_devices
from mnist_core.net.evaluate import predict_probs, read_digit, Reading
from mnist_core.net.graph import network_graph
from mnist_core.net.model import layers_label
from mnist_core.net.pictures import data_uri, pixels_image, pixels_svg, thumbnail
from mnist_core.net.preprocess import load_image, plain_resize, PreprocessError
from mnist_core.storage.drawings import Drawing
from mnist_core.texts import os_error_words
from ui import keys
from ui.browser import is_teacher, nickname, owner
from ui.caches import collection_part, collection_problems
from ui.canvas import st_canvas
from ui.current_model import current_model, model_picker
from ui.engine import classroom, collections
from ui.i18n import num, pct, percent_format, said, t
from ui.keys import DRAWN, INSIDE_SOURCE
from ui.last_drawing import keep_drawing, last_drawing, LastDrawing
from ui.network import network_svg
from ui.sidebar import page_entered
from ui.widgets import as_markdown, confirmed, file_problems, KeptError, uploader_words

CANVAS = 280
UPLOAD_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"]
ASKED = "d_clear_asked"  # the collection whose Clear awaits a confirmation
CLASS_ERROR = KeptError(keys.CLASS_ERROR)  # why the last Add to the class collection was refused


DRAW_EDGES = 60  # strongest edges per layer on Draw (Inside shows 150)


def probability_bars(probs: np.ndarray, digit: int) -> str:
    """The ten probabilities as plain HTML bars, drawn on every stroke: far cheaper for the browser than a
    Plotly chart (benchmarks/app_figures.py)."""
    bars = "".join(
        f"<div title='{d}: {pct(p, 1)}' data-digit='{d}' style='flex:1;display:flex;flex-direction:column;"
        f"justify-content:flex-end;align-items:center;height:100%'>"
        f"<div style='font-size:12px;color:#444;white-space:nowrap'>{pct(p, 0)}</div>"
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
    pictures = [thumbnail(steps.ink, 84), thumbnail(steps.cropped, 84), thumbnail(steps.stroked, 84),
                thumbnail(steps.fitted, 84), thumbnail(steps.boxed, 84)]
    gap = np.full((84, 12, 3), 255, np.uint8)
    # Grey on white: one channel of the RGB thumbnails is the picture, a third of the PNG to compress.
    strip = np.hstack([part for picture in pictures for part in (picture, gap)][:-1])[..., 0]
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


def compact_answer(reading: Reading) -> None:
    """The digit read, in one line right under the canvas: on a phone the drawing and the answer fit on one
    screen with the Add button (the full reading follows further down)."""
    if reading.blank:
        return
    best = int(np.argmax(reading.probs))
    # The digit in large type inside the translated sentence: the language places it.
    digit = f"<b style='font-size:2.2rem'>{best}</b>"
    line = t("Reads {digit} · {share} sure", digit=digit, share=pct(reading.probs[best], 0))
    st.markdown(f"<div data-testid='compact-answer' style='font-size:1.5rem;line-height:1.2'>{line}</div>",
                unsafe_allow_html=True)


def reading_panel(reading: Reading, image: np.ndarray, model, threshold: float, compare: bool,
                  upload: str | None = None, show_network: bool = True) -> None:
    """The reading of `image` (a drawing, or the upload named `upload`)."""
    marker = hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest()[:12]
    if reading.blank:
        st.info(t("The upload {name} reads as blank: no digit stands out from its background. Upload a photo or "
                  "scan of one digit, dark on light or light on dark.", name=upload) if upload is not None else
                t("Draw a digit in the box (or upload a picture of one): the network will say what it reads."))
        st.markdown(f"<span data-testid='reading-marker' style='display:none'>blank-{marker}</span>",
                    unsafe_allow_html=True)
        return
    if st.session_state.get(DRAWN) is None or not np.array_equal(st.session_state[DRAWN], reading.steps.output):
        # The Inside page looks at the newest drawing.
        st.session_state.update({DRAWN: reading.steps.output, INSIDE_SOURCE: "drawing"})
    # The whole reading one HTML block, its pictures inline: a stroke's rerun builds a few elements, not
    # twenty, and stores no media file for the browser to fetch (tests/test_draw_elements.py counts them).
    # The answer comes first in the HTML (the digit's own </div> is the first: tests and load.py read it there),
    # what the network sees is shown first beside it; the steps below both.
    network = ""
    if show_network:
        # The whole network lit up for this drawing, under the answer; fewer edges than in Inside keep it light.
        graph = network_graph(model, reading.steps.output, max_edges=DRAW_EDGES)
        # A node links to its panel on Inside, which opens on this browser's last drawing: an upload is not kept.
        links = upload is None
        about = (t("The network for this drawing: darker nodes fire more; red lines push, blue hold back. Hover a "
                   "node for its numbers; click (tap) one to open its panel on Inside.") if links else
                 t("The network for this drawing: darker nodes fire more; red lines push, blue hold back. Hover a "
                   "node for its numbers; Inside → Network to click one."))
        svg = network_svg(graph, height=340, links=links)
        network = (f"<div data-testid='draw-network' style='margin-top:1rem'>{svg}"
                   f"<p style='{CAPTION};margin:0'>{html.escape(about)}</p></div>")
    captions = step_captions(reading)
    # In Markdown's HTML, not st.html: st.html's sanitiser drops SVG.
    st.markdown(f"<div style='display:flex;flex-wrap:wrap;gap:1rem;align-items:flex-start'>"
                f"<div style='flex:2 1 22rem;min-width:0'>{answer_html(reading, threshold, marker, upload)}{network}"
                f"</div><div style='flex:1 1 11rem;order:-1;min-width:0'>{seen_html(reading, captions)}</div></div>"
                f"<div style='margin-top:1rem'>{steps_html(reading, captions)}</div>", unsafe_allow_html=True)
    if compare:
        squashed = plain_resize(image)
        probs = predict_probs(model, squashed).cpu().numpy()[0]
        left, right = st.columns([1, 2])
        left.image(pixels_image(squashed, 8), caption=t("Plain resize of the whole canvas, no centring"))
        right.markdown(t("Without MNIST-style preprocessing the network reads **{digit}** ({share} sure). An MLP "
                         "has no notion of *where*: every pixel is its own input, so a digit off-centre or at another "
                         "size lights up inputs it never saw lit in training.", digit=int(probs.argmax()),
                         share=pct(float(probs.max()), 0)))


@st.cache_resource(max_entries=16, show_spinner=False)
def scored_collection(name: str, version: tuple[int, int], model_key: tuple[str, str, str],
                      _model) -> tuple[list[Drawing], dict[str, tuple[np.ndarray, int]], bytes]:
    """A collection scored and zipped once per version and model, not again on every stroke: each drawing's
    file -> (what the network sees (28, 28), the digit it reads); blank drawings have none. The drawings are
    read as the network sees them once, by the same cache the Class page and Mistakes use."""
    drawings, seen = collection_part(name, "all")
    digits = predict_probs(_model, seen.images).argmax(1).tolist() if len(seen) else []
    readings = {file: (image, digit) for file, image, digit in zip(seen.files, seen.images, digits, strict=True)}
    return drawings, readings, collections().zip_bytes(name)


def collection_panel(image: np.ndarray | None, model, model_key: tuple[str, str, str]) -> None:
    store = collections()
    if not st.toggle(t("Save drawings into a collection, and score the model on it"), key="d_collect"):
        return
    who = owner()
    with st.container(border=True):
        try:
            default = store.default_name(who)  # this browser's own, never another's
        except OSError:
            default = "my-digits"
        name = st.text_input(t("Collection"), value=default, help=t("Letters, digits, '.', '_' or '-'"),
                             key="d_collection")
        left, right = st.columns([1, 1])
        label = left.selectbox(t("This drawing is a"), list(range(10)), index=None, placeholder=t("true digit"),
                               key="d_true_digit")
        refusal = ""
        if name == classroom().open_name():  # drawings go in there with a nickname and the class panel's checks
            refusal = t("**{name}** is the open class collection: add to it in the class panel above, under your "
                        "nickname.", name=name)
        else:
            try:
                if not store.may_use(name, who, is_teacher()):  # another browser's own (or a closed class one)
                    refusal = t("**{name}** is not yours: choose another name for your own collection.", name=name)
            except ValueError as e:
                st.error(said(e))
                return
        if refusal:  # neither shown nor written; the Save button says so by being off
            st.warning(refusal)
            right.button(t("Save drawing"), disabled=True, key="d_save")
            return
        if right.button(t("Save drawing"), disabled=image is None or label is None, key="d_save"):
            try:
                store.add(name, image, label, owner=who, operator=is_teacher())
                st.toast(t("Saved into {name}", name=name))
            except ValueError as e:
                st.error(said(e))
            except OSError as e:  # read-only folder, full disk: said in words; nothing else is lost
                st.error(t("The drawing was not saved: {why}.", why=said(os_error_words(e, "drawings folder"))))
        try:
            drawings, readings, archive = scored_collection(name, store.version(name), model_key, model)
        except ValueError as e:
            st.error(said(e))
            return
        except OSError as e:
            st.error(t("The collection cannot be read: {why}.", why=said(os_error_words(e, "drawings folder"))))
            return
        if not drawings:
            st.caption(t("No drawings saved here yet."))
            return
        blank = (np.zeros((28, 28), np.float32), None)
        wrong = [(d, readings.get(d.file, blank)) for d in drawings if readings.get(d.file, blank)[1] != d.label]
        correct = len(drawings) - len(wrong)
        st.markdown(t("**{correct} of {total}** right ({share}) with this model.", correct=num(correct, 0),
                      total=num(len(drawings), 0), share=pct(correct / len(drawings), 0)))
        if wrong:
            st.caption(t("Read wrongly:"))
            columns = st.columns(8)
            for i, (d, (seen, digit)) in enumerate(wrong[:16]):
                columns[i % 8].image(pixels_image(seen, 2, grid=False),
                                     caption=t("{label} → blank", label=d.label) if digit is None
                                     else t("{label} → {digit}", label=d.label, digit=digit))
        left, right = st.columns(2)
        left.download_button(t("Download as zip"), archive, file_name=f"{name}.zip",
                             mime="application/zip", key="d_download")
        if not store.may_clear(name, who, is_teacher()):
            right.caption(t("Another browser made this collection: you may add to it, not clear it."))
        elif confirmed(right, ASKED, name, t("Clear this collection"),
                       t("Delete all {count} drawings of **{name}**? This cannot be undone.",
                         count=num(len(drawings), 0), name=name), t("Yes, clear it")):
            try:
                store.clear(name, who, is_teacher())
            except (ValueError, OSError) as e:
                st.error(said(e))
                return
            st.rerun()


def add_to_class(image: np.ndarray | None, label: int | None, who: str, nick: str | None, name: str) -> None:
    """The Add button's callback: add, then ask the digit meant afresh, whether it was added or refused (the
    next drawing is another digit: a digit left chosen filed a 2 as a 5)."""
    st.session_state["d_class_label"] = None
    try:
        classroom().add(image, label, who, nick)
        st.toast(t("Added your {digit} to {name}", digit=label, name=name))
    except ClassError as e:
        CLASS_ERROR.keep(t("Not added: {why}.", why=said(e)))
    except ValueError as e:
        CLASS_ERROR.keep(said(e))
    except OSError as e:
        CLASS_ERROR.keep(t("Not added: {why}.", why=said(os_error_words(e, "drawings folder"))))


def class_panel(image: np.ndarray | None) -> None:
    """While the teacher has a class collection open: add this drawing to it, with the digit meant."""
    room = classroom()
    name = room.open_name()
    if name is None:
        return
    who, nick = owner(), nickname()
    with st.container(border=True, key="class_panel"):
        # Short, and the digit and the button side by side on any screen: on a phone they fit under the canvas.
        st.markdown(t("Add it to the class's **{name}** as **{nickname}**:", name=name, nickname=as_markdown(nick))
                    if nick else t("Add it to the class's **{name}**:", name=name))
        if not nick:
            st.info(t("Choose a nickname in the sidebar first: the class sees your drawings under it, not your name."))
        row = st.container(horizontal=True, vertical_alignment="bottom", gap="small")
        # The label hidden (still the box's accessible name), the placeholder says it: on a phone the Add
        # button then stays on the screen with the canvas and the answer (tests/e2e/test_lesson.py).
        label = row.selectbox(t("The digit I meant"), list(range(10)), index=None,
                              placeholder=t("the digit I meant"), key="d_class_label", width=170,
                              label_visibility="collapsed")
        row.button(t("Add to the class collection"), key="d_class_add", icon=":material/group_add:",
                   on_click=add_to_class, args=(image, label, who, nick, name))
        CLASS_ERROR.show()
        try:
            drawings, _ = collection_part(name, "all")  # read once per change of the collection
            mine = sum(1 for d in drawings if collections().owners.owns(who, d.owner))
            file_problems(collection_problems(name), class_collection=name)
        except (OSError, ValueError):
            mine = 0
        if mine:
            st.caption(t("You have added {count}; remove yours on the Class page.", count=num(mine, 0)))


def remove_upload() -> None:
    """A new key gives a new, empty file uploader: the way to clear one from the script."""
    st.session_state["d_upload_round"] = st.session_state.get("d_upload_round", 0) + 1
    st.session_state["d_source"] = "drawing"


def chosen_input(drawn, upload, results, restored: LastDrawing | None = None) -> tuple[np.ndarray | None, str | None]:
    """The picture to read, and the upload's file name when it is the upload (None: the drawing), when there
    may be a drawing and an upload: the newer
    of the two unless the user picks the other; a bad upload is an error, and the drawing is still read.
    A canvas that has sent nothing since it was put back with the `restored` drawing shows that drawing."""
    sent = drawn is not None and drawn.image_data is not None
    drawing = drawn.image_data if sent else (restored.image if restored is not None else None)
    if drawing is not None and not np.asarray(drawing)[..., -1].any():  # the canvas is transparent where unpainted
        drawing = None
    picture, problem = None, None
    if upload is not None:
        try:
            picture = load_image(upload.getvalue(), upload.name)
        except PreprocessError as e:
            problem = said(e)
    # Which input changed last: the canvas's content or the uploaded file.
    marks = (hashlib.sha1(np.ascontiguousarray(drawing).tobytes()).hexdigest() if drawing is not None else None,
             upload.file_id if upload is not None else None)
    before = st.session_state.get("d_marks", (None, None))
    if marks[0] is not None and marks[0] != before[0]:
        st.session_state["d_source"] = "drawing"
    if marks[1] is not None and marks[1] != before[1]:
        st.session_state["d_source"] = "upload"
    st.session_state["d_marks"] = marks
    with results:
        if problem:
            why = problem.rstrip(".")
            st.error(t("The upload could not be read: {why}. Reading your drawing instead.", why=why)
                     if drawing is not None else t("The upload could not be read: {why}.", why=why))
            st.button(t("Remove the upload"), on_click=remove_upload, key="d_remove_bad")
        if drawing is not None and picture is not None:
            left, right = st.columns([3, 1], vertical_alignment="bottom")
            choices = {"drawing": t("the drawing"), "upload": t("the upload ({name})", name=upload.name)}
            left.radio(t("You drew and uploaded: which should the network read? (the newer one unless you choose)"),
                       ["drawing", "upload"], key="d_source", horizontal=True, format_func=choices.get)
            right.button(t("Remove the upload"), on_click=remove_upload, key="d_remove")
    if picture is not None and (drawing is None or st.session_state.get("d_source") == "upload"):
        return picture, upload.name
    return drawing, None


# On a phone the title in a smaller size: a longer one ("Dessinez un chiffre") still takes one line, and the
# canvas, its answer and the Add button stay on one screen (tests/e2e/test_languages.py). Sent with the page,
# not with a stroke's rerun; a style block takes no room.
NARROW_TITLE = "<style>@media (max-width: 640px) { .stMainBlockContainer h1 { font-size: 2.1rem; } }</style>"


def render() -> None:
    st.title(t("Draw a digit"))
    st.html(NARROW_TITLE + uploader_words("d_upload_", UPLOAD_TYPES))  # one style block, sent with the page
    if page_entered() or "d_initial" not in st.session_state:
        # A new canvas (a page switch, a reload): it starts with this browser's last drawing, kept on the
        # server. Kept fixed while the page stays open: a changed initial_drawing redraws the canvas.
        last = last_drawing()
        st.session_state.update({"d_initial": last.strokes if last else None, "d_restored": last})
    about = st.empty()
    area = st.container()  # the canvas and its answer first: on a phone they fit on one screen
    with st.expander(t("Settings: model, device, brush"), icon=":material/tune:", key="d_settings"):
        controls = st.columns(4)
        with controls[0]:
            model_picker()
        device = controls[1].selectbox(t("Device"), available_devices(), key="d_device")
        brush = controls[2].slider(t("Brush width"), 6, 40, 18, key="d_brush")
        threshold = controls[3].slider(t("Unsure below"), 50, 99, 80, key="d_threshold", format=percent_format(),
                                       help=t("Below this confidence the page says it is not sure and names two "
                                              "guesses")) / 100
        compare = st.toggle(t("Show what a plain resize feeds the network"), key="d_compare")
        network = st.toggle(t("Show the network lit up"), True, key="d_network_on",
                            help=t("The whole network for each drawing (about {seconds} s more per stroke; off on a "
                                   "slow phone)", seconds=num(0.1, 1)))
    model, meta = current_model().load(device)
    layers = layers_label(meta.model["hidden"])
    about.caption(t("Model **{name}**: {layers}, test accuracy {accuracy}. Draw in the box; its toolbar has undo "
                    "and clear.", name=meta.name, layers=layers, accuracy=pct(meta.metrics.test_accuracy))
                  if meta.metrics else
                  t("Model **{name}**: {layers}. Draw in the box; its toolbar has undo and clear.", name=meta.name,
                    layers=layers))

    @st.fragment
    def live() -> None:  # a stroke reruns only this, not the whole page
        # The pad keeps its full width on any screen; the results go beside it, or below it when narrow.
        row = st.container(horizontal=True, wrap=True, gap="medium")
        pad, results = row.container(width=CANVAS + 10), row.container(width="stretch")
        with pad:
            drawn = st_canvas(stroke_width=brush, stroke_color="#000000", background_color="", height=CANVAS,
                              width=CANVAS, drawing_mode="freedraw", return_image_data=True, key="canvas",
                              initial_drawing=st.session_state.get("d_initial"))
        # The upload as its box left it, read before the box is drawn under the reading: no container kept
        # in between for the reading (every element is work per stroke for the server).
        upload_key = f"d_upload_{st.session_state.get('d_upload_round', 0)}"
        upload = st.session_state.get(upload_key)
        image, uploaded = chosen_input(drawn, upload, results, st.session_state.get("d_restored"))
        reading = read_digit(model, image) if image is not None else None
        if drawn is not None and drawn.image_data is not None:  # the canvas sent a change: kept for later
            empty = image is None or uploaded is not None
            keep_drawing(None if empty else getattr(drawn, "json_data", None), None if empty else image,
                         None if empty or reading is None else reading.steps.output)
        with pad:
            if reading is not None and not reading.blank:
                compact_answer(reading)
                st.page_link("pages/inside.py", label=t("Why? Look inside"), icon=":material/biotech:")
            class_panel(image)
        with results:
            if image is None:
                st.info(t("Draw a digit in the box (or upload a picture of one): the network will say what it reads."))
            else:
                reading_panel(reading, image, model, threshold, compare, uploaded, network)
            st.file_uploader(t("…or upload a picture of a digit"), type=UPLOAD_TYPES, key=upload_key)
        collection_panel(image, model, (meta.name, meta.created, device))

    with area:
        live()


render()
