"""The sidebar on every page: the box where a browser chooses its nickname, and the teacher code box."""

from __future__ import annotations

import streamlit as st

from mnist_core.classroom.errors import ClassError
from mnist_core.texts import os_error_words
from ui import keys
from ui.browser import is_teacher, nickname, operator_switch_on, owner
from ui.engine import nicknames, teachers
from ui.i18n import said, t
from ui.widgets import as_markdown, as_plain_markdown, KeptError, SCRIPT_KEY

NICKNAME_ERROR = KeptError(keys.NICKNAME_ERROR)  # why the last nickname was refused, shown in the box
TEACHER_ERROR = KeptError(keys.TEACHER_ERROR)  # why the last teacher code was refused


def save_nickname() -> None:
    """The form's callback (runs before the next script run, whichever page it is)."""
    NICKNAME_ERROR.clear()
    try:
        nicknames().set(nicknames().tag_of(owner()), st.session_state.get(keys.NICKNAME_INPUT, ""))
    except ClassError as e:
        NICKNAME_ERROR.keep(said(e))
    except OSError as e:
        NICKNAME_ERROR.keep(t("The nickname was not saved: {reason}.", reason=said(os_error_words(e, "model folder"))))


def nickname_box() -> None:
    """The one place a browser sets its nickname (in the sidebar): shown on the class's pages instead of
    any real name."""
    current = nickname()
    problem = NICKNAME_ERROR.text()
    with st.sidebar.popover(t("You are **{nickname}**", nickname=as_markdown(current)) if current
                            else t("Choose a nickname"), width="stretch",
                            icon=":material/badge:"):
        with st.form("nickname_form", border=False):
            st.text_input(t("Nickname"), value=current or "", max_chars=24, key=keys.NICKNAME_INPUT,
                          help=t("What the class sees beside your drawings and models; no real name needed"))
            st.form_submit_button(t("Save nickname"), on_click=save_nickname, key="nickname_save")
        if problem:
            st.error(as_plain_markdown(problem))  # it quotes what was typed: shown as typed


def enter_teacher_code() -> None:
    """The teacher form's callback: this browser becomes the teacher when the code is right (one line if not).
    The box is emptied either way: the code never stays in the page."""
    TEACHER_ERROR.clear()
    entered = st.session_state.get(keys.TEACHER_INPUT, "")
    st.session_state[keys.TEACHER_INPUT] = ""
    try:
        teachers().enter(owner(), entered if isinstance(entered, str) else "")
    except ClassError as e:
        reason = said(e)
        TEACHER_ERROR.keep(f"{reason[:1].upper()}{reason[1:]}.")  # a sentence of its own here
    except OSError as e:
        TEACHER_ERROR.keep(t("Not saved: {reason}.", reason=said(os_error_words(e, "model folder"))))


def leave_teacher() -> None:
    try:
        teachers().leave(owner())
    except (OSError, ClassError) as e:
        TEACHER_ERROR.keep(t("Still the teacher: {reason}.", reason=said(e)))


def teacher_box() -> None:
    """The teacher code box (as Jupyter's token): the code printed when the app started, entered once in the
    teacher's browser, makes that browser the teacher (remembered by its cookie's owner tag)."""
    problem = TEACHER_ERROR.text()
    if is_teacher():
        with st.sidebar.popover(t("You are the **teacher**"), width="stretch", icon=":material/school:"):
            if operator_switch_on():
                st.caption(t("Every browser is the teacher on this server (MNIST_APP_OPERATOR=1, loopback only)."))
            else:
                st.caption(t("This browser entered the teacher code: it opens the class collection, hides "
                             "leaderboard entries and may remove any model or drawing."))
                st.button(t("Back to being a student"), key="teacher_leave", on_click=leave_teacher)
            if problem:
                st.error(problem)
    else:
        with st.sidebar.popover(t("I'm the teacher"), width="stretch", icon=":material/school:"):
            with st.form("teacher_form", border=False):
                st.text_input(t("Teacher code"), type="password", key=keys.TEACHER_INPUT, max_chars=200,
                              help=t("Printed where the app was started (its console, or `serve`'s output)"))
                st.form_submit_button(t("Enter"), on_click=enter_teacher_code, key="teacher_enter")
            if problem:
                st.error(problem)


PAGE_NOW, PAGE_BEFORE = "_page_now", "_page_before"  # the page of this full run and of the one before

# Runs in the page: on a narrow screen (a phone) the sidebar covers most of it, and the first touch strokes
# landed on it; so once per page chosen (and on a load, where Streamlit reopens it if it was open) it is
# closed. A rerun of the same page (the nickname form) leaves it as the student set it, and so does a load
# where the student touched the page before this ran (it can mount late on a busy server: they opened it).
_CLOSE_JS = """
export default function({ data }) {
  if (!data || window.innerWidth >= 768 || window.__mnistSidebarPage === data.page) return;
  const loading = window.__mnistSidebarPage === undefined;
  window.__mnistSidebarPage = data.page;
  const counts = performance.eventCounts;  // events dispatched in this document (not where Safari lacks it)
  if (loading && counts && ['pointerdown', 'touchstart', 'click'].some((kind) => counts.get(kind) > 0)) return;
  const close = (tries) => {
    const bar = document.querySelector('[data-testid="stSidebar"]');
    if (bar && bar.getBoundingClientRect().width <= 60) return;  // closed already (collapsed, it is 0 wide)
    const found = document.querySelector('[data-testid="stSidebarCollapseButton"]');
    const button = found && (found.tagName === 'BUTTON' ? found : found.querySelector('button'));
    if (bar && button) { button.click(); return; }
    if (tries > 0) setTimeout(() => close(tries - 1), 100);  // not drawn yet
  };
  close(20);
}
"""
_closer: list = []


def track_page(page: str) -> None:
    """app.py, on each full run: which page this run shows and which the run before showed, and on a phone
    the sidebar closed after a page is chosen."""
    state = st.session_state
    state[PAGE_BEFORE], state[PAGE_NOW] = state.get(PAGE_NOW), page
    if not _closer:
        _closer.append(st.components.v2.component("mnist_app.sidebar_closer", js=_CLOSE_JS))
    _closer[0](data={"page": page}, key=f"{SCRIPT_KEY}sidebar_closer", height="content")  # hidden by app_style


def page_entered() -> bool:
    """Whether this run is the first of a visit to its page (a page switch or a new session), not a rerun on it."""
    return st.session_state.get(PAGE_BEFORE) != st.session_state.get(PAGE_NOW)
