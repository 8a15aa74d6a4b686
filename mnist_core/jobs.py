"""Training runs in the background: start, snapshot, stop, train more; a registry of jobs by id that
lets at most a few runs train on each device at a time (the rest wait in a queue).

Each run trains in a child process, watched by a thread of the server. In a thread of the server
itself, training shared Python's lock (the GIL) with the server drawing pages: a page refreshing its
charts every second slowed training by half, and training slowed every page."""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import os
import secrets
import sys
import threading
import time
import types
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np
import torch

from .data import Mnist
from .device import resolve_device
from .inside import weight_images
from .store import check_name, ModelMeta, ModelStore, save_trained, StoreError
from .train import EpochRecord, Progress, TrainConfig, Trainer

QUEUED, RUNNING, DONE, STOPPED, FAILED = "queued", "running", "done", "stopped", "failed"
ACTIVE = (QUEUED, RUNNING)
WEIGHTS_EVERY = 0.5  # seconds between copies of the first layer's weights for a live view
# A finished job stays in the registry this long (a share link or a reload still finds it), then goes.
KEEP_SECONDS = float(os.environ.get("MNIST_APP_KEEP_JOBS_SECONDS", "900"))


@dataclass
class Snapshot:
    """A consistent copy of a job's state for a user interface to draw; plain values only."""

    id: str
    owner: str
    name: str
    status: str
    config: dict
    device: str
    epoch: int = 0  # the epoch in progress (or last finished), counting the model's whole history
    last_epoch: int = 0  # the epoch this run ends with
    batch: int = 0
    batches: int = 0
    seconds: float = 0.0  # this run so far
    eta_seconds: float | None = None
    queue_position: int = 0  # 1 = next to train on its device; 0 = not waiting
    history: list[dict] = field(default_factory=list)  # EpochRecord dicts
    batch_losses: list[float] = field(default_factory=list)  # every batch's loss, whole history
    batches_per_epoch: int = 0
    grad_at: list[float] = field(default_factory=list)  # where each gradient report was, in epochs
    grad_norms: list[list[float]] = field(default_factory=list)  # per report: each layer's weight gradient size
    weights: np.ndarray | None = None  # first layer (H0, 28, 28), at most WEIGHTS_EVERY seconds old
    error: str = ""
    saved: bool = False  # the model is in the store under `name`
    halted: bool = False  # a stop request has ended the training; the model is being scored and saved
    preparing: str = ""  # what the run is doing before its first batch, when that takes a while

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


class DeviceQueue:
    """First come, first served slots on one device."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self.running = 0
        self.waiting: list[str] = []
        self.cond = threading.Condition()

    def acquire(self, job_id: str, cancelled: Callable[[], bool]) -> bool:
        with self.cond:
            self.waiting.append(job_id)
            while self.waiting[0] != job_id or self.running >= self.slots:
                if cancelled():
                    self.waiting.remove(job_id)
                    self.cond.notify_all()
                    return False
                self.cond.wait(0.1)
            self.waiting.pop(0)
            self.running += 1
            self.cond.notify_all()
            return True

    def release(self) -> None:
        with self.cond:
            self.running -= 1
            self.cond.notify_all()

    def position(self, job_id: str) -> int:
        with self.cond:
            return self.waiting.index(job_id) + 1 if job_id in self.waiting else 0


def _train_in_child(config: TrainConfig, data: Mnist, store_root: str, builtin_dir: str | None, name: str,
                    owner_tag: str, model_id: str, continue_from: str | None, epochs: int, messages: Connection,
                    stop: multiprocessing.synchronize.Event, threads: int) -> None:
    """The child process of one run: train, report to the parent through `messages`, save the model.
    Messages are (kind, payload) tuples: preparing, started, progress, halted, epoch, saved, failed.
    A new model takes a free name; a model trained further replaces only the file that still holds
    `model_id` (the model this run loaded), never another model that has taken the name since."""
    try:
        torch.set_num_threads(threads)
        store = ModelStore(store_root, builtin_dir=None if builtin_dir is None else Path(builtin_dir))
        previous_seconds = 0.0
        if continue_from is None:
            trainer = Trainer(config, data)
        else:
            model, meta, optimizer_state = store.load(continue_from)
            if meta.id != model_id:
                raise StoreError(f"'{continue_from}' is no longer the model this run made; train a new one")
            history = [EpochRecord(**r) for r in meta.history]
            previous_seconds = meta.train_seconds
            trainer = Trainer(config, data, model=model, history=history, optimizer_state=optimizer_state)
        if trainer.drawn_count():  # about 3 ms a digit the first time (then cached): say so, not just "loading"
            messages.send(("preparing", f"Drawing {trainer.drawn_count():,} training digits on a canvas, as people "
                                        "draw them (about 3 ms each, the first time only) …"))
            trainer.drawn_digits()
        messages.send(("started", (trainer.batches_per_epoch(), weight_images(trainer.model))))
        last_weights = time.monotonic()

        def on_progress(progress: Progress) -> None:
            nonlocal last_weights
            now = time.monotonic()
            weights = None
            if now - last_weights >= WEIGHTS_EVERY:
                weights, last_weights = weight_images(trainer.model), now
            messages.send(("progress", (progress, weights)))

        halted = False

        def should_stop() -> bool:
            nonlocal halted
            if stop.is_set() and not halted:  # say so at once: scoring and saving take a while
                halted = True
                messages.send(("halted", None))
            return halted

        start = time.perf_counter()
        trainer.train(epochs, on_progress, should_stop, lambda record: messages.send(("epoch", asdict(record))))
        messages.send(("progress", (None, weight_images(trainer.model))))  # as trained, whenever it ended
        save_trained(store, trainer, name, previous_seconds + time.perf_counter() - start, stopped=stop.is_set(),
                     owner=owner_tag, model_id=model_id, replaces=None if continue_from is None else model_id)
        messages.send(("saved", None))
    except Exception as e:  # shown to the user on the page; the server goes on
        messages.send(("failed", f"{type(e).__name__}: {e}"))
    finally:
        messages.close()


# Imported once by the fork server, not by every run: torch and the engine, and torch._dynamo, which
# torch imports the first time a process builds an optimizer (1.6-2 s here, half of a run's start).
CHILD_PRELOAD = ["mnist_core.jobs", "torch._dynamo"]


def child_context() -> multiprocessing.context.BaseContext:
    """Where training processes come from: a fork server (started once, see `start_child_server`, with
    CHILD_PRELOAD imported; a run starts from it in under half a second) where the platform has one,
    else spawn. Never a plain fork of the server: it has threads."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(CHILD_PRELOAD)
        return context
    return multiprocessing.get_context("spawn")


def start_child_server() -> None:
    """Start the fork server now (it loads in the background, several seconds) rather than with the first
    run, whose first batches would wait for it. Calling it again costs nothing. Without a fork server
    (spawn), every run loads by itself: nothing to do."""
    if child_context().get_start_method() == "forkserver":
        multiprocessing.forkserver.ensure_running()


@contextmanager
def _without_main_script() -> Iterator[None]:
    """While a child process starts: a `__main__` with no file, so that the child does not run the
    parent's main script again. Under Streamlit that module is the page script being run (app.py): each
    training child ran the app's script outside any session, which logged "missing ScriptRunContext!"
    seven times a run. A script run that replaces `__main__` meanwhile keeps its own."""
    main = sys.modules.get("__main__")
    if main is None or getattr(main, "__file__", None) is None or getattr(main.__spec__, "name", None):
        yield  # a module run with -m, or no file: nothing of it is run again
        return
    stand_in = types.ModuleType("__main__")
    sys.modules["__main__"] = stand_in
    try:
        yield
    finally:
        if sys.modules.get("__main__") is stand_in:
            sys.modules["__main__"] = main


class TrainingJob:
    """One model trained in the background. A watcher thread starts a child process for each run
    and folds its reports into this object's state, which only this object's lock guards; neither
    ever calls into a user interface. The model is saved to the store after each run."""

    def __init__(self, job_id: str, owner: str, name: str, config: TrainConfig, store: ModelStore,
                 load_data: Callable[[], Mnist], queue: DeviceQueue, continue_from: str | None = None,
                 threads: int = 1, model_id: str = "") -> None:
        # owner: the browser's key, in this server's memory only; files get its OwnerTags hash.
        self.id, self.owner, self.name, self.config = job_id, owner, name, config
        self.store, self.load_data, self.queue = store, load_data, queue
        self.continue_from = continue_from
        self.model_id = model_id or uuid.uuid4().hex  # the model this job makes (or trains further)
        self.ended_at: float | None = None  # time.monotonic() when its last run ended; None while one is on
        self.threads = threads  # torch threads of the child process
        self.device = str(resolve_device(config.device))
        self.lock = threading.Lock()
        self.context = context = child_context()
        self.stop_event = context.Event()  # set here, read by the child between batches
        self.thread: threading.Thread | None = None
        self._status, self._error, self._saved = QUEUED, "", False
        self._progress: Progress | None = None
        self._history: list[dict] = []
        self._batch_losses: list[float] = []
        self._grad_at: list[float] = []
        self._grad_norms: list[list[float]] = []
        self._weights: np.ndarray | None = None
        self._batches_per_epoch = 0
        self._preparing = ""
        self._run_epochs = config.epochs
        self._runs = 0  # runs finished and saved: a later run continues the saved model
        self._ended = threading.Event()  # the current run's model is saved (or the run failed)
        self._halted = threading.Event()  # the current run trains no more (set too whenever it ends)

    # --- control ---------------------------------------------------------------------------
    def start(self, epochs: int | None = None) -> None:
        """Start a run of `epochs` (default: the config's); for a finished job, train it further: the
        model it made, under whatever name it has now, or a StoreError if that model is gone."""
        thread = self.thread
        if thread is not None and thread.is_alive():
            thread.join(5)  # a run that has saved its model may still be closing its process
        if self._runs:
            self.follow_model()
            self.store.check_writable()
        with self.lock:
            if self.thread is not None and self.thread.is_alive():
                raise RuntimeError("this job is still running")
            self.ended_at = None
            self._ended.clear()
            self._halted.clear()
            self._run_epochs = epochs or self.config.epochs
            self._status, self._error, self._progress = QUEUED, "", None
            self.stop_event.clear()
            self.thread = threading.Thread(target=self._run, name=f"train-{self.id}", daemon=True)
            self.thread.start()

    def follow_model(self) -> str:
        """The name the model this job made has now (renamed: the new one); StoreError if no stored
        model is that model any more (deleted, or replaced by another of the same name)."""
        name = self.store.find_id(self.model_id)
        if name is None:
            raise StoreError(f"'{self.name}' is no longer the model this run made (it was deleted or replaced); "
                             "Train more would change someone else's model. Train a new one instead.")
        with self.lock:
            self.name = name
        return name

    def stop(self) -> None:
        """Ask the job to stop; it ends within one batch (or leaves the queue at once)."""
        self.stop_event.set()

    def wait_halted(self, timeout: float | None = None) -> bool:
        """Block until the current run has stopped training (saving may still be going on)."""
        return self.thread is None or self._halted.wait(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the current run ends: its model saved (or the run failed); True if it did."""
        return self.thread is None or self._ended.wait(timeout)

    # --- reading ---------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        with self.lock:
            p = self._progress
            snap = Snapshot(
                id=self.id, owner=self.owner, name=self.name, status=self._status,
                config=self.config.to_dict(), device=self.device, history=list(self._history),
                batch_losses=list(self._batch_losses), error=self._error, saved=self._saved,
                grad_at=list(self._grad_at), grad_norms=list(self._grad_norms), weights=self._weights,
                halted=self._halted.is_set() and not self._ended.is_set(),
                batches_per_epoch=self._batches_per_epoch, preparing=self._preparing,
            )
        if snap.status == QUEUED:
            snap.queue_position = self.queue.position(self.id)
        if p is not None:
            snap.epoch, snap.last_epoch, snap.batch, snap.batches, snap.seconds = (
                p.epoch, p.epochs, p.batch, p.batches, p.seconds)
            first = p.epochs - self._run_epochs  # epochs done before this run
            done = (p.epoch - 1 - first) * p.batches + p.batch
            total = self._run_epochs * p.batches
            if snap.status == RUNNING and done:
                snap.eta_seconds = p.seconds / done * (total - done)
        return snap

    @property
    def status(self) -> str:
        with self.lock:
            return self._status

    # --- the watcher thread ------------------------------------------------------------------
    def _set(self, **state) -> None:
        with self.lock:
            for key, value in state.items():
                setattr(self, f"_{key}", value)

    def _end(self) -> None:
        """The run is over (saved, failed or left the queue): it trains no more either."""
        self.ended_at = time.monotonic()
        self._halted.set()
        self._ended.set()

    def _receive(self, kind: str, payload) -> None:
        with self.lock:
            if kind == "preparing":
                self._preparing = payload
            elif kind == "started":
                self._batches_per_epoch, self._weights = payload
                self._preparing = ""
            elif kind == "progress":
                progress, weights = payload
                if progress is not None:
                    self._progress = progress
                    self._batch_losses.extend(progress.batch_losses)
                    self._grad_at.append(progress.epoch - 1 + progress.batch / progress.batches)
                    self._grad_norms.append(progress.grad_norms)
                if weights is not None:
                    self._weights = weights  # a fresh array each time, never changed afterwards
            elif kind == "halted":
                self._halted.set()
            elif kind == "epoch":
                self._history.append(payload)
            elif kind == "saved":  # done: say so now, while the child process is still closing
                self._saved = True
                self._runs += 1
                self._status = STOPPED if self.stop_event.is_set() else DONE
                self._end()
            elif kind == "failed":
                self._error = payload

    def _run(self) -> None:
        if not self.queue.acquire(self.id, self.stop_event.is_set):
            self._set(status=STOPPED)
            self._end()
            return
        child = None
        try:
            self._set(status=RUNNING)
            continue_from = self.follow_model() if self._runs else self.continue_from
            if continue_from is not None:
                # The stored model's own settings (its layers above all), trained on the device asked for now.
                meta = self.store.meta(continue_from)
                self.config = replace(TrainConfig.from_dict(meta.config), device=self.config.device)
                self._set(history=list(meta.history))
            receiving, sending = self.context.Pipe(duplex=False)
            child = self.context.Process(
                target=_train_in_child, name=f"train-{self.id}", daemon=True,
                args=(self.config, self.load_data(), str(self.store.root),
                      None if self.store.builtin_dir is None else str(self.store.builtin_dir), self.name,
                      self.store.owners.tag(self.owner), self.model_id, continue_from, self._run_epochs, sending,
                      self.stop_event, self.threads))
            with _without_main_script():
                child.start()
            sending.close()  # the child holds the sending end now: recv() ends when the child does
            while True:
                try:
                    kind, payload = receiving.recv()
                except EOFError:
                    break
                self._receive(kind, payload)
            child.join()
            with self.lock:  # a saved run is DONE or STOPPED already (set on its "saved" report)
                if self._error:
                    self._status = FAILED
                elif not self._saved or child.exitcode != 0:
                    self._status, self._error = FAILED, f"the training process ended unexpectedly (exit code " \
                                                        f"{child.exitcode})"
        except Exception as e:  # shown to the user on the page; the server goes on
            self._set(status=FAILED, error=f"{type(e).__name__}: {e}")
        finally:
            if child is not None and child.is_alive():
                child.kill()
            self.queue.release()
            self._end()


class JobRegistry:
    """Every job of a process, by id; one per server, shared by all its users. The names of active
    jobs are reserved: no other job, rename or save may take them while they train."""

    def __init__(self, store: ModelStore, load_data: Callable[[], Mnist], slots_per_device: int = 1,
                 keep_seconds: float = KEEP_SECONDS) -> None:
        self.store, self.load_data, self.slots = store, load_data, slots_per_device
        self.keep_seconds = keep_seconds
        self.jobs: dict[str, TrainingJob] = {}
        self.queues: dict[str, DeviceQueue] = {}
        self.lock = threading.Lock()  # held from a name's check to its reservation (a job, a rename)

    def submit(self, owner: str, config: TrainConfig, name: str | None = None,
               continue_from: str | None = None, epochs: int | None = None) -> TrainingJob:
        """Queue a new job; `continue_from` trains a stored model of this owner further (saving it
        under its name). Of two submits of one new name at once, exactly one gets a job."""
        device = str(resolve_device(config.device))
        self.store.check_writable()  # a read-only or full store is said now, not after the run
        with self.lock:
            self._forget_finished()
            model_id = ""
            if continue_from is not None:
                name = continue_from
                meta = self.store.meta(continue_from)  # exists and is readable, or a StoreError now
                if meta.builtin:
                    raise StoreError(f"'{continue_from}' ships with the app; train a copy under a new name")
                self._check_owner(meta, owner, operator=False)
                if self._reserved(name):
                    raise StoreError(f"'{name}' is being trained right now; wait until its run ends")
                model_id = meta.id
            else:
                name = check_name(name) if name else self.default_name(config)
                if self.store.exists(name) or self._reserved(name):
                    raise StoreError(f"a model named '{name}' exists already; choose another name")
            queue = self.queues.setdefault(device, DeviceQueue(self.slots))
            job_id = secrets.token_urlsafe(6)
            job = TrainingJob(job_id, owner, name, config, self.store, self.load_data, queue, continue_from,
                              model_id=model_id)
            self.jobs[job_id] = job
        job.start(epochs)
        return job

    def _reserved(self, name: str) -> bool:
        return any(j.name == name and j.status in ACTIVE for j in self.jobs.values())

    def _forget_finished(self) -> None:
        now = time.monotonic()
        for job_id, job in list(self.jobs.items()):
            if job.ended_at is not None and now - job.ended_at > self.keep_seconds and job.status not in ACTIVE:
                del self.jobs[job_id]

    def _check_owner(self, meta: ModelMeta, owner: str, operator: bool) -> None:
        if meta.builtin:
            raise StoreError(f"'{meta.name}' ships with the app and cannot be changed or deleted")
        if not operator and not self.store.owners.owns(owner, meta.owner):
            raise StoreError(f"'{meta.name}' is not yours: only the browser that trained it may change it")

    def may_change(self, meta: ModelMeta, owner: str, operator: bool = False) -> bool:
        """Whether this owner (or the operator) may rename or delete this model."""
        return not meta.builtin and (operator or self.store.owners.owns(owner, meta.owner))

    def rename_model(self, name: str, new_name: str, owner: str, operator: bool = False) -> None:
        """Rename a model of this owner; refused (StoreError) for another's, for a name held by an active
        run (either name), a taken or built-in name. Jobs that made the model follow it."""
        check_name(new_name)
        with self.lock:
            meta = self.store.meta(name)
            self._check_owner(meta, owner, operator)
            for held in (name, new_name):
                if self._reserved(held):
                    raise StoreError(f"'{held}' is held by a run that is training now; try again when it ends")
            self.store.rename(name, new_name)
            for job in self.jobs.values():
                if meta.id and job.model_id == meta.id:
                    with job.lock:
                        job.name = new_name

    def delete_model(self, name: str, owner: str, operator: bool = False) -> None:
        """Delete a model of this owner; refused (StoreError) for another's or one a run is training."""
        with self.lock:
            meta = self.store.meta(name)
            self._check_owner(meta, owner, operator)
            if self._reserved(name):
                raise StoreError(f"'{name}' is being trained right now; stop its run first")
            self.store.delete(name)

    def get(self, job_id: str) -> TrainingJob | None:
        with self.lock:
            return self.jobs.get(job_id)

    def jobs_of(self, owner: str) -> list[TrainingJob]:
        """This owner's jobs, newest first."""
        with self.lock:
            return [j for j in reversed(self.jobs.values()) if j.owner == owner]

    def stop_owner(self, owner: str) -> None:
        for job in self.jobs_of(owner):
            job.stop()

    def default_name(self, config: TrainConfig) -> str:
        stamp = datetime.now().strftime("%m%d-%H%M%S")
        base = f"mlp-{'-'.join(map(str, config.hidden))}-{stamp}"
        name, n = base, 1
        while self.store.exists(name) or any(j.name == name for j in self.jobs.values()):
            n += 1
            name = f"{base}-{n}"
        return name
