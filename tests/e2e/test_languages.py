"""The languages in a real browser: a browser's Accept-Language chooses the app's language, the sidebar
picker switches it live and is remembered across a reload, two browsers read two languages at once (on one page
at the same time too); every page in French and Spanish with no English left; the translated pages at laptop and
phone width (screenshots)."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from mnist_core.classroom.collection import ClassCollection
from mnist_core.storage.drawings import Collections
from ui.i18n import catalog, LANGUAGES

from ..test_i18n import extracted
from .helpers import (
    choose_nickname,
    in_view,
    LAPTOP,
    loop,
    open_app,
    open_sidebar,
    PHONE,
    shot,
    start_app,
    stroke,
    wait_app_style,
    wait_idle,
)

pytestmark = [pytest.mark.browser, pytest.mark.mnist]

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
    shot(page, f"languages-{lang}-laptop")
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


STOP_BUTTON_SHOWN = """() => {
  const widget = document.createElement('div');  // as Streamlit's header shows it while a script runs
  widget.dataset.testid = 'stStatusWidget';
  widget.innerHTML = '<span><button kind="header">Stop</button></span>';
  document.body.append(widget);
  const shown = getComputedStyle(widget.querySelector('button')).display !== 'none';
  widget.remove();
  return shown;
}"""


def test_the_headers_english_stop_button_is_hidden_in_another_language(app, browser):
    french = open_in(browser, "fr", app.url)
    title(french, "fr")
    wait_app_style(french)
    assert not french.evaluate(STOP_BUTTON_SHOWN)
    english = open_in(browser, "fr", app.url + "?lang=en")
    title(english, "en")
    wait_app_style(english)
    assert english.evaluate(STOP_BUTTON_SHOWN)
    for page in (french, english):
        page.context.close()


def test_a_lang_link_wins_over_the_browsers_language(app, browser):
    page = open_in(browser, "fr", app.url + "?lang=es")
    title(page, "es")
    page.context.close()


@pytest.mark.parametrize("lang", ["fr", "es"])
def test_phone_screenshots(app, browser, lang):
    page = open_in(browser, lang, app.url, PHONE)
    title(page, lang)
    shot(page, f"languages-{lang}-phone")
    # The sidebar (closed on a phone once the page is chosen) opened, as a student opens it for the settings.
    open_sidebar(page)
    page.get_by_test_id("stSidebar").get_by_label(tr(lang, "Learning rate"), exact=True).wait_for()
    shot(page.get_by_test_id("stSidebar"), f"languages-{lang}-phone-sidebar", full_page=None)
    page.context.close()


# --- the Draw page --------------------------------------------------------------------------------

# What a pseudo-element writes (the generated words that stand in for Streamlit's English).
BEFORE, AFTER = "e => getComputedStyle(e, '::before').content", "e => getComputedStyle(e, '::after').content"
DRAW_FILES = ("pages/draw.py", "ui/network.py", "ui/widgets.py", "ui/current_model.py", "mnist_core/net/preprocess.py")
# Streamlit's own texts in the upload box (no setting changes them): the one English left, by design.
STREAMLIT_OWN = re.compile(r"^(Drag and drop a file here|Upload|(Limit )?\d+MB per file.*)$")
ENGLISH_WORDS = re.compile(r"\b(the|and|of|your|you|is|digit|drawing|sure|Reading|Reads|network|upload|model)\b")


@pytest.fixture(scope="module")
def class_app(tmp_path_factory):
    """A server whose class collection is open (the Draw page then shows the class panel and its Add button)."""
    folder = tmp_path_factory.mktemp("draw-languages") / "drawings"
    ClassCollection(Collections(folder)).open("classe-3b", owner="teacher-key-0123456789abcdef")
    server = start_app(tmp_path_factory, "draw-languages", {"MNIST_DRAWINGS": str(folder)})
    yield server
    server.stop()


def english_pieces(lang: str) -> list[str]:
    """The English of the Draw page's texts that its `lang` translation does not share: each text's words
    between its placeholders and Markdown marks, of two words or more."""
    translations = catalog(lang)
    pieces = set()
    for msgid, where in extracted().items():
        if where.split(":")[0] in DRAW_FILES and msgid in translations:
            for piece in re.split(r"\{[^{}]*\}|\*+|<[^>]*>", msgid):
                piece = piece.strip(" .,:;?()·→-")
                if len(piece.split()) >= 2 and piece not in translations[msgid]:
                    pieces.add(piece)
    return sorted(pieces)


def draw_with_a_finger(page, points: list[tuple[float, float]]) -> None:
    canvas = page.locator("canvas.upper-canvas")
    box = canvas.bounding_box()
    touch = page.context.new_cdp_session(page)
    for i, (x, y) in enumerate(points):
        kind = "touchStart" if i == 0 else "touchMove"
        touch.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": box["x"] + x, "y": box["y"] + y}]})
    touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


@pytest.mark.parametrize("lang", ["fr", "es"])
def test_the_draw_page_has_no_english_left_and_keeps_a_phones_one_screen(class_app, browser, lang):
    assert len(english_pieces(lang)) > 40  # the check below has the page's own English to look for
    page = open_in(browser, lang, class_app.url, PHONE)
    title(page, lang)
    choose_nickname(page, {"fr": "Zoé", "es": "Ana"}[lang], lambda msgid: tr(lang, msgid))
    page.locator('[data-testid="stSidebarNav"] a', has_text=tr(lang, "Draw")).click()  # the sidebar closes
    page.get_by_role("heading", name=tr(lang, "Draw a digit"), exact=True).wait_for()
    wait_idle(page)
    page.locator("canvas.upper-canvas").wait_for()
    draw_with_a_finger(page, [(140, 50 + i * 9) for i in range(21)])  # a 1
    page.get_by_test_id("compact-answer").wait_for()
    wait_idle(page)
    shot(page, f"languages-draw-{lang}-phone", full_page=False)
    add = page.get_by_role("button", name=tr(lang, "Add to the class collection"))
    for what in (page.locator("canvas.upper-canvas"), page.get_by_test_id("compact-answer"), add):  # one screen
        assert in_view(page, what), what
    assert page.get_by_test_id("predicted-digit").inner_text().strip() == "1"  # the draw still answers
    # The canvas toolbar's buttons are named (hover text, accessible name) in the language too.
    page.get_by_role("button", name=tr(lang, "Undo"), exact=True).wait_for()
    assert page.get_by_role("button", name=tr(lang, "Reset canvas & history"), exact=True).count() == 1
    assert page.get_by_role("button", name="Undo", exact=True).count() == 0
    # The upload box's own words (Streamlit's English) show in the language; the English is hidden.
    box = page.get_by_test_id("stFileUploaderDropzone")
    limit = tr(lang, "{size} MB per file • {kinds}").format(size="10", kinds="PNG, JPG, GIF, BMP, WEBP, TIF")
    assert box.get_by_test_id("stFileUploaderDropzoneInstructions").locator("> div").evaluate(AFTER) == f'"{limit}"'
    assert box.locator("button [data-testid='stMarkdownContainer']").evaluate(AFTER) == f'"{tr(lang, "Upload")}"'
    assert not re.search(r"Upload|per file", box.inner_text())  # nor in the page's text
    main = page.get_by_test_id("stMainBlockContainer")
    main.get_by_text(tr(lang, "Settings: model, device, brush")).click()  # its labels are read too
    main.get_by_text(tr(lang, "Brush width")).wait_for()
    wait_idle(page)
    icons = set(main.get_by_test_id("stIconMaterial").all_inner_texts())  # an icon's name is its text
    lines = [line.strip() for line in main.inner_text().split("\n")]
    shown = "\n".join(line for line in lines if line and line not in icons and not STREAMLIT_OWN.match(line))
    assert [piece for piece in english_pieces(lang) if piece in shown] == []
    assert ENGLISH_WORDS.findall(shown) == [], shown
    shot(page, f"languages-draw-{lang}-phone-full")
    page.context.close()


def test_the_draw_page_in_french_at_laptop_width(class_app, browser):
    page = open_in(browser, "fr", class_app.url + "draw")
    page.get_by_role("heading", name=tr("fr", "Draw a digit"), exact=True).wait_for()
    page.locator("canvas.upper-canvas").wait_for()
    stroke(page, loop())
    main = page.get_by_test_id("stMainBlockContainer")
    assert tr("fr", "Probability of each digit") in main.inner_text()
    shot(page, "languages-draw-fr-laptop")
    # An uploaded file's line: its size the French way (Streamlit writes "1.8KB"), and its remove button.
    picture = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 40), dtype=np.uint8)).save(picture, "PNG")
    size = f"{len(picture.getvalue()) / 1024:.1f}".replace(".", ",")  # 1,8: a KB of 1024 bytes, one decimal
    page.locator("input[type=file]").set_input_files(files=[{"name": "un.png", "mimeType": "image/png",
                                                              "buffer": picture.getvalue()}])
    chip = page.get_by_test_id("stFileChip")
    expect(chip.get_by_test_id("stFileChipName").locator("+ div")).to_have_text(f"{size} Ko")
    assert chip.get_attribute("aria-label") == f"un.png, {size} Ko"
    expect(chip.get_by_role("button")).to_have_attribute("aria-label", "Retirer un.png")  # once it is uploaded
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
        # The output labels ("7: 100 %") end clear of the figure's edge (on a phone they came within 7 px of it).
        figure = page.locator(".js-plotly-plot").first.bounding_box()
        labels = page.locator(".js-plotly-plot").first.locator("text", has_text=re.compile(r"^\d: \d+\s%$"))
        assert labels.count() == 10
        right = max(box["x"] + box["width"] for box in (label.bounding_box() for label in labels.all()))
        assert right <= min(figure["x"] + figure["width"], size["viewport"]["width"]) - 12, (right, figure)
        shot(page, f"languages-fr-inside-network-{name}")
        page.context.close()


def test_streamlits_own_words_beside_a_box_are_in_the_language(app, browser):
    """A box being typed in says "Press Enter to apply", and a number out of range says why, in Streamlit's
    English: a French browser reads both in French, and neither English is in the page's text."""
    page = open_in(browser, "fr", app.url + "inside")
    main = page.get_by_test_id("stMainBlockContainer")
    main.get_by_role("heading", name=tr("fr", "Inside the network"), exact=True).wait_for()
    wait_app_style(page)
    box = main.get_by_label(tr("fr", "Test digit number"), exact=True)
    box.click()
    box.press("End")
    box.type("7")  # typed, not yet applied
    instructions = main.get_by_test_id("InputInstructions")
    assert instructions.evaluate(BEFORE) == f'"{tr("fr", "Press Enter to apply")}"'
    assert "Press Enter" not in main.inner_text()
    assert instructions.bounding_box()["height"] < 20  # one line inside the box, as the English (12 px type)
    shot(main.get_by_test_id("stNumberInput"), "languages-fr-number-typed", full_page=None)
    box.fill("123456")  # above the 9,999 test digits
    box.press("Enter")
    page.wait_for_function("el => el.getAttribute('aria-invalid') === 'true'", arg=box.element_handle())
    wrong = f'"{tr("fr", "Error: this number is outside the allowed range.")}"'
    alert = main.get_by_test_id("stNumberInput").locator("[role=alert]")
    assert alert.evaluate(AFTER) == wrong
    main.get_by_test_id("stTooltipErrorHoverTarget").hover()
    tooltip = page.get_by_test_id("stTooltipErrorContent")
    tooltip.wait_for()
    assert tooltip.get_by_test_id("stMarkdownContainer").evaluate(AFTER) == wrong
    assert "outside the allowed range" not in page.locator("body").inner_text()
    shot(page, "languages-fr-number-out-of-range", full_page=False)
    english = open_in(browser, "fr", app.url + "inside?lang=en")  # in English, Streamlit's own words stay
    english.get_by_role("heading", name="Inside the network", exact=True).wait_for()
    wait_app_style(english)
    box = english.get_by_test_id("stMainBlockContainer").get_by_label("Test digit number", exact=True)
    box.click()
    box.press("End")
    box.type("7")
    assert "Press Enter to apply" in english.get_by_test_id("InputInstructions").inner_text()
    for each in (page, english):
        each.context.close()


# --- every page, in French and in Spanish -----------------------------------------------------------

PAGES = {"": "Train a network", "draw": "Draw a digit", "mistakes": "Where the network goes wrong",
         "inside": "Inside the network", "our_class": "Our class's handwriting", "leaderboard": "Leaderboard"}


def shown_lines(page) -> list[str]:
    """Every line of text the main area and the sidebar show, icons' names and Streamlit's own upload-box
    texts left out."""
    lines = []
    for part in (page.get_by_test_id("stMainBlockContainer"), page.get_by_test_id("stSidebar")):
        icons = set(part.get_by_test_id("stIconMaterial").all_inner_texts())
        lines += [line.strip() for line in part.inner_text().split("\n")
                  if line.strip() and line.strip() not in icons and not STREAMLIT_OWN.match(line.strip())]
    return lines


STREAMLIT_STARTS = ("Help for ", "Fullscreen: ")  # Streamlit's own words before a label (translated or not)
LABELS_READ = """() => [...document.querySelectorAll('[aria-label], [placeholder], [title]')].flatMap(el =>
  ['aria-label', 'placeholder', 'title'].map(name => el.getAttribute(name)).filter(Boolean))
  .concat([...document.querySelectorAll('a')].map(a => a.textContent.trim()).filter(Boolean))"""


def labels_read(page) -> list[str]:
    """What a screen reader reads (and a tooltip shows) that the page's text does not: every aria-label,
    placeholder and title, and the links' words (Streamlit's skip link among them)."""
    return [label.strip() for label in page.evaluate(LABELS_READ) if label.strip()]


def english_left(lang: str, lines: list[str]) -> list[str]:
    """The lines still in English: a whole text of the code that this language words otherwise, or a line
    with a word no French, Spanish or Italian text has."""
    from ..test_i18n import english_in

    translations = catalog(lang)
    untranslated = {msgid for msgid, text in translations.items() if text != msgid}
    return [line for line in lines if line in untranslated or english_in([line])]


@pytest.mark.parametrize("lang", ["fr", "es", "it"])
def test_every_page_shows_no_english_left(app, browser, lang):
    assert english_left(lang, ["Train a network", "the network"]) == ["Train a network", "the network"]
    context = browser.new_context(locale=BROWSER_LOCALE[lang], **LAPTOP)
    page = context.new_page()
    page.set_default_timeout(60_000)
    left = {}
    for path, heading in PAGES.items():
        open_app(page, app.url + path)
        page.get_by_role("heading", name=tr(lang, heading), exact=True).wait_for()
        wait_idle(page, timeout=90)
        page.get_by_test_id("stSidebar").get_by_text(tr(lang, "Language"), exact=True).wait_for()
        # The labels script (ui/widgets.streamlit_labels) has run: Streamlit's skip link is in the language. Under
        # load it ran after the page was idle, and every label read as English (a CI run, 2026-12-07).
        page.wait_for_function("w => ![...document.querySelectorAll('a')].some(a => a.textContent.trim() === w)",
                               arg="Skip to main content", timeout=30_000)
        lines = shown_lines(page)
        assert tr(lang, "Language") in lines  # the sidebar was read too
        labels = labels_read(page)
        lines += labels
        if found := english_left(lang, lines) + [label for label in labels if label.startswith(STREAMLIT_STARTS)]:
            left[path or "train"] = found
    assert left == {}, f"English left in {lang}: {left}"
    context.close()


def test_two_browsers_on_one_page_at_once_each_read_their_own_language(app, browser):
    """A French and a Spanish browser open the Mistakes page together: each its own words, and its
    confidence slider written as a percentage its language's way (Streamlit's own display said 0.90)."""
    pages = {}
    for lang in ("fr", "es"):
        context = browser.new_context(locale=BROWSER_LOCALE[lang], **LAPTOP)
        pages[lang] = context.new_page()
        pages[lang].set_default_timeout(60_000)
        pages[lang].goto(app.url + "mistakes")  # both load at once
    for lang, page in pages.items():
        page.get_by_role("heading", name=tr(lang, "Where the network goes wrong"), exact=True).wait_for()
        wait_idle(page, timeout=90)
        page.get_by_role("tab", name=tr(lang, "Confidence"), exact=True).click()
        wait_idle(page)
        assert page.get_by_test_id("stSliderThumbValue").first.inner_text() == "90\xa0%"
    for lang, other in (("fr", "es"), ("es", "fr")):
        text = pages[lang].get_by_test_id("stMainBlockContainer").inner_text()
        assert tr(lang, "Answer only when at least this sure") in text
        assert tr(other, "Answer only when at least this sure") not in text
    for page in pages.values():
        page.context.close()


def test_streamlits_own_labels_follow_the_picker_live(app, browser):
    """Streamlit's own words that a screen reader reads (a select box's Open button and placeholder, a help
    icon's "Help for …", the skip link) are in the browser's language, and back in English when the picker
    switches to English without a reload."""
    page = open_in(browser, "fr", app.url)
    title(page, "fr")
    bar = page.get_by_test_id("stSidebar")
    english = ("Open", "Choose an option", "Help for Hidden layers", "Skip to main content")
    french = (tr("fr", "Open"), tr("fr", "Choose an option"),
              tr("fr", "Help for {label}").format(label=tr("fr", "Hidden layers")), tr("fr", "Skip to main content"))
    assert french == ("Ouvrir", "Choisissez une option", "Aide : Couches cachées", "Aller au contenu principal")
    for lang, (open_button, placeholder, help_for, skip) in (("fr", french), ("en", english)):
        if lang == "en":
            pick(page, "fr", "en")
            title(page, "en")
        page.wait_for_function("label => !!document.querySelector(`[aria-label='${label}']`)", arg=help_for)
        picker = bar.get_by_test_id("stSelectbox").filter(has=page.get_by_label(tr(lang, "Language"), exact=True))
        assert picker.get_by_role("button").first.get_attribute("aria-label") == open_button
        assert picker.locator("input").get_attribute("placeholder") == placeholder
        assert bar.get_by_label(help_for, exact=True).count() == 1
        assert page.get_by_text(skip, exact=True).count() == 1
        if lang == "fr":
            assert [label for label in labels_read(page) if label in english or label.startswith(STREAMLIT_STARTS)] \
                == []
            box = bar.get_by_label(tr("fr", "Optimizer"), exact=True)
            box.click()  # its list opens, and a screen reader hears how many options it has
            read_out = page.locator("[role='log'] > div").last
            expect(read_out).to_have_text(re.compile(r"^\d+ options disponibles\.$"))
            box.fill("zzz")  # no option matches: the list says so
            expect(page.get_by_role("listbox")).to_have_text(tr("fr", "No results"))
            expect(read_out).to_have_text(tr("fr", "0 options available."))
            box.press("Escape")
            page.reload()  # nothing left open or typed before the picker is used
            title(page, "fr")
    page.context.close()
