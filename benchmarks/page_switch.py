"""Page switches while a class draws (issue 31): seconds from a click on a page in the sidebar to that page's
title shown, in Chromium (1440x900) against a real `streamlit run app.py`, Train -> Draw -> Mistakes -> Train
again, first with no one else on the server and then while N simulated students (benchmarks/load.py, the
Streamlit protocol, each drawing a new digit every 2 s) use it, in one run. Prints the median and worst of each
and their ratio. Goal: within 1 s at 30 students.

Run: MNIST_DIR=../shared/data/mnist python benchmarks/page_switch.py [--students 30] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from tests.e2e.helpers import App, CHROMIUM, CHROMIUM_ARGS, open_app, wait_idle  # noqa: E402
from tests.helpers import REAL_MNIST  # noqa: E402

# (the sidebar link, the page's title) in the order a learner goes round
ROUND = (("Draw", "Draw a digit"), ("Mistakes", "Where the network goes wrong"), ("Train", "Train a network"))


def switches(page, rounds: int) -> list[float]:
    """Seconds of each switch, `rounds` times round the pages; the page is let settle between switches."""
    times = []
    for _ in range(rounds):
        for link, title in ROUND:
            start = time.perf_counter()
            page.locator("[data-testid='stSidebarNav'] a", has_text=link).first.click()
            page.get_by_role("heading", name=title, exact=True).wait_for(timeout=60_000)
            times.append(time.perf_counter() - start)
            wait_idle(page, 60)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    app = App(Path(tempfile.mkdtemp()) / "models", REAL_MNIST)
    load = None
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
            page.set_default_timeout(60_000)
            open_app(page, app.url)
            switches(page, 1)  # the server's first visit of each page (imports, caches) is not a switch
            alone = switches(page, args.rounds)
            seconds = 30 + 12 * args.rounds  # long enough for the switches below
            load = subprocess.Popen([sys.executable, str(PROJECT / "benchmarks" / "load.py"), "--students",
                                     str(args.students), "--seconds", str(seconds), "--url", app.url,
                                     "--server-pids", str(app.process.pid), "--json"],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            time.sleep(20)  # the class joins and starts drawing
            busy = switches(page, args.rounds)
            browser.close()
        report = load.communicate(timeout=seconds + 300)[0]
    finally:
        if load is not None and load.poll() is None:
            load.kill()
        app.stop()
    print(f"page switch, nobody else: median {statistics.median(alone):.2f} s, worst {max(alone):.2f} s "
          f"({len(alone)} switches)")
    print(f"page switch, {args.students} students drawing: median {statistics.median(busy):.2f} s, worst "
          f"{max(busy):.2f} s ({len(busy)} switches); ratio of medians "
          f"{statistics.median(busy) / statistics.median(alone):.2f}")
    for i, (link, _) in enumerate(ROUND):
        print(f"  to {link}: nobody else {statistics.median(alone[i::3]):.2f} s (worst {max(alone[i::3]):.2f}), "
              f"{args.students} students {statistics.median(busy[i::3]):.2f} s (worst {max(busy[i::3]):.2f})")
    print(f"the class meanwhile (load.py): {report.strip()[:400]}")


if __name__ == "__main__":
    main()
