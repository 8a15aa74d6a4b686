"""Train page: choose a network and its training, train it live, stop, train more; the stored models."""

from __future__ import annotations

from dataclasses import fields, replace

import streamlit as st

import ui.startup  # noqa: F401  (first: a page run alone on a fresh server still leaves the pages-folder mode)
from mnist_core.net.config import (
    check_offered,
    ConfigError,
    OFFERED_CHOICES,
    OFFERED_EPOCHS_MORE,
    OPTIMIZERS,
    parse_hidden,
    preset,
    PRESETS,
    SCHEDULES,
    TrainConfig,
)
from mnist_core.net.data import download, find_data_dir, missing_files, MnistDataError
from mnist_core.net.device import available_devices, DeviceError
from mnist_core.net.experiments import Experiment, experiment_from_query, EXPERIMENTS
from mnist_core.net.model import ACTIVATIONS, layers_label
from mnist_core.net.train import preview
from mnist_core.runs.child import start_child_server
from mnist_core.runs.snapshot import DONE, FAILED, QUEUED, RUNNING, Snapshot, STOPPED
from mnist_core.storage.models import StoreError
from ui import keys
from ui.browser import current_job, may_change, owner
from ui.caches import weights_png
from ui.charts import chart_config, f1_figure, fractions, health_figure, loss_figure, loss_svg, spread_figure, unchecked
from ui.class_training import class_training_panel
from ui.current_model import current_model, delete_model, rename_model
from ui.engine import dataset, job_registry
from ui.galleries import gallery
from ui.i18n import decimal_mark, LOCALIZED, N_, num, pct, said, t
from ui.join import share_link
from ui.live import (
    controls_bar,
    experiment_note,
    experiments_list,
    health_words,
    live_settings,
    paused_line,
    step_panel,
)
from ui.models import offered_models
from ui.run_words import SCHEDULE_LABELS, settings_rows
from ui.tables import DASH, with_dashes
from ui.widgets import confirmed, KeptError, Notice

PRESET_LABELS = {"recommended": N_("Recommended (fast, ≥98%)"), "notebook": N_("The original notebook (784-128-10)"),
                 "robust-drawings": N_("Robust for drawings (augmented)"), "best-mlp": N_("Best MLP (long)")}
BATCH_SIZES = list(OFFERED_CHOICES["batch_size"])  # what check_offered accepts
LIVE_UNITS = 48  # first-layer units shown live while training
# Each TrainConfig field lives in session state as "t_<field>", shown by a widget or not (then it rides
# with the preset); re-set on every run so a visit to another page does not forget them.
TRAIN_ERROR = KeptError(keys.TRAIN_ERROR)  # why the last Train or Train more was refused
NOTICE = Notice("t_notice")  # said at the models table, after the rerun that an action ends with
SETTINGS = ["t_preset", *(f"t_{f.name}" for f in fields(TrainConfig)), "t_name", "t_more"]


def to_widget(value):
    """A setting as its widget holds it: hidden sizes as text ('512, 256'), the rest as they are."""
    return ", ".join(map(str, value)) if isinstance(value, tuple) else value


def from_widget(default, value):
    """A widget's value as its TrainConfig field, typed like the field's default (`fields(TrainConfig)`)."""
    return parse_hidden(value) if isinstance(default, tuple) else type(default)(value)


def apply_preset() -> None:
    try:
        config = preset(st.session_state.t_preset)
    except ConfigError as e:  # a forged name: said in one line, the settings left as they were
        TRAIN_ERROR.keep(said(e))
        st.session_state.t_preset = "recommended"
        return
    st.session_state.update({f"t_{f.name}": to_widget(getattr(config, f.name)) for f in fields(TrainConfig)
                             if f.metadata.get("preset", True)})


def config_from_widgets() -> TrainConfig:
    s = st.session_state
    return replace(preset(s.t_preset), **{f.name: from_widget(f.default, s[f"t_{f.name}"])
                                           for f in fields(TrainConfig) if f"t_{f.name}" in s})


def use_experiment(experiment: Experiment, config: TrainConfig | None = None) -> None:
    """The experiment's settings into the widgets (a link's as the link has them), to be started with Train."""
    config = config or experiment.config
    st.session_state.update({f"t_{f.name}": to_widget(getattr(config, f.name)) for f in fields(TrainConfig)
                             if f.metadata.get("preset", True)})
    st.session_state["t_experiment"] = experiment.key


def start_experiment(experiment: Experiment) -> None:
    use_experiment(experiment)
    start_training()


def start_training() -> None:
    registry, _ = job_registry()
    experiment = EXPERIMENTS.get(st.session_state.get("t_experiment", ""))
    try:
        config = config_from_widgets()
        # Only what the page offered: its widgets' choices and ranges, the chosen experiment's own settings.
        check_offered(config, also=experiment.config if experiment else preset(st.session_state.t_preset),
                      devices=("auto", *available_devices()))
        job = registry.submit(owner(), config, name=st.session_state.t_name.strip() or None,
                              planned=list(experiment.planned) if experiment else None,
                              delay=experiment.delay if experiment else 0.0)
    except (ConfigError, StoreError, DeviceError, ValueError) as e:
        TRAIN_ERROR.keep(said(e))
        return
    st.session_state[keys.JOB] = job.id
    st.query_params["job"] = job.id  # a share link; who you are stays in a cookie, never in the URL


def stop_training() -> None:
    job = current_job()
    if job is not None and job.owner == owner():
        job.stop()
        # Training ends within a batch; the page redrawn next says so, and says "saved" a moment later.
        job.wait_halted(timeout=3)


def train_more() -> None:
    job = current_job()
    if job is not None and job.owner == owner() and not job.snapshot().active:
        low, high = OFFERED_EPOCHS_MORE
        try:  # follows a rename of its model; refuses when the stored model is no longer the one it made
            more = int(st.session_state.t_more)
            if not low <= more <= high:
                raise ValueError(f"more epochs are {low}..{high} on this page, got {more}")
            job.start(more)
        except (StoreError, RuntimeError, ValueError) as e:
            TRAIN_ERROR.keep(said(e))


def settings_panel(busy: bool) -> None:
    st.selectbox(t("Preset"), list(PRESETS), format_func=lambda name: t(PRESET_LABELS[name]), key="t_preset",
                 on_change=apply_preset, disabled=busy)
    left, right = st.columns(2)
    left.text_input(t("Hidden layers"), key="t_hidden", disabled=busy,
                    help=t("Sizes separated by commas: 784-[these]-10"))
    right.selectbox(t("Activation"), list(ACTIVATIONS), key="t_activation", disabled=busy)
    left.slider(t("Dropout"), 0.0, 0.8, step=0.05, key="t_dropout", disabled=busy, format=LOCALIZED)
    right.slider(t("Augmentation"), 0.0, 2.0, step=0.1, key="t_augment", disabled=busy, format=LOCALIZED,
                 help=t("Random shifts, rotations, scaling, elastic distortion and stroke width, fresh each epoch. "
                        "0 is off, 1 standard (as in Best MLP), 2 strong."))
    left.selectbox(t("Optimizer"), OPTIMIZERS, key="t_optimizer", disabled=busy)
    right.number_input(t("Learning rate"), min_value=1e-5, max_value=1.0, format="%g", step=1e-4, key="t_lr",
                       disabled=busy)
    left.selectbox(t("Learning-rate schedule"), SCHEDULES, key="t_schedule", disabled=busy,
                   format_func=lambda s: t(SCHEDULE_LABELS[s]))
    right.selectbox(t("Batch size"), BATCH_SIZES, key="t_batch_size", disabled=busy)
    left.number_input(t("Epochs"), min_value=1, max_value=200, step=1, key="t_epochs", disabled=busy)
    right.number_input(t("Seed"), min_value=0, max_value=2**31 - 1, step=1, key="t_seed", disabled=busy)
    left.selectbox(t("Device"), ["auto", *available_devices()], key="t_device", disabled=busy,
                   format_func=lambda d: t("automatic") if d == "auto" else d)
    right.text_input(t("Model name"), key="t_name", placeholder=t("made up for you"), disabled=busy)
    left.slider(t("Drawn digits"), 0.0, 0.5, step=0.05, key="t_drawn", disabled=busy, format=LOCALIZED,
                help=t("Share of the training digits also drawn on a canvas as people draw (size, place, pen "
                       "width) and read back as the Draw page reads your drawing; they take their originals' "
                       "places every epoch. Drawing costs about 3 ms a digit, once. 0 is off."))
    st.checkbox(t("Fat-pen fill-in"), key="t_fill_in", disabled=busy,  # full width: the label fits
                help=t("With augmentation: a quarter of the digits get small loops filled in and are shrunk to "
                       "fit, as a fat pen or finger draws them. Helps drawings; costs a little on MNIST's own test."))
    st.checkbox(t("Real hands"), key="t_hands", disabled=busy,
                help=t("With augmentation or drawn digits: half the digits are also slanted, squeezed or "
                       "stretched (up to filling a square box, as scanners do) and some made low-resolution, as "
                       "real people's digits and scans differ from MNIST. Helps real handwriting; costs a little "
                       "training time."))


def augmentation_preview() -> None:  # only where MNIST reads (data_panel)
    """Twelve training digits as the network will see them at the chosen augmentation and drawn share."""
    strength, drawn = st.session_state.t_augment, st.session_state.t_drawn
    grid = preview(dataset().train_images[:12], strength, seed=int(st.session_state.t_seed), drawn=drawn > 0,
                   fill_in=st.session_state.t_fill_in, hands=st.session_state.t_hands,
                   labels=dataset().train_labels[:12])
    kinds = [t("original")] + [t("drawn")] * (drawn > 0) + [t("deformed")] * (len(grid) - 1 - (drawn > 0))
    captions = [kind for kind in kinds for _ in range(12)]
    # Whole sentences per case (a language words each its own way), not pieces joined.
    if strength <= 0 and drawn <= 0:
        caption = t("Training digits: as in MNIST; with these settings the network sees them unchanged (the "
                    "Augmentation and Drawn digits sliders would deform or redraw them)")
    elif strength <= 0:
        caption = t("Training digits: the first row as in MNIST, then drawn on a canvas and read back as the Draw "
                    "page does ({share} of the digits)", share=pct(drawn, 0))
    elif drawn <= 0:
        caption = t("Training digits: the first row as in MNIST, then two fresh deformations at strength "
                    "{strength} (a new one every epoch)", strength=num(strength, 2, trim=True))
    else:
        caption = t("Training digits: the first row as in MNIST, then drawn on a canvas and read back as the Draw "
                    "page does ({share} of the digits), then two fresh deformations at strength {strength} (a new "
                    "one every epoch)", share=pct(drawn, 0), strength=num(strength, 2, trim=True))
    gallery(grid.reshape(-1, 28, 28), captions, 12, caption, scale=2, keep_rows=True)


EPOCH_VIEW_EVERY = 2.0  # seconds between redraws of what changes once an epoch (F1, table, weights, health)


def epochs_text(count: float) -> str:
    """'1 epoch', '3 epochs', '1.25 epochs'."""
    one = abs(count - 1) < 0.005
    number = num(count, 2, trim=True)
    return t("{number} epoch", number=number) if one else t("{number} epochs", number=number)


def weights_panel(snap: Snapshot) -> None:
    """What the first layer is learning."""
    if snap.weights is not None:
        shown = snap.weights[:LIVE_UNITS]
        st.image(weights_png(shown, columns=12, scale=2), output_format="PNG",  # PNG bytes: never re-encoded
                 caption=t("The first {shown} of {units} first-layer units as they learn: each unit's weights as "
                           "a 28×28 picture (red: ink there excites it, blue: inhibits it)", shown=len(shown),
                           units=len(snap.weights)))


def health_panel(snap: Snapshot) -> None:
    """Whether the run is healthy: the gradient sizes and the dead units."""
    if snap.grad_norms:
        st.plotly_chart(unchecked(health_figure(snap)), key="health_chart", config=chart_config(snap))
    if snap.history and snap.history[-1].dead_share:
        dead = snap.history[-1].dead_share
        shares = ", ".join(t("layer {layer}: {share}", layer=i + 1, share=pct(d, 0)) for i, d in enumerate(dead))
        if max(dead) >= 0.5:
            st.warning(t("Dead hidden units, whose output is the same for 2,048 training digits (a ReLU that never "
                         "fires), after the last epoch: {shares}. Half or more of a layer is dead: try a smaller "
                         "learning rate.", shares=shares))
        else:
            st.caption(t("Dead hidden units, whose output is the same for 2,048 training digits (a ReLU that never "
                         "fires), after the last epoch: {shares}. Dead units no longer learn; many of them mean "
                         "the learning rate is too high.", shares=shares))


def epochs_trained(snap: Snapshot) -> float:
    """How many epochs of training the model has had: fewer than its last epoch's number when a Stop cut
    an epoch short (3.25 after a stop a quarter into epoch 2 and two more epochs)."""
    return sum(fractions(snap).values())  # one home with the charts' epochs-trained axis


def status_line(snap: Snapshot) -> None:
    done_epochs = len(snap.history)
    if snap.status == QUEUED:
        st.info(t("Waiting for the {device} device: number {position} in the queue.", device=snap.device,
                  position=snap.queue_position))
    elif snap.status == RUNNING and snap.halted:
        st.warning(t("Stopped in epoch {epoch}, at batch {batch} of {batches}; scoring and saving what it learned …",
                     epoch=snap.epoch, batch=snap.batch, batches=snap.batches))
    elif snap.status == RUNNING:
        if snap.batches:
            share = ((snap.epoch - 1) * snap.batches + snap.batch) / (snap.last_epoch * snap.batches)
            where = dict(epoch=snap.epoch, epochs=snap.last_epoch, batch=snap.batch, batches=snap.batches)
            text = t("Epoch {epoch} of {epochs}, batch {batch} of {batches}", **where) if snap.eta_seconds is None \
                else t("Epoch {epoch} of {epochs}, batch {batch} of {batches}, about {seconds} s left",
                       seconds=num(snap.eta_seconds, 0), **where)
            # The words as plain Markdown, ready with the title; the bar waits for its script to load (a share
            # link's fresh browser showed the words ~1 s after they arrived).
            st.markdown(text)
            st.progress(min(share, 1.0))
        else:
            st.progress(0.0, text=snap.preparing or t("Loading the data …"))
    elif snap.status == DONE:
        trained = epochs_trained(snap)
        if abs(trained - done_epochs) < 1e-6:
            st.success(t("Trained {amount}; saved as **{name}**.", amount=epochs_text(done_epochs), name=snap.name))
        else:
            st.success(t("Trained to epoch {epoch}, {amount} in all (a Stop cut one short); saved as **{name}**.",
                         epoch=done_epochs, amount=epochs_text(trained), name=snap.name))
    elif snap.status == STOPPED:
        st.warning(t("Stopped in epoch {epoch}, after {amount}; what it learned is saved as **{name}**.",
                     epoch=done_epochs, amount=epochs_text(epochs_trained(snap)), name=snap.name)
                   if snap.saved else t("Stopped before training began."))
    elif snap.status == FAILED:
        st.error(t("Training failed: {reason}", reason=snap.error))
    if snap.note and not snap.active:  # it ended early though nobody stopped it (the server's time limit)
        st.warning(snap.note[:1].upper() + snap.note[1:] + ".")


def live_view(job_id: str, was_active: bool, mine: bool, who: str, light: bool = False) -> None:
    """Two parts, redrawn while the job runs (the training process never touches Streamlit): where the run
    is and its loss curve every second; what changes once an epoch every EPOCH_VIEW_EVERY seconds, as
    each redrawn chart costs the browser CPU that training needs (benchmarks/app_figures.py). `light`: the
    first part only (see keys.LIGHT_VIEW)."""
    registry = job_registry()[0]
    # No gliding progress bar: redrawn every second, its animation alone keeps the browser busy.
    st.html("<style>[data-testid='stProgress'] * {transition: none !important}</style>")

    @st.fragment(run_every=1.0 if was_active else None)
    def progress_view() -> None:
        job = registry.get(job_id)
        snap = job.snapshot()
        st.subheader(t("{name}  ·  {layers} on {device}", name=snap.name, layers=snap.config.summary().layers,
                       device=snap.device))
        status_line(snap)
        paused_line(snap)
        if snap.continues:
            st.caption(t("Train more {model}.", model=snap.continues))
        if mine:
            controls_bar(job, snap, who)
            live_settings(job, snap, who)
        figure = loss_svg(snap) if snap.active else loss_figure(snap)  # moving: a picture; done: Plotly's hover
        if figure is None:
            st.info(t("Training loss: waiting for the first batches …"))
        elif snap.active:
            st.markdown(figure, unsafe_allow_html=True)
        else:
            st.plotly_chart(unchecked(figure), key="loss_chart", config=chart_config(snap))
        if st.session_state.pop(keys.LIGHT_VIEW, None) == job_id:
            st.rerun(scope="app")  # a second after a share link's light first view: the whole page
        step_panel(snap)
        if was_active and not snap.active:
            st.rerun(scope="app")  # the job ended: refresh the buttons, the models table and the rest

    @st.fragment(run_every=EPOCH_VIEW_EVERY if was_active else None)
    def epoch_view() -> None:
        snap = registry.get(job_id).snapshot()
        left, right = st.columns(2)
        if not snap.history:
            left.info(t("Macro-F1 per epoch: the chart appears when the first epoch ends and the network is "
                        "scored on training and test digits."))
        else:
            left.plotly_chart(unchecked(f1_figure(snap)), key="f1_chart", config=chart_config(snap))
        if snap.history:
            last = snap.history[-1]
            # Written the language's way (a French table read "10.4183" beside "9,74 %").
            left.dataframe([{t("epoch"): last.epoch, t("loss"): num(last.loss, 4),
                             t("train macro-F1"): num(last.train_f1, 4), t("test macro-F1"): num(last.test_f1, 4),
                             t("test accuracy"): pct(last.test_accuracy), t("seconds"): num(last.seconds, 1)}],
                           hide_index=True)
        with right:
            health_panel(snap)
            health_words(registry.get(job_id), snap, who, mine)
        spread = spread_figure(snap)
        if spread is not None:
            st.plotly_chart(unchecked(spread), key="spread_chart", config=chart_config(snap))
        weights_panel(snap)

    progress_view()
    if not light:
        epoch_view()


def data_panel() -> bool:
    """True when MNIST is there and reads; else says what is wrong in a line, offers to download it (again),
    and says where to put the files by hand."""
    missing = missing_files()
    folder = find_data_dir()
    if not missing:
        try:
            dataset()
            return True
        except MnistDataError as e:  # present but damaged: a truncated copy, a wrong file, a bomb
            st.error(t("MNIST is in `{folder}` but cannot be read: {reason}", folder=folder, reason=said(e)))
            label = t("Download MNIST again (about 11 MB)")
    else:
        st.warning(t("MNIST is not in `{folder}` yet (missing: {files}). Training needs it; drawing with the "
                     "shipped model does not.", folder=folder, files=", ".join(missing)))
        label = t("Download MNIST (about 11 MB)")
    if st.button(label, type="primary", key="t_download"):
        bar = st.empty()  # emptied when the download fails: no bar and "Starting …" left behind
        bar.progress(0.0, text=t("Starting the download …"))

        def progress(stem: str, done: int, total: int | None) -> None:
            bar.progress(min(done / total, 1.0) if total else 0.0,
                         text=t("{file}: {megabytes} MB", file=stem, megabytes=num(done / 1e6, 1)))

        try:
            download(folder, progress=progress)  # fetches the missing files and those that fail their checksum
        except (MnistDataError, OSError) as e:
            bar.empty()
            st.error(t("The download failed: no MNIST mirror could be reached. Is this computer online? "
                       "If not, copy the four files in by hand (below)."))
            with st.expander(t("What each mirror answered")):
                st.code(str(e), language=None)
        else:
            st.rerun()
    st.caption(t("By hand: put the four files (`train-images-idx3-ubyte.gz`, `train-labels-idx1-ubyte.gz`, "
                 "`t10k-images-idx3-ubyte.gz`, `t10k-labels-idx1-ubyte.gz`, gzipped or not) into `{folder}`, "
                 "or start the app with `MNIST_DIR` set to the folder that has them.", folder=folder))
    return False


def choose_row(key: str, names: list[str]) -> None:
    """A row of the models table was clicked: its model, by name, becomes the current one. An event from
    a table drawn before the list of models changed is old news: ignored."""
    if key != st.session_state.get("t_models_table"):
        return
    rows = st.session_state[key].selection.rows
    if rows and names[rows[0]] is not None:
        current_model().choose(names[rows[0]])


def models_panel(who: str) -> None:
    entries = offered_models(damaged=True)
    st.subheader(t("Stored models"))
    NOTICE.show(toast=True)
    current = current_model().name()
    rows = []
    # The table's headers in this browser's language (one lookup each, as the rows use them).
    name_h, layers_h, parameters_h, f1_h, accuracy_h, epochs_h, device_h, seconds_h, date_h = (
        t("name"), t("layers"), t("parameters"), t("test F1"), t("accuracy"), t("epochs"), t("device"),
        t("training s"), t("date"))
    for e in entries:
        m = e.meta
        if m is None:
            rows.append({"": "", name_h: e.name, layers_h: t("damaged file"), parameters_h: None, f1_h: None,
                         accuracy_h: None, epochs_h: None, device_h: "", seconds_h: None, date_h: e.error})
            continue
        rows.append({"": "✔" if m.name == current else "", name_h: m.name,
                     layers_h: layers_label(m.model["hidden"]),
                     parameters_h: m.parameters, f1_h: round(m.metrics.test_f1, 4) if m.metrics else None,
                     accuracy_h: pct(m.metrics.test_accuracy) if m.metrics else None, epochs_h: m.epochs,
                     device_h: m.device, seconds_h: round(m.train_seconds, 1),
                     date_h: t("ships with the app") if m.builtin else m.created.replace("T", " ")[:16]})
    if not rows:
        st.caption(t("No models yet: train one above."))
        return
    # A row is picked by name: the table's key changes with its list of names, so a selection (which
    # Streamlit keeps as a row number) never carries over to another model when one is added or deleted.
    names = [e.name if e.meta is not None else None for e in entries]
    key = st.session_state["t_models_table"] = f"models_table_{abs(hash(tuple(e.name for e in entries)))}"
    widest = max(len(e.name) for e in entries)
    # Scores with the language's decimal mark (they were 0.9683 in French), still numbers for sorting.
    table = with_dashes(rows, {f1_h: "{:.4f}", seconds_h: "{:.1f}"}, decimal=decimal_mark())
    st.dataframe(table, hide_index=True, on_select=lambda: choose_row(key, names), selection_mode="single-row",
                 key=key, placeholder=DASH,
                 column_config={"": st.column_config.TextColumn("", width=30, help=t("the current model")),
                                name_h: st.column_config.TextColumn(name_h, width=max(90, 8 * widest + 24))})
    st.markdown(t("Current model for the other pages: **{model}** (select a row to change it).", model=current))
    meta = next((e.meta for e in entries if e.name == current and e.meta), None)
    if meta is not None and may_change(meta, who):
        with st.expander(t("Rename or delete {model}", model=current), key="t_manage"):  # keyed: stays open
            new_name = st.text_input(t("New name"), value=current, key="rename_to").strip()
            left, right = st.columns(2)
            # Each action says its own error, and the other buttons stay (one failing hid the rest).
            if left.button(t("Rename"), key="t_rename") and new_name != current:
                try:
                    rename_model(current, new_name, who)
                    NOTICE.say(t("Renamed {old} to {new}.", old=current, new=new_name))
                    st.rerun()
                except StoreError as e:
                    left.error(said(e))
            if confirmed(right, "t_deleting", current, t("Delete"), t("Delete **{model}** for good? This cannot be "
                         "undone.", model=current), t("Yes, delete")):
                try:
                    delete_model(current, who)
                    NOTICE.say(t("Deleted {old}; the current model is now {model}.", old=current,
                                 model=current_model().name()))
                    st.rerun()
                except StoreError as e:
                    right.error(said(e))


START_HERE = N_("""
**MNIST** is 70,000 handwritten digits, 28×28 pixels each: 60,000 to learn from and 10,000 to test on.
An **MLP** (multi-layer perceptron) is the simplest neural network: each of the 784 pixels feeds every unit of
the first hidden layer, each layer feeds the next, and the last layer gives a score to each of the ten digits.

**What to do first:** keep the *Recommended* preset and press **Train**; watch the loss fall and the
macro-F1 rise. Then open **Draw** and draw a digit for your model, **Mistakes** to see what it gets wrong,
**Inside** to see why.

**How long each preset takes** (measured with the command line on a 2-core machine; from this page, while
the browser draws the charts, up to 1.7× that): *Recommended* 11.6 s, *The original notebook* 15.8 s,
*Robust for drawings* about 70-90 s (plus 57 s drawing its digits the first time), *Best MLP* about 7 minutes.
""")


def leave_run() -> None:
    """A watcher stops watching someone else's run, to train their own."""
    st.session_state.pop(keys.JOB, None)
    st.query_params.pop("job", None)


def run_rows(snap: Snapshot) -> list[tuple[str, str]]:
    """A run's settings as a table shows them, in this browser's language; its epochs are the model's total
    when this run ends (Epoch 12 of 17: 17), not the epochs this run adds."""
    return settings_rows(snap.config.summary(), epochs=snap.last_epoch or None, device=snap.device)


def run_settings(snap: Snapshot, caption: str) -> None:
    rows = run_rows(snap)
    st.header(t("This run's settings"))
    st.caption(caption)
    st.dataframe([{t("setting"): k, t("value"): v} for k, v in rows], hide_index=True,
                 height=(len(rows) + 1) * 35 + 3)  # every row, no scrolling


def watched_settings(snap: Snapshot) -> None:
    """The settings of the run being watched, read-only, in place of the watcher's own."""
    run_settings(snap, t("You are watching someone else's run: these are its settings."))
    st.button(t("Train my own instead"), on_click=leave_run, key="t_leave_run")


def widgets_differ(snap: Snapshot) -> bool:
    """Whether this browser's own run trains with other settings than its sidebar shows (a Train more on our
    handwriting, a Train more of another model): its epochs and device aside."""
    def same(rows: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(k, v) for k, v in rows if k not in ("epochs", "device")]
    try:
        return same(config_from_widgets().summary().rows()) != same(snap.config.summary().rows())
    except (ConfigError, ValueError, KeyError):
        return True


def announce_new_model(job_id: str, snap: Snapshot, mine: bool) -> None:
    """A run this session watched end: its model becomes the current one, and the page says so."""
    if mine and snap.active:
        st.session_state["t_watching"] = job_id
    elif snap.saved and st.session_state.get("t_watching") == job_id:
        del st.session_state["t_watching"]
        current_model().choose(snap.name)
        # Said at the models table, at the end of the page: a rerun that the live view starts when the
        # job ends would drop a toast made here.
        NOTICE.say(t("**{model}** is now the current model for Draw, Mistakes and Inside.", model=snap.name))


def linked_experiment() -> None:
    """An experiment's link (?experiment=...&lr=...): its settings into the widgets, once per link."""
    params = {k: st.query_params[k] for k in st.query_params}
    if "experiment" not in params or st.session_state.get("t_linked") == params:
        return
    st.session_state["t_linked"] = params
    try:
        found = experiment_from_query(params)
    except ConfigError as e:
        TRAIN_ERROR.keep(t("This experiment link does not work: {reason}", reason=said(e)))
        return
    if found is not None:
        use_experiment(*found)


# Worded for both: on a phone the sidebar is closed, and "on the left" showed nothing.
START_HINT = N_("Choose the settings in the sidebar (on a phone: open it with the arrow at the top left) and "
                "press **Train**; the curves draw themselves as it learns.")
NO_DATA_HINT = N_("Train needs the MNIST digits first: press **Download MNIST** above (about 11 MB), or copy the "
                  "files in by hand; then choose the settings and press Train.")


def render() -> None:
    for key in SETTINGS:  # keep the settings when the user visits another page and comes back
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
    if "t_preset" not in st.session_state:
        st.session_state.update({"t_preset": "recommended", "t_device": "auto", "t_name": "", "t_more": 5})
        apply_preset()
    who = owner()
    if st.session_state.get("t_seen"):
        # A second look (a setting changed, a visit back): a run is near, so the fork server loads PyTorch
        # now, not after the click; not on a first look, which it would slow, whatever page that is.
        start_child_server()
    st.session_state["t_seen"] = True
    linked_experiment()  # before the settings widgets are drawn: it sets their values
    st.title(t("Train a network"))
    job = current_job()
    linked = st.query_params.get("job")
    if linked and (job is None or job.id != linked):
        # Said for any id: a run that ended over 15 minutes ago leaves nothing to tell it from a mistyped link.
        st.info(t("No run of this link is on this server: it ended more than 15 minutes ago, or the link is "
                  "mistyped. If it was saved, its model is in the table below."))
    snap = job.snapshot() if job else None
    mine = job is not None and job.owner == who
    busy = snap is not None and snap.active and mine
    if job is not None:
        announce_new_model(job.id, snap, mine)
    watching = job is not None and not mine
    # A share link's first view while the run trains: where it is and its loss curve, and nothing that makes a new
    # browser load a chart or table library first (it waited 3-4 s for them); the rest a second later.
    light = watching and snap.active and st.session_state.get(keys.LIGHT_SEEN) != job.id
    if light:
        st.session_state[keys.LIGHT_SEEN] = job.id
    if watching:  # a share link: the run first, before the settings and the rest it would wait behind
        st.caption(t("You are watching someone else's run (read-only)."))
        live_view(job.id, snap.active, mine, who, light)
    with st.expander(t("Start here: what this is, and what to do first"), expanded=job is None):
        st.markdown(t(START_HERE))
    have_data = data_panel()

    with st.sidebar:
        if watching:
            if not light:
                watched_settings(snap)
        else:
            if busy and widgets_differ(snap):  # never the widgets' settings as if they were the run's
                run_settings(snap, t("Your run trains with these settings; the ones below are for your next run."))
                st.header(t("Settings for your next run"))
            else:
                st.header(t("Settings"))
            settings_panel(busy)
    if have_data and (job is None or mine):
        augmentation_preview()
    if st.session_state.get("t_experiment") in EXPERIMENTS and (job is None or mine):
        experiment_note(EXPERIMENTS[st.session_state["t_experiment"]])
    TRAIN_ERROR.show()
    buttons = st.columns([1, 1, 1, 3], vertical_alignment="bottom")
    buttons[0].button(t("Train"), type="primary", on_click=start_training, key="t_train",
                      disabled=busy or not have_data or watching,
                      help=t("You are watching someone else's run: press *Train my own instead* in the sidebar first")
                      if watching else None)
    buttons[1].button(t("Stop"), on_click=stop_training, disabled=not busy, key="t_stop")
    if mine and snap is not None and not snap.active and snap.saved:
        buttons[3].number_input(t("More epochs"), min_value=1, max_value=200, step=1, key="t_more")
        buttons[2].button(t("Train more"), on_click=train_more, key="t_train_more")
    if mine:
        share_link(job.id)  # an address a student's device opens, with its QR code
        live_view(job.id, snap.active, mine, who)
    elif job is None:
        st.info(t(START_HINT) if have_data else t(NO_DATA_HINT))
    if have_data and (job is None or mine) and not busy:
        experiments_list(start_experiment)
    if not light:
        class_training_panel(busy or watching, have_data)
        models_panel(who)
    else:  # after the live view's first, inline run: its next tick, a second on, draws the whole page
        st.session_state[keys.LIGHT_VIEW] = job.id


render()
