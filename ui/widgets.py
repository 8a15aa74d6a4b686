"""Small widgets the pages share: a button that asks before it acts, a notice shown after the rerun, an
error kept for the next run, text shown as typed inside Markdown, the files that could not be read, the
upload box's, the header's and the boxes' own words in the browser's language."""

from __future__ import annotations

import re

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from mnist_core.storage.drawings import Problem
from ui.i18n import decimal_mark, language, N_, num, said, SOURCE, t


def as_markdown(text: str) -> str:
    """`text` shown as typed inside Markdown: a nickname's '_' (the one Markdown mark it may hold) escaped."""
    return text.replace("_", "\\_")


MARKDOWN_MARKS = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>$&])")


def as_plain_markdown(text: str) -> str:
    """Any text (what a person typed, refused and quoted back) shown as it is inside Markdown: every mark
    escaped (no bold, link, HTML or $maths$), and a ':' followed by an invisible space (no :emoji:)."""
    return MARKDOWN_MARKS.sub(r"\\\1", text).replace(":", ":\u200b")


def confirmed(where: DeltaGenerator, key: str, item: str, ask: str, question: str, yes: str) -> bool:
    """A button `ask` that acts only after a second click: the first asks `question` (a warning) with `yes`
    and Cancel below it. True on the run whose `yes` was clicked (the question is closed then). `key` keeps
    which `item` is being asked about: asking about another item (another model, another collection) asks again."""
    state = st.session_state
    if state.get(key) != item:
        where.button(ask, key=f"{key}_ask", on_click=state.update, kwargs={key: item})
        return False
    where.warning(question)
    yes_column, no_column = where.columns(2)
    clicked = yes_column.button(yes, type="primary", key=f"{key}_yes")
    no_column.button(t("Cancel"), key=f"{key}_cancel", on_click=state.pop, args=(key, None))
    if clicked:
        state.pop(key, None)
    return clicked


class Notice:
    """A line shown once, after the rerun an action ends with (a toast made before the rerun is lost with it)."""

    def __init__(self, key: str) -> None:
        self.key = key

    def say(self, text: str) -> None:
        st.session_state[self.key] = text

    def show(self, toast: bool = False) -> None:
        if text := st.session_state.pop(self.key, None):
            st.success(text)
            if toast:
                st.toast(text)


class KeptError:
    """Why an action in a callback (which cannot draw) failed, kept for the next run to show."""

    def __init__(self, key: str) -> None:
        self.key = key

    def keep(self, text: str) -> None:
        st.session_state[self.key] = text

    def clear(self) -> None:
        st.session_state.pop(self.key, None)

    def text(self) -> str | None:
        """The error, still kept (shown on every run until cleared)."""
        return st.session_state.get(self.key)

    def show(self) -> None:
        """Shows the error once, and forgets it."""
        if text := st.session_state.pop(self.key, None):
            st.error(text)


FILE_PROBLEMS_SHOWN = 5  # lines; the rest counted


def file_problems(problems: list[Problem], class_collection: str | None = None) -> None:
    """One line for each file that could not be read (never a traceback), why in this browser's language: the
    first few, then how many more. Of the collection shown, or of the class collection named `class_collection`."""
    if not problems:
        return
    lines = [f"- `{p.file}`: {said(p.why)}" for p in problems[:FILE_PROBLEMS_SHOWN]]
    more = len(problems) - FILE_PROBLEMS_SHOWN
    if more > 0:
        lines.append(t("- and {count} more", count=num(more, 0)))
    count, name = num(len(problems), 0), class_collection
    if name is None:
        heading = (t("1 file of the collection cannot be read and is left out; the other drawings count:")
                   if len(problems) == 1 else
                   t("{count} files of the collection cannot be read and are left out; the other drawings count:",
                     count=count))
    else:
        heading = (t("1 file of the class collection **{name}** cannot be read and is left out; the other "
                     "drawings count:", name=name) if len(problems) == 1 else
                   t("{count} files of the class collection **{name}** cannot be read and are left out; the other "
                     "drawings count:", count=count, name=name))
    st.warning("\n".join([heading, *lines]))


ALIASES = {"jpeg": "jpg", "tiff": "tif"}  # the upload box lists one name for each kind of file, as Streamlit does
# The box's own words (an element to hide) and the element whose ::after writes them in the language instead.
UPLOAD_PARTS = ("[data-testid='stFileUploaderDropzone'] button [data-testid='stMarkdownContainer']", "p", ""), \
    ("[data-testid='stFileUploaderDropzoneInstructions'] > div", "span", " opacity: 0.6;")


def _css_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def uploader_words(key_prefix: str, types: list[str]) -> str:
    """A style block that writes the upload boxes' own words (Streamlit's "Upload" and "10MB per file • PNG,
    …", English literals in its bundle that no setting changes: streamlit/streamlit#13500) in this browser's
    language, for the boxes whose key starts with `key_prefix`; "" in English. The English is hidden
    (display: none: neither shown, nor read out, nor in the page's text) and its parent writes the language's
    words after it (generated content, which a screen reader reads)."""
    if language() == SOURCE:
        return ""
    kinds = ", ".join(dict.fromkeys(ALIASES.get(kind, kind).upper() for kind in types))
    limit = t("{size} MB per file • {kinds}", size=num(st.get_option("server.maxUploadSize"), 0), kinds=kinds)
    scope = f"[class*='st-key-{key_prefix}']"
    rules = [f"{scope} {parent} > {own} {{display: none}} "
             f"{scope} {parent}::after {{content: {_css_text(words)}; font-size: 0.875rem;{extra}}}"
             for (parent, own, extra), words in zip(UPLOAD_PARTS, (t("Upload"), limit), strict=True)]
    return "<style>" + " ".join(rules) + "</style>"


# The header's Stop button, shown while a script runs (each live-chart refresh too): an English literal of
# Streamlit's bundle. It stops the page's script run (never a training run), which nobody in a lesson needs.
HEADER_STOP_HIDDEN = "[data-testid='stStatusWidget'] button {display: none}"
# On a phone Plotly's toolbar stays shown (no hover to hide it) and covered the charts' titles; a finger
# zooms by dragging and resets with a double tap.
PHONE_CHART_TOOLBAR_HIDDEN = "@media (max-width: 640px) { .js-plotly-plot .modebar-container {display: none} }"
# The elements that are only a script run in the page (the sidebar closer, Streamlit's labels), keyed "script_…":
# they take no room.
SCRIPT_KEY = "script_"
SCRIPTS_HIDDEN = f"[class*='st-key-{SCRIPT_KEY}'] {{display: none}}"


# Streamlit's own words beside its boxes, English literals of its bundle that no setting changes: under a box
# being typed in, "Press Enter to apply" (its first instruction; a character count may follow), "Press Enter
# to submit form" in a form; a number box's out-of-range error, in its tooltip and in the alert a screen reader
# reads. Each English hidden, the language's words written by generated content (which a screen reader reads).
INSTRUCTIONS = "[data-testid='InputInstructions']"
NUMBER_INVALID = "body:has([data-testid='stNumberInputField'][aria-invalid='true'])"
RANGE_TOOLTIP = f"{NUMBER_INVALID} [data-testid='stTooltipErrorContent'] [data-testid='stMarkdownContainer']"
RANGE_ALERT = "[data-testid='stNumberInput'] [role='alert'][id$='-validation-error']"


def streamlit_words() -> list[str]:
    """The style rules that write Streamlit's own words above in this browser's language."""
    apply, submit = _css_text(t("Press Enter to apply")), _css_text(t("Press Enter to submit form"))
    out_of_range = _css_text(t("Error: this number is outside the allowed range."))
    return [f"{INSTRUCTIONS} {{white-space: nowrap}}", f"{INSTRUCTIONS} > :first-child {{display: none}}",
            f"{INSTRUCTIONS}::before {{content: {apply}}}",
            f"[data-testid='stForm'] {INSTRUCTIONS}::before {{content: {submit}}}",
            f"{RANGE_TOOLTIP} > p {{display: none}}", f"{RANGE_TOOLTIP}::after {{content: {out_of_range}}}",
            # Hidden by visibility, which the generated words override: no English in the page's text either.
            f"{RANGE_ALERT} {{visibility: hidden}}",
            f"{RANGE_ALERT}::after {{content: {out_of_range}; visibility: visible}}"]


def app_style() -> str:
    """The style block of the app's every run: the script elements and, on a phone, Plotly's toolbar hidden; in
    another language than English, the header's English "Stop" button hidden too (its running icon stays), and
    Streamlit's words beside its boxes written in the language."""
    rules = [SCRIPTS_HIDDEN, PHONE_CHART_TOOLBAR_HIDDEN] + ([] if language() == SOURCE
                                                            else [HEADER_STOP_HIDDEN, *streamlit_words()])
    return "<style>" + " ".join(rules) + "</style>"


# Streamlit's own words in attributes (what a screen reader reads and a tooltip shows): English literals of its
# bundle, on elements it draws and redraws. Exact ones, and ones that start a label ("Help for Seed").
LABEL_WORDS = [N_("App pages"), N_("Choose an option"), N_("Clear all"), N_("Close"), N_("Collapse sidebar"),
               N_("Decrement"), N_("Download as CSV"), N_("Expand sidebar"), N_("file upload"), N_("Fullscreen"),
               N_("Hide password"), N_("Increment"), N_("Link to heading"), N_("Main menu"), N_("Open"),
               N_("Search"), N_("Show password"), N_("Show/hide columns"), N_("Sidebar"),
               N_("Skip to main content"), N_("No results"), N_("0 options available."),
               N_("1 option available.")]
LABEL_STARTS = {"Help for ": N_("Help for {label}"), "Fullscreen: ": N_("Fullscreen: {label}"),
                "Remove ": N_("Remove {label}"), "Cancel upload of ": N_("Cancel upload of {label}")}
# An uploaded file's size ("1.8KB", and "one.png, 1.8KB" in its label), written with the language's mark and unit.
FILE_SIZE = r"(^|, )(\d+)(?:\.(\d+))?(B|KB|MB|GB)$"
SIZE_UNITS = {"B": N_("{size} B"), "KB": N_("{size} KB"), "MB": N_("{size} MB"), "GB": N_("{size} GB")}
OPTIONS_AVAILABLE = r"^(\d+) options available\.$"  # a select box's count, read out as it opens and filters

# Runs in the page: writes those words in the language wherever they appear (in attributes; as the whole text
# of a link, of a select box's read-out count or its "No results", of an uploaded file's size), now and as
# Streamlit draws more (a MutationObserver). The English is kept on the element, so a switch of language (or
# back to English, an empty list) rewrites it from the original; a value React sets anew is the new original.
_LABELS_JS = """
export default function({ data }) {
  const ATTRS = ['aria-label', 'placeholder', 'title'], WITH_ATTRS = ATTRS.map((name) => `[${name}]`).join(',');
  const TEXTS = 'a, [role="log"] > div, [role="listbox"] span, [data-testid="stFileChipName"] + div';
  window.__mnistWords = { words: new Map(Object.entries(data.words || {})), starts: data.starts || [],
                          counts: data.counts || null, sizes: data.sizes || null };
  const sized = (english) => {
    const { sizes } = window.__mnistWords;
    const found = sizes && new RegExp(sizes.pattern).exec(english);
    if (!found) return english;
    const size = found[2] + (found[3] ? sizes.mark + found[3] : '');
    return english.slice(0, found.index) + found[1] + sizes.units[found[4]].replace('{size}', size);
  };
  const worded = (english) => {
    const { words, starts, counts } = window.__mnistWords;
    if (words.has(english)) return words.get(english);
    for (const [start, template] of starts)
      if (english.startsWith(start)) return template.replace('{label}', english.slice(start.length));
    const count = counts && new RegExp(counts[0]).exec(english);
    return count ? counts[1].replace('{count}', count[1]) : sized(english);
  };
  // [the English, what was written for it]: the English is kept while our words are still there; a value React
  // wrote since is the new English.
  const reword = (kept, now) => {
    const english = kept && now === kept[1] ? kept[0] : now;
    return [english, worded(english)];
  };
  const fix = (el) => {
    const kept = el.__mnistEnglish || (el.__mnistEnglish = {});
    for (const name of ATTRS) {
      const now = el.getAttribute(name);
      if (!now) continue;
      kept[name] = reword(kept[name], now);
      if (kept[name][1] !== now) el.setAttribute(name, kept[name][1]);
    }
  };
  const fixText = (el) => {  // an element's whole text (the skip link, read first by a screen reader)
    const node = el.firstChild;
    if (!node || node.nodeType !== 3 || el.childNodes.length !== 1) return;
    el.__mnistText = reword(el.__mnistText, node.data);
    if (node.data !== el.__mnistText[1]) node.data = el.__mnistText[1];
  };
  const walk = (root) => {
    if (root.nodeType !== 1) return;
    if (root.matches(WITH_ATTRS)) fix(root);
    root.querySelectorAll(WITH_ATTRS).forEach(fix);
    (root.matches(TEXTS) ? [root] : []).concat([...root.querySelectorAll(TEXTS)]).forEach(fixText);
  };
  if (!window.__mnistWordsWatch) {
    window.__mnistWordsWatch = new MutationObserver((changes) => {
      for (const change of changes) {
        if (change.type === 'attributes') fix(change.target);
        else if (change.type === 'characterData') {
          const parent = change.target.parentElement;
          if (parent && parent.matches(TEXTS)) fixText(parent);
        } else change.addedNodes.forEach(walk);
      }
    });
    window.__mnistWordsWatch.observe(document.body, { subtree: true, childList: true, characterData: true,
                                                       attributes: true, attributeFilter: ATTRS });
  }
  walk(document.body);
}
"""
_labels: list = []


def streamlit_labels() -> None:
    """app.py, on each full run: Streamlit's own words in attributes and its skip link, in this browser's
    language (in English, the originals put back)."""
    if not _labels:
        _labels.append(st.components.v2.component("mnist_app.streamlit_labels", js=_LABELS_JS))
    english = language() == SOURCE
    words = {} if english else {w: t(w) for w in LABEL_WORDS}
    starts = [] if english else [[start, t(template)] for start, template in LABEL_STARTS.items()]
    counts = None if english else [OPTIONS_AVAILABLE, t("{count} options available.")]
    sizes = None if english else {"pattern": FILE_SIZE, "mark": decimal_mark(),
                                  "units": {unit: t(template) for unit, template in SIZE_UNITS.items()}}
    _labels[0](data={"words": words, "starts": starts, "counts": counts, "sizes": sizes},
               key=f"{SCRIPT_KEY}streamlit_labels", height="content")
