"""What the browser tests (and benchmarks/app_figures.py) share: the real app on a free port, Chromium's
flags, and steps through the pages (waiting, typing a setting, drawing a stroke)."""

from __future__ import annotations

import math
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from ..helpers import PROJECT, REAL_MNIST

MARKER = "[data-testid='reading-marker']"  # the Draw page's answer changes this when it reads a stroke
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = PROJECT / "artifacts"  # screenshots of each browser test; not in git
# Screenshots are for a person to look at: taken where one works (MNIST_SHOTS=1, the default), not in CI, where
# nobody sees them and each cost Chromium 0.1-1.6 CPU seconds (benchmarks/browser_costs.py); a failed test's
# picture is taken anyway (the page fixture's).
SHOTS = os.environ.get("MNIST_SHOTS", "0" if os.environ.get("CI") else "1") != "0"


# A browser's size as the tests open it: a laptop, and a phone with touch.
LAPTOP = {"viewport": {"width": 1440, "height": 900}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class App:
    """A running `streamlit run app.py` with its own model store (the app of `cwd`: this project's, unless a
    benchmark starts another tree's)."""

    def __init__(self, store: Path, data_dir: Path, extra_env: dict[str, str] | None = None,
                 host: str = "127.0.0.1", cwd: Path = PROJECT) -> None:
        self.port = free_port()
        self.url = f"http://{host}:{self.port}/"
        self.store = store
        env = {**os.environ, "MNIST_DIR": str(data_dir), "MNIST_MODELS": str(store), **(extra_env or {})}
        self.log = open(store.parent / f"streamlit-{self.port}.log", "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
             "--server.port", str(self.port), "--server.address", host,
             "--browser.gatherUsageStats", "false"],
            cwd=cwd, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.started = time.monotonic()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        self.ready_seconds = time.monotonic() - self.started
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"streamlit did not answer on {self.url}; log: {self.log.name}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def start_app(tmp_path_factory, name: str, extra_env: dict[str, str] | None = None, host: str = "127.0.0.1") -> App:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium") if os.environ.get("CI") else \
            pytest.skip(f"{CHROMIUM} is not installed")
    if not any((REAL_MNIST / f"train-images-idx3-ubyte{ext}").exists() for ext in (".gz", "")):
        pytest.skip(f"the real MNIST is not at {REAL_MNIST}")
    folder = tmp_path_factory.mktemp(name)
    return App(folder / "models", REAL_MNIST, extra_env, host)


def shot(target, name: str, full_page: bool | None = True, always: bool = False) -> None:
    """A screenshot of a page (the whole of it, unless full_page=False) or of a locator (full_page=None) into
    artifacts/NAME.png, where screenshots are taken (SHOTS) or `always`."""
    if not (SHOTS or always):
        return
    ARTIFACTS.mkdir(exist_ok=True)
    path = str(ARTIFACTS / f"{name}.png")
    target.screenshot(path=path) if full_page is None else target.screenshot(path=path, full_page=full_page)


def wait_idle(page, timeout: float = 30) -> None:
    """Until Streamlit shows no running script (its status widget is gone)."""
    page.wait_for_timeout(300)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached", timeout=timeout * 1000)


SIDEBAR_SHOWN = ("() => { const s = document.querySelector('[data-testid=stSidebar]');"
                 " if (!s) return false; const b = s.getBoundingClientRect();"
                 " return b.left >= 0 && b.width > 0 && b.right <= window.innerWidth + 1; }")


def open_sidebar(page) -> None:
    """Open the sidebar (on a phone it starts closed, off screen) and wait until it has slid in and the page
    is idle, opened again if a rerun closed it meanwhile."""
    for attempt in range(3):
        try:
            if not page.evaluate(SIDEBAR_SHOWN):
                page.get_by_test_id("stExpandSidebarButton").click(timeout=10_000)
                page.wait_for_function(SIDEBAR_SHOWN, timeout=10_000)
            wait_idle(page)
            if page.evaluate(SIDEBAR_SHOWN):
                return
        except PlaywrightTimeout:
            if attempt == 2:
                raise
    raise AssertionError("the sidebar closed again each time it was opened")


def open_sidebar_popover(page, button, box) -> None:
    """Open a sidebar popover (`button`, a locator) until `box` (a locator inside it) shows. On a phone the
    sidebar starts closed (off screen): it is opened and waited for to finish sliding in, each try, since
    the header's expand button can render after the page's title and a rerun can close the sidebar again;
    a click during the slide, or a rerun as it opens, can leave the popover closed under load, so it is
    clicked again then (as a person would)."""
    for attempt in range(3):
        try:
            open_sidebar(page)
            if not box.is_visible():
                button.click(timeout=10_000)
            box.wait_for(timeout=10_000)
            return
        except PlaywrightTimeout:
            if attempt == 2:
                raise


def choose_nickname(page, nickname: str, text=lambda msgid: msgid, taken: bool = False) -> None:
    """Choose `nickname` in the sidebar's nickname popover and wait for it to be shown (or, with `taken`,
    for the refusal). `text` gives the page's words in the browser's language (a test of another language
    passes its translator)."""
    sidebar = page.get_by_test_id("stSidebar")
    you_are = text("You are **{nickname}**").split("**")[0].strip()  # the button once a nickname is chosen
    choose = re.escape(text("Choose a nickname"))
    button = sidebar.get_by_role("button", name=re.compile(f"{choose}|^{re.escape(you_are)}"))
    box = page.get_by_role("textbox", name=text("Nickname"))
    open_sidebar_popover(page, button, box)
    box.fill(nickname)
    page.get_by_role("button", name=text("Save nickname")).click()
    if taken:  # the refusal is kept in the box: shown there, or when the box is opened again
        refused = page.get_by_text(text("this nickname is taken"))
        try:
            refused.wait_for(timeout=15_000)
        except PlaywrightTimeout:
            open_sidebar_popover(page, button, refused)
    else:
        sidebar.get_by_role("button", name=re.compile(re.escape(nickname))).wait_for()
    page.keyboard.press("Escape")
    wait_idle(page)


def wait_app_style(page) -> None:
    """Until the app's style block (`ui.widgets.app_style`) is in the page: it comes in an element whose
    script loads on its own, possibly after the page's title."""
    page.wait_for_function("() => [...document.querySelectorAll('style')]"
                           ".some(s => s.textContent.includes('.modebar-container'))")


def in_view(page, locator) -> bool:
    """Whether `locator` lies wholly on the screen (a phone's one screen, say)."""
    box = locator.bounding_box()
    size = page.viewport_size
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= size["height"] and \
        box["x"] >= 0 and box["x"] + box["width"] <= size["width"]


def open_app(page, url: str) -> None:
    page.goto(url)
    page.get_by_test_id("stMainBlockContainer").wait_for()
    page.get_by_role("heading").first.wait_for()
    wait_idle(page)


def main_button(page, name: str):
    """A button of ours in the main area (Streamlit's header has a 'Stop' of its own)."""
    return page.get_by_test_id("stMainBlockContainer").get_by_role("button", name=name, exact=True)


def click_until(page, button, shown, timeout: float = 30_000, state: str = "visible") -> None:
    """Click `button` and wait for `shown` (a locator) to be in `state`; click once more, as a person would,
    when a loaded machine's redraw swallowed the click (a fragment redrawn each second can; the Step and
    +1 epoch clicks carry where the run was, so a second copy of one that did land is not taken twice)."""
    for attempt in range(2):
        if not attempt or button.is_visible():  # gone: the first click did land (Pause became Resume)
            button.click()
        try:
            shown.wait_for(timeout=timeout, state=state)
            return
        except PlaywrightTimeout as e:
            if attempt:  # what the page said instead: the reason, in the test's report
                raise PlaywrightTimeout(f"{e.message}\nthe main area read: {main_text(page)}") from None
            wait_idle(page)


def main_text(page, limit: int = 1500) -> str:
    """The main area's text on one line (shortened), for a failed wait's message."""
    try:
        return " | ".join(page.get_by_test_id("stMainBlockContainer").inner_text(timeout=5_000).split("\n"))[:limit]
    except PlaywrightTimeout:
        return "(nothing)"


def set_field(page, label: str, value: str) -> None:
    field = page.get_by_test_id("stSidebar").get_by_label(label, exact=True)
    field.fill(value)
    field.press("Enter")
    wait_idle(page)


def setup_small_run(page, epochs: int, name: str) -> None:
    set_field(page, "Hidden layers", "32")
    set_field(page, "Epochs", str(epochs))
    set_field(page, "Model name", name)


def train_one_epoch(page, name: str, timeout: float = 90_000) -> None:
    """Train a small model `name` for one epoch from the Train page, and wait until it is saved and the
    page is idle."""
    setup_small_run(page, 1, name)
    main_button(page, "Train").click()
    page.get_by_text(re.compile(rf"Trained 1 epoch; saved as {re.escape(name)}")).wait_for(timeout=timeout)
    wait_idle(page)


def stroke(page, points: list[tuple[float, float]]) -> None:
    """Draw one stroke through points given in canvas pixels (0..280), with real mouse moves."""
    canvas = page.locator("canvas.upper-canvas")
    box = canvas.bounding_box()
    for _ in range(20):  # where the canvas stays put: a stroke drawn while the page still moved (CI screenshot,
        page.wait_for_timeout(50)  # 2026-12-08) dragged over the text below it, and no drawing was sent
        if (now := canvas.bounding_box()) == box:
            break
        box = now
    before = page.locator(MARKER).first.text_content() if page.locator(MARKER).count() else None
    page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x, box["y"] + y)
    page.mouse.up()
    page.wait_for_function(
        "prev => { const m = document.querySelector(\"" + MARKER + "\"); return m && m.textContent !== prev; }",
        arg=before, timeout=20_000)
    wait_idle(page)


def vertical_line() -> list[tuple[float, float]]:
    return [(140, 50 + i * 9) for i in range(21)]


def loop() -> list[tuple[float, float]]:
    """A 0 drawn as one closed stroke on the 280x280 canvas."""
    return [(140 + 55 * math.sin(2 * math.pi * i / 40), 140 - 85 * math.cos(2 * math.pi * i / 40)) for i in range(42)]


def switch_on(page, label: str) -> None:
    """Turn a Streamlit toggle on by clicking its label until the switch shows on (it does at once in the
    browser): under load a click landing during a redraw was lost, the switch left off (CI screenshot,
    2026-12-08). Its label takes the pointer, so the input itself cannot be checked."""
    switch = page.get_by_role("switch", name=label)
    for _ in range(3):
        if switch.is_checked():
            return
        page.get_by_text(label, exact=True).click()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not switch.is_checked():
            time.sleep(0.1)
    assert switch.is_checked(), f"the switch '{label}' did not turn on"
