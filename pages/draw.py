"""Draw page: draw or upload a digit, see every preprocessing step and what the network reads."""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

import ui.startup  # noqa: F401  (first: a page run alone on a fresh server still leaves the pages-folder mode)
from mnist_core.classroom.errors import ClassError
from mnist_core.net.device import available_devices
from mnist_core.net.evaluate import predict_probs, read_digit, Reading
from mnist_core.net.model import layers_label
from mnist_core.net.pictures import pixels_image
from mnist_core.net.preprocess import load_image, plain_resize, PreprocessError
from mnist_core.texts import os_error_words
from ui import keys
from ui.browser import is_teacher, nickname, owner
from ui.caches import collection_part, collection_problems, scored_collection
from ui.canvas import answer_slot, quick_answers_in_canvas, st_canvas
from ui.current_model import current_model, model_picker
from ui.engine import classroom, collections
from ui.i18n import language, num, pct, percent_format, said, t
from ui.keys import DRAWN, INSIDE_SOURCE
from ui.last_drawing import keep_drawing, last_drawing, LastDrawing, this_tabs_drawing
from ui.network import link_params
from ui.quick_answer import served, settle, ticket
from ui.reading import blank_text, compact_html, hint_html, hint_text, marker_of, reading_html
from ui.sidebar import page_entered
from ui.widgets import as_markdown, confirmed, file_problems, KeptError, uploader_words

CANVAS = 280
UPLOAD_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"]
ASKED = "d_clear_asked"  # the collection whose Clear awaits a confirmation
CLASS_ERROR = KeptError(keys.CLASS_ERROR)  # why the last Add to the class collection was refused


def reading_panel(reading: Reading, image: np.ndarray, model, threshold: float, compare: bool,
                  upload: str | None = None, show_network: bool = True, quick: bool = False) -> None:
    """The reading of `image` (a drawing, or the upload named `upload`); with `quick`, in the answer slot that
    the canvas's quick answers fill in between runs."""
    marker = marker_of(image)
    if reading.blank:
        if quick:
            answer_slot("panel", hint_html(blank_text(upload), marker), key="d_panel")
            return
        st.info(blank_text(upload))
        st.markdown(f"<span data-testid='reading-marker' style='display:none'>blank-{marker}</span>",
                    unsafe_allow_html=True)
        return
    if not quick and (st.session_state.get(DRAWN) is None
                      or not np.array_equal(st.session_state[DRAWN], reading.steps.output)):
        # The Inside page looks at the newest drawing (with quick answers, at the one the server kept).
        st.session_state.update({DRAWN: reading.steps.output, INSIDE_SOURCE: "drawing"})
    # The whole reading one HTML block, its pictures inline: a stroke's rerun builds a few elements, not
    # twenty, and stores no media file for the browser to fetch (tests/test_draw_elements.py counts them).
    body = reading_html(reading, marker, model, threshold, upload, show_network)
    if quick:
        answer_slot("panel", body, key="d_panel")
    else:
        st.markdown(body, unsafe_allow_html=True)  # in Markdown's HTML, not st.html: st.html's sanitiser drops SVG
    if compare:
        squashed = plain_resize(image)
        probs = predict_probs(model, squashed).cpu().numpy()[0]
        left, right = st.columns([1, 2])
        left.image(pixels_image(squashed, 8), caption=t("Plain resize of the whole canvas, no centring"))
        right.markdown(t("Without MNIST-style preprocessing the network reads **{digit}** ({share} sure). An MLP "
                         "has no notion of *where*: every pixel is its own input, so a digit off-centre or at another "
                         "size lights up inputs it never saw lit in training.", digit=int(probs.argmax()),
                         share=pct(float(probs.max()), 0)))


def collection_panel(image: np.ndarray | None, model, model_key: tuple[str, str, str], latest: bool = False) -> None:
    """Save drawings into a collection of one's own and score the model on it. With `latest`, strokes are answered
    without a rerun: Save stays on without a drawing (pressing it reruns, with the drawing the server holds)."""
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
        saved = right.button(t("Save drawing"), disabled=(image is None and not latest) or label is None, key="d_save")
        if saved and image is None:
            st.error(t("The drawing was not saved: {why}.", why=t("the drawing is blank: draw a digit first")))
        elif saved:
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


def add_to_class(image: np.ndarray | None, label: int | None, who: str, nick: str | None, name: str,
                 latest: bool = False) -> None:
    """The Add button's callback: add (with `latest`, this tab's drawing as the server kept it last: strokes answered
    without a rerun made it after the button was drawn), then ask the digit meant afresh, whether it was
    added or refused (the next drawing is another digit: a digit left chosen filed a 2 as a 5)."""
    st.session_state["d_class_label"] = None
    if latest:
        settle(who)  # a stroke's answer still being made: its drawing is the one on the screen
        kept = this_tabs_drawing()
        image = kept.image if kept is not None else None
    try:
        classroom().add(image, label, who, nick)
        st.toast(t("Added your {digit} to {name}", digit=label, name=name))
    except ClassError as e:
        CLASS_ERROR.keep(t("Not added: {why}.", why=said(e)))
    except ValueError as e:
        CLASS_ERROR.keep(said(e))
    except OSError as e:
        CLASS_ERROR.keep(t("Not added: {why}.", why=said(os_error_words(e, "drawings folder"))))


def class_panel(image: np.ndarray | None, latest: bool = False) -> None:
    """While the teacher has a class collection open: add this drawing to it, with the digit meant (with
    `latest`, this tab's drawing as the server holds it when the button is pressed)."""
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
                   on_click=add_to_class, args=(None if latest else image, label, who, nick, name, latest))
        CLASS_ERROR.show()
        try:
            drawings, _ = collection_part(name, "all")  # read once per change of the collection
            mine = sum(1 for d in drawings if collections().owners.owns(who, d.owner))
            file_problems(collection_problems(name), class_collection=name)
        except (OSError, ValueError):
            mine = 0
        if mine:
            st.caption(t("You have added {count}; remove yours on the Class page.", count=num(mine, 0)))


def sent_this_run(drawn):
    """The canvas's result if it sent this run a picture it had not sent before (with quick answers a stroke
    goes to the route, and the canvas's last sent value can be older than the drawing the server kept), else
    None."""
    if drawn is None or drawn.image_data is None:
        return None
    mark = marker_of(drawn.image_data)
    if st.session_state.get("d_sent") == mark:
        return None
    st.session_state["d_sent"] = mark
    return drawn


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
# canvas, its answer and the Add button stay on one screen (tests/e2e/test_languages.py); the line under the
# canvas and its link hidden while there is no answer. Sent with the page; a style block takes no room.
NARROW_TITLE = ("<style>@media (max-width: 640px) { .stMainBlockContainer h1 { font-size: 2.1rem; } }"
                ".st-key-d_reads:has(.mnist-slot:empty) { display: none; }</style>")


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
    def live() -> None:  # a stroke reruns only this, not the whole page (or nothing: quick answers)
        # The pad keeps its full width on any screen; the results go beside it, or below it when narrow.
        row = st.container(horizontal=True, wrap=True, gap="medium")
        pad, results = row.container(width=CANVAS + 10), row.container(width="stretch")
        # The upload as its box left it, read before the box is drawn under the reading: no container kept
        # in between for the reading (every element is work per stroke for the server).
        upload_key = f"d_upload_{st.session_state.get('d_upload_round', 0)}"
        upload = st.session_state.get(upload_key)
        # Where this server answers strokes over HTTP (ui/quick_answer.py), the answer is shown in slots that
        # those answers fill between runs; the canvas sends a stroke there unless an upload or the plain-resize
        # comparison is shown (they rerun, as every stroke does without quick answers).
        slots = quick_answers_in_canvas() and served()
        ctx = get_script_run_ctx()
        quick = (ticket(owner(), meta.name, meta.created, device, threshold, network, language(), link_params(),
                        ctx.session_id if ctx is not None else "")
                 if slots and upload is None and not compare else None)
        with pad:
            drawn = st_canvas(stroke_width=brush, stroke_color="#000000", background_color="", height=CANVAS,
                              width=CANVAS, drawing_mode="freedraw", return_image_data=True, key="canvas",
                              initial_drawing=st.session_state.get("d_initial"), quick=quick)
        if slots:  # this tab's drawing as the server kept it last, unless the canvas sent a newer one to this run
            sent, restored = sent_this_run(drawn), this_tabs_drawing()
        else:
            sent, restored = drawn, st.session_state.get("d_restored")
        image, uploaded = chosen_input(sent, upload, results, restored)
        reading = read_digit(model, image) if image is not None else None
        if sent is not None and sent.image_data is not None:  # the canvas sent a change: kept for later
            empty = image is None or uploaded is not None
            keep_drawing(None if empty else getattr(sent, "json_data", None), None if empty else image,
                         None if empty or reading is None else reading.steps.output)
        with pad:
            if slots:  # the line and the link shown only while the slot holds an answer (NARROW_TITLE's rule)
                with st.container(key="d_reads"):
                    answer_slot("compact", compact_html(reading), key="d_compact")
                    st.page_link("pages/inside.py", label=t("Why? Look inside"), icon=":material/biotech:")
            elif reading is not None and not reading.blank:
                st.markdown(compact_html(reading), unsafe_allow_html=True)
                st.page_link("pages/inside.py", label=t("Why? Look inside"), icon=":material/biotech:")
            class_panel(image, latest=quick is not None)
        with results:
            if image is None and slots:
                answer_slot("panel", hint_html(hint_text()), key="d_panel")
            elif image is None:
                st.info(hint_text())
            else:
                reading_panel(reading, image, model, threshold, compare, uploaded, network, quick=slots)
            st.file_uploader(t("…or upload a picture of a digit"), type=UPLOAD_TYPES, key=upload_key)
        collection_panel(image, model, (meta.name, meta.created, device), latest=quick is not None)

    with area:
        live()


render()
