"""The browser-test fixtures: the real app on a free port, driven by Debian's Chromium via Playwright;
the plain helpers are in helpers.py."""

from __future__ import annotations

import re
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
    shot,
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
    server = request.getfixturevalue("app") if "app" in request.fixturenames else None
    models_before = _model_names(server)
    yield page
    tried = getattr(request.node, "execution_count", 1)  # a second try keeps the first one's picture
    failed = getattr(request.node, "call_failed", False)
    shot(page, f"{request.node.name}{'' if tried == 1 else f'-try{tried}'}", always=failed)
    if failed:
        stop_its_run(page)
        forget_its_models(server, models_before)
    context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    report = yield
    if report.when == "call":
        item.call_failed = report.failed  # read by the page fixture's teardown
    return report


def stop_its_run(page) -> None:
    """Stop the run a failed test left training or paused, as its owner would: the module's server is shared,
    and the next try's run (another browser) would wait behind it in the queue. A page too busy to answer is
    reloaded once (its browser still owns the run, and a reload shows its Stop again)."""
    for attempt in range(2):
        try:
            stop = main_button(page, "Stop")
            if attempt:
                page.reload()
                wait_idle(page)
                try:
                    stop.first.wait_for(timeout=15_000)
                except PlaywrightTimeout:
                    return  # the reloaded page offers no Stop: nothing training
            elif not stop.count():
                return  # nothing training: nothing to stop
            stop.first.click(timeout=10_000)
            page.get_by_text(re.compile(r"Stopped (in epoch|before)")).first.wait_for(timeout=45_000)
            return
        except PlaywrightTimeout:
            continue  # the next attempt reloads; after it, the next try says itself what is wrong


def _model_names(server: App | None) -> set[str]:
    from mnist_core.storage.models import ModelStore

    return {m.name for m in ModelStore(server.store).list()} if server is not None else set()


def forget_its_models(server: App | None, before: set[str]) -> None:
    """Delete the models a failed try saved (its stopped run's): the next try names its run the same, and the
    Train page refuses a name that exists."""
    from mnist_core.storage.models import ModelStore

    if server is not None:
        for name in _model_names(server) - before:
            ModelStore(server.store).delete(name)
