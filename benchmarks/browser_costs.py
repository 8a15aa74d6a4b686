"""What a browser test's steps cost Chromium and the server, on one started app: opening a page in a new
browser context (as each test does: its own cookie, so its own owner) against opening it again in the same
context, and a full-page screenshot against one of the window. CPU seconds of all Chromium processes (the
ended ones' time counted in their parents') and of the Streamlit server, and the wall time.

    python benchmarks/browser_costs.py [--tries 3] [--pages ,draw,mistakes] [--flags=--a,--b] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from benchmarks.suite_cpu import cpu_seconds, descendants  # noqa: E402
from tests.e2e.helpers import App, CHROMIUM, CHROMIUM_ARGS, LAPTOP, open_app  # noqa: E402
from tests.helpers import REAL_MNIST  # noqa: E402

STEPS = ("new context", "same context", "full-page shot", "window shot")


def chromium_cpu() -> float:
    """CPU seconds of this script's Chromium processes, their ended renderers' included."""
    total = 0.0
    for pid in descendants(os.getpid()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"chromium" in f.read().split(b"\0")[0]:
                    total += cpu_seconds(pid, reaped=True)
        except OSError:
            continue
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=3)
    parser.add_argument("--pages", default=",draw,mistakes", help="paths, comma-separated ('' is Train)")
    parser.add_argument("--flags", default="", help="more Chromium flags, comma-separated, to try")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="browser-costs-"))
    app = App(folder / "models", REAL_MNIST)
    rows = []
    try:
        with sync_playwright() as p:
            flags = CHROMIUM_ARGS + [f for f in args.flags.split(",") if f]
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=flags)
            warm = browser.new_context(**LAPTOP)
            open_app(warm.new_page(), app.url)  # the server's first visit loads MNIST and the models
            warm.close()
            def mark() -> tuple[float, float, float]:
                return chromium_cpu(), cpu_seconds(app.process.pid, reaped=True), time.monotonic()

            for path in args.pages.split(","):
                for _ in range(args.tries):
                    marks = [mark()]  # then one after each of STEPS
                    context = browser.new_context(**LAPTOP)
                    page = context.new_page()
                    open_app(page, app.url + path)
                    marks.append(mark())
                    open_app(page, app.url + path)
                    marks.append(mark())
                    page.screenshot(path=str(folder / "full.png"), full_page=True)
                    marks.append(mark())
                    page.screenshot(path=str(folder / "window.png"))
                    marks.append(mark())
                    context.close()
                    time.sleep(1.5)  # the closed context's renderer ends and is counted before the next try
                    rows.append({"page": path or "train", **{
                        step: {"chromium_s": round(b[0] - a[0], 2), "server_s": round(b[1] - a[1], 2),
                               "wall_s": round(b[2] - a[2], 2)}
                        for step, a, b in zip(STEPS, marks[:-1], marks[1:], strict=True)}})
            browser.close()
    finally:
        app.stop()
    if args.json:
        print(json.dumps(rows))
        return
    for page in dict.fromkeys(r["page"] for r in rows):
        mine = [r for r in rows if r["page"] == page]
        print(f"{page}: median of {len(mine)} (Chromium CPU s / server CPU s / wall s)")
        for step in STEPS:
            med = {k: statistics.median(r[step][k] for r in mine) for k in ("chromium_s", "server_s", "wall_s")}
            print(f"  {step:15s} {med['chromium_s']:5.2f} / {med['server_s']:5.2f} / {med['wall_s']:5.2f}")


if __name__ == "__main__":
    main()
