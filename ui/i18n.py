"""The app's languages: the one translation function `t`, numbers written per language, and which language
this browser reads (its `lang=` link, its own choice in the sidebar, its own language, else English)."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

import streamlit as st
from babel.core import Locale
from babel.messages.pofile import read_po
from babel.numbers import get_decimal_symbol, get_group_symbol, NumberPattern, parse_pattern
from streamlit.runtime.scriptrunner import get_script_run_ctx

from mnist_core.texts import Clauses, N_, Words  # N_: marks a text to translate later with t()
from ui.identity import browser_key
from ui.keys import OWNERS_KEPT
from ui.per_owner import PerOwner

SOURCE = "en"  # the language the code is written in (the msgids)
# Each language under its own name, as its readers look for it in the picker.
LANGUAGES = {"en": "English", "es": "Español", "fr": "Français", "it": "Italiano"}
LOCALES = Path(__file__).resolve().parent.parent / "locales"
PICKER = "language_picker"  # the sidebar's language box (a stable key: its label changes with the language)
URL_LANG = "_url_lang"  # the language a `lang=` link asked for, kept for this session's page switches


@functools.cache
def catalog(lang: str) -> dict[str, str]:
    """One language's translations (msgid -> text), read from its .po file once per process; the
    untranslated and fuzzy ones are left out, so they show in English rather than half-done."""
    path = LOCALES / lang / "LC_MESSAGES" / "messages.po"
    if lang == SOURCE or not path.exists():
        return {}
    with path.open("rb") as f:
        po = read_po(f, locale=lang)
    return {m.id: m.string for m in po if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}


@st.cache_resource(show_spinner=False)
def language_choices() -> PerOwner[str]:
    """Every browser's own choice in the language picker, by owner key (kept on the server, so a reload or
    a page switch keeps it; a browser that never chose reads its Accept-Language)."""
    return PerOwner(OWNERS_KEPT)


def _known(code: object) -> str | None:
    """The app's language for a tag such as "fr-CA" or "es", else None."""
    if not isinstance(code, str):
        return None
    primary = code.strip().replace("_", "-").split("-")[0].lower()
    return primary if primary in LANGUAGES else None


def from_accept_language(header: str | None) -> str | None:
    """The first of the app's languages in an Accept-Language header, by its q weights ("fr-FR,fr;q=0.9")."""
    weighted = []
    for i, part in enumerate((header or "").split(",")):
        tag, _, params = part.partition(";")
        q = 1.0
        if (m := re.search(r"q=([0-9.]+)", params)) is not None:
            try:
                q = float(m.group(1))
            except ValueError:
                q = 0.0
        if (lang := _known(tag)) is not None and q > 0:
            weighted.append((-q, i, lang))
    return min(weighted)[2] if weighted else None


def preferred_language(locale: str | None, accept_language: str | None) -> str | None:
    """The app's language for a browser that never chose one: its navigator's language ("fr-FR") if the app
    has it, else the first of the app's languages in its Accept-Language. A browser's own two agree; where
    they do not (Debian's Chromium under Playwright sends "en-US" on the websocket whatever its locale),
    the navigator's is the one its settings set."""
    return _known(locale) or from_accept_language(accept_language)


RUN_LANGUAGE = "_mnist_language"  # on the script run's context: (that run's cursors, the language it found)


def language() -> str:
    """This browser's language: a `lang=` in the link (kept for the session), else its choice in the
    picker, else its navigator's language, else its Accept-Language, else English. Never process-wide:
    two browsers on one server read two languages at once. Found once per script run (a stroke's rerun
    writes dozens of texts and numbers; finding it took ~0.1 ms each time): the run's context keeps it
    with that run's own `cursors`, a dict Streamlit makes anew for every run (a fragment's too)."""
    ctx = get_script_run_ctx(suppress_warning=True)
    if ctx is None:  # outside a page run: the language `speaking` set (a stroke answered over HTTP), else English
        return _SPOKEN.get()
    kept = getattr(ctx, RUN_LANGUAGE, None)
    if kept is not None and kept[0] is ctx.cursors:
        return kept[1]
    lang = _browser_language()
    setattr(ctx, RUN_LANGUAGE, (ctx.cursors, lang))
    return lang


_SPOKEN: ContextVar[str] = ContextVar("mnist_spoken_language", default=SOURCE)


@contextmanager
def speaking(lang: str) -> Iterator[None]:
    """Texts and numbers in `lang` (else English) in code that runs outside a page run: a stroke answered
    over HTTP (ui/quick_answer.py), in the language its page was in."""
    token = _SPOKEN.set(_known(lang) or SOURCE)
    try:
        yield
    finally:
        _SPOKEN.reset(token)


def _forget_run_language() -> None:
    """The language is found again within this run (the picker's choice changed it)."""
    ctx = get_script_run_ctx(suppress_warning=True)
    if ctx is not None and hasattr(ctx, RUN_LANGUAGE):
        delattr(ctx, RUN_LANGUAGE)


def _browser_language() -> str:
    state = st.session_state
    if (asked := _known(st.query_params.get("lang"))) is not None:
        state[URL_LANG] = asked
    if (asked := state.get(URL_LANG)) is not None:
        return asked
    chosen = language_choices().get(browser_key())
    if chosen in LANGUAGES:
        return chosen
    return preferred_language(st.context.locale, st.context.headers.get("Accept-Language")) or SOURCE


def t(msgid: str, **params: object) -> str:
    """`msgid` (an English text, a literal in the code so Babel extracts it) in this browser's language,
    its `{named}` placeholders filled from `params` (a language may reorder them). Without params the text
    is returned as is (braces and all)."""
    text = catalog(language()).get(msgid, msgid)
    return text.format(**params) if params else text


def said(error: BaseException | Words) -> str:
    """What an engine error (or a `texts.Words`) says, in this browser's language: its template
    (`mnist_core.texts.worded`) translated and filled, else its own (English) text."""
    template, params = getattr(error, "template", None), getattr(error, "params", {})
    if not isinstance(template, str):
        return str(error)
    return catalog(language()).get(template, template).format(**{k: _said_param(v) for k, v in params.items()})


def _said_param(value: object) -> object:
    """One param of an engine sentence as this language shows it: a reason inside it (a `texts.Words`) and a
    list of clauses (`texts.Clauses`) translated, a number with the language's marks (0,5 and 20 000 000)."""
    if isinstance(value, Clauses):
        return listed([said(words) for words in value.items])
    if isinstance(getattr(value, "template", None), str):
        return said(value)
    if isinstance(value, float):
        return significant(value, 6)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10_000:
        return num(value, 0)
    return value


@functools.cache
def _pattern(lang: str, kind: str, digits: int, trim: bool = False) -> tuple[NumberPattern, Locale]:
    """Babel's parsed pattern for a decimal or a percentage with `digits` decimals in `lang`, made once:
    parsing it each time was most of a number's cost (a stroke writes dozens)."""
    locale = Locale.parse(lang)
    if kind == "percent":  # the locale's pattern with `digits` decimals after its last integer digit
        pattern = locale.percent_formats[None].pattern
        if digits > 0:
            pattern = re.sub(r"0(?=[^0]*$)", "0." + "0" * digits, pattern, count=1)
    else:
        pattern = "#,##0" + ("." + ("#" if trim else "0") * digits if digits > 0 else "")
    return parse_pattern(pattern), locale


def num(value: float, digits: int = 2, trim: bool = False) -> str:
    """A number as this browser's language writes it, with `digits` decimals ("0,9913" in Spanish); with
    `trim`, at most `digits` (1.25 and 3, not 1.25 and 3.00)."""
    if not math.isfinite(value):  # a diverged loss: "nan", not Babel's "NaN,0000"; the one writer of these
        return str(float(value)).replace("inf", "∞")
    pattern, locale = _pattern(language(), "decimal", digits, trim)
    return pattern.apply(value, locale)


def pct(value: float, digits: int = 2) -> str:
    """A fraction as a percentage in this browser's language ("99,13 %" in French, "99.13%" in English),
    with the language's own spacing and sign place."""
    pattern, locale = _pattern(language(), "percent", digits)
    return pattern.apply(value, locale)


def percent_sign() -> str:
    """What follows a percentage's number in this browser's language: "\u202f%" in French, "%" in English (a
    table's "{:.2f}%" format, which then reads 99,15 % in French)."""
    return _percent_sign(language())


@functools.cache
def _percent_sign(lang: str) -> str:
    pattern, locale = _pattern(lang, "percent", 0)
    return pattern.apply(0.5, locale).replace("50", "")


def percent_format() -> str:
    """A whole percentage as this browser's language writes it, as a printf format for a slider's `format`
    ("%d %%" in French, "%d%%" in English): a percentage slider shows its value the language's way."""
    return pct(0.5, 0).replace("%", "%%").replace("50", "%d")


# A slider of decimals (a dropout, a temperature) writes its value in the browser's own locale (Streamlit's
# "localized", Intl.NumberFormat): printf, its other way, has no decimal comma ("0.10" in French).
LOCALIZED = "localized"


def significant(value: float, digits: int = 3) -> str:
    """A setting's value with `digits` significant digits, as the engine writes a learning rate (0.003, 1e-05
    as 0.00001), in this browser's language."""
    return num(float(f"{value:.{digits}g}"), 8, trim=True)


# Between the items of a list of clauses (the lab's edits, a model's live changes): French spaces it " ; ".
LIST_SEPARATOR = N_("; ")


def listed(items: list[str]) -> str:
    """Whole clauses, each translated on its own, as one list in this browser's language."""
    return t(LIST_SEPARATOR).join(items)


@functools.cache
def _decimal_symbol(lang: str) -> str:
    return get_decimal_symbol(lang)  # Babel parses the locale on every call: ~0.5 ms, several times a stroke


def decimal_mark() -> str:
    """This browser's language's decimal mark ("," in French, Spanish and Italian)."""
    return _decimal_symbol(language())


def number_format(digits: int = 2, signed: bool = False) -> Callable[[float], str]:
    """A formatter for many numbers at once (the hover texts of thousands of cells): Python's own formatting
    with this browser's decimal mark, looked up once (num() costs about 20 µs a number). `signed` writes the
    sign of positives too (+0.125). No thousands marks: for numbers below 1,000."""
    mark, spec = decimal_mark(), f"{'+' if signed else ''}.{digits}f"
    if mark == ".":
        return lambda value: format(value, spec)
    return lambda value: format(value, spec).replace(".", mark)


def percent_writer(digits: int = 0) -> Callable[[float], str]:
    """A formatter for many shares at once (a chart's hover texts and cells): a fraction as a percentage in this
    browser's language with `digits` decimals ("12,5 %" in French, "12.5%" in English), looked up once. For
    shares from 0 to 1 (no thousands marks)."""
    write, sign = number_format(digits), percent_sign()
    return lambda share: write(100 * share) + sign


def plotly_separators() -> str:
    """Plotly's `separators` for this browser's language: its decimal mark, then its thousands mark."""
    lang = language()
    return get_decimal_symbol(lang) + get_group_symbol(lang)


def choose_language() -> None:
    """The picker's callback: this browser's choice, remembered on the server; a `lang=` link no longer
    overrides it."""
    lang = st.session_state.get(PICKER)
    if lang in LANGUAGES:
        language_choices().set(browser_key(), lang)
        _forget_run_language()
        st.session_state.pop(URL_LANG, None)
        if "lang" in st.query_params:
            del st.query_params["lang"]


def language_picker() -> None:
    """The sidebar's language box: each language under its own name; the choice is this browser's."""
    st.session_state[PICKER] = language()
    st.sidebar.selectbox(t("Language"), list(LANGUAGES), format_func=LANGUAGES.__getitem__, key=PICKER,
                         on_change=choose_language)

