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
from mnist_core.storage.files import os_error_text
from ui.browser import is_teacher, nickname, owner
from ui.caches import collection_part, collection_problems
from ui.end_of_lesson import end_of_lesson_panel
from ui.engine import classroom, collections, model_store, nicknames
from ui.widgets import as_markdown, file_problems

GALLERY = 60  # drawings of one digit shown at once
REFRESH = 5.0  # seconds between redraws of the open class collection


def teacher_panel(open_name: str | None) -> None:
    """Only the teacher opens and closes the class collection."""
    if not is_teacher():
        return
    with st.container(border=True, key="teacher_panel"):
        st.markdown("**Teacher**: open a collection for the class to draw into, and close it when done.")
        left, right = st.columns([2, 1], vertical_alignment="bottom")
        name = left.text_input("Class collection", value=open_name or f"class-{date.today():%Y}", key="c_name",
                               help="Letters, digits, '.', '_' or '-'; an existing collection is opened again")
        # The main (red) button only while nothing is open: once open, Close is what the teacher looks for.
        if right.button("Open for the class", key="c_open", type="secondary" if open_name else "primary",
                        icon=":material/lock_open:"):
            try:
                classroom().open(name.strip(), owner())
                st.rerun()
            except ValueError as e:
                st.error(str(e))
            except OSError as e:
                st.error(f"Not opened: {os_error_text(e, 'the drawings folder')}.")
        if open_name and right.button("Close it", key="c_close", icon=":material/lock:"):
            classroom().close()
            st.rerun()
        end_of_lesson_panel()


def growth_panel(name: str) -> bool:
    """Counts per digit and per nickname, and how the collection is split; False when it has no drawings."""
    drawings, _ = collection_part(name, "all")
    learn, _ = collection_part(name, "learn")
    counts = tally(drawings)
    if not counts.total:  # a blank chart and an empty table told nobody anything
        st.info(f"**{name}** has no drawings yet: students add theirs on the Draw page, and the counts per digit "
                "and per person show here.")
        return False
    st.markdown(f"**{counts.total}** drawing{'s' if counts.total != 1 else ''} by **{len(counts.per_nickname)}** "
                f"{'person' if len(counts.per_nickname) == 1 else 'people'}: **{len(learn)}** to learn from, "
                f"**{counts.total - len(learn)}** held out to test on (the same ones every time).")
    left, right = st.columns([3, 2])
    left.plotly_chart({"data": [{"type": "bar", "x": list(range(10)), "y": counts.per_digit,
                                 "text": counts.per_digit, "textposition": "outside"}],
                       "layout": {"height": 260, "margin": {"l": 10, "r": 10, "t": 30, "b": 10},
                                  "title": {"text": "Drawings of each digit"}, "xaxis": {"dtick": 1}}},
                      key="c_counts", config={"displayModeBar": False})
    right.dataframe([{"nickname": who, "drawings": n} for who, n in counts.per_nickname.items()],
                    hide_index=True, height=260, key="c_people")
    return True


def gallery_panel(name: str) -> None:
    drawings, seen = collection_part(name, "all")
    digit = st.segmented_control("Gallery of the digit", list(range(10)), default=0, key="c_digit")
    if digit is None:
        return
    by_file = {d.file: d for d in drawings}
    chosen = np.flatnonzero(seen.labels == digit)[:GALLERY]
    if not len(chosen):
        st.caption(f"No {digit}s yet.")
        return
    images = (seen.images[chosen] * 255).round().astype(np.uint8)
    captions = [by_file[seen.files[i]].nickname[:12] or "?" for i in chosen]
    st.caption(f"{len(chosen)} of the class's {digit}s, as the network sees them, with who drew each")
    # Captions as the browser's text, not drawn into a picture: every script a nickname may be in shows.
    with st.container(key="c_gallery"):
        st.image([255 - image for image in images], caption=captions, width=64, output_format="PNG")


def mine_panel(name: str) -> None:
    """Remove a drawing: a student their own, the teacher any."""
    drawings, seen = collection_part(name, "all")
    who, teacher = owner(), is_teacher()
    removable = [d for d in drawings if teacher or collections().owners.owns(who, d.owner)]
    with st.expander(f"Remove a drawing ({len(removable)} {'in all' if teacher else 'of yours'})"):
        if not removable:
            st.caption("You have added no drawings here." if not teacher else "No drawings yet.")
            return
        index = {f: i for i, f in enumerate(seen.files)}
        by_file = {d.file: d for d in removable}
        file = st.selectbox("Drawing", list(by_file), key="c_remove_pick",
                            format_func=lambda f: f"a {by_file[f].label} by {by_file[f].nickname or '?'} ({f[:15]})")
        pick = by_file[file]
        left, right = st.columns([1, 3])
        if pick.file in index:
            left.image(pixels_image(seen.images[index[pick.file]], 3, grid=False))
        if right.button("Remove it", key="c_remove", icon=":material/delete:"):
            try:
                collections().remove(name, pick.file, who, teacher)
                st.rerun()
            except ValueError as e:
                st.error(str(e))
            except OSError as e:
                st.error(f"Not removed: {os_error_text(e, 'the drawings folder')}.")


def roster_panel(open_name: str | None) -> None:
    """The teacher's roster: every nickname with its drawings in the class collection and its models; a
    nickname can be freed (its browser has none, anyone may take it) or renamed."""
    if not is_teacher():
        return
    try:
        drawings = collection_part(open_name, "all")[0] if open_name else []
        rows = roster(nicknames(), model_store().list(), drawings)
    except (OSError, ValueError) as e:
        st.error(f"The roster cannot be read: {e}")
        return
    with st.expander(f"Class roster ({len(rows)} nickname{'s' if len(rows) != 1 else ''})"):
        if not rows:
            st.caption("No student has chosen a nickname yet.")
            return
        st.dataframe([{"nickname": r.nickname, "drawings": r.drawings, "models": r.models} for r in rows],
                     hide_index=True, key="c_roster")
        by_tag = {r.tag: r for r in rows}
        tag = st.selectbox("Nickname", list(by_tag), format_func=lambda t: by_tag[t].nickname, key="c_roster_pick")
        left, middle, right = st.columns([2, 1, 1], vertical_alignment="bottom")
        new = left.text_input("Rename it to", key="c_roster_new", max_chars=24)
        if middle.button("Rename", key="c_roster_rename", disabled=not new.strip()):
            try:
                nicknames().set(tag, new)
                st.rerun()
            except ClassError as e:
                st.error(str(e))
            except OSError as e:
                st.error(f"Not renamed: {os_error_text(e, 'the model folder')}.")
        if right.button("Free it", key="c_roster_free", help="Its browser has no nickname; anyone may take it"):
            try:
                nicknames().free(tag)
                st.rerun()
            except OSError as e:
                st.error(f"Not freed: {os_error_text(e, 'the model folder')}.")


def zip_panel(name: str | None) -> None:
    """Keep a class's handwriting from year to year, or share it: a zip of PNGs and labels.csv."""
    with st.expander("Export or import a collection (zip of PNGs and labels.csv)"):
        if name:
            try:
                st.download_button(f"Download {name} as zip", collections().zip_bytes(name), file_name=f"{name}.zip",
                                   mime="application/zip", key="c_export")
            except (OSError, ValueError) as e:
                st.error(f"Cannot be exported: {e}")
        upload = st.file_uploader("Import a zip as a new collection", type=["zip"], key="c_import_file")
        new = st.text_input("Name of the new collection", key="c_import_name",
                            placeholder="the zip's name" if upload is None else upload.name.rsplit(".", 1)[0])
        if st.button("Import", key="c_import", disabled=upload is None):
            target = new.strip() or upload.name.rsplit(".", 1)[0]
            try:
                count = collections().import_zip(target, upload.getvalue(), owner())
                st.success(f"Imported {count} drawings into **{target}**.")
            except ValueError as e:
                st.error(f"Not imported: {e}")
            except OSError as e:
                st.error(f"Not imported: {os_error_text(e, 'the drawings folder')}.")


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
        st.error(f"The collection cannot be read: {e}")


def live(name: str, growing: bool) -> None:
    """The open class collection is redrawn every few seconds, so the projected page grows as students add."""
    (_live_open if growing else _collection)(name)


def render() -> None:
    st.title("Our class's handwriting")
    open_name = classroom().open_name()
    teacher = is_teacher()
    teacher_panel(open_name)
    roster_panel(open_name)
    names = collections().visible_names(owner(), teacher)  # the class's and this browser's own only
    if open_name:
        me = nickname()
        if teacher:  # the teacher: the students are the ones who add, under their nicknames
            st.success(f"The class collection **{open_name}** is open: students add drawings on the Draw page, "
                       "under the nickname they choose in the sidebar.")
        else:
            where = f" (you are **{as_markdown(me)}**)" if me else ", after choosing a nickname in the sidebar"
            st.success(f"The class collection **{open_name}** is open: add drawings on the Draw page{where}.")
    else:
        st.info("No class collection is open" + (": open one above." if teacher else "; the teacher opens one.")
                + (" You can still look at the collections below." if names else ""))
    shown = [open_name] if open_name else []
    choices = shown + [n for n in names if n != open_name]
    name = st.selectbox("Collection", choices, key="c_show", index=0 if choices else None,
                        placeholder="no collections yet") if choices else None
    if name:
        live(name, name == open_name)
        st.page_link("pages/mistakes.py", label="How well does a model read our handwriting? (Mistakes page)",
                     icon=":material/search_insights:")
    zip_panel(name)


render()
