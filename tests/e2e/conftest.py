"""The browser-test harness: the real app on a free port, driven by Debian's Chromium via Playwright."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..conftest import PROJECT, REAL_MNIST

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = PROJECT / "artifacts"  # screenshots of each browser test; not in git


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class App:
    """A running `streamlit run app.py` with its own model store."""

    def __init__(self, store: Path, data_dir: Path, extra_env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.store = store
        env = {**os.environ, "MNIST_DIR": str(data_dir), "MNIST_MODELS": str(store), **(extra_env or {})}
        self.log = open(store.parent / f"streamlit-{self.port}.log", "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
             "--server.port", str(self.port), "--server.address", "127.0.0.1",
             "--browser.gatherUsageStats", "false"],
            cwd=PROJECT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
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


def start_app(tmp_path_factory, name: str, extra_env: dict[str, str] | None = None) -> App:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium") if os.environ.get("CI") else \
            pytest.skip(f"{CHROMIUM} is not installed")
    if not any((REAL_MNIST / f"train-images-idx3-ubyte{ext}").exists() for ext in (".gz", "")):
        pytest.skip(f"the real MNIST is not at {REAL_MNIST}")
    folder = tmp_path_factory.mktemp(name)
    return App(folder / "models", REAL_MNIST, extra_env)


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Iterator[App]:
    server = start_app(tmp_path_factory, "app")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def wait_idle(page, timeout: float = 30) -> None:
    """Until Streamlit shows no running script (its status widget is gone)."""
    page.wait_for_timeout(300)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached", timeout=timeout * 1000)


def open_app(page, url: str) -> None:
    page.goto(url)
    page.get_by_test_id("stMainBlockContainer").wait_for()
    page.get_by_role("heading").first.wait_for()
    wait_idle(page)


def main_button(page, name: str):
    """A button of ours in the main area (Streamlit's header has a 'Stop' of its own)."""
    return page.get_by_test_id("stMainBlockContainer").get_by_role("button", name=name, exact=True)


