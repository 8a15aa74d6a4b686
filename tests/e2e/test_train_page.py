"""The Train page in a real browser: train, watch, stop, train more, share, two users at once."""

import re
import time

from .conftest import main_button, open_app, wait_idle


def set_field(page, label: str, value: str) -> None:
    field = page.get_by_test_id("stSidebar").get_by_label(label, exact=True)
    field.fill(value)
    field.press("Enter")
    wait_idle(page)


def setup_small_run(page, epochs: int, name: str) -> None:
    set_field(page, "Hidden layers", "32")
    set_field(page, "Epochs", str(epochs))
    set_field(page, "Model name", name)


def test_train_one_epoch_fills_the_charts_and_the_table(app, page):
    open_app(page, app.url)
    setup_small_run(page, 1, "e2e-one")
    main_button(page, "Train").click()
    page.get_by_text(re.compile(r"Trained 1 epochs; saved as e2e-one")).wait_for(timeout=90_000)
    charts = page.locator(".js-plotly-plot")
    assert charts.count() >= 2
    # The F1 chart has its train and test points; the loss chart its per-batch line.
    assert page.locator(".js-plotly-plot .scatterlayer .trace").count() >= 4
    assert (app.store / "e2e-one.pt").exists()
    wait_idle(page)
    # The stored-models table (a canvas grid, with an accessible cell per value) lists it.
    page.locator('[data-testid="stDataFrame"] td[role="gridcell"]', has_text="e2e-one").wait_for(state="attached")
    assert "job=" in page.url and "key=" not in page.url  # who you are is in a cookie, not the URL


def test_stop_during_a_long_run_keeps_the_model_and_train_more_continues(app, page):
    open_app(page, app.url)
    setup_small_run(page, 50, "e2e-stop")
    main_button(page, "Train").click()
    page.get_by_text(re.compile(r"Epoch \d+ of 50, batch \d+")).wait_for(timeout=60_000)
    # The progress bar jumps to each value: its glide, redrawn every second, kept the browser busy.
    durations = page.get_by_test_id("stProgress").first.evaluate(
        "bar => [...bar.querySelectorAll('*')].map(e => getComputedStyle(e).transitionDuration)")
    assert durations and set(durations) == {"0s"}
    main_button(page, "Stop").click()
    stopped = page.get_by_text(re.compile(r"Stopped after \d+ epoch\(s\)"))
    stopped.wait_for(timeout=15_000)
    epochs = int(re.search(r"after (\d+) epoch", stopped.inner_text()).group(1))
    assert 1 <= epochs < 50
    assert (app.store / "e2e-stop.pt").exists()
    wait_idle(page)
    more = page.get_by_test_id("stMainBlockContainer").get_by_label("More epochs")
    more.fill("1")
    more.press("Enter")
    wait_idle(page)
    main_button(page, "Train more").click()
    page.get_by_text(f"Trained {epochs + 1} epochs; saved as e2e-stop").wait_for(timeout=90_000)


def test_a_shared_link_shows_the_run_read_only(app, page, browser):
    open_app(page, app.url)
    setup_small_run(page, 1, "e2e-shared")
    main_button(page, "Train").click()
    page.get_by_text(re.compile(r"Trained 1 epochs; saved as e2e-shared")).wait_for(timeout=90_000)
    job_id = re.search(r"job=([\w-]+)", page.url).group(1)
    viewer = browser.new_context().new_page()
    open_app(viewer, f"{app.url}?job={job_id}")
    viewer.get_by_text("You are watching someone else's run (read-only).").wait_for()
    viewer.get_by_text(re.compile(r"Trained 1 epochs; saved as e2e-shared")).wait_for()
    assert main_button(viewer, "Stop").is_disabled()
    assert main_button(viewer, "Train more").count() == 0
    viewer.context.close()


def test_two_browsers_train_at_once_and_get_their_own_results(app, browser, page):
    other = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    for tab, name in ((page, "e2e-alice"), (other, "e2e-bob")):
        open_app(tab, app.url)
        setup_small_run(tab, 1, name)
    main_button(page, "Train").click()
    main_button(other, "Train").click()
    page.get_by_text(re.compile(r"Trained 1 epochs; saved as e2e-alice")).wait_for(timeout=120_000)
    other.get_by_text(re.compile(r"Trained 1 epochs; saved as e2e-bob")).wait_for(timeout=120_000)
    assert (app.store / "e2e-alice.pt").exists() and (app.store / "e2e-bob.pt").exists()
    other.context.close()


def test_a_job_whose_browser_is_gone_is_stopped(tmp_path_factory, browser):
    from mnist_core.store import ModelStore

    from .conftest import start_app

    server = start_app(tmp_path_factory, "orphans", {"MNIST_APP_ORPHAN_SECONDS": "2"})
    try:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        tab = context.new_page()
        open_app(tab, server.url)
        setup_small_run(tab, 200, "e2e-orphan")
        main_button(tab, "Train").click()
        tab.get_by_text(re.compile(r"Epoch \d+ of 200, batch \d+")).wait_for(timeout=60_000)
        context.close()  # the learner closes the tab
        deadline = time.monotonic() + 60
        while not (server.store / "e2e-orphan.pt").exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        meta = ModelStore(server.store).meta("e2e-orphan")
        assert meta.stopped and meta.epochs < 200
    finally:
        server.stop()
