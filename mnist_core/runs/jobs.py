"""Training jobs in the background (start, snapshot, stop, train more), one registry per server that
reserves the names of active runs; each job's state is one immutable record replaced on each message."""

from __future__ import annotations

import os
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from mnist_core.net.config import check_run_cost, ExtraExamples, TRAIN_DIGITS, TrainConfig
from mnist_core.net.controls import (
    Changed,
    Control,
    ControlError,
    DelaySet,
    pause_limit,
    Paused,
    Refused,
    Resumed,
    SettingChange,
)
from mnist_core.net.data import Mnist
from mnist_core.net.health import LayerSpread
from mnist_core.net.history import EpochRecord, Progress
from mnist_core.net.step import StepLook
from mnist_core.net.train import continue_learning_rate, ended_learning_rate
from mnist_core.runs.body import save_run, start_from_store
from mnist_core.runs.child import LocalRunner
from mnist_core.runs.queue import DeviceQueue
from mnist_core.runs.ray_backend import RayRunner, SharedJob
from mnist_core.runs.snapshot import ACTIVE, DONE, FAILED, QUEUED, RUNNING, Snapshot, STOPPED
from mnist_core.runs.spec import (
    ControlLine,
    EpochDone,
    Halted,
    Message,
    Preparing,
    Report,
    RunError,
    RunSpec,
    Spread,
    Started,
)
from mnist_core.storage.models import default_model_name, model_name, ModelStore, StoreError
from mnist_core.storage.permissions import check_may_change
from mnist_core.texts import N_, worded

# A finished job stays in the registry this long (a share link or a reload still finds it), then goes.
KEEP_SECONDS = float(os.environ.get("MNIST_APP_KEEP_JOBS_SECONDS", "900"))
Runner = LocalRunner | RayRunner
SHARE_EVERY = 0.5  # seconds between publications of a replica's runs on a shared board
# What one browser may hold of a server's training: its runs waiting or training at once, and how long one run
# may train before it stops (saved, as if stopped by hand); and the runs a server holds waiting or training.
RUNS_PER_OWNER = 1
MAX_RUN_SECONDS = float(os.environ.get("MNIST_APP_MAX_RUN_SECONDS", "1800"))
MAX_QUEUE = int(os.environ.get("MNIST_APP_MAX_QUEUE", "40"))


class QueueFull(StoreError):
    """A run refused because its browser has one waiting or training already, or the server's queue is full."""


def runner_for(address: str | None) -> Runner:
    """The Ray cluster at `address` ('local' starts one here), else child processes of this server."""
    return RayRunner(address) if address else LocalRunner()


@dataclass(frozen=True)
class JobState:
    """Everything about a job that changes while it runs, as one immutable record: each message from the run
    makes a new one (`TrainingJob._receive`), so a reader under the lock never sees half an update."""

    name: str  # the model's name now (it follows a rename)
    config: TrainConfig  # the settings of the current run
    device: str  # the queue it waits in, then the device it trains on
    status: str = QUEUED
    error: str = ""
    saved: bool = False  # the current run's model is in the store
    progress: Progress | None = None
    history: tuple[EpochRecord, ...] = ()
    batch_losses: tuple[float, ...] = ()  # every batch's loss, whole history
    grad_at: tuple[float, ...] = ()  # where each gradient report was, in epochs
    grad_norms: tuple[list[float], ...] = ()
    weights: np.ndarray | None = None  # first layer (H0, 28, 28): a fresh array each time, never changed after
    batches_per_epoch: int = 0
    preparing: str = ""
    host: str = ""
    note: str = ""  # why a run that was not stopped by hand ended early (its time limit)
    run_epochs: int = 0  # epochs of the current run
    runs: int = 0  # runs finished and saved: a later run continues the saved model
    paused: Paused | None = None  # where the run is paused now; None while it trains (or is not running)
    changes: tuple[SettingChange, ...] = ()  # settings changed live, the model's whole history
    look: StepLook | None = None  # the step up close of the batch a Step would train (while paused)
    spread: tuple[LayerSpread, ...] = ()  # each layer's weights now against at the start
    delay: float = 0.0  # slow motion: seconds between batches
    refused: str = ""  # why the last control was not carried out ("" once one is)
    continues: str = ""  # how this run continues a trained model's learning rate (Train more)

    def received(self, message: Message) -> JobState:
        """The state after one message from the run."""
        match message:
            case Preparing(text=text):
                return replace(self, preparing=text)
            case Started():
                return replace(self, batches_per_epoch=message.batches_per_epoch, weights=message.weights,
                               device=message.device, host=message.host, preparing="")
            case Report(progress=progress, weights=weights):
                state = self if weights is None else replace(self, weights=weights)
                if progress is None:
                    return state
                return replace(state, progress=progress,
                               batch_losses=state.batch_losses + tuple(progress.batch_losses),
                               grad_at=(*state.grad_at, progress.epoch - 1 + progress.batch / progress.batches),
                               grad_norms=(*state.grad_norms, progress.grad_norms))
            case EpochDone(record=record):
                return replace(self, history=(*self.history, record))
            case Paused():
                return replace(self, paused=message)
            case Resumed():
                return replace(self, paused=None, look=None)
            case Changed(change=change, settings=settings):
                return replace(self, changes=(*self.changes, change), refused="",
                               config=replace(self.config, **settings))
            case Refused(text=text):
                return replace(self, refused=text)
            case DelaySet(seconds=seconds):
                return replace(self, delay=seconds)
            case StepLook():
                return replace(self, look=message)
            case Spread(layers=layers):
                return replace(self, spread=tuple(layers))
        return self



class TrainingJob:
    """One model trained in the background. A watcher thread starts a child process for each run and
    replaces this job's `JobState` with each of its messages, under this object's lock; neither ever calls
    into a user interface. The model is saved to the store after each run."""

    def __init__(self, job_id: str, owner: str, name: str, config: TrainConfig, store: ModelStore,
                 load_data: Callable[[], Mnist], queue: DeviceQueue, continue_from: str | None = None,
                 threads: int = 0, model_id: str = "", runner: Runner | None = None,
                 base: str | None = None, extra: ExtraExamples | None = None, max_seconds: float = 0.0,
                 admit: Callable[[TrainingJob], None] | None = None, train_digits: int = TRAIN_DIGITS,
                 planned: list[tuple[float, Control]] | None = None, delay: float = 0.0) -> None:
        # owner: the browser's key, in this server's memory only; files get its OwnerTags hash.
        self.id, self.owner = job_id, owner
        self.max_seconds = max_seconds  # each run's training time limit; 0: none
        self.train_digits = train_digits  # what the ceilings count an epoch as
        self.admit = admit  # raises (one line) when the server will not hold another run of this job's owner now
        self.store, self.load_data, self.queue = store, load_data, queue
        self.continue_from = continue_from
        self.base, self.extra = base, extra  # a stored model copied as this job's start; examples besides MNIST
        self.parent = ""  # the id of the model `base` named (its descendants are hidden with it)
        self.planned, self.delay = list(planned or []), delay  # an experiment's live changes and slow motion
        self.model_id = model_id or uuid.uuid4().hex  # the model this job makes (or trains further)
        self.ended_at: float | None = None  # time.monotonic() when its last run ended; None while one is on
        self.threads = threads  # torch threads of a run; 0: the CPUs others leave free, followed
        self.runner = runner or LocalRunner()
        self.lock = threading.Lock()
        self.state = JobState(name=name, config=config, device=self.runner.queue_of(config),
                              run_epochs=config.epochs)
        self.stop_event = self.runner.new_stop()
        self.controls = ControlLine()  # bound to where the current run trains, while it does
        self.thread: threading.Thread | None = None
        self._ended = threading.Event()  # the current run's model is saved (or the run failed)
        self._halted = threading.Event()  # the current run trains no more (set too whenever it ends)

    @property
    def name(self) -> str:
        return self.state.name

    @property
    def config(self) -> TrainConfig:
        return self.state.config

    @property
    def status(self) -> str:
        return self.state.status

    def _update(self, **changes) -> JobState:
        with self.lock:
            self.state = replace(self.state, **changes)
            return self.state

    # --- control ---------------------------------------------------------------------------
    def start(self, epochs: int | None = None) -> None:
        """Start a run of `epochs` (default: the config's); for a finished job, train it further: the
        model it made, under whatever name it has now, or a StoreError if that model is gone."""
        thread = self.thread
        if thread is not None and thread.is_alive():
            thread.join(5)  # a run that has saved its model may still be closing its process
        if self.state.runs:
            self.follow_model()
            self.store.check_writable()
            check_run_cost(self.config, epochs, history=len(self.state.history), train_digits=self.train_digits)
            if self.admit is not None:
                self.admit(self)
        with self.lock:
            if self.thread is not None and self.thread.is_alive():
                raise RuntimeError("this job is still running")
            self.ended_at = None
            self._ended.clear()
            self._halted.clear()
            self.state = replace(self.state, run_epochs=epochs or self.state.config.epochs, status=QUEUED, error="",
                                 note="", progress=None, paused=None, look=None, refused="")
            self.stop_event.clear()
            self.thread = threading.Thread(target=self._run, name=f"train-{self.id}", daemon=True)
            self.thread.start()

    def follow_model(self) -> str:
        """The name the model this job made has now (renamed: the new one); StoreError if no stored
        model is that model any more (deleted, or replaced by another of the same name)."""
        name = self.store.find_id(self.model_id)
        if name is None:
            raise worded(StoreError, N_("'{name}' is no longer the model this run made (it was deleted or "
                                        "replaced); Train more would change someone else's model. Train a new one "
                                        "instead."), name=self.name)
        self.renamed(name)
        return name

    def renamed(self, name: str) -> None:
        """The model this job makes is called `name` now."""
        self._update(name=name)

    def stop(self) -> None:
        """Ask the job to stop; it ends within one batch (or leaves the queue at once)."""
        self.stop_event.set()

    def control(self, owner: str, control: Control) -> None:
        """Pass a live control (pause, step, a setting ...) to the run; only its owner may. Raises ControlError
        in words when it is not this owner's run or no run is training now."""
        if not owner or owner != self.owner:
            raise worded(ControlError, N_("only the person who started this run can pause it or change its settings"))
        if self.status != RUNNING or not self.controls.put(control):
            raise worded(ControlError, N_("this run is not training now (waiting in the queue, or ended): nothing to "
                                          "control"))

    def wait_until(self, answered: Callable[[JobState], bool], timeout: float) -> bool:
        """Block until the run's state answers a control (`answered(state)`, e.g. `state.paused is not None`),
        at most `timeout` seconds; True if it did. The page's button waits so, as Stop waits for the halt, so
        that the redraw after the click already shows "Paused" instead of the one a second later."""
        end = time.monotonic() + timeout
        while not answered(self.state):  # one immutable record, replaced whole: read without the lock
            if time.monotonic() >= end or self._halted.is_set():
                return False
            time.sleep(0.005)
        return True

    def wait_halted(self, timeout: float | None = None) -> bool:
        """Block until the current run has stopped training (saving may still be going on)."""
        return self.thread is None or self._halted.wait(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the current run ends: its model saved (or the run failed); True if it did."""
        return self.thread is None or self._ended.wait(timeout)

    # --- reading ---------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        with self.lock:
            s = self.state  # immutable: read outside the lock from here on
        snap = Snapshot(
            id=self.id, owner=self.owner, name=s.name, status=s.status, config=s.config, device=s.device,
            history=list(s.history), batch_losses=list(s.batch_losses), error=s.error, note=s.note, saved=s.saved,
            grad_at=list(s.grad_at), grad_norms=list(s.grad_norms), weights=s.weights,
            halted=self._halted.is_set() and not self._ended.is_set(),
            batches_per_epoch=s.batches_per_epoch, preparing=s.preparing, host=s.host, model_id=self.model_id,
            paused=s.paused, changes=list(s.changes), look=s.look, spread=list(s.spread), delay=s.delay,
            refused=s.refused, continues=s.continues,
        )
        if snap.status == QUEUED:
            snap.queue_position = self.queue.position(self.id)
        p = s.progress
        if p is not None:
            snap.epoch, snap.last_epoch, snap.batch, snap.batches, snap.seconds, snap.lr = (
                p.epoch, p.epochs, p.batch, p.batches, p.seconds, p.lr)
            first = p.epochs - s.run_epochs  # epochs done before this run
            done = (p.epoch - 1 - first) * p.batches + p.batch
            total = s.run_epochs * p.batches
            if snap.status == RUNNING and done:
                snap.eta_seconds = p.seconds / done * (total - done)
        return snap

    # --- the watcher thread ------------------------------------------------------------------
    def _end(self) -> None:
        """The run is over (saved, failed or left the queue): it trains no more either."""
        self.ended_at = time.monotonic()
        self._halted.set()
        self._ended.set()

    def _receive(self, message: Message) -> None:
        if isinstance(message, Halted):
            self._halted.set()
            return
        with self.lock:
            self.state = self.state.received(message)

    def _run(self) -> None:
        if not self.queue.acquire(self.id, self.stop_event.is_set):
            self._update(status=STOPPED)
            self._end()
            return
        try:
            self._update(status=RUNNING)
            start = None
            continuing = bool(self.state.runs or self.continue_from is not None)
            if continuing:
                # The model this job made or was given, under whatever name it has now, with its own settings
                # (its layers above all), trained on the device asked for now.
                start, meta = start_from_store(self.store, self.follow_model())
                if meta.id != self.model_id:
                    raise worded(StoreError, N_("'{name}' is no longer the model this run made; train a new one"),
                                 name=meta.name)
                plan = continue_learning_rate(meta.config, ended_learning_rate(start.optimizer))
                self._update(config=replace(plan.config, device=self.config.device), history=tuple(start.history),
                             changes=tuple(start.changes), continues=plan.text)
                self.parent = meta.parent  # trained further, it stays the copy it was
            elif self.base is not None:  # a copy of another model, trained on as a new one
                start, meta = start_from_store(self.store, self.base)
                self.parent = meta.id or f"name:{meta.name}"
                start.optimizer = {}  # a fresh optimizer: this run's learning rate, not the end of the base's schedule
                self._update(history=tuple(start.history))
            spec = RunSpec(self.config, self.state.run_epochs, self.threads, start, extra=self.extra,
                           max_seconds=self.max_seconds, planned=self.planned if not self.state.runs else [],
                           delay=self.delay, pause_seconds=pause_limit())
            result = self.runner.run(spec, self.load_data(), self._receive, self.stop_event, self.controls)
            if result.stopped and len(result.history) == (len(start.history) if start is not None else 0):
                # Stopped before its first batch (while its data loaded): nothing learned, so no untrained model
                # on the leaderboard, nor as anyone's current model; one trained further stays as it was.
                self._update(status=STOPPED)
                return
            # A new model takes a free name; a model trained further replaces only the file that still
            # holds its id, never another model that has taken the name since.
            save_run(self.store, result, self.name, self.store.owners.tag(self.owner), self.model_id,
                     replaces=self.model_id if continuing else None, parent=self.parent)
            note = (f"stopped at the server's limit of {self.max_seconds / 60:g} minutes of training a run; "
                    "what it learned is saved") if result.timed_out and not self.stop_event.is_set() else ""
            self._update(saved=True, runs=self.state.runs + 1, note=note,
                         status=STOPPED if self.stop_event.is_set() or result.stopped else DONE)
        except Exception as e:  # shown to the user on the page; the server goes on
            error = str(e) if isinstance(e, (RunError, StoreError, OSError)) else f"{type(e).__name__}: {e}"
            self._update(status=FAILED, error=error)
        finally:
            self._update(paused=None, look=None)
            self.queue.release()
            self._end()


class JobRegistry:
    """Every job of a process, by id; one per server, shared by all its users. The names of active
    jobs are reserved: no other job, rename or save may take them while they train."""

    def __init__(self, store: ModelStore, load_data: Callable[[], Mnist], slots_per_device: int = 1,
                 keep_seconds: float = KEEP_SECONDS, runner: Runner | None = None,
                 runs_per_owner: int = RUNS_PER_OWNER, max_queue: int = MAX_QUEUE,
                 max_run_seconds: float = MAX_RUN_SECONDS, train_digits: int = TRAIN_DIGITS) -> None:
        self.store, self.load_data = store, load_data
        # What the ceilings count an epoch as (`check_run_cost`) without loading the data: MNIST's training set.
        self.train_digits = train_digits
        self.runs_per_owner, self.max_queue, self.max_run_seconds = runs_per_owner, max_queue, max_run_seconds
        self.runner = runner or LocalRunner()
        self.slots = self.runner.slots(slots_per_device)
        self.keep_seconds = keep_seconds
        self.jobs: dict[str, TrainingJob] = {}
        self.queues: dict[str, DeviceQueue] = {}
        self.lock = threading.Lock()  # held from a name's check to its reservation (a job, a rename)
        self._gone: list[str] = []  # jobs forgotten since the last publication
        if isinstance(self.runner, RayRunner):
            threading.Thread(target=self._share, name="job-board", daemon=True).start()

    def submit(self, owner: str, config: TrainConfig, name: str | None = None,
               continue_from: str | None = None, epochs: int | None = None, base: str | None = None,
               extra: ExtraExamples | None = None, planned: list[tuple[float, Control]] | None = None,
               delay: float = 0.0) -> TrainingJob:
        """Queue a new job; `continue_from` trains a stored model of this owner further (saving it
        under its name); `base` starts a new model as a copy of any stored one; `extra` mixes more
        examples into its epochs. Of two submits of one new name at once, exactly one gets a job."""
        device = self.runner.queue_of(config)
        self.store.check_writable()  # a read-only or full store is said now, not after the run
        if continue_from is None:
            check_run_cost(config, epochs, train_digits=self.train_digits)  # ConfigError: over a ceiling
        with self.lock:
            self._forget_finished()
            self._admit(owner)
            model_id = ""
            if continue_from is not None:
                name = continue_from
                meta = self.store.meta(continue_from)  # exists and is readable, or a StoreError now
                if meta.builtin:
                    raise worded(StoreError, N_("'{name}' ships with the app; train a copy under a new name"),
                                 name=continue_from)
                check_may_change(self.store, meta, owner)
                check_run_cost(meta.config, epochs or config.epochs, history=meta.epochs,
                               train_digits=self.train_digits)
                if self._reserved(name):
                    raise worded(StoreError, N_("'{name}' is being trained right now; wait until its run ends"),
                                 name=name)
                model_id = meta.id
            else:
                if base is not None:
                    self.store.meta(base)  # exists and is readable, or a StoreError now
                name = self.store.check_new_name(name) if name else self.default_name(config)
                if self._reserved(name):
                    raise worded(StoreError, N_("a run named '{name}' exists already (waiting or training now, "
                                                "so its model is not in the table yet); choose another name"),
                                 name=name)
                if self.store.exists(name):
                    raise worded(StoreError, N_("a model named '{name}' exists already; choose another name"),
                                 name=name)
            queue = self.queues.setdefault(device, DeviceQueue(self.slots))
            job_id = secrets.token_urlsafe(6)
            job = TrainingJob(job_id, owner, name, config, self.store, self.load_data, queue, continue_from,
                              model_id=model_id, runner=self.runner, base=base, extra=extra,
                              max_seconds=self.max_run_seconds, admit=self._admit_again,
                              train_digits=self.train_digits, planned=planned, delay=delay)
            self.jobs[job_id] = job
        job.start(epochs)
        return job

    def _admit(self, owner: str, besides: TrainingJob | None = None) -> None:
        """QueueFull (one line) unless the server holds another run of `owner` now (under the lock): at most
        `runs_per_owner` of one browser waiting or training, and `max_queue` in all."""
        active = [j for j in self.jobs.values() if j is not besides and j.status in ACTIVE]
        if owner and sum(j.owner == owner for j in active) >= self.runs_per_owner:
            raise worded(QueueFull, N_("you have a run waiting or training already: wait until it ends, or stop "
                                       "it, before you start another"))
        if len(active) >= self.max_queue:
            raise worded(QueueFull, N_("the server holds {count} runs waiting or training, as many as it takes; "
                                       "try again when one has ended"), count=len(active))

    def _admit_again(self, job: TrainingJob) -> None:
        with self.lock:
            self._admit(job.owner, besides=job)

    def _reserved(self, name: str) -> bool:
        return any(j.name == name and j.status in ACTIVE for j in self.jobs.values())

    def _forget_finished(self) -> None:
        now = time.monotonic()
        for job_id, job in list(self.jobs.items()):
            if job.ended_at is not None and now - job.ended_at > self.keep_seconds and job.status not in ACTIVE:
                del self.jobs[job_id]
                self._gone.append(job_id)

    def _share(self) -> None:
        """Publish the runs of this replica that changed lately (active, or ended less than a minute ago)."""
        while True:
            time.sleep(SHARE_EVERY)
            now = time.monotonic()
            with self.lock:
                jobs = [j for j in self.jobs.values() if j.ended_at is None or now - j.ended_at < 60]
                gone, self._gone = self._gone, []
            try:
                self.runner.share({j.id: j.snapshot() for j in jobs}, gone)
            except Exception:  # the cluster away for a moment: the next round publishes again
                with self.lock:
                    self._gone.extend(gone)
            except SystemExit:  # Ray shut down in this process (its core worker raises this): no board to publish to
                return

    def rename_model(self, name: str, new_name: str, owner: str, operator: bool = False) -> None:
        """Rename a model of this owner; refused (StoreError) for another's, for a name held by an active
        run (either name), a taken or built-in name. Jobs that made the model follow it."""
        model_name(new_name)
        with self.lock:
            meta = self.store.meta(name)
            check_may_change(self.store, meta, owner, operator)
            for held in (name, new_name):
                if self._reserved(held):
                    raise worded(StoreError, N_("'{name}' is held by a run that is training now; try again when "
                                                "it ends"), name=held)
            self.store.rename(name, new_name)
            for job in self.jobs.values():
                if meta.id and job.model_id == meta.id:
                    job.renamed(new_name)

    def delete_model(self, name: str, owner: str, operator: bool = False) -> None:
        """Delete a model of this owner; refused (StoreError) for another's or one a run is training."""
        with self.lock:
            meta = self.store.meta(name)
            check_may_change(self.store, meta, owner, operator)
            if self._reserved(name):
                raise worded(StoreError, N_("'{name}' is being trained right now; stop its run first"), name=name)
            self.store.delete(name)

    def get(self, job_id: str) -> TrainingJob | SharedJob | None:
        """A job of this server, else (on a Ray cluster) one another replica shares, else None."""
        with self.lock:
            job = self.jobs.get(job_id)
        return job if job is not None else self.runner.shared_job(job_id)

    def active_snapshots(self) -> list[Snapshot]:
        """Every run of this server that trains or waits now."""
        with self.lock:
            jobs = list(self.jobs.values())
        return [snap for snap in (job.snapshot() for job in jobs) if snap.active]

    def jobs_of(self, owner: str) -> list[TrainingJob]:
        """This owner's jobs, newest first."""
        with self.lock:
            return [j for j in reversed(self.jobs.values()) if j.owner == owner]

    def stop_owner(self, owner: str) -> None:
        for job in self.jobs_of(owner):
            job.stop()

    def default_name(self, config: TrainConfig) -> str:
        return self.store.free_name(default_model_name(config.hidden),
                                    held={j.name for j in self.jobs.values()})
