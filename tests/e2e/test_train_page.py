"""The Train page in a real browser: train, watch, stop, train more, share, two users at once."""

import re
import time

import pytest

from .helpers import main_button, open_app, set_field, setup_small_run, shot, start_app, train_one_epoch, wait_idle


def test_train_one_epoch_fills_the_charts_and_the_table(app, page):
    open_app(page, app.url)
    setup_small_run(page, 1, "e2e-one")
    main_button(page, "Train").click()
    # Before the first epoch ends: a line where the macro-F1 chart will be, not empty axes.
    page.get_by_text("Macro-F1 per epoch: the chart appears when the first epoch ends").wait_for(timeout=60_000)
    shot(page, "train-before-first-epoch")
    page.get_by_text(re.compile(r"Trained 1 epoch; saved as e2e-one")).wait_for(timeout=90_000)
    # The page redraws itself once the run has ended (the F1 chart comes with the first epoch's scores).
    page.locator(".js-plotly-plot", has_text="Macro-F1 per epoch").wait_for()
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
    # Small batches: long epochs, so that the Stop lands inside one, not between two.
    page.get_by_test_id("stSidebar").get_by_label("Batch size").click()
    page.get_by_role("option", name="16", exact=True).click()
    wait_idle(page)
    main_button(page, "Train").click()
    page.get_by_text(re.compile(r"Epoch \d+ of 50, batch \d+")).wait_for(timeout=60_000)
    # The progress bar jumps to each value: its glide, redrawn every second, kept the browser busy.
    durations = page.get_by_test_id("stProgress").first.evaluate(
        "bar => [...bar.querySelectorAll('*')].map(e => getComputedStyle(e).transitionDuration)")
    assert durations and set(durations) == {"0s"}
    main_button(page, "Stop").click()
    stopped = page.get_by_text(re.compile(r"Stopped in epoch \d+, after [\d.]+ epochs?;"))
    stopped.wait_for(timeout=15_000)
    epochs = int(re.search(r"in epoch (\d+)", stopped.inner_text()).group(1))
    assert 1 <= epochs < 50
    assert (app.store / "e2e-stop.pt").exists()
    wait_idle(page)
    more = page.get_by_test_id("stMainBlockContainer").get_by_label("More epochs")
    more.fill("1")
    more.press("Enter")
    wait_idle(page)
    main_button(page, "Train more").click()
    done = page.get_by_text(re.compile(rf"Trained to epoch {epochs + 1}, [\d.]+ epochs in all \(a Stop cut one "
                                       r"short\); saved as e2e-stop"))
    done.wait_for(timeout=90_000)
    trained = float(re.search(r"([\d.]+) epochs in all", done.inner_text()).group(1))
    wait_idle(page)
    # The loss, macro-F1 and health charts end at the same place, the epochs trained; no line breaks at the stop.
    # Each chart's x values (null: a gap), found by the trace names, which are the charts' own.
    traces = page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('.js-plotly-plot')].flatMap(g =>
        (g._fullData || []).map(t => [t.name, Array.from(t.x || []).map(v => v === null ? NaN : +v)])))""")
    loss, f1, health = traces["smoothed"], traces["test"], traces["layer 1"]
    assert all(x == x for x in loss + health)  # no gaps: the next run goes on where the stop was
    assert max(loss) == pytest.approx(max(f1)) and max(health) == pytest.approx(max(f1))
    assert max(f1) == pytest.approx(trained, abs=0.01) and max(f1) < epochs + 1
    page.locator(".js-plotly-plot", has_text="Training health").first.scroll_into_view_if_needed()


def test_a_shared_link_shows_the_run_read_only(app, page, browser):
    open_app(page, app.url)
    setup_small_run(page, 1, "e2e-shared")
    main_button(page, "Train").click()
    page.get_by_text(re.compile(r"Trained 1 epoch; saved as e2e-shared")).wait_for(timeout=90_000)
    job_id = re.search(r"job=([\w-]+)", page.url).group(1)
    viewer = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    open_app(viewer, f"{app.url}?job={job_id}")
    viewer.get_by_text("You are watching someone else's run (read-only).").wait_for()
    viewer.get_by_text(re.compile(r"Trained 1 epoch; saved as e2e-shared")).wait_for()
    assert main_button(viewer, "Stop").is_disabled()
    assert main_button(viewer, "Train more").count() == 0
    # The watcher sees that run's settings, not a sidebar of their own, and cannot press Train.
    sidebar = viewer.get_by_test_id("stSidebar")
    sidebar.get_by_text("This run's settings").wait_for()
    assert sidebar.get_by_label("Hidden layers", exact=True).count() == 0
    sidebar.locator('[data-testid="stDataFrame"] td[role="gridcell"]', has_text="32").first.wait_for(state="attached")
    assert main_button(viewer, "Train").is_disabled()
    shot(viewer, "train-watcher")
    viewer.context.close()


def test_two_browsers_train_at_once_and_get_their_own_results(app, browser, page):
    other = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    for tab, name in ((page, "e2e-alice"), (other, "e2e-bob")):
        open_app(tab, app.url)
        setup_small_run(tab, 1, name)
    main_button(page, "Train").click()
    main_button(other, "Train").click()
    page.get_by_text(re.compile(r"Trained 1 epoch; saved as e2e-alice")).wait_for(timeout=120_000)
    other.get_by_text(re.compile(r"Trained 1 epoch; saved as e2e-bob")).wait_for(timeout=120_000)
    assert (app.store / "e2e-alice.pt").exists() and (app.store / "e2e-bob.pt").exists()
    other.context.close()


def test_a_job_whose_browser_is_gone_is_stopped(tmp_path_factory, browser):
    from mnist_core.storage.models import ModelStore


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


def click_model_row(page, name: str) -> None:
    """Selects a row of the stored-models table (a canvas grid): clicks its row-marker at the left."""
    table = page.locator('[data-testid="stDataFrame"]').last
    cell = table.locator('td[role="gridcell"]', has_text=re.compile(rf"^{re.escape(name)}$")).first
    cell.wait_for(state="attached")
    row = int(cell.locator("xpath=..").get_attribute("aria-rowindex"))  # the header is row 1
    table.scroll_into_view_if_needed()
    box = table.bounding_box()
    page.mouse.click(box["x"] + 12, box["y"] + (row - 1) * 35 + 17)
    wait_idle(page)


def test_the_current_model_follows_its_name_and_a_new_model_is_announced(app, page):
    open_app(page, app.url)
    train_one_epoch(page, "e2e-first")
    current = page.get_by_text(re.compile(r"Current model for the other pages: \S+"))
    assert "e2e-first" in current.inner_text()
    page.get_by_text("e2e-first is now the current model").first.wait_for()
    click_model_row(page, "default")
    page.get_by_text("Current model for the other pages: default").wait_for()
    # Another model trained: the list of rows changes under the selection, and the new model is current,
    # with a word; before, the selection's row number silently picked whichever model moved there.
    set_field(page, "Model name", "e2e-second")
    main_button(page, "Train").click()
    page.get_by_text(re.compile(r"Trained 1 epoch; saved as e2e-second")).wait_for(timeout=90_000)
    wait_idle(page)
    page.get_by_text("Current model for the other pages: e2e-second").wait_for()
    page.get_by_text("e2e-second is now the current model").first.wait_for()
    page.get_by_role("link", name="Draw").click()
    wait_idle(page)
    page.get_by_text(re.compile(r"Model e2e-second: 784-32-10")).wait_for()


def test_delete_asks_first_and_rename_says_it_is_done(app, page):
    open_app(page, app.url)
    train_one_epoch(page, "e2e-del")
    page.get_by_text("Rename or delete e2e-del").click()
    field = page.get_by_test_id("stMainBlockContainer").get_by_label("New name")
    field.fill("e2e-renamed")
    main_button(page, "Rename").click()  # the field sends its value as it loses the focus
    page.get_by_text("Renamed e2e-del to e2e-renamed.").first.wait_for()
    wait_idle(page)
    assert (app.store / "e2e-renamed.pt").exists()
    page.get_by_text("Rename or delete e2e-renamed").wait_for()
    if not main_button(page, "Delete").is_visible():
        page.get_by_text("Rename or delete e2e-renamed").click()
    main_button(page, "Delete").click()
    page.get_by_text("Delete e2e-renamed for good? This cannot be undone.").wait_for()
    wait_idle(page)
    assert (app.store / "e2e-renamed.pt").exists()
    shot(page, "train-delete-asks")
    main_button(page, "Yes, delete").click()
    page.get_by_text(re.compile(r"Deleted e2e-renamed; the current model is now")).first.wait_for()
    assert not (app.store / "e2e-renamed.pt").exists()


def test_offline_the_download_fails_in_one_line(tmp_path_factory, browser):
    """This machine has no internet: the real download fails, as in a classroom offline."""
    from .helpers import App

    folder = tmp_path_factory.mktemp("offline")
    server = App(folder / "models", folder / "no-mnist")
    try:
        tab = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        tab.set_default_timeout(30_000)
        open_app(tab, server.url)
        main_button(tab, "Download MNIST (about 11 MB)").click()
        tab.get_by_text("The download failed: no MNIST mirror could be reached.").wait_for(timeout=120_000)
        wait_idle(tab)
        assert tab.get_by_text("Starting the download").count() == 0
        assert tab.get_by_test_id("stProgress").count() == 0
        tab.get_by_text("By hand: put the four files").wait_for()  # what "(below)" points to is there
        shot(tab, "train-download-failed")
        tab.get_by_role("link", name="Mistakes").click()
        tab.get_by_text("This page needs MNIST, all four files; missing in").wait_for()
        assert "t10k-images-idx3-ubyte" in tab.get_by_test_id("stMainBlockContainer").inner_text()
        shot(tab, "mistakes-without-mnist")
        tab.context.close()
    finally:
        server.stop()
