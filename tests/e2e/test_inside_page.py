"""The Inside page in a real browser, for the shipped model: every view renders; a digit arrives from
the Draw page and from the Mistakes page."""

from .helpers import open_app, shot, stroke, vertical_line, wait_idle

VIEWS = {  # tab -> text that shows the view rendered
    "Weights": "64 of the 512 units",
    "Activations": "The first-layer units that fired most",
    "Saliency": "pushed the network towards",
    "Nearest digits": "Searched all 60,000 training digits twice",
    "Brittleness": "What it reads when the digit moves",
    "Map": "test digits placed by PCA",
}


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()
    wait_idle(page, timeout=90)


def test_every_view_renders_for_a_test_digit(app, page):
    open_app(page, app.url + "inside")
    main = page.get_by_test_id("stMainBlockContainer")
    main.get_by_text("test digit #0 (a 7)").wait_for()
    for tab, text in VIEWS.items():
        open_tab(page, tab)
        main.get_by_text(text).first.wait_for()
        assert page.get_by_test_id("stException").count() == 0, tab
        shot(page, f"inside-{tab.replace(' ', '-').lower()}")
    # The map carries each digit's picture in its hover label and a star for the digit looked at.
    names = page.evaluate("() => document.querySelector('.js-plotly-plot').data.map(t => t.name)")
    assert names[:10] == [str(d) for d in range(10)] and names[-2:] == ["mistakes", "this digit"]
    hover = page.evaluate("() => document.querySelector('.js-plotly-plot').data[7].text[0]")
    assert hover.count("<br>") == 14 and "█" in hover  # a caption line, then 14 lines of the digit


def test_a_drawing_and_a_mistake_can_be_looked_into(app, page):
    open_app(page, app.url + "draw")
    stroke(page, vertical_line())
    page.get_by_role("link", name="Why? Look inside").click()
    wait_idle(page)
    main = page.get_by_test_id("stMainBlockContainer")
    main.get_by_text("Looking at your drawing").wait_for()
    assert "it reads 1" in main.inner_text()
    open_tab(page, "Map")
    main.get_by_text("test digits placed by PCA").wait_for()
    shot(page, "inside-map-of-a-drawing")

    open_app(page, app.url + "mistakes")
    pick = page.get_by_test_id("stMainBlockContainer").get_by_text("test digit #").first.inner_text()
    number = pick.split("#")[1].split()[0]
    page.get_by_role("button", name="Look inside: why this answer?").click()
    wait_idle(page)
    main = page.get_by_test_id("stMainBlockContainer")
    main.get_by_text(f"Looking at test digit #{number}").wait_for()


def test_a_click_on_the_map_shows_the_digit_above_the_map(app, page):
    open_app(page, app.url + "inside")
    open_tab(page, "Map")
    main = page.get_by_test_id("stMainBlockContainer")
    main.get_by_text("test digits placed by PCA").first.wait_for()
    chart = page.locator(".js-plotly-plot", has_text="test digits placed by")
    chart.scroll_into_view_if_needed()
    # The screen position of the first point of the first trace, from Plotly's own axes.
    spot = page.evaluate("""() => { const g = [...document.querySelectorAll('.js-plotly-plot')]
            .find(g => g._fullLayout.title.text.includes('placed by'));
        const t = g._fullData[0], L = g._fullLayout, box = g.getBoundingClientRect();
        return {x: box.left + L._size.l + L.xaxis.l2p(t.x[0]), y: box.top + L._size.t + L.yaxis.l2p(t.y[0]),
                index: t.customdata[0]}; }""")
    page.mouse.click(spot["x"], spot["y"])
    wait_idle(page)
    caption = main.get_by_text(f"test #{spot['index']}: a ")
    caption.wait_for()
    assert caption.bounding_box()["y"] < chart.bounding_box()["y"]  # above the map, not below the screen
    shot(page, "inside-map-click", full_page=False)
