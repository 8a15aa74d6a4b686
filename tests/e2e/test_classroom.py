"""A classroom in a real browser: two browsers (two Chromium contexts) on one server. Who you are lives
in a cookie: a page switch and a reload keep your run, your current model and your rights; the URL
never carries the key; another browser cannot rename or delete your model."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from .helpers import main_button, open_app, setup_small_run, shot, train_one_epoch, wait_idle

pytestmark = pytest.mark.browser
COOKIE = "mnist_owner"


def go_to(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"] a', has_text=title).click()
    page.get_by_role("heading", name=re.compile(title if title != "Train" else "Train a network")).first.wait_for()
    wait_idle(page)


def pick_model(page, name: str) -> None:
    """The Draw page's model picker (in its folded settings)."""
    box = page.get_by_role("combobox", name="Model")
    if not box.is_visible():
        page.get_by_text("Settings: model, device, brush").click()
    option = page.get_by_role("option", name=name, exact=True)
    for attempt in range(3):  # a redraw on a loaded machine may close the list under the typing, or lose the
        if box.input_value() == name:  # click (CI, 2026-12-08: the page never showed the model picked): again
            break
        box.click()
        box.fill(name)  # the options narrow to the one typed: the option itself is clicked (an Enter
        try:  # pressed before the list narrowed chose another)
            option.click(timeout=15_000)
        except PlaywrightTimeout:
            if attempt == 2:
                raise
            page.keyboard.press("Escape")
        wait_idle(page)
    wait_idle(page)
    page.get_by_text(re.compile(rf"Model {re.escape(name)}\b")).first.wait_for()  # the page answers with it


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
    train_one_epoch(page, "e2e-class-a", timeout=120_000)
    assert "job=" in page.url and "key=" not in page.url and cookie["value"] not in page.url
    go_to(page, "Draw")
    pick_model(page, "e2e-class-a")
    page.get_by_text(re.compile(r"Model e2e-class-a")).wait_for()
    go_to(page, "Train")  # a page switch drops ?job= from the URL: the session still knows the run
    page.get_by_text(re.compile(r"Trained 1 epoch; saved as e2e-class-a")).wait_for()
    page.get_by_text("Rename or delete e2e-class-a").wait_for()
    shot(page, "classroom-after-page-switch")
    page.goto(app.url)  # a reload: a new session, the same cookie
    page.get_by_text(re.compile(r"Trained 1 epoch; saved as e2e-class-a")).wait_for(timeout=30_000)
    page.get_by_text(re.compile(r"Current model for the other pages: e2e-class-a")).wait_for()
    page.get_by_text("Rename or delete e2e-class-a").wait_for()
    main_button(page, "Train more").wait_for()
    assert "key=" not in page.url and owner_cookie(alice)["value"] == cookie["value"]
    shot(page, "classroom-after-reload")
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
    other.get_by_text("Choose the settings in the sidebar").wait_for()  # alice's run is not bob's
    go_to(other, "Draw")
    pick_model(other, "e2e-class-a")
    go_to(other, "Train")
    other.get_by_text(re.compile(r"Current model for the other pages: e2e-class-a")).wait_for()
    assert other.get_by_text("Rename or delete e2e-class-a").count() == 0
    shot(other, "classroom-other-browser")
    bob.close()
    alice.close()
    log = open(app.log.name).read()
    assert "missing ScriptRunContext" not in log


def test_two_tabs_opened_at_once_on_a_first_visit_are_one_browser(app, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    first, second = context.new_page(), context.new_page()
    for tab in (first, second):
        tab.set_default_timeout(30_000)
    # Both before either has a cookie: each session makes a key, the first written stays, the other adopts it.
    first.goto(app.url)
    second.goto(f"{app.url}draw")
    for tab in (first, second):
        tab.get_by_test_id("stMainBlockContainer").wait_for()
        wait_idle(tab)
    cookie = owner_cookie(context)
    second.goto(app.url)  # the second tab trains...
    setup_small_run(second, 1, "e2e-two-tabs")
    main_button(second, "Train").click()
    second.get_by_text(re.compile(r"Trained 1 epoch; saved as e2e-two-tabs")).wait_for(timeout=120_000)
    first.reload()  # ...and the first, reloaded, finds the run and the rights: the same browser
    first.get_by_text(re.compile(r"Trained 1 epoch; saved as e2e-two-tabs")).wait_for(timeout=30_000)
    first.get_by_text("Rename or delete e2e-two-tabs").wait_for()
    assert first.get_by_text("You are watching someone else's run").count() == 0
    assert owner_cookie(context)["value"] == cookie["value"]
    context.close()


@pytest.mark.parametrize("existing", ["", "k" * 32])
def test_the_cookie_script_keeps_a_key_another_tab_wrote_and_hands_it_over(app, browser, existing):
    """The cookie component's own script, run in a page of the app's origin: with no cookie it writes its
    key; with a key another tab wrote since this session began, it keeps that one and adopts it."""
    from ui.identity import _JS, COOKIE, KEY_PATTERN

    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{app.url}_stcore/health")  # the app's origin, nothing run
    if existing:
        page.evaluate(f"document.cookie = '{COOKIE}={existing}; Path=/'")
    mine = "m" * 32
    outcome = page.evaluate("""async ([js, data]) => {
        const url = URL.createObjectURL(new Blob([js], {type: 'text/javascript'}));
        const run = (await import(url)).default;
        let adopted = null;
        run({data, setStateValue: (name, value) => { adopted = [name, value]; }});
        return {adopted, cookie: document.cookie};
    }""", [_JS, {"name": COOKIE, "value": mine, "age": 60, "pattern": KEY_PATTERN.pattern}])
    owners = [c for c in outcome["cookie"].split("; ") if c.startswith(f"{COOKIE}=")]
    if existing:
        assert outcome["adopted"] == ["adopt", existing] and owners == [f"{COOKIE}={existing}"]
    else:
        assert outcome["adopted"] is None and owners == [f"{COOKIE}={mine}"]
    context.close()
