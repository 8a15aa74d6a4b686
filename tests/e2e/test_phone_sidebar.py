"""The sidebar on a phone (390x844, touch): out of the way of the page once a page is chosen or the app is
loaded again, but never closed under a student who opened it."""

from __future__ import annotations

from .helpers import open_app, PHONE, SIDEBAR_SHOWN, wait_idle


def sidebar_open(page) -> bool:
    return page.evaluate(SIDEBAR_SHOWN)


def test_a_reload_closes_the_sidebar_that_a_student_opened_before_it_did_not_close_under_them(app, browser):
    phone = browser.new_context(**PHONE)
    page = phone.new_page()
    page.set_default_timeout(30_000)
    try:
        open_app(page, app.url)
        assert not sidebar_open(page)  # closed on a phone's first load
        page.get_by_test_id("stExpandSidebarButton").click()
        page.wait_for_function(SIDEBAR_SHOWN)
        # A reload: Streamlit opens the sidebar again (it remembers it in the browser); the page closes it.
        page.reload()
        page.get_by_test_id("stMainBlockContainer").wait_for()
        page.wait_for_function(f"!({SIDEBAR_SHOWN})()")
        wait_idle(page)
        # On a busy server the closer can first run after the student has opened the sidebar: a first run in
        # this window (as on a load, its mark removed) after a touch leaves it open, even with a page chosen.
        page.get_by_test_id("stExpandSidebarButton").click()
        page.wait_for_function(SIDEBAR_SHOWN)
        page.evaluate("delete window.__mnistSidebarPage")
        page.locator('[data-testid="stSidebarNav"] a', has_text="Draw").click()
        page.get_by_role("heading", name="Draw a digit").wait_for()
        page.wait_for_function("window.__mnistSidebarPage === 'draw'")  # the closer ran, and chose to leave it
        wait_idle(page)
        page.wait_for_timeout(1000)  # a closing sidebar slides out in 0.3 s
        assert sidebar_open(page)
        # Later page choices close it again.
        page.locator('[data-testid="stSidebarNav"] a', has_text="Mistakes").click()
        page.wait_for_function(f"!({SIDEBAR_SHOWN})()")
        page.get_by_test_id("stExpandSidebarButton").wait_for()
    finally:
        phone.close()
