"""The Mistakes page in a real browser, for the shipped model on the real test set."""

import re

from mnist_core.net.evaluate import evaluate
from mnist_core.net.pictures import CAPTION_SIZE
from mnist_core.storage.models import ModelStore

from .helpers import open_app, PHONE, shot, wait_idle


def test_matrix_and_gallery_show_and_a_click_on_a_cell_filters(app, page, mnist):
    model, _, _ = ModelStore(app.store).load("default")
    result = evaluate(model, mnist.test_images, mnist.test_labels)
    four_as_nine = int(result.confusion[4, 9])
    open_app(page, app.url + "mistakes")
    page.get_by_text("Misclassified test digits").wait_for()
    page.get_by_text(f"{len(result.mistakes)} mistakes; shown {min(60, len(result.mistakes))}").wait_for()
    matrix = page.locator(".js-plotly-plot", has_text="Confusion matrix")  # not a chart in a hidden tab
    matrix.scroll_into_view_if_needed()
    cells = matrix.locator(".scatterlayer .point")
    assert cells.count() == 100
    cells.nth(4 * 10 + 9).click(force=True)  # true 4, predicted 9
    page.get_by_text(f"{four_as_nine} mistakes; shown {four_as_nine}").wait_for()
    wait_idle(page)
    main = page.get_by_test_id("stMainBlockContainer")
    assert "true 4 → predicted 9" in main.inner_text()
    gallery = main.get_by_test_id("stImage").first
    assert gallery.is_visible()


def test_a_click_on_a_gallery_digit_picks_it_and_row_shares_have_a_decimal(app, page, mnist):
    open_app(page, app.url + "mistakes")
    gallery = page.locator(".st-key-m_gallery .js-plotly-plot")  # two halves of 30, side by side on a laptop
    gallery.first.scroll_into_view_if_needed()
    spots = gallery.locator(".scatterlayer .point")
    assert spots.count() == 60
    left, right = (gallery.nth(i).bounding_box() for i in range(2))
    assert right["x"] > left["x"] + left["width"] - 1 and abs(right["y"] - left["y"]) < 2
    index = page.evaluate(
        "() => document.querySelector('.st-key-m_gallery .js-plotly-plot')._fullData[0].customdata[7]")
    spots.nth(7).click(force=True)
    wait_idle(page)
    page.get_by_text(f"test digit #{index}", exact=True).wait_for()
    shot(page, "mistakes-gallery-click")
    page.get_by_text("Row-normalised (share of each true digit)").click()
    wait_idle(page)
    find = """() => { const g = [...document.querySelectorAll('.js-plotly-plot')]
        .find(g => (g._fullData || []).some(t => t.type === 'heatmap'));
        return g ? g._fullData.find(t => t.type === 'heatmap').text.flat() : null; }"""
    page.wait_for_function(f"() => {{ const t = ({find})(); return t && t.some(x => x.endsWith('%')); }}")
    texts = page.evaluate(find)
    assert "0%" not in texts and any(t.endswith("%") and "." in t for t in texts)
    wait_idle(page)  # the chart redrawn in the new mode may replace the old one while it is being found
    shot(page.locator(".st-key-m_confusion"), "mistakes-row-normalised", full_page=None)


def test_on_a_phone_the_matrixs_numbers_and_the_gallerys_captions_stay_readable(app, browser):
    context = browser.new_context(**PHONE)
    page = context.new_page()
    open_app(page, app.url + "mistakes")
    matrix = page.locator(".js-plotly-plot", has_text="Confusion matrix")
    matrix.scroll_into_view_if_needed()
    sizes = matrix.locator(".hm text").evaluate_all("ts => ts.map(t => parseFloat(getComputedStyle(t).fontSize))")
    assert len(sizes) == 100 and min(sizes) >= 10, sizes  # Plotly fitted them to the cells: 8 px on a phone
    gallery = page.locator(".st-key-m_gallery .js-plotly-plot")
    gallery.first.scroll_into_view_if_needed()
    assert gallery.locator(".scatterlayer .point").count() == 60
    top, under = (gallery.nth(i).bounding_box() for i in range(2))
    assert under["y"] >= top["y"] + top["height"] - 1  # the second half under the first
    # Each half's picture (5 thumbnails of 92 px a row) as wide as the phone lets it be: its captions at least
    # 10 px tall (one 10-column picture wrote them 5 px tall); the room it leaves in its chart is under it.
    picture = gallery.first.locator("image").first
    shown = picture.bounding_box()
    scale = shown["width"] / (5 * 92)
    assert CAPTION_SIZE * scale >= 10, scale
    assert abs(shown["y"] - top["y"]) < 2 and top["height"] < shown["height"] + 20  # no room left between halves
    # A digit of the second half is picked by a tap, as on a laptop.
    index = page.evaluate("() => document.querySelectorAll('.st-key-m_gallery .js-plotly-plot')[1]"
                          "._fullData[0].customdata[2]")
    gallery.nth(1).locator(".scatterlayer .point").nth(2).click(force=True)
    wait_idle(page)
    page.get_by_text(f"test digit #{index}", exact=True).wait_for()
    shot(page, "mistakes-phone-gallery", full_page=False)
    context.close()


def test_compare_two_models_pages_through_all(app, page, mnist):
    from mnist_core.net.config import TrainConfig
    from mnist_core.runs.body import save_run, train_run
    from mnist_core.runs.spec import RunSpec

    if not (app.store / "e2e-small.pt").exists():
        result = train_run(RunSpec(TrainConfig(hidden=(16,), epochs=1, device="cpu"), 1), mnist,
                           lambda message: None, lambda: False)
        save_run(ModelStore(app.store), result, "e2e-small")
    open_app(page, app.url + "mistakes")
    page.get_by_role("tab", name="Compare two models").click()
    wait_idle(page)
    main = page.get_by_test_id("stMainBlockContainer")
    main.get_by_text(re.compile(r"Right by default, wrong by e2e-small: \d+ digits, 40 a page")).wait_for()
    main.get_by_text(re.compile(r"^1-40: 40 of \d+\. Under each")).first.wait_for()
    shot(page, "mistakes-compare")
