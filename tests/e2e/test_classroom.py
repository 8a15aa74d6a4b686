"""A classroom in a real browser: two browsers (two Chromium contexts) on one server. Who you are lives
in a cookie: a page switch and a reload keep your run, your current model and your rights; the URL
never carries the key; another browser cannot rename or delete your model."""

from __future__ import annotations

import re
import time

import pytest

from .conftest import ARTIFACTS, main_button, open_app, wait_idle
from .test_train_page import setup_small_run

pytestmark = pytest.mark.browser
COOKIE = "mnist_owner"


def go_to(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"] a', has_text=title).click()
    page.get_by_role("heading", name=re.compile(title if title != "Train" else "Train a network")).first.wait_for()
    wait_idle(page)


def pick_model(page, name: str) -> None:
    """The Draw page's model picker."""
    page.get_by_role("combobox", name="Model").click()
    page.get_by_role("option", name=name, exact=True).click()
    wait_idle(page)


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"classroom-{name}.png"), full_page=True)


def owner_cookie(context) -> dict:
    """The owner cookie, once the page's component has set it (it mounts just after the first script run)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        found = [c for c in context.cookies() if c["name"] == COOKIE]
        if found:
            return found[0]
        time.sleep(0.2)
    raise AssertionError("the owner cookie was never set")


def test_switch_page_and_reload_keep_the_run_the_model_and_the_rights(app, browser):
    alice = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = alice.new_page()
    page.set_default_timeout(30_000)
    open_app(page, app.url)
    cookie = owner_cookie(alice)
    assert cookie["sameSite"] == "Strict" and cookie["expires"] > 0 and len(cookie["value"]) >= 24
    setup_small_run(page, 1, "e2e-class-a")
    main_button(page, "Train").click()
    page.get_by_text(re.compile(r"Trained 1 epochs; saved as e2e-class-a")).wait_for(timeout=120_000)
    wait_idle(page)
    assert "job=" in page.url and "key=" not in page.url and cookie["value"] not in page.url
    go_to(page, "Draw")
    pick_model(page, "e2e-class-a")
    page.get_by_text(re.compile(r"Model e2e-class-a")).wait_for()
    go_to(page, "Train")  # a page switch drops ?job= from the URL: the session still knows the run
    page.get_by_text(re.compile(r"Trained 1 epochs; saved as e2e-class-a")).wait_for()
    page.get_by_text("Rename or delete e2e-class-a").wait_for()
    shot(page, "after-page-switch")
    page.goto(app.url)  # a reload: a new session, the same cookie
    page.get_by_text(re.compile(r"Trained 1 epochs; saved as e2e-class-a")).wait_for(timeout=30_000)
    page.get_by_text(re.compile(r"Current model for the other pages: e2e-class-a")).wait_for()
    page.get_by_text("Rename or delete e2e-class-a").wait_for()
    main_button(page, "Train more").wait_for()
    assert "key=" not in page.url and owner_cookie(alice)["value"] == cookie["value"]
    shot(page, "after-reload")
    # An old link with ?key= in it: the key is dropped from the address bar.
    page.goto(f"{app.url}?key=stolen-from-the-projector")
    page.get_by_role("heading").first.wait_for()
    wait_idle(page)
    assert "key=" not in page.url and owner_cookie(alice)["value"] == cookie["value"]

    # Another browser: picks alice's model as its current one, but may neither rename nor delete it.
    bob = browser.new_context(viewport={"width": 1400, "height": 1000})
    other = bob.new_page()
    other.set_default_timeout(30_000)
    open_app(other, app.url)
    assert owner_cookie(bob)["value"] != cookie["value"]
    other.get_by_text("Choose the settings on the left").wait_for()  # alice's run is not bob's
    go_to(other, "Draw")
    pick_model(other, "e2e-class-a")
    go_to(other, "Train")
    other.get_by_text(re.compile(r"Current model for the other pages: e2e-class-a")).wait_for()
    assert other.get_by_text("Rename or delete e2e-class-a").count() == 0
    shot(other, "other-browser")
    bob.close()
    alice.close()
    log = open(app.log.name).read()
    assert "missing ScriptRunContext" not in log
