"""The engine's objects the whole server shares, made once (st.cache_resource): the model store, MNIST,
the job registry, nicknames, drawing collections and the class collection; and what a page says when
MNIST is missing."""

from __future__ import annotations

import functools
import os
import threading
from pathlib import Path

import streamlit as st

from mnist_core.classroom.collection import ClassCollection
from mnist_core.classroom.nicknames import Nicknames
from mnist_core.classroom.teacher import Teachers
from mnist_core.net.data import find_data_dir, load_mnist, missing_files, Mnist, MnistDataError
from mnist_core.runs.jobs import JobRegistry, runner_for
from mnist_core.storage.drawings import Collections
from mnist_core.storage.models import ModelStore
from ui.i18n import said, t
from ui.sessions import Sessions


@st.cache_resource(show_spinner=False)
def model_store() -> ModelStore:
    return ModelStore()


@functools.lru_cache(maxsize=2)
def _mnist_in(folder: Path) -> Mnist:
    return load_mnist(folder)


_data_lock = threading.Lock()


def load_dataset() -> Mnist:
    """MNIST read once per folder, by the pages or by a job's watcher thread. No Streamlit in it: a
    cache_resource function called from a job's thread logged "missing ScriptRunContext" each run."""
    with _data_lock:
        return _mnist_in(find_data_dir())


def dataset() -> Mnist:
    """The whole MNIST, read once per server (load_dataset's cache); raises MnistDataError when it is not
    there. Said in the reader's language while it reads (a spinner shows only after half a second)."""
    with st.spinner(t("Reading MNIST (once per server) …")):
        return load_dataset()


def data_problem(error: MnistDataError) -> str:
    """What is wrong with MNIST, for a page that reads it all, in this browser's language: the files missing
    (test files first), or why a present file cannot be read; the Train page is where it is downloaded."""
    missing = sorted(missing_files(), key=lambda stem: not stem.startswith("t10k"))
    if missing:
        return t("This page needs MNIST, all four files; missing in `{folder}`: {files}. The Train page can "
                 "download it.", folder=find_data_dir(), files=", ".join(f"`{stem}`" for stem in missing))
    return t("This page needs MNIST, all four files; a file cannot be read ({reason}). The Train page can "
             "download it.", reason=said(error))


@st.cache_resource(show_spinner=False)
def job_registry() -> tuple[JobRegistry, Sessions]:
    """One registry for the whole server: at most one job trains per device, the rest queue. With
    MNIST_RAY_ADDRESS set, runs train on that Ray cluster instead of in child processes of this server."""
    registry = JobRegistry(model_store(), load_dataset, slots_per_device=1,
                           runner=runner_for(os.environ.get("MNIST_RAY_ADDRESS")))
    return registry, Sessions(registry)


@st.cache_resource(show_spinner=False)
def nicknames() -> Nicknames:
    """Nicknames by the owner tags of the model store (the tags its models carry)."""
    return Nicknames(model_store().root)


@st.cache_resource(show_spinner=False)
def teachers() -> Teachers:
    """The teacher code of the model folder and the browsers that entered it."""
    return Teachers(model_store().root)


@st.cache_resource(show_spinner=False)
def collections() -> Collections:
    return Collections()


def classroom() -> ClassCollection:
    return ClassCollection(collections())
