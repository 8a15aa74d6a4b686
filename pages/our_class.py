"""Class page: the class's own handwriting: the teacher opens a class collection, everyone watches it grow
(per digit, per nickname, a gallery per digit), students remove their own drawings; zips in and out."""

from __future__ import annotations

from datetime import date

import numpy as np
import streamlit as st

import ui.startup  # noqa: F401  (first: a page run alone on a fresh server still leaves the pages-folder mode)
from mnist_core.classroom.collection import tally
from mnist_core.classroom.errors import ClassError
from mnist_core.classroom.nicknames import roster
from mnist_core.net.pictures import pixels_image
from mnist_core.texts import os_error_words
from ui.browser import is_teacher, nickname, owner
from ui.caches import collection_part, collection_problems
from ui.charts import layout
from ui.end_of_lesson import end_of_lesson_panel
from ui.engine import classroom, collections, model_store, nicknames
from ui.i18n import num, said, t
from ui.widgets import as_markdown, file_problems, uploader_words

GALLERY = 60  # drawings of one digit shown at once
REFRESH = 5.0  # seconds between redraws of the open class collection


def teacher_panel(open_name: str | None) -> None:
    """Only the teacher opens and closes the class collection."""
    if not is_teacher():
        return
    with st.container(border=True, key="teacher_panel"):
        st.markdown(t("**Teacher**: open a collection for the class to draw into, and close it when done."))
        left, right = st.columns([2, 1], vertical_alignment="bottom")
        name = left.text_input(t("Class collection"), value=open_name or f"class-{date.today():%Y}", key="c_name",
                               help=t("Letters, digits, '.', '_' or '-'; an existing collection is opened again"))
        # The main (red) button only while nothing is open: once open, Close is what the teacher looks for.
        if right.button(t("Open for the class"), key="c_open", type="secondary" if open_name else "primary",
                        icon=":material/lock_open:"):
            try:
                classroom().open(name.strip(), owner())
                st.rerun()
            except ValueError as e:
                st.error(said(e))
            except OSError as e:
                st.error(t("Not opened: {reason}.", reason=said(os_error_words(e, "drawings folder"))))
        if open_name and right.button(t("Close it"), key="c_close", icon=":material/lock:"):
            classroom().close()
            st.rerun()
        end_of_lesson_panel()


def growth_panel(name: str) -> bool:
    """Counts per digit and per nickname, and how the collection is split; False when it has no drawings."""
    drawings, _ = collection_part(name, "all")
    learn, _ = collection_part(name, "learn")
    counts = tally(drawings)
    if not counts.total:  # a blank chart and an empty table told nobody anything
        st.info(t("**{name}** has no drawings yet: students add theirs on the Draw page, and the counts per digit "
                  "and per person show here.", name=name))
        return False
    people = len(counts.per_nickname)
    # Whole sentences per count (one person or several), so each language words its own plural.
    if counts.total == 1:
        text = t("**{count}** drawing by **{people}** person: **{learn}** to learn from, **{held}** held out to test "
                 "on (the same ones every time).")
    elif people == 1:
        text = t("**{count}** drawings by **{people}** person: **{learn}** to learn from, **{held}** held out to test "
                 "on (the same ones every time).")
    else:
        text = t("**{count}** drawings by **{people}** people: **{learn}** to learn from, **{held}** held out to test "
                 "on (the same ones every time).")
    st.markdown(text.format(count=counts.total, people=people, learn=len(learn), held=counts.total - len(learn)))
    left, right = st.columns([3, 2])
    left.plotly_chart({"data": [{"type": "bar", "x": list(range(10)), "y": counts.per_digit,
                                 "text": counts.per_digit, "textposition": "outside"}],
                       "layout": layout(260, t("Drawings of each digit"), top=30, xaxis={"dtick": 1})},
                      key="c_counts", config={"displayModeBar": False})
    right.dataframe([{t("nickname"): who, t("drawings"): n} for who, n in counts.per_nickname.items()],
                    hide_index=True, height=260, key="c_people")
    return True


def gallery_panel(name: str) -> None:
    drawings, seen = collection_part(name, "all")
    digit = st.segmented_control(t("Gallery of the digit"), list(range(10)), default=0, key="c_digit")
    if digit is None:
        return
    by_file = {d.file: d for d in drawings}
    chosen = np.flatnonzero(seen.labels == digit)[:GALLERY]
    if not len(chosen):
        st.caption(t("No {digit} drawn yet.", digit=digit))
        return
    images = (seen.images[chosen] * 255).round().astype(np.uint8)
    captions = [by_file[seen.files[i]].nickname[:12] or "?" for i in chosen]
    st.caption(t("{count} of the class's drawings of {digit}, as the network sees them, with who drew each",
                 count=len(chosen), digit=digit))
    # Captions as the browser's text, not drawn into a picture: every script a nickname may be in shows.
    with st.container(key="c_gallery"):
        st.image([255 - image for image in images], caption=captions, width=64, output_format="PNG")


def mine_panel(name: str) -> None:
    """Remove a drawing: a student their own, the teacher any."""
    drawings, seen = collection_part(name, "all")
    who, teacher = owner(), is_teacher()
    removable = [d for d in drawings if teacher or collections().owners.owns(who, d.owner)]
    with st.expander(t("Remove a drawing ({count} in all)", count=len(removable)) if teacher
                     else t("Remove a drawing ({count} of yours)", count=len(removable))):
        if not removable:
            st.caption(t("You have added no drawings here.") if not teacher else t("No drawings yet."))
            return
        index = {f: i for i, f in enumerate(seen.files)}
        by_file = {d.file: d for d in removable}
        file = st.selectbox(t("Drawing"), list(by_file), key="c_remove_pick",
                            format_func=lambda f: t("a {digit} by {nickname} ({file})", digit=by_file[f].label,
                                                    nickname=by_file[f].nickname or "?", file=f[:15]))
        pick = by_file[file]
        left, right = st.columns([1, 3])
        if pick.file in index:
            left.image(pixels_image(seen.images[index[pick.file]], 3, grid=False))
        if right.button(t("Remove it"), key="c_remove", icon=":material/delete:"):
            try:
                collections().remove(name, pick.file, who, teacher)
                st.rerun()
            except ValueError as e:
                st.error(said(e))
            except OSError as e:
                st.error(t("Not removed: {reason}.", reason=said(os_error_words(e, "drawings folder"))))


def roster_panel(open_name: str | None) -> None:
    """The teacher's roster: every nickname with its drawings in the class collection and its models; a
    nickname can be freed (its browser has none, anyone may take it) or renamed."""
    if not is_teacher():
        return
    try:
        drawings = collection_part(open_name, "all")[0] if open_name else []
        rows = roster(nicknames(), model_store().list(), drawings)
    except (OSError, ValueError) as e:
        st.error(t("The roster cannot be read: {reason}", reason=said(e)))
        return
    with st.expander(t("Class roster ({count} nicknames)", count=len(rows)) if len(rows) != 1
                     else t("Class roster (one nickname)")):
        if not rows:
            st.caption(t("No student has chosen a nickname yet."))
            return
        st.dataframe([{t("nickname"): r.nickname, t("drawings"): r.drawings, t("models"): r.models} for r in rows],
                     hide_index=True, key="c_roster")
        by_tag = {r.tag: r for r in rows}
        tag = st.selectbox(t("Nickname"), list(by_tag), format_func=lambda t: by_tag[t].nickname, key="c_roster_pick")
        left, middle, right = st.columns([2, 1, 1], vertical_alignment="bottom")
        new = left.text_input(t("Rename it to"), key="c_roster_new", max_chars=24)
        if middle.button(t("Rename"), key="c_roster_rename", disabled=not new.strip()):
            try:
                nicknames().set(tag, new)
                st.rerun()
            except ClassError as e:
                st.error(said(e))
            except OSError as e:
                st.error(t("Not renamed: {reason}.", reason=said(os_error_words(e, "model folder"))))
        if right.button(t("Free it"), key="c_roster_free", help=t("Its browser has no nickname; anyone may take it")):
            try:
                nicknames().free(tag)
                st.rerun()
            except OSError as e:
                st.error(t("Not freed: {reason}.", reason=said(os_error_words(e, "model folder"))))


def zip_panel(name: str | None) -> None:
    """Keep a class's handwriting from year to year, or share it: a zip of PNGs and labels.csv."""
    with st.expander(t("Export or import a collection (zip of PNGs and labels.csv)")):
        if name:
            try:
                st.download_button(t("Download {name} as zip", name=name), collections().zip_bytes(name),
                                   file_name=f"{name}.zip", mime="application/zip", key="c_export")
            except (OSError, ValueError) as e:
                st.error(t("Cannot be exported: {reason}", reason=said(e)))
        if words := uploader_words("c_import_file", ["zip"]):
            st.html(words)
        upload = st.file_uploader(t("Import a zip as a new collection"), type=["zip"], key="c_import_file")
        new = st.text_input(t("Name of the new collection"), key="c_import_name",
                            placeholder=t("the zip's name") if upload is None else upload.name.rsplit(".", 1)[0])
        if st.button(t("Import"), key="c_import", disabled=upload is None):
            target = new.strip() or upload.name.rsplit(".", 1)[0]
            try:
                # A student's drawings are theirs whatever the zip says; the teacher's import keeps its names.
                count = collections().import_zip(target, upload.getvalue(), owner(),
                                                 nickname=None if is_teacher() else (nickname() or ""))
                st.success(t("Imported 1 drawing into **{target}**.", target=target) if count == 1 else
                           t("Imported {count} drawings into **{target}**.", count=num(count, 0), target=target))
            except ValueError as e:
                st.error(t("Not imported: {reason}", reason=said(e)))
            except OSError as e:
                st.error(t("Not imported: {reason}.", reason=said(os_error_words(e, "drawings folder"))))


@st.fragment(run_every=REFRESH)
def _live_open(name: str) -> None:
    _collection(name)


@st.fragment
def _collection(name: str) -> None:
    try:
        file_problems(collection_problems(name))
        if growth_panel(name):
            gallery_panel(name)
            mine_panel(name)
    except (ValueError, OSError) as e:
        st.error(t("The collection cannot be read: {reason}", reason=said(e)))


def live(name: str, growing: bool) -> None:
    """The open class collection is redrawn every few seconds, so the projected page grows as students add."""
    (_live_open if growing else _collection)(name)


def render() -> None:
    st.title(t("Our class's handwriting"))
    open_name = classroom().open_name()
    teacher = is_teacher()
    teacher_panel(open_name)
    roster_panel(open_name)
    names = collections().visible_names(owner(), teacher)  # the class's and this browser's own only
    if open_name:
        me = nickname()
        if teacher:  # the teacher: the students are the ones who add, under their nicknames
            st.success(t("The class collection **{name}** is open: students add drawings on the Draw page, under "
                         "the nickname they choose in the sidebar.", name=open_name))
        elif me:
            st.success(t("The class collection **{name}** is open: add drawings on the Draw page (you are "
                         "**{nickname}**).", name=open_name, nickname=as_markdown(me)))
        else:
            st.success(t("The class collection **{name}** is open: add drawings on the Draw page, after choosing a "
                         "nickname in the sidebar.", name=open_name))
    elif teacher:
        st.info(t("No class collection is open: open one above. You can still look at the collections below.")
                if names else t("No class collection is open: open one above."))
    else:
        st.info(t("No class collection is open; the teacher opens one. You can still look at the collections below.")
                if names else t("No class collection is open; the teacher opens one."))
    shown = [open_name] if open_name else []
    choices = shown + [n for n in names if n != open_name]
    if st.session_state.get("c_show_open") != open_name:  # a collection opened since: show it (the box kept the last)
        st.session_state["c_show_open"] = open_name
        if open_name:
            st.session_state["c_show"] = open_name
    name = st.selectbox(t("Collection"), choices, key="c_show", index=0 if choices else None,
                        placeholder=t("no collections yet")) if choices else None
    if name:
        live(name, name == open_name)
        st.page_link("pages/mistakes.py", label=t("How well does a model read our handwriting? (Mistakes page)"),
                     icon=":material/search_insights:")
    zip_panel(name)


render()
