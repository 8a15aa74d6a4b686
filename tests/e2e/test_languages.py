"""The languages in a real browser: a browser's Accept-Language chooses the app's language, the sidebar
picker switches it live and is remembered across a reload, two browsers read two languages at once; the
translated pages at laptop and phone width (screenshots)."""

from __future__ import annotations

import pytest

from ui.i18n import catalog, LANGUAGES

from .helpers import ARTIFACTS, open_app, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.mnist]

LAPTOP = {"viewport": {"width": 1440, "height": 900}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
BROWSER_LOCALE = {"fr": "fr-FR", "es": "es-ES", "it": "it-IT"}


def tr(lang: str, text: str) -> str:
    return catalog(lang).get(text, text)


def open_in(browser, lang: str, url: str, size: dict = LAPTOP):
    """A new browser (its own cookie, so its own owner) whose preferred language is `lang`."""
    context = browser.new_context(locale=BROWSER_LOCALE[lang], **size)
    page = context.new_page()
    page.set_default_timeout(30_000)
    open_app(page, url)
    return page


def title(page, lang: str) -> None:
    """Until the Train page's title shows in `lang`."""
    page.get_by_role("heading", name=tr(lang, "Train a network"), exact=True).wait_for()


def sidebar_labels(page) -> list[str]:
    """Every widget label and heading the sidebar shows (what a student reads before anything else)."""
    bar = page.get_by_test_id("stSidebar")
    texts = bar.locator('[data-testid="stWidgetLabel"], h1, h2, h3, [data-testid="stSidebarNav"] a span, '
                        '[data-testid="stSidebarUserContent"] button [data-testid="stMarkdownContainer"]')
    icons = set(bar.get_by_test_id("stIconMaterial").all_inner_texts())  # an icon's name is its text
    return [s.strip() for text in texts.all_inner_texts() for s in text.split("\n")
            if s.strip() and s.strip() not in icons]


@pytest.mark.parametrize("lang", ["fr", "es", "it"])
def test_the_browsers_language_is_the_apps_and_the_sidebar_has_no_english_left(app, browser, lang):
    page = open_in(browser, lang, app.url)
    title(page, lang)
    page.get_by_test_id("stSidebar").get_by_label(tr(lang, "Learning rate"), exact=True).wait_for()
    wait_idle(page)  # the whole sidebar drawn
    shown = sidebar_labels(page)
    translations = set(catalog(lang).values())
    # Labels the same in both languages (Dropout, Seed in some) are translations too: only text the catalog
    # does not give for this language is left over.
    left = [s for s in shown if s not in translations]
    assert tr(lang, "Learning rate") in shown and tr(lang, "Draw") in shown
    assert left == [], f"untranslated in the sidebar ({lang}): {left}"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"languages-{lang}-laptop.png"), full_page=True)
    page.context.close()


def pick(page, lang_now: str, lang: str) -> None:
    page.get_by_test_id("stSidebar").get_by_label(tr(lang_now, "Language")).click()
    page.get_by_role("option", name=LANGUAGES[lang], exact=True).click()
    wait_idle(page)


def test_the_picker_switches_live_and_is_remembered_and_two_browsers_keep_their_own(app, browser):
    french, spanish = open_in(browser, "fr", app.url), open_in(browser, "es", app.url)
    title(french, "fr")
    title(spanish, "es")
    pick(french, "fr", "it")  # live, no reload
    title(french, "it")
    french.get_by_test_id("stSidebarNav").get_by_text(tr("it", "Draw"), exact=True).wait_for()
    spanish.reload()  # the other browser keeps its own language
    title(spanish, "es")
    french.reload()  # remembered for this browser (its cookie's owner), over its Accept-Language
    title(french, "it")
    pick(french, "it", "en")
    title(french, "en")
    for page in (french, spanish):
        page.context.close()


def test_a_lang_link_wins_over_the_browsers_language(app, browser):
    page = open_in(browser, "fr", app.url + "?lang=es")
    title(page, "es")
    page.context.close()


@pytest.mark.parametrize("lang", ["fr", "es"])
def test_phone_screenshots(app, browser, lang):
    page = open_in(browser, lang, app.url, PHONE)
    title(page, lang)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"languages-{lang}-phone.png"), full_page=True)
    # The sidebar (closed on a phone once the page is chosen) opened, as a student opens it for the settings.
    page.get_by_test_id("stExpandSidebarButton").click()
    page.get_by_test_id("stSidebar").get_by_label(tr(lang, "Learning rate"), exact=True).wait_for()
    page.get_by_test_id("stSidebar").screenshot(path=str(ARTIFACTS / f"languages-{lang}-phone-sidebar.png"))
    page.context.close()


def test_insides_network_tab_in_french_has_no_english_left(app, browser):
    """The Network tab and a clicked unit's panel, as a French browser shows them: every word on the page
    (the figure's notes included) and the nodes' hover texts are French."""
    from ..test_i18n import english_in
    from .test_network_lab import node_spot, wait_for_network

    for size, name in ((LAPTOP, "laptop"), (PHONE, "phone")):
        page = open_in(browser, "fr", app.url + "inside", size)
        main = page.get_by_test_id("stMainBlockContainer")
        main.get_by_role("heading", name=tr("fr", "Inside the network"), exact=True).wait_for()
        page.get_by_role("tab", name=tr("fr", "Network"), exact=True).click()
        wait_idle(page, timeout=90)
        main.get_by_text(tr("fr", "Click a node to see what it computes and what it fires for.")).wait_for()
        wait_for_network(page)
        page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()  # on a phone it starts below the fold
        spot = node_spot(page, "hidden 1", 3)  # the traces keep the engine's layer names: not shown
        page.mouse.click(spot["x"], spot["y"])
        wait_idle(page)
        main.get_by_role("heading", name=f"cachée 1 · neurone {spot['unit']}").wait_for()
        main.get_by_text(tr("fr", "The 8 test digits it fires most for (test number: its output)")).wait_for()
        icons = set(main.get_by_test_id("stIconMaterial").all_inner_texts())
        shown = [line for line in main.inner_text().split("\n") if line.strip() and line.strip() not in icons]
        shown += page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot')].flatMap(g => [...g"
                               ".querySelectorAll('text')].map(t => t.textContent).concat((g._fullData || [])"
                               ".flatMap(t => [].concat(t.hovertext || [], t.hovertemplate || []))))")
        assert any("neurone" in line for line in shown) and any("cachée 1" in line for line in shown)
        assert english_in(shown) == [], f"English left on Inside's Network tab in French ({name})"
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"languages-fr-inside-network-{name}.png"), full_page=True)
        page.context.close()
