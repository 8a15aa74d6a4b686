"""Figures of the lesson (issue 25), in headless Chromium against a real `streamlit run app.py`:

- a share link opened in a fresh browser while a run trains: seconds from `goto` to (a) the page's title,
  (b) the run's status line, (c) the loss chart drawn (the live view's SVG); goal (c) within 3 s (before:
  14 s). Each of 5 tries is a new browser context (a new session, as a student's first visit), the first
  one also the server's first page load of a session that is not the teacher's;
- the same with the server's caches warm (the fifth try against the first);
- `serve --processes N` stopping on SIGTERM, once with no run and once after a run trained through its
  address: seconds from the signal to its exit with every part gone (goal within 5 s; before: 32-47 s).

Run: MNIST_DIR=../shared/data/mnist nice -n 10 python benchmarks/lesson_figures.py [--only share|serve]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
from tests.e2e.helpers import App, CHROMIUM, CHROMIUM_ARGS, main_button, open_app, set_field, wait_idle  # noqa: E402
from tests.helpers import REAL_MNIST  # noqa: E402

TRIES = 5


def share_link() -> None:
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="lesson-figures-"))
    app = App(folder / "models", REAL_MNIST)
    print(f"server answering its health check after {app.ready_seconds:.1f} s")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            teacher = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            open_app(teacher, app.url)
            set_field(teacher, "Hidden layers", "64")
            set_field(teacher, "Epochs", "200")
            set_field(teacher, "Model name", "projected-run")
            main_button(teacher, "Train").click()
            teacher.get_by_text(re.compile(r"Epoch \d+ of 200, batch \d+")).wait_for(timeout=90_000)
            wait_idle(teacher)
            job = re.search(r"job=([\w-]+)", teacher.url).group(1)
            rows = []
            for attempt in range(TRIES):
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                page = context.new_page()
                start = time.monotonic()
                page.goto(f"{app.url}?job={job}")
                page.get_by_role("heading", name="Train a network").wait_for(timeout=60_000)
                title = time.monotonic() - start
                page.get_by_text(re.compile(r"Epoch \d+ of 200")).first.wait_for(timeout=60_000)
                status = time.monotonic() - start
                page.locator("[data-testid='loss-chart'] polyline").first.wait_for(timeout=60_000)
                chart = time.monotonic() - start
                rows.append((title, status, chart))
                print(f"try {attempt + 1}: title {title:.2f} s, status line {status:.2f} s, loss chart {chart:.2f} s")
                context.close()
            main_button(teacher, "Stop").click()
            browser.close()
    finally:
        app.stop()
    charts = [r[2] for r in rows]
    print(f"share link -> loss chart: first {charts[0]:.2f} s, median {statistics.median(charts):.2f} s, "
          f"worst {max(charts):.2f} s (goal 3 s); warm/first {charts[-1] / charts[0]:.2f}")


SERVING = re.compile(r"serving (\S+) \(\d+ app process")


def serve_stop(processes: int, train: bool) -> float:
    """Seconds from SIGTERM to `serve`'s exit, its process groups all gone, after a run trained or not."""
    from playwright.sync_api import sync_playwright

    from tests.e2e.helpers import free_port, setup_small_run

    folder = Path(tempfile.mkdtemp(prefix="serve-stop-"))
    log = open(folder / "serve.log", "w")
    serve = subprocess.Popen([sys.executable, "-m", "mnist_core", "serve", "--processes", str(processes), "--port",
                              str(free_port()), "--host", "127.0.0.1", "--store", str(folder / "models")],
                             cwd=PROJECT, env={**os.environ, "MNIST_DIR": str(REAL_MNIST)}, stdout=log,
                             stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 240
        while not (found := SERVING.search((folder / "serve.log").read_text())):
            if serve.poll() is not None or time.monotonic() > deadline:
                raise SystemExit((folder / "serve.log").read_text()[-3000:])
            time.sleep(0.3)
        url = found.group(1)
        if train:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                page.set_default_timeout(120_000)
                open_app(page, url)
                setup_small_run(page, 1, "stop-bench")
                main_button(page, "Train").click()
                page.get_by_text(re.compile(r"Trained 1 epoch; saved as stop-bench")).wait_for(timeout=240_000)
                browser.close()
        groups = [int(pid) for pid in subprocess.run(["pgrep", "-P", str(serve.pid)], capture_output=True,
                                                     text=True).stdout.split()]
        start = time.monotonic()
        serve.send_signal(signal.SIGTERM)
        serve.wait(300)
        exited = time.monotonic() - start
        while any(subprocess.run(["pgrep", "-s", str(g)], capture_output=True).returncode == 0 for g in groups):
            time.sleep(0.05)
        took = time.monotonic() - start
        print(f"  serve --processes {processes}{' after a run' if train else ''}: exited after {exited:.2f} s, "
              f"every part gone after {took:.2f} s")
        slow = re.findall(r".* took [\d.]+ s to stop", (folder / "serve.log").read_text())
        if slow:
            print(f"  serve --processes {processes}{' after a run' if train else ''}: {'; '.join(slow)}")
        return took
    finally:
        if serve.poll() is None:
            serve.kill()
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=["share", "serve"])
    args = parser.parse_args()
    if args.only != "serve":
        share_link()
    if args.only != "share":
        for processes in (1, 2):
            idle, trained = serve_stop(processes, False), serve_stop(processes, True)
            print(f"serve --processes {processes}: SIGTERM -> stopped, every part gone: {idle:.2f} s with no run, "
                  f"{trained:.2f} s after a run trained (goal 5 s)")


if __name__ == "__main__":
    main()
