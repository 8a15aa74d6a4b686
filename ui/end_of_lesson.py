"""The teacher's end of the lesson (the Class page's teacher panel): the leaderboard as CSV, then the students'
models and private collections archived or deleted in one confirmed step (classroom/end_of_lesson.py)."""

from __future__ import annotations

import functools
from datetime import date

import streamlit as st

from mnist_core.classroom.end_of_lesson import end_lesson, leaderboard_csv, students_things
from mnist_core.classroom.leaderboard import owner_label, saved_entries
from mnist_core.storage.models import StoreError
from ui.browser import owner
from ui.engine import collections, model_store, nicknames
from ui.i18n import said, t
from ui.widgets import confirmed, Notice

NOTICE = Notice("_end_of_lesson_notice")


def end_of_lesson_panel() -> None:
    """Only for the teacher (the caller checks)."""
    with st.expander(t("End of the lesson: export the leaderboard, clear the students' things"),
                     icon=":material/school:"):
        store, drawings = model_store(), collections()
        who = functools.partial(owner_label, nickname=nicknames().all().get)
        st.download_button(t("Download the leaderboard (CSV)"), leaderboard_csv(saved_entries(store), who),
                           file_name=f"leaderboard-{date.today():%Y-%m-%d}.csv", mime="text/csv",
                           icon=":material/download:", key="c_csv")
        found = students_things(store, drawings, owner())
        NOTICE.show()
        if not found.models and not found.collections:
            st.caption(t("No student models or private collections to clear."))
            return
        st.caption(t("The students' **{models}** models and **{collections}** private collections. The shipped "
                     "model, the class collections and your own stay.", models=len(found.models),
                     collections=len(found.collections)))
        how = st.radio(t("What to do with them"), ["archive", "delete"], horizontal=True, key="c_end_how",
                       format_func={"archive": t("archive (moved aside in the folders, kept)"),
                                    "delete": t("delete for good")}.get)
        ask = f"{how}: {len(found.models)} models, {len(found.collections)} collections"
        counts = {"models": len(found.models), "collections": len(found.collections)}
        question = (t("Archive {models} models and {collections} private collections?", **counts) if how == "archive"
                    else t("Delete for good {models} models and {collections} private collections?", **counts))
        if confirmed(st, "c_end_confirm", ask, t("Clear the students' things"), question, t("Yes, clear them")):
            try:
                done = end_lesson(store, drawings, owner(), archive=how == "archive")
            except StoreError as e:
                st.error(t("Not cleared: {reason}", reason=said(e)))
                return
            cleared = {"models": len(done.models), "collections": len(done.collections)}
            NOTICE.say(t("Cleared {models} models and {collections} collections (kept in {folder}).",
                         folder=done.archive.parent, **cleared) if done.archive
                       else t("Cleared {models} models and {collections} collections.", **cleared))
            st.rerun()
