"""The live controls in a real browser: pause, three Steps with the step up close, a live learning-rate change
marked on the chart, resume; a watcher sees Paused and the marks but no controls; an experiment from its link."""

import re

import pytest
from playwright.sync_api import expect

from .helpers import click_until, main_button, open_app, set_field, setup_small_run, shot, wait_idle

# Waits are generous (30 s): a loaded 2-core machine redraws a page in seconds; what is waited for is exact.
PAUSED = re.compile(r"Paused at epoch (\d+), batch (\d+) of (\d+)")


def paused_at(page) -> tuple[int, int]:
    text = page.get_by_text(PAUSED).first.inner_text()
    match = PAUSED.search(text)
    return int(match.group(1)), int(match.group(2))


def after_steps(epoch: int, batch: int, batches: int, n: int) -> tuple[int, int]:
    """Where a run paused after `batch` batches of `epoch` is after n Steps: an epoch's end says "batch 469 of
    469", and the Step after it trains the first batch of the next epoch."""
    done = (epoch - 1) * batches + batch + n
    return (done - 1) // batches + 1, (done - 1) % batches + 1


def test_pause_step_three_times_change_the_lr_resume_and_a_watcher_sees_it(app, page, browser):
    open_app(page, app.url)
    setup_small_run(page, 50, "e2e-live")
    main_button(page, "Train").click()
    page.get_by_text(re.compile(r"Epoch \d+ of 50, batch \d+")).wait_for(timeout=60_000)
    # A rate typed (not applied) while the one-cycle schedule moves the run's rate stays as typed through the
    # panel's redraws each second: the box shows the run's setting, not the moving rate (ui/live.live_settings).
    main = page.get_by_test_id("stMainBlockContainer")
    main.get_by_text("Change settings while it trains").click()
    typing = main.get_by_label("learning rate", exact=True)
    typing.fill("0.07")
    progress = r"Epoch \d+ of 50, batch (\d+)"
    for _ in range(2):  # two redraws of the panel
        before = re.search(progress, main.inner_text()).group(1)
        page.wait_for_function("([re, before]) => { const m = document.body.innerText.match(new RegExp(re)); "
                               "return m && m[1] !== before; }", arg=[progress, before], timeout=30_000)
    assert typing.input_value() == "0.07"
    click_until(page, main_button(page, "Pause"), page.get_by_text(PAUSED).first)
    page.get_by_text("The next step up close").wait_for(timeout=60_000)
    epoch, batch = paused_at(page)
    batches = int(PAUSED.search(page.get_by_text(PAUSED).first.inner_text()).group(3))
    for n in range(1, 4):
        at_epoch, at_batch = after_steps(epoch, batch, batches, n)
        # Exactly one batch further: a Step taken twice would show the batch after and time out here.
        click_until(page, main_button(page, "Step"),
                    page.get_by_text(re.compile(rf"Paused at epoch {at_epoch}, batch {at_batch} of")).first)
        next_epoch, next_batch = after_steps(epoch, batch, batches, n + 1)
        page.get_by_text(re.compile(rf"The next step up close: batch {next_batch} of epoch {next_epoch}")).wait_for(
            timeout=60_000)
    shot(page, "train-paused-step")
    field = page.get_by_test_id("stMainBlockContainer").get_by_label("learning rate", exact=True)
    field.fill("0.05")
    field.press("Enter")
    wait_idle(page)
    page.wait_for_function("el => el.value === '0.05000'", arg=field.element_handle(), timeout=30_000)
    mark = page.get_by_test_id("loss-chart").get_by_text(re.compile(r"lr [\d.e-]+ → 0\.05"))
    click_until(page, page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Apply").first, mark)
    job_id = re.search(r"job=([\w-]+)", page.url).group(1)
    viewer = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    open_app(viewer, f"{app.url}?job={job_id}")
    viewer.get_by_text(PAUSED).first.wait_for(timeout=30_000)
    viewer.get_by_test_id("loss-chart").get_by_text(re.compile(r"→ 0\.05")).wait_for()
    for name in ("Pause", "Resume", "Step", "+1 epoch"):
        assert main_button(viewer, name).count() == 0
    assert viewer.get_by_text("Change settings while it trains").count() == 0
    shot(viewer, "train-paused-watcher")
    viewer.context.close()
    click_until(page, main_button(page, "Resume"), page.get_by_text(PAUSED).first, state="detached")
    main_button(page, "Stop").click()
    page.get_by_text(re.compile(r"Stopped in epoch \d+, after .* saved as e2e-live")).wait_for(timeout=30_000)
    from mnist_core.storage.models import ModelStore

    meta = ModelStore(app.store).meta("e2e-live")
    assert [c.new for c in meta.changes] == [0.05]


def test_an_experiment_starts_from_its_link(app, page):
    open_app(page, f"{app.url}?experiment=tiny-16&epochs=1")
    page.get_by_text("Experiment: 16 hidden units.").wait_for()
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_label("Hidden layers", exact=True)).to_have_value("16")  # once the rerun has drawn it
    shot(page, "train-experiment-link")
    main_button(page, "Train").click()
    page.get_by_text(re.compile(r"Trained 1 epoch; saved as")).wait_for(timeout=120_000)


def test_a_too_high_learning_rate_is_named_and_fixed_in_one_click_with_histograms_and_slow_motion(app, page):
    # The "learning rate 1" experiment on a small network, from its link (as a teacher hands it out); 100 epochs
    # so that it still trains when the slider is reached on a loaded machine (it is stopped at the end).
    open_app(page, f"{app.url}?experiment=lr-1&hidden=32&epochs=100")
    set_field(page, "Model name", "e2e-lr1")
    main_button(page, "Train").click()
    main = page.get_by_test_id("stMainBlockContainer")
    # The warning says what it saw, in numbers ("rose from 2.31 to 9.87", "became nan at batch 12").
    warning = main.get_by_text(re.compile(r"(jumped to [\d,.]+ at batch [\d,]+, [\d,]+ times the [\d.]+|rose from "
                                          r"[\d.e+-]+ to [\d.e+-]+|became nan at batch [\d,]+).*rate is too high"))
    warning.first.wait_for(timeout=90_000)
    fix = main.get_by_role("button", name=re.compile(r"divide the learning rate by 3 \(1 → 0\.333\)"))
    # Both fixes, side by side (two buttons that change one setting once shared a key, and the page broke).
    main.get_by_role("button", name=re.compile(r"divide the learning rate by 10 \(1 → 0\.1\)")).first.wait_for()
    fix.first.click()
    mark = page.get_by_test_id("loss-chart").get_by_text("lr 1 → 0.333")
    mark.first.wait_for(timeout=30_000)
    # Slow motion, at once: the slider sets a delay that the run itself reports back (and a run this small is
    # otherwise through its epochs in a minute or two, before the checks below are done).
    slider = main.get_by_role("slider")
    thumb = main.get_by_test_id("stSliderThumbValue")
    # As a person does: a key press at a time until the slider reads 0.3 (a redraw of the page every second, on
    # a loaded machine, may land between a press and its sending and put the slider back a step).
    for _ in range(12):
        shown = round(float(thumb.inner_text()), 1)
        if shown == 0.3:
            break
        slider.press("ArrowRight" if shown < 0.3 else "ArrowLeft")
        page.wait_for_timeout(300)
    page.get_by_text("Slow motion: 0.3 s between batches.").wait_for(timeout=60_000)  # the run's own report
    assert float(main.get_by_test_id("stSliderThumbValue").inner_text()) == pytest.approx(0.3)  # as the slider says
    # The live-settings box follows the run's new rate (a keyed box would keep showing 1).
    main.get_by_text("Change settings while it trains").click()
    # Asked of the locator each time: a redraw may replace the box's element, and a handle would keep the old one.
    expect(main.get_by_label("learning rate", exact=True)).to_have_value("0.33300", timeout=60_000)
    # The weight histograms after the first epoch: per layer, the start dashed and now solid.
    spread = page.locator(".js-plotly-plot", has_text="Weights per layer")
    spread.wait_for(timeout=90_000)
    assert spread.locator("path.js-line[style*='stroke-dasharray']").count() == 2  # 784 → 32 and 32 → 10, start
    assert spread.locator("path.js-line").count() == 4
    # And it still trains, batch by batch.
    progress = re.compile(r"Epoch (\d+) of 100, batch (\d+) of")
    before = progress.search(main.get_by_text(progress).inner_text()).groups()
    page.wait_for_function("([re, before]) => { const m = document.body.innerText.match(new RegExp(re)); "
                           "return m && (m[1] + '/' + m[2]) !== before; }",
                           arg=[progress.pattern, "/".join(before)], timeout=60_000)
    shot(page, "train-health-fix")
    main_button(page, "Stop").click()
    page.get_by_text(re.compile(r"Stopped in epoch \d+, after .* saved as e2e-lr1")).wait_for(timeout=30_000)
    from mnist_core.storage.models import ModelStore

    meta = ModelStore(app.store).meta("e2e-lr1")
    assert [(c.setting, c.old, c.new) for c in meta.changes] == [("lr", 1.0, 0.333)]  # one click, one change
