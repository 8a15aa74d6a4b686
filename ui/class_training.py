"""The Train page's "Train more on our handwriting" block (not a page): a model continued on MNIST mixed with a
collection's learning part, as a run like any other, then before -> after on the held-out part and MNIST."""

from __future__ import annotations

import streamlit as st

from mnist_core.classroom.errors import ClassError
from mnist_core.classroom.fine_tune import class_extra, fine_tune_config, FINE_TUNE_EPOCHS
from mnist_core.net.config import ConfigError
from mnist_core.net.data import MnistDataError
from mnist_core.net.device import DeviceError
from mnist_core.storage.models import StoreError
from ui import keys
from ui.browser import is_teacher, owner
from ui.caches import collection_evaluation, collection_part, evaluation_of
from ui.current_model import current_model
from ui.engine import classroom, collections, job_registry, model_store
from ui.i18n import num, pct, said, t
from ui.models import model_names
from ui.widgets import KeptError

TRAIN_ERROR = KeptError(keys.TRAIN_ERROR)  # shown by the Train page
CLASS_RUN = "class_run"  # (job id, base model, collection) of this session's last Train more on our handwriting


def start_class_training() -> None:
    """The button's callback: queue the run (a new model, `BASE-COLLECTION`), or say why not in one line."""
    s = st.session_state
    base, collection = s.get("tc_base"), s.get("tc_collection")
    registry, _ = job_registry()
    try:
        meta = model_store().meta(base)
        learn, _ = collection_part(collection, "learn")
        extra = class_extra(learn, collection)
        config = fine_tune_config(meta.config, int(s.get("tc_epochs", FINE_TUNE_EPOCHS)), s.get("t_device", "auto"))
        held = {j.name for j in registry.jobs.values()}
        name = model_store().free_name(f"{base}-{collection}"[:56], held)
        job = registry.submit(owner(), config, name=name, base=base, extra=extra)
    except (ClassError, ConfigError, StoreError, DeviceError, ValueError, OSError) as e:
        TRAIN_ERROR.keep(t("Train more on our handwriting: {why}", why=said(e)))
        return
    s[keys.JOB] = job.id
    s[CLASS_RUN] = (job.id, base, collection)
    st.query_params["job"] = job.id


def before_after(base: str, after: str, collection: str) -> None:
    """The two models side by side on the collection's held-out part and on the MNIST test set."""
    try:
        rows = [(t("On our handwriting (held-out part): {before} → {after}", before=base, after=after),
                 collection_evaluation(base, collection, "held"), collection_evaluation(after, collection, "held"))]
    except ClassError:
        rows = []
        st.info(t("**{collection}** has no held-out drawings yet: the before → after on our handwriting needs some.",
                  collection=collection))
    try:
        rows.append((t("On the MNIST test set: {before} → {after}", before=base, after=after), evaluation_of(base),
                     evaluation_of(after)))
    except MnistDataError:
        pass
    columns = st.columns(max(1, len(rows)))
    for column, (label, before, now) in zip(columns, rows, strict=True):
        # The delta keeps its sign first: Streamlit colours a metric's delta by its leading sign.
        change = round(100 * (now.accuracy - before.accuracy), 2)
        points = num(change, 2)
        signed = points if points.startswith(("-", "−")) else "+" + points
        # No change: grey and no arrow (a leading "+" made "+0.00" a green rise).
        column.metric(label, pct(now.accuracy), t("{points} points (before {before})", before=pct(before.accuracy),
                                                  points=signed), delta_color="normal" if change else "off",
                      delta_arrow="auto" if change else "off")
    if rows:
        st.caption(t("Held-out drawings were never trained on; the Mistakes page shows which of them each "
                     "model misreads."))


def class_training_panel(busy: bool, have_data: bool) -> None:
    open_name = classroom().open_name()
    with st.expander(t("Train more on our handwriting"), expanded=open_name is not None, icon=":material/groups:",
                     key="tc_panel"):
        names = collections().visible_names(owner(), is_teacher())  # the class's and this browser's own only
        if not names:
            st.caption(t("No drawing collections yet: the teacher opens a class collection on the Class page."))
            return
        choices = ([open_name] if open_name in names else []) + [n for n in names if n != open_name]
        models = model_names()
        current = current_model().name()
        left, middle, right = st.columns([2, 2, 1])
        collection = left.selectbox(t("Collection"), choices, key="tc_collection")
        middle.selectbox(t("Model to start from (saved as a new model)"), models, key="tc_base",
                         index=models.index(current) if current in models else 0)
        right.number_input(t("Epochs on our handwriting"), 1, 20, FINE_TUNE_EPOCHS, key="tc_epochs")
        try:
            learn, _ = collection_part(collection, "learn")
            held, _ = collection_part(collection, "held")
        except (ValueError, OSError) as e:
            st.error(t("The collection cannot be read: {why}", why=said(e)))
            return
        st.caption(t("**{learn}** drawings to learn from, **{held}** held out. The model trains on MNIST with these "
                     "drawings mixed in (each shown many times, deformed afresh each time, so a few hundred count), at "
                     "an eighth of its learning rate.", learn=num(len(learn), 0), held=num(len(held), 0)))
        if learn and not held:  # the run would help, but nothing would show whether it did
            st.warning(t("No drawings are held out yet (a fifth of them are, as the collection grows): the run can "
                         "learn, but there is nothing to show before → after on. Add more drawings first."))
        st.button(t("Train more on our handwriting"), on_click=start_class_training, key="tc_train",
                  disabled=busy or not have_data or not learn)
        run = st.session_state.get(CLASS_RUN)
        if run is None:
            return
        job_id, base, collection = run
        registry, _ = job_registry()
        job = registry.get(job_id)
        snap = job.snapshot() if job is not None else None
        if snap is None or snap.active or not snap.saved:
            st.caption(t("Before → after shows here when the run has saved its model."))
            return
        before_after(base, snap.name, collection)
