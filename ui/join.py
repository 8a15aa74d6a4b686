"""How students reach the app: the address they open (mnist_core.classroom.addresses), the join panel for
the projector with its QR code, a share link with its QR code, and the projector mode (large type, no
sidebar), which `?projector=1` in the link turns on."""

from __future__ import annotations

import base64
import html
import os

import streamlit as st
from streamlit import config

from mnist_core.classroom.addresses import Addresses, qr_png, SETTING, student_addresses
from ui import keys
from ui.i18n import t

JOIN_QR_PX = 520  # the join panel's code on a projector: ~1/3 of the wall, read from the back row
LINK_QR_PX = 132  # beside a share link: scanned from a screen nearby


def app_addresses() -> Addresses:
    """Where a student's device opens this app, from the teacher's browser's address and the settings."""
    setting = os.environ.get(SETTING, "").strip()
    if not setting and config.is_manually_set("browser.serverAddress"):
        setting = str(config.get_option("browser.serverAddress"))
    url = st.context.url  # None under AppTest: then the machine's addresses on the server's port
    if not url and st.context.headers.get("Host"):
        url = f"http://{st.context.headers['Host']}/"
    return student_addresses(url, setting=setting or None, port=int(config.get_option("server.port")),
                             path=str(config.get_option("server.baseUrlPath") or "/"))


def qr(url: str, width_px: int, testid: str) -> None:
    """A QR code of `url`, `width_px` wide at most (narrower screens: their width), crisp when scaled."""
    data = base64.b64encode(qr_png(url, width_px)).decode()
    st.markdown(f"<img data-testid='{testid}' alt='QR code of {html.escape(url)}' src='data:image/png;base64,{data}' "
                f"style='width:{width_px}px;max-width:100%;image-rendering:pixelated'>", unsafe_allow_html=True)


def share_link(job_id: str) -> None:
    """A run's read-only link, as a student's device opens it, with its QR code beside it."""
    addresses = app_addresses()
    link = addresses.link(job=job_id)
    text, code = st.columns([4, 1], vertical_alignment="center")
    marked = f"<span data-testid='share-link'>`{link}`</span>"  # the link as tests and the QR code find it
    text.markdown(t("Share this run (read-only): {link}", link=marked), unsafe_allow_html=True)
    if not addresses.reachable:
        text.caption(t("No network address found for this machine: set {setting} to the address students open.",
                       setting=SETTING))
    with code:
        qr(link, LINK_QR_PX, "share-qr")


def join_dialog() -> None:
    """The join panel in a dialog, titled in this browser's language (so made per run, not at import)."""
    st.dialog(t("Join the class"), width="large")(join_panel)()


def join_panel() -> None:
    """For the projector: the address in large type and its QR code."""
    addresses = app_addresses()
    st.markdown(f"<div style='font-size:2.4rem;font-weight:700;word-break:break-all' data-testid='join-address'>"
                f"{html.escape(addresses.main)}</div>", unsafe_allow_html=True)
    st.markdown(t("Open this address on your laptop or phone, or scan the code; then choose a nickname "
                  "(the sidebar's **Choose a nickname**) and open **Draw**."))
    qr(addresses.main, JOIN_QR_PX, "join-qr")
    if len(addresses.urls) > 1:
        st.caption(t("This machine has other addresses too: {addresses}",
                     addresses=", ".join(f"`{u}`" for u in addresses.urls[1:])))
    if not addresses.reachable:
        st.warning(t("This machine has no network address another device can open. Connect it to the "
                     "classroom's network, or set {setting} to the address students open.", setting=SETTING))


def projector_on() -> bool:
    """Whether this tab is the projected one: `?projector=1` in its link, or the sidebar's toggle."""
    state = st.session_state
    if keys.PROJECTOR not in state:
        state[keys.PROJECTOR] = st.query_params.get("projector") == "1"
    return bool(state[keys.PROJECTOR])


def _set_projector(on: bool) -> None:
    st.session_state[keys.PROJECTOR] = on
    if on:
        st.query_params["projector"] = "1"  # the link the teacher copies opens projected again
    else:
        st.query_params.pop("projector", None)


PROJECTOR_STYLE = """<style>
html { font-size: 22px; }
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stExpandedSidebar"] {
  display: none !important; }
[data-testid="stMainBlockContainer"] { max-width: 100% !important; padding-left: 2rem; padding-right: 2rem; }
</style>"""


def classroom_controls() -> None:
    """In the sidebar on every page: the join panel and the projector mode; in projector mode (no
    sidebar) the way back out sits at the top of the page."""
    if projector_on():
        st.html(PROJECTOR_STYLE)
        left, right = st.columns([5, 1])
        right.button(t("Leave projector mode"), key="projector_off", on_click=_set_projector, args=(False,))
        left.button(t("Show how to join"), key="join_open_projected", icon=":material/qr_code_2:",
                    on_click=st.session_state.update, kwargs={"_join_asked": True})
    else:
        with st.sidebar:
            st.button(t("Show how to join"), key="join_open", icon=":material/qr_code_2:", width="stretch",
                      help=t("The address and a QR code for the projector: students open it on their own devices"),
                      on_click=st.session_state.update, kwargs={"_join_asked": True})
            st.toggle(t("Projector mode"), key="projector_toggle", value=False,
                      on_change=lambda: _set_projector(bool(st.session_state.get("projector_toggle"))),
                      help=t("Large type, no sidebar: for the projected tab (its link gets ?projector=1)"))
    if st.session_state.pop("_join_asked", False):
        join_dialog()
