"""What app.py imports first: Streamlit's pages-folder mode left, the engine imported once in one order,
one torch thread for the pages, the teacher code printed once."""

from __future__ import annotations

import importlib
import os
import sys
import threading

import torch
from streamlit.runtime.pages_manager import PagesManager


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
# same moment stopped with importlib's _DeadlockError or a half-imported module. scikit-learn itself is
# imported by the first Inside view that needs it, one thread at a time (net/inside.py's lock).
for _module in ("mnist_core.net.augment", "mnist_core.storage.drawings", "mnist_core.net.inside",
                "mnist_core.net.perturb", "mnist_core.net.pictures", "mnist_core.net.preprocess",
                "mnist_core.net.train", "ui.engine", "ui.caches", "ui.current_model", "ui.charts",
                "ui.sidebar", "ui.widgets"):
    importlib.import_module(_module)

# One torch thread for what the pages compute (predictions, the Inside views): the cores are for the
# training processes, which take the CPUs others leave free (device.CpuThreads).
torch.set_num_threads(1)


def announce_teacher_code() -> None:
    """The teacher code on the console the app was started from, once per process (as Jupyter prints its
    token); `serve` prints it with its address instead (MNIST_APP_CODE_SHOWN), the code set by the operator
    is not repeated."""
    from mnist_core.classroom.teacher import CODE_ENV, Teachers

    if os.environ.get("MNIST_APP_CODE_SHOWN") == "1":
        return
    if os.environ.get(CODE_ENV, "").strip():
        print(f"Teacher code: the one in {CODE_ENV}; enter it in the sidebar's \"I'm the teacher\".",
              file=sys.stderr, flush=True)
        return
    try:
        code = Teachers().code()
    except OSError as e:
        print(f"No teacher code: the model folder cannot hold it ({e}).", file=sys.stderr, flush=True)
        return
    print(f"Teacher code: {code}  (enter it in the sidebar's \"I'm the teacher\" to make that browser the teacher)",
          file=sys.stderr, flush=True)


announce_teacher_code()
