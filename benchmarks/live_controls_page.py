"""Page-side figures of the live controls (issue 27), in Chromium against the real app (`streamlit run app.py`
on a free port, real MNIST, the server's real child process):

- Pause: from the click on Pause to "Paused at epoch E, batch B" shown on the page (median and worst of 20;
  target < 0.5 s);
- Step: from the click on Step to the page's answer, the paused line one batch on (median of 20; < 0.5 s).

Each round: Pause, Step, Resume. The engine's own answers (without a browser) are benchmarks/live_controls.py.

Run: MNIST_DIR=../shared/data/mnist python benchmarks/live_controls_page.py --rounds 20
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from tests.e2e.helpers import App, CHROMIUM, CHROMIUM_ARGS, main_button, open_app, setup_small_run  # noqa: E402
from tests.helpers import REAL_MNIST  # noqa: E402

PAUSED = r"Paused at epoch \d+, batch \d+ of \d+"
# The page's paused line, as text (None while not paused); a Step's answer is a different one.
PAUSED_TEXT = ("() => { const m = document.querySelector('[data-testid=stMainBlockContainer]').innerText"
               f".match(/{PAUSED}/); return m ? m[0] : null; }}")


def timed(page, action, condition: str, arg=None) -> float:
    start = time.perf_counter()
    action()
    page.wait_for_function(condition, arg=arg, timeout=20_000, polling="raf")
    return time.perf_counter() - start


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    store = Path(tempfile.mkdtemp()) / "models"
    store.mkdir(parents=True)
    app = App(store, REAL_MNIST)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
            page.set_default_timeout(60_000)
            open_app(page, app.url)
            setup_small_run(page, 200, "bench-page")
            main_button(page, "Train").click()
            page.get_by_text(re.compile(r"Epoch \d+ of 200, batch \d+")).wait_for(timeout=120_000)
            pauses, steps = [], []
            is_paused = f"() => ({PAUSED_TEXT})() !== null"
            for _ in range(args.rounds):
                pauses.append(timed(page, main_button(page, "Pause").click, is_paused))
                before = page.evaluate(PAUSED_TEXT)
                moved = f"before => {{ const now = ({PAUSED_TEXT})(); return now !== null && now !== before; }}"
                steps.append(timed(page, main_button(page, "Step").click, moved, before))
                main_button(page, "Resume").click()
                page.wait_for_function(f"() => ({PAUSED_TEXT})() === null", timeout=20_000)
                page.wait_for_timeout(300)  # a few batches between rounds
            main_button(page, "Stop").click()
            browser.close()
    finally:
        app.stop()
    print(f"page: Pause click -> 'Paused' shown: median {statistics.median(pauses):.3f} s, worst {max(pauses):.3f} s "
          f"({len(pauses)} rounds)")
    print(f"page: Step click -> paused one batch on, shown: median {statistics.median(steps):.3f} s, "
          f"worst {max(steps):.3f} s")


if __name__ == "__main__":
    main()
