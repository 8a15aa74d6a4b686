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
from ui.widgets import confirmed, Notice

NOTICE = Notice("_end_of_lesson_notice")


def end_of_lesson_panel() -> None:
    """Only for the teacher (the caller checks)."""
    with st.expander("End of the lesson: export the leaderboard, clear the students' things",
                     icon=":material/school:"):
        store, drawings = model_store(), collections()
        who = functools.partial(owner_label, nickname=nicknames().all().get)
        st.download_button("Download the leaderboard (CSV)", leaderboard_csv(saved_entries(store), who),
                           file_name=f"leaderboard-{date.today():%Y-%m-%d}.csv", mime="text/csv",
                           icon=":material/download:", key="c_csv")
        found = students_things(store, drawings, owner())
        NOTICE.show()
        if not found.models and not found.collections:
            st.caption("No student models or private collections to clear.")
            return
        st.caption(f"The students' **{len(found.models)}** models and **{len(found.collections)}** private "
                   "collections. The shipped model, the class collections and your own stay.")
        how = st.radio("What to do with them", ["archive", "delete"], horizontal=True, key="c_end_how",
                       format_func={"archive": "archive (moved aside in the folders, kept)",
                                    "delete": "delete for good"}.get)
        ask = f"{how}: {len(found.models)} models, {len(found.collections)} collections"
        if confirmed(st, "c_end_confirm", ask, "Clear the students' things",
                     f"{'Archive' if how == 'archive' else 'Delete for good'} {len(found.models)} models and "
                     f"{len(found.collections)} private collections?", "Yes, clear them"):
            try:
                done = end_lesson(store, drawings, owner(), archive=how == "archive")
            except StoreError as e:
                st.error(f"Not cleared: {e}")
                return
            where = f" (kept in {done.archive.parent})" if done.archive else ""
            NOTICE.say(f"Cleared {len(done.models)} models and {len(done.collections)} collections{where}.")
            st.rerun()
