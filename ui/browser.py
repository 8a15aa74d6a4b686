"""Who this browser is (its private owner key), its nickname and its training runs."""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from mnist_core.classroom.teacher import is_loopback
from mnist_core.runs.jobs import TrainingJob
from mnist_core.storage import permissions
from mnist_core.storage.models import ModelMeta
from ui import keys
from ui.engine import job_registry, model_store, nicknames, teachers
from ui.identity import browser_key


def owner() -> str:
    """This browser's private owner key (a cookie, see ui/identity.py); never in a URL or a file."""
    who = browser_key()
    _, sessions = job_registry()
    ctx = get_script_run_ctx()
    if ctx is not None:
        sessions.register(who, ctx.session_id)
    return who


def nickname() -> str | None:
    """This browser's nickname, or None when it has chosen none."""
    try:
        return nicknames().get(nicknames().tag_of(owner()))
    except OSError:  # a store folder that cannot hold its secret: no nicknames there
        return None


def jobs_of_browser() -> list[TrainingJob]:
    """This browser's jobs, newest first: how a page finds its run again after a reload."""
    registry, _ = job_registry()
    return registry.jobs_of(owner())


def current_job() -> TrainingJob | None:
    """The job this page shows: the session's, else the URL's (?job=, a shared link), else this browser's
    newest (after a reload)."""
    registry, _ = job_registry()
    job_id = st.session_state.get(keys.JOB) or st.query_params.get("job")
    job = registry.get(job_id) if job_id else None
    if job is None:
        mine = jobs_of_browser()
        job = mine[0] if mine else None
    if job is not None:
        st.session_state[keys.JOB] = job.id
    return job


def operator_switch_on() -> bool:
    """MNIST_APP_OPERATOR=1 on a server only this machine reaches (its address loopback): every browser the
    teacher, as a teacher alone at their laptop wants. Anywhere else it is ignored: the teacher code decides."""
    return keys.OPERATOR_SWITCH and is_loopback(str(st.get_option("server.address") or ""))


def is_teacher() -> bool:
    """Whether this browser is the teacher: it entered the teacher code (remembered by its owner tag), or the
    loopback-only operator switch is on. A folder that cannot be read makes nobody the teacher."""
    if operator_switch_on():
        return True
    try:
        return teachers().is_teacher(owner())
    except (OSError, ValueError):
        return False


def may_change(meta: ModelMeta, who: str) -> bool:
    """Only the browser that trained a model (or the teacher) may rename or delete it."""
    return permissions.may_change(model_store(), meta, who, is_teacher())
