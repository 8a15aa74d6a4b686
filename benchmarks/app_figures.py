"""Figures of the app issues, measured in headless Chromium against a real `streamlit run app.py`:

- app start to first page shown (seconds);
- Train: from the click to the first batches shown (seconds);
- Stop: from the click to the page saying "Stopped" (seconds);
- training from the page against the engine alone on the CLI, same setting, same run: seconds per
  epoch of each and the ratio (goal: the page at most 20% slower);
- Draw: from the mouse-up of a stroke to the prediction shown, median and worst of 20 strokes.

Run: MNIST_DIR=../shared/data/mnist python benchmarks/app_figures.py
"""

from __future__ import annotations

import json
import math
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
from tests.e2e.helpers import App, CHROMIUM, CHROMIUM_ARGS, main_button, wait_idle  # noqa: E402
from tests.helpers import REAL_MNIST  # noqa: E402

SETTING = ["--hidden", "256", "--seed", "0"]
MARKER = "[data-testid='reading-marker']"


def cli_epoch_seconds(store: str, epochs: int) -> list[float]:
    out = subprocess.run([sys.executable, "-m", "mnist_core", "train", "--json", "--store", store, "--name", "cli",
                          "--epochs", str(epochs), *SETTING], cwd=PROJECT, check=True, capture_output=True,
                         text=True).stdout
    return [json.loads(line)["seconds"] for line in out.splitlines()]


def set_field(page, label: str, value: str) -> None:
    field = page.get_by_test_id("stSidebar").get_by_label(label, exact=True)
    field.fill(value)
    field.press("Enter")
    wait_idle(page)


def main() -> None:
    import argparse

    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=["draw", "mistakes", "train"], help="measure only this part")
    parser.add_argument("--epochs", type=int, default=3, help="epochs of each training run, CLI and page")
    args = parser.parse_args()
    only = args.only

    with tempfile.TemporaryDirectory() as folder, sync_playwright() as p:
        store = Path(folder) / "models"
        started = time.monotonic()
        app = App(store, REAL_MNIST)
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        page.goto(app.url)
        page.get_by_role("heading", name="Train a network").wait_for()
        print(f"app start to first page shown: {time.monotonic() - started:.1f} s "
              f"(server healthy after {app.ready_seconds:.1f} s)", flush=True)
        wait_idle(page)
        try:
            if only in (None, "mistakes"):
                mistakes_figures(page, app)
            if only in (None, "train"):
                train_figures(page, app, folder, args.epochs)
            if only in (None, "draw"):
                draw_figure(page, app)
        finally:
            browser.close()
            app.stop()


def train_figures(page, app: App, folder: str, epochs: int) -> None:
    # Page against CLI, alternating so both see the same machine: CLI, page, CLI.
    store = app.store
    page.goto(app.url)  # the Train page, whichever page the figures before left open
    page.get_by_role("heading", name="Train a network").wait_for()
    wait_idle(page)
    cli_before = cli_epoch_seconds(folder, epochs)
    set_field(page, "Hidden layers", "256")
    set_field(page, "Epochs", str(epochs))
    set_field(page, "Model name", "page")
    clicked = time.monotonic()
    main_button(page, "Train").click()
    page.get_by_text(re.compile(rf"Epoch 1 of {epochs}, batch \d+")).wait_for()
    print(f"Train: click to the first batches shown: {time.monotonic() - clicked:.1f} s", flush=True)
    page.get_by_text(f"Trained {epochs} epochs; saved as page").wait_for(timeout=300_000)
    from mnist_core.storage.models import ModelStore
    page_epochs = [r.seconds for r in ModelStore(store).meta("page").history]
    (Path(folder) / "cli.pt").unlink()
    cli_after = cli_epoch_seconds(folder, epochs)
    cli = (statistics.median(cli_before) + statistics.median(cli_after)) / 2
    page_epoch = statistics.median(page_epochs)

    def listed(seconds: list[float]) -> str:
        return ", ".join(f"{s:.2f}" for s in seconds)

    print(f"seconds per epoch, 784-256-10, median of {epochs}: CLI {statistics.median(cli_before):.2f} "
          f"({listed(cli_before)}) and {statistics.median(cli_after):.2f} ({listed(cli_after)}), page (charts "
          f"polling) {page_epoch:.2f} ({listed(page_epochs)}); page/CLI = {page_epoch / cli:.2f} (goal <= 1.20)",
          flush=True)

    # Stop latency.
    wait_idle(page)
    set_field(page, "Epochs", "50")
    set_field(page, "Model name", "stop")
    main_button(page, "Train").click()
    page.get_by_text(re.compile(r"Epoch \d+ of 50, batch \d+")).wait_for()
    clicked = time.monotonic()
    main_button(page, "Stop").click()
    page.get_by_text(re.compile(r"Stopped (in epoch|after \d+ epoch)")).wait_for()
    halted = time.monotonic() - clicked
    page.get_by_text(re.compile(r"Stopped after \d+ epoch")).wait_for()
    print(f"Stop: click to 'Stopped' shown: {halted:.2f} s; to 'saved' shown: {time.monotonic() - clicked:.2f} s",
          flush=True)


def mistakes_figures(page, app: App) -> None:
    """First render of the Mistakes page for a model whose predictions are not computed yet, then the
    gallery's answer to a filter change."""
    page.goto(app.url)
    page.get_by_role("heading", name="Train a network").wait_for()
    wait_idle(page)
    start = time.monotonic()
    page.locator('[data-testid="stSidebarNav"] a', has_text="Mistakes").click()  # as a user moves between pages
    caption = page.get_by_text(re.compile(r"\d+ mistakes; shown \d+"))
    caption.wait_for()
    print(f"Mistakes: first render with predictions on the 10,000 test digits: {time.monotonic() - start:.2f} s "
          "(goal < 2 s)", flush=True)
    wait_idle(page)
    def open_true_digit_list() -> None:
        for _ in range(5):  # a click while the page redraws can land before the list is ready
            page.get_by_role("combobox", name="True digit").click()
            if page.get_by_role("listbox").count():
                return
            page.wait_for_timeout(300)

    times = []
    for digit in (4, 7, 9):
        before = caption.inner_text()
        open_true_digit_list()
        option = page.get_by_role("option", name=str(digit), exact=True)
        option.wait_for()
        start = time.monotonic()
        option.click()
        page.wait_for_function("prev => [...document.querySelectorAll('[data-testid=stCaptionContainer]')]"
                               ".some(e => /mistakes; shown/.test(e.textContent) && e.textContent !== prev)",
                               arg=before, polling=10)
        times.append(time.monotonic() - start)
        wait_idle(page)
        open_true_digit_list()
        page.get_by_role("option", name="any", exact=True).click()
        wait_idle(page)
    print(f"Mistakes: filter change to gallery shown: {', '.join(f'{t:.2f}' for t in times)} s (goal < 0.5 s)",
          flush=True)


def draw_figure(page, app: App) -> None:
    page.goto(app.url + "draw")
    canvas = page.locator("canvas.upper-canvas")
    canvas.wait_for()
    wait_idle(page)
    times = []
    for i in range(20):
        box = canvas.bounding_box()
        before = page.locator(MARKER).first.text_content() if page.locator(MARKER).count() else None
        angle = 2 * math.pi * i / 20
        x, y = box["x"] + 140 + 60 * math.cos(angle), box["y"] + 140 + 60 * math.sin(angle)
        page.mouse.move(x, y)
        page.mouse.down()
        for step in range(1, 21):
            page.mouse.move(x + 3 * step * math.sin(angle), y - 3 * step * math.cos(angle))
        start = page.evaluate("performance.now()")
        page.mouse.up()
        page.wait_for_function(
            "prev => { const m = document.querySelector(\"" + MARKER + "\"); "
            "return m && m.textContent !== prev; }", arg=before, polling=5)
        times.append(page.evaluate("performance.now()") - start)
        wait_idle(page)
    print(f"Draw: mouse-up to prediction shown, 20 strokes: median {statistics.median(times):.0f} ms, "
          f"worst {max(times):.0f} ms (goal: median < 300 ms)", flush=True)


if __name__ == "__main__":
    main()
