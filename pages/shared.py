"""What the pages share: the cached engine objects, who this browser is, its runs and its current model
(kept on the server per browser, so a page switch or a reload keeps them), renaming and deleting models."""

from __future__ import annotations

import functools
import importlib
import os
import threading
import time
from pathlib import Path

import streamlit as st
import torch
from streamlit.runtime import Runtime
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import get_script_run_ctx

from mnist_core.classroom.collection import ClassCollection, split
from mnist_core.classroom.errors import ClassError
from mnist_core.classroom.leaderboard import HiddenEntries, model_hide_id
from mnist_core.classroom.nicknames import Nicknames
from mnist_core.classroom.scoring import Examples, examples, score
from mnist_core.net.data import find_data_dir, load_mnist, missing_files, Mnist, MnistDataError
from mnist_core.net.evaluate import evaluate, Evaluation
from mnist_core.net.model import MLP
from mnist_core.runs.jobs import JobRegistry, runner_for, TrainingJob
from mnist_core.storage.drawings import Collections, Drawing
from mnist_core.storage.files import os_error_text
from mnist_core.storage.models import Listing, ModelMeta, ModelStore, StoreError
from pages.identity import browser_key, OWNER  # noqa: F401 (OWNER: the session key, for the pages)


# Streamlit (1.67) has no public switch for this: with a pages/ folder, runs that start before any run
# reaches st.navigation run a page alone (a class opening a fresh server); so the first import switches the
# private flag off and reruns those runs through app.py. tests/test_pages_mode.py fails if an upgrade changes it.
def _leave_pages_folder_mode() -> None:
    """Clears PagesManager.uses_pages_directory, as st.navigation does, and asks each run still in the
    pages-folder mode to start again through app.py (a rerun request, not a raise: raising here left a
    half-imported module for the runs importing it at the same moment)."""
    from streamlit.runtime.scriptrunner_utils.script_requests import RerunData
    from streamlit.runtime.scriptrunner_utils.script_run_context import SCRIPT_RUN_CONTEXT_ATTR_NAME

    PagesManager.uses_pages_directory = False
    for thread in threading.enumerate():
        ctx = getattr(thread, SCRIPT_RUN_CONTEXT_ATTR_NAME, None)
        if ctx is None or ctx.script_requests is None:
            continue
        # A run in the old mode has app.py itself among its pages (app.py's navigation never lists it).
        app = os.path.realpath(ctx.main_script_path)
        pages = ctx.pages_manager.get_pages().values()
        if not any(os.path.realpath(page.get("script_path") or "") == app for page in pages):
            continue
        ctx.script_requests.request_rerun(RerunData(
            query_string=ctx.query_string, page_script_hash=ctx.page_script_hash,
            page_name=ctx.pages_manager.intended_page_name or "", cached_message_hashes=ctx.cached_message_hashes,
            context_info=ctx.context_info))


if PagesManager.uses_pages_directory:
    _leave_pages_folder_mode()

# Everything the pages import, imported here once, in one order, by the first run (app.py imports this
# module before any page runs): script threads importing scikit-learn through different modules at the
# same moment stopped with importlib's _DeadlockError or a half-imported module.
for _module in ("scipy.signal", "mnist_core.net.augment", "mnist_core.storage.drawings", "mnist_core.net.inside",
                "mnist_core.net.perturb", "mnist_core.net.pictures", "mnist_core.net.preprocess",
                "mnist_core.net.train"):
    importlib.import_module(_module)

# Session-state keys, in one place.
JOB = "job"  # id of the job this session shows
MODEL = "model"  # name of the current model for every page (kept per browser by `current_models`)
DEFAULT_MODEL = "default"  # ships with the app (mnist_core/builtin_models)
DRAWN = "drawn_digit"  # the last drawing the Draw page read, MNIST-style (28, 28) in [0, 1], for Inside
INSIDE_SOURCE = "inside_source"  # what the Inside page looks at: "drawing" or "test"
INSIDE_TEST = "inside_test"  # the test digit it looks at
OPERATOR = os.environ.get("MNIST_APP_OPERATOR", "") == "1"  # may rename and delete any model
ORPHAN_SECONDS = float(os.environ.get("MNIST_APP_ORPHAN_SECONDS", "60"))  # owner gone this long: job stopped

# One torch thread for what the pages compute (predictions, the Inside views): the cores are for the
# training processes, which take the CPUs others leave free (device.CpuThreads).
torch.set_num_threads(1)


@st.cache_resource
def model_store() -> ModelStore:
    return ModelStore()


@functools.lru_cache(maxsize=2)
def _mnist_in(folder: Path) -> Mnist:
    return load_mnist(folder)


_data_lock = threading.Lock()


def _load_dataset() -> Mnist:
    """MNIST read once per folder, by the pages or by a job's watcher thread. No Streamlit in it: a
    cache_resource function called from a job's thread logged "missing ScriptRunContext" each run."""
    with _data_lock:
        return _mnist_in(find_data_dir())


@st.cache_resource
def dataset() -> Mnist:
    """The whole MNIST, read once per server; raises MnistDataError when it is not there."""
    return _load_dataset()


def data_problem(error: MnistDataError) -> str:
    """What is wrong with MNIST, for a page that reads it all: the files missing (test files first), or why
    a present file cannot be read; the Train page is where it is downloaded."""
    missing = sorted(missing_files(), key=lambda stem: not stem.startswith("t10k"))
    what = (f"missing in `{find_data_dir()}`: " + ", ".join(f"`{stem}`" for stem in missing) + "."
            if missing else f"a file cannot be read ({error}).")
    return f"This page needs MNIST, all four files; {what} The Train page can download it."


class Sessions:
    """Which browser sessions belong to which owner, so a job whose owner left can be stopped."""

    def __init__(self, registry: JobRegistry) -> None:
        self.registry = registry
        self.by_owner: dict[str, set[str]] = {}
        self.last_seen: dict[str, float] = {}
        self.lock = threading.Lock()
        threading.Thread(target=self._reap, name="session-reaper", daemon=True).start()

    def register(self, owner: str, session_id: str) -> None:
        with self.lock:
            self.by_owner.setdefault(owner, set()).add(session_id)
            self.last_seen[owner] = time.monotonic()

    def _reap(self) -> None:
        while True:
            time.sleep(5)
            if not Runtime.exists():
                continue
            runtime = Runtime.instance()
            with self.lock:
                owners = list(self.by_owner.items())
            for owner, sessions in owners:
                if any(runtime.is_active_session(s) for s in sessions):
                    with self.lock:
                        self.last_seen[owner] = time.monotonic()
                elif time.monotonic() - self.last_seen.get(owner, 0) > ORPHAN_SECONDS:
                    self.registry.stop_owner(owner)


@st.cache_resource
def job_registry() -> tuple[JobRegistry, Sessions]:
    """One registry for the whole server: at most one job trains per device, the rest queue. With
    MNIST_RAY_ADDRESS set, runs train on that Ray cluster instead of in child processes of this server."""
    registry = JobRegistry(model_store(), _load_dataset, slots_per_device=1,
                           runner=runner_for(os.environ.get("MNIST_RAY_ADDRESS")))
    return registry, Sessions(registry)


def as_markdown(text: str) -> str:
    """`text` shown as typed inside Markdown: a nickname's '_' (the one Markdown mark it may hold) escaped."""
    return text.replace("_", "\\_")


def owner() -> str:
    """This browser's private owner key (a cookie, see pages/identity.py); never in a URL or a file."""
    who = browser_key()
    _, sessions = job_registry()
    ctx = get_script_run_ctx()
    if ctx is not None:
        sessions.register(who, ctx.session_id)
    return who


@st.cache_resource
def nicknames() -> Nicknames:
    """Nicknames by the owner tags of the model store (the tags its models carry)."""
    return Nicknames(model_store().root)


def nickname() -> str | None:
    """This browser's nickname, or None when it has chosen none."""
    try:
        return nicknames().get(nicknames().tag_of(owner()))
    except OSError:  # a store folder that cannot hold its secret: no nicknames there
        return None


NICKNAME_ERROR = "_nickname_error"  # why the last nickname was refused, shown in the box


def _save_nickname() -> None:
    """The form's callback (runs before the next script run, whichever page it is)."""
    st.session_state.pop(NICKNAME_ERROR, None)
    try:
        nicknames().set(nicknames().tag_of(owner()), st.session_state.get("nickname_input", ""))
    except ClassError as e:
        st.session_state[NICKNAME_ERROR] = str(e)
    except OSError as e:
        st.session_state[NICKNAME_ERROR] = f"The nickname was not saved: {os_error_text(e, 'the model folder')}."


def nickname_box() -> None:
    """The one place a browser sets its nickname (in the sidebar): shown on the class's pages instead of
    any real name."""
    current = nickname()
    problem = st.session_state.get(NICKNAME_ERROR)
    with st.sidebar.popover(f"You are **{as_markdown(current)}**" if current else "Choose a nickname", width="stretch",
                            icon=":material/badge:"):
        with st.form("nickname_form", border=False):
            st.text_input("Nickname", value=current or "", max_chars=24, key="nickname_input",
                          help="What the class sees beside your drawings and models; no real name needed")
            st.form_submit_button("Save nickname", on_click=_save_nickname)
        if problem:
            st.error(problem)


@st.cache_resource
def collections() -> Collections:
    return Collections()


def classroom() -> ClassCollection:
    return ClassCollection(collections())


@st.cache_resource
def _readings() -> dict[tuple[str, str], dict]:
    """Each collection's drawings as the network sees them, by file (files never change): a new drawing
    costs one reading, not the whole collection's again."""
    return {}


@st.cache_resource(max_entries=8)
def _collection_parts(name: str, version: tuple[int, int]) -> dict[str, tuple[list[Drawing], Examples]]:
    drawings = collections().load(name)
    learn, held = split(drawings)
    seen = _readings().setdefault((str(collections().root), name), {})
    return {part: (chosen, examples(chosen, seen)) for part, chosen in
            (("all", drawings), ("learn", learn), ("held", held))}


def collection_part(name: str, part: str = "held") -> tuple[list[Drawing], Examples]:
    """A collection's drawings and what the network sees of them, for "all", "learn" or "held" (the
    held-out part), read once per version; ValueError for a bad name, OSError when unreadable."""
    return _collection_parts(name, collections().version(name))[part]


@st.cache_resource(max_entries=16)
def _collection_score(model: str, created: str, name: str, version: tuple[int, int], part: str) -> Evaluation:
    model_, _ = loaded_model(model, created)
    return score(model_, _collection_parts(name, version)[part][1])


def collection_evaluation(model: str, name: str, part: str = "held") -> Evaluation:
    """A stored model scored on a part of a collection, once per model version and collection version
    (ClassError when that part has no drawings)."""
    return _collection_score(model, model_version(model), name, collections().version(name), part)


def jobs_of_browser() -> list[TrainingJob]:
    """This browser's jobs, newest first: how a page finds its run again after a reload."""
    registry, _ = job_registry()
    return registry.jobs_of(owner())


def current_job() -> TrainingJob | None:
    """The job this page shows: the session's, else the URL's (?job=, a shared link), else this browser's
    newest (after a reload)."""
    registry, _ = job_registry()
    job_id = st.session_state.get(JOB) or st.query_params.get("job")
    job = registry.get(job_id) if job_id else None
    if job is None:
        mine = jobs_of_browser()
        job = mine[0] if mine else None
    if job is not None:
        st.session_state[JOB] = job.id
    return job


def may_change(meta: ModelMeta, who: str) -> bool:
    """Only the browser that trained a model (or the operator) may rename or delete it."""
    registry, _ = job_registry()
    return registry.may_change(meta, who, OPERATOR)


class CurrentModels:
    """Each browser's current model, by owner key: its name and the id of the model it was chosen as,
    so a rename is followed and a model replaced under the same name is not taken for it."""

    def __init__(self) -> None:
        self.chosen: dict[str, tuple[str, str]] = {}
        self.lock = threading.Lock()

    def get(self, who: str) -> tuple[str, str] | None:
        with self.lock:
            return self.chosen.get(who)

    def set(self, who: str, name: str, model_id: str) -> None:
        with self.lock:
            self.chosen[who] = (name, model_id)


@st.cache_resource
def current_models() -> CurrentModels:
    return CurrentModels()


def _meta_or_none(name: str) -> ModelMeta | None:
    try:
        return model_store().meta(name)
    except StoreError:  # gone, damaged, or a name that is not a name
        return None


def set_current_model(name: str) -> None:
    """Make `name` this browser's current model on every page (StoreError if it cannot be read)."""
    meta = model_store().meta(name)
    current_models().set(owner(), name, meta.id)
    st.session_state[MODEL] = name


_MODEL_SHOWN = "_model_shown"  # the current model as `current_model_name` last worked it out
_MODEL_MISSING = "_model_missing"  # the chosen model, when it is not in the store (deleted, replaced)


def current_model_name() -> str:
    """This browser's current model: as chosen (followed through a rename), else `default` when the
    chosen model is gone, damaged or replaced by another of its name."""
    who = owner()
    chosen = current_models().get(who)
    explicit = st.session_state.get(MODEL)  # set directly by a page: the newest choice
    if explicit == st.session_state.get(_MODEL_SHOWN):
        explicit = None  # what this function wrote last, not a choice: a moment's fallback must not stick
    if explicit and (chosen is None or explicit != chosen[0]) and (meta := _meta_or_none(explicit)) is not None:
        chosen = (explicit, meta.id)
        current_models().set(who, *chosen)
    name = DEFAULT_MODEL
    if chosen is not None:
        wanted, model_id = chosen
        meta = _meta_or_none(wanted)
        if meta is not None and (not model_id or meta.id == model_id):
            name = wanted
        elif model_id and (moved := model_store().find_id(model_id)) is not None:
            name = moved
            current_models().set(who, name, model_id)
        else:
            st.session_state[_MODEL_MISSING] = wanted  # said by the model picker
    st.session_state[MODEL] = st.session_state[_MODEL_SHOWN] = name
    return name


def rename_model(name: str, new_name: str, who: str) -> None:
    """Rename a model of this browser's; StoreError (one line) when it is another's, built in, held by an
    active run, or the new name is taken or invalid. The current model follows the rename."""
    registry, _ = job_registry()
    new_name = new_name.strip()
    chosen = current_models().get(who)
    registry.rename_model(name, new_name, who, OPERATOR)
    if chosen is not None and chosen[0] == name:
        current_models().set(who, new_name, chosen[1])
        st.session_state[MODEL] = new_name


def delete_model(name: str, who: str) -> None:
    """Delete a model of this browser's; StoreError (one line) when it is another's, built in or training.
    A browser whose current model it was falls back to `default`."""
    registry, _ = job_registry()
    registry.delete_model(name, who, OPERATOR)
    if st.session_state.get(MODEL) == name:
        st.session_state.pop(MODEL, None)


@st.cache_resource(max_entries=8)
def loaded_model(name: str, created: str, device: str = "cpu") -> tuple[MLP, ModelMeta]:
    """A stored model, loaded once per version and device (`created` changes when it is retrained)."""
    model, meta, _ = model_store().load(name, device)
    return model, meta


def model_version(name: str) -> str:
    """Changes when the stored model is retrained: the key of everything computed once per model."""
    return model_store().meta(name).created


@st.cache_resource(max_entries=6)
def test_evaluation(name: str, created: str) -> Evaluation:
    """Predictions on the 10,000 test digits, once per model version, shared by every page and user."""
    model, _ = loaded_model(name, created)
    data = dataset()
    return evaluate(model, data.test_images, data.test_labels)


def evaluation_of(name: str) -> Evaluation:
    return test_evaluation(name, model_version(name))


def current_model(device: str = "cpu") -> tuple[MLP, ModelMeta]:
    name = current_model_name()
    try:
        return loaded_model(name, model_version(name), device)
    except StoreError as e:  # its metadata reads but its weights do not: say so, use the shipped model
        st.warning(f"{e}. Using the shipped model `{DEFAULT_MODEL}` instead.")
        return loaded_model(DEFAULT_MODEL, model_version(DEFAULT_MODEL), device)


def offered_models(damaged: bool = False) -> list[Listing]:
    """The stored models this browser is offered: those that read (a damaged file only if `damaged`), less
    the ones the teacher hid on the leaderboard, unless they are this browser's own (or this is the operator)."""
    store = model_store()
    try:
        hidden = HiddenEntries(store).ids()
    except StoreError:  # a damaged list of hidden entries hides nothing (the leaderboard says so)
        hidden = set()
    who = owner()

    def offered(entry: Listing) -> bool:
        if entry.meta is None:
            return damaged
        return OPERATOR or model_hide_id(entry.meta) not in hidden or store.owners.owns(who, entry.meta.owner)

    return [e for e in store.list() if offered(e)]


def model_names(besides: str | None = None) -> list[str]:
    """The names of `offered_models`, as the store lists them; not `besides`."""
    return [e.name for e in offered_models() if e.name != besides]


def model_picker(label: str = "Model") -> str:
    """A select box of the stored models, set to (and setting) the current model."""
    names = model_names()
    current = current_model_name()
    if missing := st.session_state.pop(_MODEL_MISSING, None):
        st.info(f"Your model **{missing}** is no longer in the store (deleted or replaced by its owner); "
                f"using **{current}**.")
    chosen = st.selectbox(label, names, index=names.index(current) if current in names else 0)
    if chosen != current:
        try:
            set_current_model(chosen)
        except StoreError as e:  # damaged since it was listed
            st.error(str(e))
            return current
    return chosen

