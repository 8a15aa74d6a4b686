"""The browser-test fixtures: the real app on a free port, driven by Debian's Chromium via Playwright;
the plain helpers are in helpers.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

# Re-exported: tests written against conftest's names keep working.
from .helpers import (  # noqa: F401
    App,
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    free_port,
    main_button,
    open_app,
    start_app,
    wait_idle,
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A browser test that timed out waiting for the page runs once more (pytest-rerunfailures, as Streamlit's
    own browser tests do): on a busy 2-core machine a redraw can swallow a click or outlast a wait. Only a
    Playwright timeout, only once: a test that fails twice, or fails any other way, fails the run; reruns are
    listed in the summary ("R")."""
    for item in items:
        if Path(item.path).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.flaky(reruns=1, only_rerun=[PlaywrightTimeout]))


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
