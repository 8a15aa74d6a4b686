"""Draw page: draw or upload a digit, see every preprocessing step and what the network reads."""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

import ui.startup  # noqa: F401  (first: a page run alone on a fresh server still leaves the pages-folder mode)
from mnist_core.classroom.errors import ClassError
from mnist_core.net.device import available_devices
from mnist_core.net.evaluate import predict_probs, read_digit, read_many, Reading
from mnist_core.net.model import layers_label
from mnist_core.net.pictures import pixels_image, thumbnail
from mnist_core.net.preprocess import load_image, plain_resize, PreprocessError
from mnist_core.storage.drawings import Drawing
from mnist_core.storage.files import os_error_text
from ui import keys
from ui.browser import is_teacher, nickname, owner
from ui.caches import collection_part, collection_problems
from ui.canvas import st_canvas
from ui.current_model import current_model, model_picker
from ui.engine import classroom, collections
from ui.keys import DRAWN, INSIDE_SOURCE
from ui.widgets import as_markdown, confirmed, file_problems, KeptError

CANVAS = 280
ASKED = "d_clear_asked"  # the collection whose Clear awaits a confirmation
CLASS_ERROR = KeptError(keys.CLASS_ERROR)  # why the last Add to the class collection was refused


def probability_bars(probs: np.ndarray, digit: int) -> str:
    """The ten probabilities as plain HTML bars, drawn on every stroke: far cheaper for the browser than a
    Plotly chart (benchmarks/app_figures.py)."""
    bars = "".join(
        f"<div title='{d}: {p:.1%}' data-digit='{d}' style='flex:1;display:flex;flex-direction:column;"
        f"justify-content:flex-end;align-items:center;height:100%'>"
        f"<div style='font-size:12px;color:#444'>{p:.0%}</div>"
        f"<div style='width:70%;height:{max(p, 0.004) * 150:.1f}px;background:{'#08519c' if d == digit else '#9ecae1'};"
        f"border-radius:2px 2px 0 0'></div>"
        f"<div style='border-top:1px solid #bbb;width:100%;text-align:center;font-weight:"
        f"{700 if d == digit else 400}'>{d}</div></div>"
        for d, p in enumerate(probs.tolist()))
    return (f"<div data-testid='probability-bars' style='margin-top:4px'>"
            f"<div style='font-weight:600;margin-bottom:6px'>Probability of each digit</div>"
            f"<div style='display:flex;align-items:flex-end;height:190px;gap:4px'>{bars}</div></div>")


def show_steps(reading: Reading) -> None:
    steps = reading.steps
    pictures = [thumbnail(steps.ink, 84), thumbnail(steps.cropped, 84), thumbnail(steps.stroked, 84),
                thumbnail(steps.fitted, 84), thumbnail(steps.boxed, 84)]
    gap = np.full((84, 12, 3), 255, np.uint8)
    # One picture for the five steps: one image for the browser to fetch, not five.
    st.image(np.hstack([part for picture in pictures for part in (picture, gap)][:-1]))
    # The first caption escaped: "1." opening a caption would make it a Markdown list.
    st.caption("  ·  ".join(steps.captions()[:5]).replace("1.", "1\\.", 1))


def show_reading(reading: Reading, threshold: float, marker: str) -> None:
    """The answer: the digit in large type, the doubt when unsure, all ten probabilities."""
    probs = reading.probs
    best, second = np.argsort(probs)[::-1][:2]
    left, right = st.columns([1, 2])
    left.markdown(f"<div data-testid='predicted-digit' "
                  f"style='font-size:110px;line-height:1;font-weight:700;text-align:center'>{best}</div>"
                  f"<div style='text-align:center'>{probs[best]:.1%} sure</div>"
                  f"<span data-testid='reading-marker' style='display:none'>{marker}</span>",
                  unsafe_allow_html=True)
    if probs[best] < threshold:
        left.warning(f"Not sure: {best} ({probs[best]:.0%}) or {second} ({probs[second]:.0%})?")
    right.markdown(probability_bars(probs, int(best)), unsafe_allow_html=True)
    right.caption("A scribble or a dash read as a digit, and very sure? The network must answer one of the ten "
                  "digits: it has only ever seen digits, never \"not a digit\", and its certainty only says which "
                  "of the ten fits best.")


def reading_panel(image: np.ndarray, model, threshold: float, compare: bool, source: str = "your drawing") -> None:
    reading = read_digit(model, image)
    marker = hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest()[:12]
    if reading.blank:
        st.info("Draw a digit in the box (or upload a picture of one): the network will say what it reads.")
        st.markdown(f"<span data-testid='reading-marker' style='display:none'>blank-{marker}</span>",
                    unsafe_allow_html=True)
        return
    if st.session_state.get(DRAWN) is None or not np.array_equal(st.session_state[DRAWN], reading.steps.output):
        # The Inside page looks at the newest drawing.
        st.session_state.update({DRAWN: reading.steps.output, INSIDE_SOURCE: "drawing"})
    network_view, answer = st.columns([1, 2])
    with answer:  # the answer first: the browser shows elements in the order the script makes them
        st.caption(f"Reading {source}.")
        show_reading(reading, threshold, marker)
    network_view.image(pixels_image(reading.steps.output, 8), caption=reading.steps.captions()[-1])
    network_view.page_link("pages/inside.py", label="Why? Look inside", icon=":material/biotech:")
    show_steps(reading)
    if compare:
        squashed = plain_resize(image)
        probs = predict_probs(model, squashed).cpu().numpy()[0]
        left, right = st.columns([1, 2])
        left.image(pixels_image(squashed, 8), caption="Plain resize of the whole canvas, no centring")
        right.markdown(f"Without MNIST-style preprocessing the network reads **{int(probs.argmax())}** "
                       f"({probs.max():.0%} sure). An MLP has no notion of *where*: every pixel is its own input, "
                       "so a digit off-centre or at another size lights up inputs it never saw lit in training.")


@st.cache_resource(max_entries=16)
def scored_collection(name: str, version: tuple[int, int], model_key: tuple[str, str, str],
                      _model) -> tuple[list[Drawing], list[Reading], bytes]:
    """A collection read, scored and zipped once per version and model, not again on every stroke."""
    store = collections()
    drawings = store.load(name)
    return drawings, read_many(_model, [d.image for d in drawings]), store.zip_bytes(name)


def collection_panel(image: np.ndarray | None, model, model_key: tuple[str, str, str]) -> None:
    store = collections()
    if not st.toggle("Save drawings into a collection, and score the model on it", key="d_collect"):
        return
    who = owner()
    with st.container(border=True):
        try:
            default = store.default_name(who)  # this browser's own, never another's
        except OSError:
            default = "my-digits"
        name = st.text_input("Collection", value=default, help="Letters, digits, '.', '_' or '-'")
        left, right = st.columns([1, 1])
        label = left.selectbox("This drawing is a", list(range(10)), index=None, placeholder="true digit")
        is_class = name == classroom().open_name()
        if is_class:  # drawings go in there with a nickname and the class panel's checks, never unnamed
            st.warning(f"**{name}** is the open class collection: add to it in the class panel above, "
                       "under your nickname.")
        if right.button("Save drawing", disabled=image is None or label is None or is_class):
            try:
                store.add(name, image, label, owner=who)
                st.toast(f"Saved into {name}")
            except ValueError as e:
                st.error(str(e))
            except OSError as e:  # read-only folder, full disk: said in words; nothing else is lost
                st.error(f"The drawing was not saved: {os_error_text(e, 'the drawings folder')}.")
        try:
            drawings, readings, archive = scored_collection(name, store.version(name), model_key, model)
        except ValueError as e:
            st.error(str(e))
            return
        except OSError as e:
            st.error(f"The collection cannot be read: {os_error_text(e, 'the drawings folder')}.")
            return
        if not drawings:
            st.caption("No drawings saved here yet.")
            return
        wrong = [(d, r) for d, r in zip(drawings, readings, strict=True) if r.digit != d.label]
        correct = len(drawings) - len(wrong)
        st.markdown(f"**{correct} of {len(drawings)}** right ({correct / len(drawings):.0%}) with this model.")
        if wrong:
            st.caption("Read wrongly:")
            columns = st.columns(8)
            for i, (d, r) in enumerate(wrong[:16]):
                columns[i % 8].image(pixels_image(r.steps.output, 2, grid=False),
                                     caption=f"{d.label} → {'blank' if r.blank else r.digit}")
        left, right = st.columns(2)
        left.download_button("Download as zip", archive, file_name=f"{name}.zip",
                             mime="application/zip")
        if not store.may_clear(name, who, is_teacher()):
            right.caption("Another browser made this collection: you may add to it, not clear it.")
        elif confirmed(right, ASKED, name, "Clear this collection",
                       f"Delete all {len(drawings)} drawings of **{name}**? This cannot be undone.", "Yes, clear it"):
            try:
                store.clear(name, who, is_teacher())
            except (ValueError, OSError) as e:
                st.error(str(e))
                return
            st.rerun()


def add_to_class(image: np.ndarray | None, label: int | None, who: str, nick: str | None, name: str) -> None:
    """The Add button's callback: add, then ask the digit meant afresh (the next drawing is another digit)."""
    try:
        classroom().add(image, label, who, nick)
        st.session_state["d_class_label"] = None
        st.toast(f"Added your {label} to {name}")
    except ClassError as e:
        CLASS_ERROR.keep(f"Not added: {e}.")
    except ValueError as e:
        CLASS_ERROR.keep(str(e))
    except OSError as e:
        CLASS_ERROR.keep(f"Not added: {os_error_text(e, 'the drawings folder')}.")


def class_panel(image: np.ndarray | None) -> None:
    """While the teacher has a class collection open: add this drawing to it, with the digit meant."""
    room = classroom()
    name = room.open_name()
    if name is None:
        return
    who, nick = owner(), nickname()
    with st.container(border=True, key="class_panel"):
        st.markdown(f"**Our class's handwriting**: add your drawing to the class collection **{name}**, "
                    f"as **{as_markdown(nick)}**." if nick else
                    f"**Our class's handwriting**: add your drawing to the class collection **{name}**.")
        if not nick:
            st.info("Choose a nickname in the sidebar first: the class sees your drawings under it, not your name.")
        left, right = st.columns([1, 1], vertical_alignment="bottom")
        label = left.selectbox("The digit I meant", list(range(10)), index=None, placeholder="digit meant",
                               key="d_class_label")
        right.button("Add to the class collection", key="d_class_add", icon=":material/group_add:",
                     on_click=add_to_class, args=(image, label, who, nick, name))
        CLASS_ERROR.show()
        try:
            drawings, _ = collection_part(name, "all")  # read once per change of the collection
            mine = sum(1 for d in drawings if collections().owners.owns(who, d.owner))
            file_problems(collection_problems(name), f"the class collection **{name}**")
        except (OSError, ValueError):
            mine = 0
        if mine:
            right.caption(f"You have added {mine}; remove yours on the Class page.")


def remove_upload() -> None:
    """A new key gives a new, empty file uploader: the way to clear one from the script."""
    st.session_state["d_upload_round"] = st.session_state.get("d_upload_round", 0) + 1
    st.session_state["d_source"] = "drawing"


def chosen_input(drawn, upload, results) -> tuple[np.ndarray | None, str]:
    """The picture to read, and where it came from, when there may be a drawing and an upload: the newer
    of the two unless the user picks the other; a bad upload is an error, and the drawing is still read."""
    drawing = drawn.image_data if drawn is not None and drawn.image_data is not None else None
    if drawing is not None and not np.asarray(drawing)[..., -1].any():  # the canvas is transparent where unpainted
        drawing = None
    picture, problem = None, None
    if upload is not None:
        try:
            picture = load_image(upload.getvalue(), upload.name)
        except PreprocessError as e:
            problem = str(e)
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
            instead = " Reading your drawing instead." if drawing is not None else ""
            st.error(f"The upload could not be read: {problem.rstrip('.')}.{instead}")
            st.button("Remove the upload", on_click=remove_upload, key="d_remove_bad")
        if drawing is not None and picture is not None:
            left, right = st.columns([3, 1], vertical_alignment="bottom")
            left.radio("You drew and uploaded: which should the network read? (the newer one unless you choose)",
                       ["drawing", "upload"], key="d_source", horizontal=True,
                       format_func={"drawing": "the drawing", "upload": f"the upload ({upload.name})"}.get)
            right.button("Remove the upload", on_click=remove_upload, key="d_remove")
    if picture is not None and (drawing is None or st.session_state.get("d_source") == "upload"):
        return picture, f"the upload {upload.name}"
    return drawing, "your drawing"


def render() -> None:
    st.title("Draw a digit")
    controls = st.columns(4)
    with controls[0]:
        model_picker()
    device = controls[1].selectbox("Device", available_devices(), key="d_device")
    brush = controls[2].slider("Brush width", 6, 40, 18, key="d_brush")
    threshold = controls[3].slider("Unsure below", 0.5, 0.99, 0.8, key="d_threshold",
                                   help="Below this confidence the page says it is not sure and names two guesses")
    compare = st.toggle("Show what a plain resize feeds the network", key="d_compare")
    model, meta = current_model().load(device)
    accuracy = f", test accuracy {meta.metrics.test_accuracy:.2%}" if meta.metrics else ""
    st.caption(f"Model **{meta.name}**: {layers_label(meta.model['hidden'])}{accuracy}. Draw in the box; its toolbar "
               "has undo and clear.")
    st.write("")  # room for the canvas's floating toolbar

    @st.fragment
    def live() -> None:  # a stroke reruns only this, not the whole page
        # The pad keeps its full width on any screen; the results go beside it, or below it when narrow.
        row = st.container(horizontal=True, wrap=True, gap="medium")
        pad, results = row.container(width=CANVAS + 10), row.container(width="stretch")
        with pad:
            drawn = st_canvas(stroke_width=brush, stroke_color="#000000", background_color="", height=CANVAS,
                              width=CANVAS, drawing_mode="freedraw", return_image_data=True, key="canvas")
            upload = st.file_uploader("…or upload a picture of a digit", type=["png", "jpg", "jpeg", "gif", "bmp",
                                                                               "webp", "tif", "tiff"],
                                      key=f"d_upload_{st.session_state.get('d_upload_round', 0)}")
        image, source = chosen_input(drawn, upload, results)
        with results:
            if image is None:
                st.info("Draw a digit in the box (or upload a picture of one): the network will say what it reads.")
            else:
                reading_panel(image, model, threshold, compare, source)
        class_panel(image)
        collection_panel(image, model, (meta.name, meta.created, device))

    live()


render()
