"""What the pages share: the cached engine objects, who this browser session is, the current model."""

from __future__ import annotations

import importlib
import os
import secrets
import threading
import time

import streamlit as st
import torch
from streamlit.runtime import Runtime
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import get_script_run_ctx

from mnist_core.data import load_mnist, Mnist
from mnist_core.evaluate import evaluate, Evaluation
from mnist_core.jobs import JobRegistry, TrainingJob
from mnist_core.model import MLP
from mnist_core.store import ModelMeta, ModelStore


# Streamlit decides between the old `pages/`-folder app and `st.navigation` when a server's first session
# is made, before any app.py has run, and reads that choice as each run starts. So the runs that start
# before the first `st.navigation` call (a whole class opening a fresh server at once) run a page alone,
# with the old sidebar of file names. The first import of this module in such a run switches the choice
# over and asks every run still in the old mode to start again through app.py, the way `st.rerun` does
# but without raising: raising here left a half-imported module for the runs importing it at the same
# moment ("cannot import name 'current_model'"). Each asked run stops at its next Streamlit call.
def _leave_pages_folder_mode() -> None:
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
for _module in ("scipy.signal", "mnist_core.augment", "mnist_core.drawings", "mnist_core.inside",
                "mnist_core.pictures", "mnist_core.preprocess", "mnist_core.train"):
    importlib.import_module(_module)

# Session-state keys, in one place.
OWNER = "owner"  # this browser's secret; also in the URL as ?key=, so a reload finds its jobs again
JOB = "job"  # id of the job this session shows
MODEL = "model"  # name of the current model for every page
DEFAULT_MODEL = "default"  # ships with the app (mnist_core/builtin_models)
DRAWN = "drawn_digit"  # the last drawing the Draw page read, MNIST-style (28, 28) in [0, 1], for Inside
INSIDE_SOURCE = "inside_source"  # what the Inside page looks at: "drawing" or "test"
INSIDE_TEST = "inside_test"  # the test digit it looks at
OPERATOR = os.environ.get("MNIST_APP_OPERATOR", "") == "1"  # may rename and delete any model
ORPHAN_SECONDS = float(os.environ.get("MNIST_APP_ORPHAN_SECONDS", "60"))  # owner gone this long: job stopped

# One torch thread for what the pages compute (predictions, the Inside views); training runs in child
# processes, also with one thread: with two, training, the server and the browser fought over 2 cores
# and page training ran slower, not faster (benchmarks/app_figures.py).
torch.set_num_threads(1)


@st.cache_resource
def model_store() -> ModelStore:
    return ModelStore()


@st.cache_resource
def dataset() -> Mnist:
    """The whole MNIST, read once per server; raises MnistDataError when it is not there."""
    return load_mnist()


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
    """One registry for the whole server: at most one job trains per device, the rest queue."""
    registry = JobRegistry(model_store(), dataset, slots_per_device=1)
    return registry, Sessions(registry)


def owner() -> str:
    """This browser's secret owner key: from the URL (?key=) if there, else a new one put there."""
    if OWNER not in st.session_state:
        st.session_state[OWNER] = st.query_params.get("key") or secrets.token_urlsafe(12)
    registry, sessions = job_registry()
    ctx = get_script_run_ctx()
    if ctx is not None:
        sessions.register(st.session_state[OWNER], ctx.session_id)
    return st.session_state[OWNER]


def current_job() -> TrainingJob | None:
    """The job this page shows: from the session, else from the URL (?job=), which a shared link carries."""
    registry, _ = job_registry()
    job_id = st.session_state.get(JOB) or st.query_params.get("job")
    job = registry.get(job_id) if job_id else None
    if job is not None:
        st.session_state[JOB] = job.id
    return job


def may_change(meta: ModelMeta, who: str) -> bool:
    """Only the session that trained a model (or the operator) may rename or delete it."""
    return not meta.builtin and (OPERATOR or (meta.owner != "" and meta.owner == who))


def current_model_name() -> str:
    name = st.session_state.get(MODEL, DEFAULT_MODEL)
    if not model_store().exists(name):
        name = DEFAULT_MODEL
    st.session_state[MODEL] = name
    return name


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
    return loaded_model(name, model_version(name), device)


def model_picker(label: str = "Model") -> str:
    """A select box of the stored models, set to (and setting) the current model."""
    names = [e.name for e in model_store().list() if e.meta is not None]
    current = current_model_name()
    chosen = st.selectbox(label, names, index=names.index(current) if current in names else 0)
    st.session_state[MODEL] = chosen
    return chosen
