"""The live controls in a real browser: pause, three Steps with the step up close, a live learning-rate change
marked on the chart, resume; a watcher sees Paused and the marks but no controls; an experiment from its link."""

import re

from .helpers import ARTIFACTS, main_button, open_app, setup_small_run, wait_idle

PAUSED = re.compile(r"Paused at epoch (\d+), batch (\d+) of (\d+)")


def paused_at(page) -> tuple[int, int]:
    text = page.get_by_text(PAUSED).first.inner_text()
    match = PAUSED.search(text)
    return int(match.group(1)), int(match.group(2))


def test_pause_step_three_times_change_the_lr_resume_and_a_watcher_sees_it(app, page, browser):
    open_app(page, app.url)
    setup_small_run(page, 50, "e2e-live")
    main_button(page, "Train").click()
    page.get_by_text(re.compile(r"Epoch \d+ of 50, batch \d+")).wait_for(timeout=60_000)
    main_button(page, "Pause").click()
    page.get_by_text(PAUSED).first.wait_for(timeout=10_000)
    page.get_by_text("The next step up close").wait_for(timeout=10_000)
    epoch, batch = paused_at(page)
    for n in range(1, 4):
        main_button(page, "Step").click()
        page.get_by_text(re.compile(rf"Paused at epoch {epoch}, batch {batch + n} of")).first.wait_for(timeout=10_000)
        page.get_by_text(re.compile(rf"The next step up close: batch {batch + n + 1} of epoch {epoch}")).wait_for(
            timeout=10_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "train-paused-step.png"), full_page=True)
    field = page.get_by_test_id("stMainBlockContainer").get_by_label("learning rate", exact=True)
    field.fill("0.05")
    field.press("Enter")
    wait_idle(page)
    page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Apply").first.click()
    mark = page.locator(".js-plotly-plot", has_text="Training loss").get_by_text(re.compile(r"lr [\d.e-]+ → 0\.05"))
    mark.wait_for(timeout=15_000)
    job_id = re.search(r"job=([\w-]+)", page.url).group(1)
    viewer = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    open_app(viewer, f"{app.url}?job={job_id}")
    viewer.get_by_text(PAUSED).first.wait_for(timeout=10_000)
    viewer.locator(".js-plotly-plot", has_text="Training loss").get_by_text(re.compile(r"→ 0\.05")).wait_for()
    for name in ("Pause", "Resume", "Step", "+1 epoch"):
        assert main_button(viewer, name).count() == 0
    assert viewer.get_by_text("Change settings while it trains").count() == 0
    viewer.screenshot(path=str(ARTIFACTS / "train-paused-watcher.png"), full_page=True)
    viewer.context.close()
    main_button(page, "Resume").click()
    page.get_by_text(PAUSED).first.wait_for(state="detached", timeout=10_000)
    main_button(page, "Stop").click()
    page.get_by_text(re.compile(r"Stopped in epoch \d+")).wait_for(timeout=30_000)
    from mnist_core.storage.models import ModelStore

    meta = ModelStore(app.store).meta("e2e-live")
    assert [c.new for c in meta.changes] == [0.05]


def test_an_experiment_starts_from_its_link(app, page):
    open_app(page, f"{app.url}?experiment=tiny-16&epochs=1")
    page.get_by_text("Experiment: 16 hidden units.").wait_for()
    sidebar = page.get_by_test_id("stSidebar")
    assert sidebar.get_by_label("Hidden layers", exact=True).input_value() == "16"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "train-experiment-link.png"), full_page=True)
    main_button(page, "Train").click()
    page.get_by_text(re.compile(r"Trained 1 epoch; saved as")).wait_for(timeout=120_000)
