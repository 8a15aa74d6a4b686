"""Leaderboard page: every model on the server and every run training now, for the teacher to project."""

from __future__ import annotations

import functools
from collections.abc import Callable

import streamlit as st

import ui.startup  # noqa: F401  (first: a page run alone on a fresh server still leaves the pages-folder mode)
from mnist_core.classroom.leaderboard import (
    Entry,
    examples_key,
    HiddenEntries,
    HiddenView,
    live_entries,
    owner_label,
    saved_entries,
    sort_entries,
    SORTS,
    store_signature,
)
from mnist_core.classroom.nicknames import COMMAND_LINE, NO_NICKNAME, SHIPPED
from mnist_core.net.data import MnistDataError
from mnist_core.storage.models import StoreError
from ui.browser import is_teacher
from ui.caches import collection_part, measured_class, measured_test
from ui.current_model import current_model
from ui.engine import classroom, job_registry, model_store, nicknames
from ui.i18n import decimal_mark, N_, percent_sign, said, t
from ui.run_words import changes_words, optimizer_words
from ui.tables import DASH, with_dashes
from ui.widgets import Notice

LIVE_EVERY = 1.0  # seconds between refreshes of the runs table while runs train
IDLE_EVERY = 3.0  # seconds between looks for new runs and models while none trains
PICK = "lb_pick"  # the key of the model row picked (by a click on the table or the select box)
NOTICE = Notice("lb_notice")  # what the teacher's last Hide or Show again did, said after the rerun


def with_test_scores(entry: Entry) -> tuple[float | None, float | None]:
    """(accuracy, macro-F1) on the MNIST test set: from the saved history, else measured once."""
    if entry.test_accuracy is not None or entry.kind != "model":
        return entry.test_accuracy, entry.test_f1
    try:
        with st.spinner(t("Scoring a model on the MNIST test set (once per model)…")):
            scores = measured_test(entry.hide_id, entry.created, entry.name)
    except (MnistDataError, StoreError):  # no MNIST here, or the weights cannot be read: left blank
        return None, None
    return scores.accuracy, scores.macro_f1


def class_scores(models: list[Entry]) -> tuple[dict[str, float], str]:
    """Each model's accuracy on the open class collection's held-out part (by entry key), and a line
    saying what that part is; ({}, "") when no class collection is open."""
    name = classroom().open_name()
    if name is None:
        return {}, ""
    try:
        _, held = collection_part(name, "held")  # read once per version of the collection (ui/caches.py)
    except (OSError, ValueError) as e:
        return {}, t("Class handwriting: the class collection **{name}** cannot be read ({reason}).", name=name,
                     reason=said(e))
    if not len(held):
        return {}, t("Class handwriting: the class collection **{name}** has no held-out drawings yet (one "
                     "drawing in five is kept aside for scoring).", name=name)
    key, scores = examples_key(held), {}
    for model in models:
        try:
            with st.spinner(t("Scoring a model on the class's handwriting (once per model)…")):
                accuracy = measured_class(model.hide_id, model.created, key, model.name, held)
        except StoreError:  # its weights cannot be read: left blank
            continue
        if accuracy is not None:
            scores[model.key] = accuracy
    return scores, t("Class handwriting: accuracy on the {count} held-out drawings of the class collection "
                     "**{name}** (drawings no training on it has seen).", count=len(held), name=name)


def owner_labels() -> Callable[[Entry], str]:
    """Who an entry is by: the nickname its trainer chose (all read once here), or what kind of model it is."""
    label = functools.partial(owner_label, nickname=nicknames().all().get)

    def who(entry: Entry) -> str:
        found = label(entry)
        # The engine's own words (not a nickname a student chose) in this browser's language.
        engine_words = entry.builtin or not entry.owner_tag or found == NO_NICKNAME
        return t(OWNER_WORDS[found]) if engine_words and found in OWNER_WORDS else found
    return who


# The engine's words for who a model is by, and its orders, in this browser's language (the engine stays English).
OWNER_WORDS = {SHIPPED: N_("shipped with the app"), COMMAND_LINE: N_("command line"),
               NO_NICKNAME: N_("(no nickname)")}
SORT_LABELS = {"MNIST test accuracy": N_("MNIST test accuracy"), "class handwriting accuracy":
               N_("class handwriting accuracy"), "training time (shortest)": N_("training time (shortest)"),
               "newest": N_("newest"), "name": N_("name")}

# Each column's title, marked for translation; rows are built with these English names, shown translated.
HEADERS = {"name": N_("name"), "MNIST test accuracy": N_("MNIST test accuracy"), "by": N_("by"),
           "progress": N_("progress"), "hidden": N_("hidden"), "live test F1": N_("live test F1"),
           "seconds so far": N_("seconds so far"), "layers": N_("layers"), "optimizer": N_("optimizer"),
           "augment": N_("augment"), "drawn": N_("drawn"), "batch": N_("batch"), "dropout": N_("dropout"),
           "changed live": N_("changed live"), "class handwriting": N_("class handwriting"),
           "test F1": N_("test F1"), "epochs": N_("epochs"), "training s": N_("training s"), "date": N_("date")}


def header(column: str) -> str:
    return t(HEADERS[column]) if column in HEADERS else column


def shown_table(rows: list[dict], formats: dict[str, str], config: dict):
    """The rows (English column names) as a table with its titles in this browser's language, its decimals
    with the language's mark and its percentages with its sign ("99,15 %" in French), and `config` keyed to
    match."""
    rows = [{header(k): v for k, v in row.items()} for row in rows]
    sign = percent_sign()
    return (with_dashes(rows, {header(k): f.replace("}%", "}" + sign) for k, f in formats.items()},
                        decimal=decimal_mark()),
            {header(k): c for k, c in config.items()})


# The settings' numbers with the language's decimal mark (unformatted, a table wrote 0.100000).
SETTING_FORMATS = {"augment": "{:.2f}", "drawn": "{:.2f}", "dropout": "{:.2f}"}


def settings_row(entry: Entry) -> dict:
    optimizer = optimizer_words(entry.summary) if entry.summary is not None else entry.optimizer
    return {"layers": entry.layers, "optimizer": optimizer, "augment": entry.augment, "drawn": entry.drawn,
            "batch": entry.batch_size, "dropout": entry.dropout, "changed live": changes_words(entry.changes)}


def changed_column():
    return st.column_config.TextColumn(width="large", help=t("Settings changed while it trained (Train page, live)"))


def percent(share: float | None) -> float | None:
    return None if share is None else round(100 * share, 2)


# A short title: with it, a phone's 390 px show the name and the accuracy (the key columns) side by side.
def accuracy_column():
    return st.column_config.Column(t("accuracy"), help=t("on the MNIST test set"))


def hidden_mark(entry: Entry, hidden: HiddenView, show_hidden: bool) -> dict:
    """The teacher's view of hidden entries: a column beside the name (students never get them)."""
    return {"hidden": t("hidden") if hidden.hides(entry.hide_id, entry.builtin) else ""} if show_hidden else {}


def runs_table(runs: list[Entry], hidden: HiddenView, show_hidden: bool, who: Callable[[Entry], str]) -> None:
    shown = [r for r in runs if show_hidden or not hidden.hides(r.hide_id, r.builtin)]
    if not shown:
        st.caption(t("No run is training right now."))
        return
    rows = []
    for run in shown:
        where = (t("waiting ({position} in line)", position=run.queue_position) if run.status == "queued"
                 else t("epoch {epoch} of {epochs}", epoch=run.epochs, epochs=run.last_epoch))
        # The key columns first: on a phone only the first few fit.
        rows.append({"name": run.name, "MNIST test accuracy": percent(run.test_accuracy), "by": who(run),
                     "progress": where, **hidden_mark(run, hidden, show_hidden),
                     "live test F1": run.test_f1, "seconds so far": round(run.train_seconds, 1), **settings_row(run)})
    table, config = shown_table(rows, {"MNIST test accuracy": "{:.2f}%", "live test F1": "{:.4f}",
                                       "seconds so far": "{:.1f}", **SETTING_FORMATS},
                                {"live test F1": st.column_config.Column(help=t("after its last finished epoch")),
                                 "MNIST test accuracy": accuracy_column(), "changed live": changed_column()})
    st.container(key="lb_runs").dataframe(table, hide_index=True, column_config=config, placeholder=DASH)


def models_table(models: list[Entry], hidden: HiddenView, show_hidden: bool,
                 who: Callable[[Entry], str]) -> list[Entry]:
    """The stored models as a sortable table; a click on a row picks it. Returns the models shown, in order."""
    models = [m for m in models if show_hidden or not hidden.hides(m.hide_id, m.builtin)]
    on_class, about_class = class_scores(models)
    orders = [o for o in SORTS if about_class or o != "class handwriting accuracy"]
    by = st.selectbox(t("Rank by"), orders, key="lb_sort", format_func=lambda o: t(SORT_LABELS[o]))
    shown = sort_entries(models, by, on_class)
    rows = []
    for rank, model in enumerate(shown, 1):
        accuracy, f1 = with_test_scores(model)
        rows.append({"#": rank, "name": model.name, "MNIST test accuracy": percent(accuracy), "by": who(model),
                     **({"class handwriting": percent(on_class.get(model.key))} if about_class else {}),
                     **hidden_mark(model, hidden, show_hidden), "test F1": f1,
                     "epochs": model.epochs, "training s": round(model.train_seconds, 1), **settings_row(model),
                     "date": "" if model.builtin else model.created.replace("T", " ")[:16]})
    keys = [m.key for m in shown]
    # Keyed by its rows: a selection (a row number) never carries over to another model when the list changes.
    table = f"lb_table_{abs(hash(tuple(keys)))}"

    def picked() -> None:
        rows_selected = st.session_state[table].selection.rows
        if rows_selected:
            st.session_state[PICK] = keys[rows_selected[0]]

    data, config = shown_table(rows, {"MNIST test accuracy": "{:.2f}%", "class handwriting": "{:.2f}%",
                                      "test F1": "{:.4f}", "training s": "{:.1f}", **SETTING_FORMATS},
                               {"#": st.column_config.NumberColumn(width=40), "MNIST test accuracy": accuracy_column(),
                                "changed live": changed_column()})
    st.dataframe(data, hide_index=True, key=table, on_select=picked, selection_mode="single-row", column_config=config,
                 placeholder=DASH)
    if about_class:
        st.caption(about_class)
    return shown


def open_panel(shown: list[Entry], who: Callable[[Entry], str]) -> None:
    """The picked model opens in Mistakes or Inside, as this browser's current model."""
    by_key = {m.key: m for m in shown}
    if st.session_state.get(PICK) not in by_key:
        st.session_state[PICK] = None
    left, middle, right = st.columns([3, 1, 1], vertical_alignment="bottom")
    key = left.selectbox(t("Open a model"), list(by_key), key=PICK, index=None,
                         placeholder=t("click a row, or pick here"),
                         format_func=lambda k: t("{name}  ·  by {owner}", name=by_key[k].name, owner=who(by_key[k])))
    for column, label, page in ((middle, t("Open in Mistakes"), "pages/mistakes.py"),
                                (right, t("Open in Inside"), "pages/inside.py")):
        if column.button(label, disabled=key is None, key=f"lb_{page}"):
            try:
                current_model().choose(by_key[key].name)
            except StoreError as e:  # deleted or damaged since the table was drawn
                st.error(said(e))
                return
            st.switch_page(page)


def operator_panel(entries: list[Entry], hidden_ids: HiddenView, hidden: HiddenEntries,
                   who: Callable[[Entry], str]) -> None:
    """The teacher hides an entry from the board (a model, or a run and the model it makes), or shows it again."""
    def entry_label(k: str) -> str:
        entry = by_key[k]
        hidden_now = entry.hide_id in hidden_ids.ids
        words = dict(name=entry.name, owner=who(entry))
        if entry.kind == "run":
            return t("{name} (run) by {owner}  · hidden", **words) if hidden_now else \
                t("{name} (run) by {owner}", **words)
        return t("{name} (model) by {owner}  · hidden", **words) if hidden_now else \
            t("{name} (model) by {owner}", **words)

    with st.expander(t("Teacher: hide an entry"), key="lb_operator"):
        by_key = {e.key: e for e in entries}
        key = st.selectbox(t("Entry"), list(by_key), key="lb_hide_pick", format_func=entry_label)
        if key is None:
            return
        entry = by_key[key]
        is_hidden = entry.hide_id in hidden_ids.ids
        if st.button(t("Show again") if is_hidden else t("Hide"), key="lb_hide"):
            try:
                (hidden.show if is_hidden else hidden.hide)(entry.hide_id, is_teacher())
            except StoreError as e:
                st.error(said(e))
                return
            NOTICE.say(t("Shown: {name}.", name=entry.name) if is_hidden else t("Hidden: {name}.", name=entry.name))
            st.rerun()
        st.caption(t("Students never see hidden entries; hiding changes no model."))


def render() -> None:
    st.title(t("Leaderboard"))
    st.caption(t("Every model on this server and every run training now. Click a column's title to sort by it; "
                 "click a row to open that model in Mistakes or Inside."))
    store = model_store()
    registry, _ = job_registry()
    hidden = HiddenEntries(store)
    hidden_ids = hidden.view()  # read once for the run; a damaged list hides every student's entry (fails closed)
    if hidden_ids.problem:
        st.warning(hidden_ids.problem[:1].upper() + hidden_ids.problem[1:] + ".")
    NOTICE.show()
    teacher = is_teacher()
    show_hidden = teacher and st.toggle(t("Show hidden entries"), key="lb_show_hidden")
    signature = store_signature(store)
    runs = live_entries(registry.active_snapshots(), registry.store.owners.tag)
    running = {r.key for r in runs}

    @st.fragment(run_every=LIVE_EVERY if runs else IDLE_EVERY)
    def live_view() -> None:
        now = live_entries(registry.active_snapshots(), registry.store.owners.tag)
        # A run started or ended, or a model was saved, renamed, deleted or hidden: redraw the whole board.
        if {r.key for r in now} != running or store_signature(store) != signature:
            st.rerun(scope="app")
        st.subheader(t("Training now"))
        runs_table(now, hidden_ids, show_hidden, owner_labels())

    live_view()
    st.subheader(t("Models"))
    models = saved_entries(store)
    who = owner_labels()
    shown = models_table(models, hidden_ids, show_hidden, who)
    if shown:
        open_panel(shown, who)
    elif models and teacher:  # every model hidden
        st.info(t("All {count} models are hidden: *Show hidden entries* lists them.", count=len(models)))
    else:
        st.info(t("No models yet: train one on the Train page."))
    if teacher:
        operator_panel(runs + models, hidden_ids, hidden, who)


render()
