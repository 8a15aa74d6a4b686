"""The Mistakes page in a real browser, for the shipped model on the real test set."""

from mnist_core.evaluate import evaluate
from mnist_core.store import ModelStore

from .conftest import open_app, wait_idle


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
