"""What ui/startup.py relies on in Streamlit's private multipage code (no public switch exists): this
fails when an upgrade changes it, so that the cold-start fix is looked at again."""

from __future__ import annotations

import streamlit
from streamlit.runtime.pages_manager import PagesManager


def test_a_pages_folder_still_puts_a_fresh_server_in_the_old_mode_until_st_navigation_runs(tmp_path):
    (tmp_path / "pages").mkdir()
    (tmp_path / "app.py").write_text("")
    saved = PagesManager.uses_pages_directory
    try:
        PagesManager.uses_pages_directory = None  # a fresh server
        PagesManager(str(tmp_path / "app.py"))
        assert PagesManager.uses_pages_directory is True  # decided by the folder, before any run
        streamlit.navigation([streamlit.Page(str(tmp_path / "app.py"))], position="hidden")
        assert PagesManager.uses_pages_directory is False  # what st.navigation does, and shared.py does early
    finally:
        PagesManager.uses_pages_directory = saved


def test_the_switch_is_checked_against_the_pinned_streamlit():
    from .helpers import PROJECT

    pinned = next(line.split("==")[1].strip() for line in (PROJECT / "requirements.txt").read_text().splitlines()
                  if line.startswith("streamlit=="))
    assert streamlit.__version__ == pinned, "re-check ui/startup.py's pages-folder switch for this Streamlit"
