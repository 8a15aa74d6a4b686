"""Who this browser is: a private owner key kept in a cookie (never in a URL, a file or a log), read
from the cookie at each session's start and written there by a tiny component on the first visit."""

from __future__ import annotations

import re
import secrets
import threading

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from ui.keys import OWNER

COOKIE = "mnist_owner"
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{24,64}$")  # what secrets.token_urlsafe(24) makes; anything else is new
MAX_AGE = 400 * 24 * 3600  # seconds: the longest a browser keeps a cookie (Chrome caps at 400 days)
_RENDERED = "_owner_cookie_run"  # which script run has drawn the component already

# Runs in the page (not an iframe): sets the cookie the next session's websocket handshake sends. Where
# another tab of this browser has set one meanwhile (two tabs opened at once on a first visit), that one
# stays and this session adopts it: one browser, one key.
_JS = """
export default function({ data, setStateValue }) {
  if (!data) return;
  const found = document.cookie.split('; ').find(c => c.startsWith(`${data.name}=`));
  const value = found ? found.slice(data.name.length + 1) : '';
  if (value === data.value) return;
  if (new RegExp(data.pattern).test(value)) { setStateValue('adopt', value); return; }
  const secure = location.protocol === 'https:' ? '; Secure' : '';
  document.cookie = `${data.name}=${data.value}; Max-Age=${data.age}; Path=/; SameSite=Strict${secure}`;
}
"""
_lock = threading.Lock()
_component: list = []


def _cookie_writer():
    with _lock:  # registered once per process, inside a run (registering needs the runtime)
        if not _component:
            _component.append(st.components.v2.component("mnist_app.owner_cookie", js=_JS))
        return _component[0]


def browser_key() -> str:
    """This browser's key: the cookie's if it sent one, else a new one that the page stores in the cookie.
    A `?key=` left in an old link is dropped from the address bar: keys never travel in URLs."""
    state = st.session_state
    if OWNER not in state:
        sent = st.context.cookies.get(COOKIE)
        ok = isinstance(sent, str) and KEY_PATTERN.fullmatch(sent)  # (no real cookies under AppTest)
        state[OWNER] = sent if ok else secrets.token_urlsafe(24)
    if "key" in st.query_params:
        del st.query_params["key"]
    ctx = get_script_run_ctx()
    # The cookie is written from the page body (a callback cannot draw), once a run, until a session
    # starts with it; the handshake's cookies do not change within a session.
    if (ctx is not None and ctx.has_script_started and not ctx.fragment_ids_this_run
            and st.context.cookies.get(COOKIE) != state[OWNER] and state.get(_RENDERED) != id(ctx.cursors)):
        state[_RENDERED] = id(ctx.cursors)
        st.html("<style>.st-key-owner_cookie {display: none}</style>")  # no empty gap on the page
        written = _cookie_writer()(data={"name": COOKIE, "value": state[OWNER], "age": MAX_AGE,
                                         "pattern": KEY_PATTERN.pattern}, key="owner_cookie", height="content",
                                   on_adopt_change=lambda: None)
        adopted = getattr(written, "adopt", None)
        if isinstance(adopted, str) and KEY_PATTERN.fullmatch(adopted) and adopted != state[OWNER]:
            state[OWNER] = adopted  # another tab of this browser was first: its key is this browser's
            st.rerun()
    return state[OWNER]
