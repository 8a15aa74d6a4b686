"""The leaderboard on a phone (390x844, touch): its key columns (name, accuracy, by) come first,
so that they are on the screen without scrolling the table sideways."""

from __future__ import annotations

from .helpers import LAPTOP, open_app, PHONE, shot, wait_app_style, wait_idle


def test_the_leaderboards_accuracy_is_on_a_phones_screen(app, browser):
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = phone.new_page()
    page.set_default_timeout(30_000)
    try:
        open_app(page, app.url)
        page.locator('[data-testid="stSidebarNav"] a', has_text="Leaderboard").first.dispatch_event("click")
        page.get_by_text("Every model on this server").wait_for()
        wait_idle(page)
        grid = page.get_by_test_id("stDataFrame").last
        grid.locator('td[role="gridcell"]', has_text="default").first.wait_for(state="attached")
        # The table's headers in the order the grid draws them, and where each one's cell sits.
        headers = grid.locator('th[role="columnheader"]').all_inner_texts()
        assert [h.strip() for h in headers[:4]] == ["#", "name", "accuracy", "by"], headers
        box = grid.bounding_box()
        assert box["x"] + box["width"] <= 390
        shot(page, "phone-leaderboard", full_page=False)
    finally:
        phone.close()


CHART_TOOLBAR_SHOWN = """() => {
  const chart = document.createElement('div');  // as Plotly draws a chart's toolbar in the page
  chart.className = 'js-plotly-plot';
  chart.innerHTML = '<div class="modebar-container"><div class="modebar"></div></div>';
  document.body.append(chart);
  const shown = getComputedStyle(chart.firstChild).display !== 'none';
  chart.remove();
  return shown;
}"""


def test_a_phone_gets_no_chart_toolbar_over_the_chart_titles(app, browser):
    # On a phone Plotly's toolbar stays shown (nothing hovers) and covered the titles; a laptop keeps it.
    for size, shown in ((PHONE, False), (LAPTOP, True)):
        context = browser.new_context(**size)
        page = context.new_page()
        try:
            open_app(page, app.url)
            wait_app_style(page)
            assert page.evaluate(CHART_TOOLBAR_SHOWN) is shown, size
        finally:
            context.close()
