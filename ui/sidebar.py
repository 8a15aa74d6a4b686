"""The sidebar on every page: the box where a browser chooses its nickname."""

from __future__ import annotations

import streamlit as st

from mnist_core.classroom.errors import ClassError
from mnist_core.storage.files import os_error_text
from ui import keys
from ui.browser import nickname, owner
from ui.engine import nicknames
from ui.widgets import as_markdown, KeptError

NICKNAME_ERROR = KeptError(keys.NICKNAME_ERROR)  # why the last nickname was refused, shown in the box


def save_nickname() -> None:
    """The form's callback (runs before the next script run, whichever page it is)."""
    NICKNAME_ERROR.clear()
    try:
        nicknames().set(nicknames().tag_of(owner()), st.session_state.get(keys.NICKNAME_INPUT, ""))
    except ClassError as e:
        NICKNAME_ERROR.keep(str(e))
    except OSError as e:
        NICKNAME_ERROR.keep(f"The nickname was not saved: {os_error_text(e, 'the model folder')}.")


def nickname_box() -> None:
    """The one place a browser sets its nickname (in the sidebar): shown on the class's pages instead of
    any real name."""
    current = nickname()
    problem = NICKNAME_ERROR.text()
    with st.sidebar.popover(f"You are **{as_markdown(current)}**" if current else "Choose a nickname", width="stretch",
                            icon=":material/badge:"):
        with st.form("nickname_form", border=False):
            st.text_input("Nickname", value=current or "", max_chars=24, key=keys.NICKNAME_INPUT,
                          help="What the class sees beside your drawings and models; no real name needed")
            st.form_submit_button("Save nickname", on_click=save_nickname)
        if problem:
            st.error(problem)
