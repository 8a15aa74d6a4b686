"""Training runs in the background (start, snapshot, stop, train more), a queue per device, on one of two
backends: child processes of this server or a Ray cluster. Runs never train in a server thread (they would
share the GIL with every page), and only the server writes the store."""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import os
import pickle
import secrets
import sys
import threading
import time
import types
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields, replace
from multiprocessing.connection import Connection

import numpy as np

from .data import Mnist
from .device import resolve_device
from .runs import (  # noqa: F401 (the statuses and Snapshot are the jobs interface's too)
    ACTIVE,
    DONE,
    EpochDone,
    FAILED,
    Failed,
    Finished,
    Halted,
    Message,
    Preparing,
    QUEUED,
    Report,
    RUNNING,
    RunResult,
    RunSpec,
    save_run,
    Snapshot,
    Started,
    StartState,
    STOPPED,
    train_run,
)
from .store import check_name, default_model_name, ModelMeta, ModelStore, StoreError
from .train import EpochRecord, ExtraExamples, Progress, TrainConfig

# A finished job stays in the registry this long (a share link or a reload still finds it), then goes.
KEEP_SECONDS = float(os.environ.get("MNIST_APP_KEEP_JOBS_SECONDS", "900"))


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


class RunError(RuntimeError):
    """A run failed where it trained (its process or worker died, the training raised); the message says so."""


def _shared(data: Mnist) -> Mnist | tuple:
    """The data set's arrays as tensors in shared memory, made once for the latest data object: a child maps
    those pages (their file descriptors travel with its arguments) instead of unpickling a copy of its own.
    Arrays torch cannot hold travel as they are."""
    import torch

    global _shared_data
    if _shared_data is None or _shared_data[0] is not data:
        arrays = [getattr(data, f.name) for f in fields(data)]
        if not all(isinstance(getattr(torch, a.dtype.name, None), torch.dtype) for a in arrays):
            return data
        tensors = tuple(torch.empty(a.shape, dtype=getattr(torch, a.dtype.name)).share_memory_() for a in arrays)
        for tensor, array in zip(tensors, arrays, strict=True):
            tensor.numpy()[...] = array
        _shared_data = (data, tensors)
    return _shared_data[1]


_shared_data: tuple[Mnist, tuple] | None = None  # (the data set, its arrays in shared memory)


def _train_in_child(spec: RunSpec, data: Mnist | tuple, messages: Connection,
                    stop: multiprocessing.synchronize.Event) -> None:
    """A child process of the server: one run, its messages and then its result through `messages`."""
    try:
        if isinstance(data, tuple):  # shared tensors (_shared): numpy views of the same pages
            data = Mnist(*(tensor.numpy() for tensor in data))
        result = train_run(spec, data, messages.send, stop.is_set)
        # Pickled by value: `send` would pass the tensors as shared memory that ends with this process.
        messages.send_bytes(pickle.dumps(Finished(result)))
    except Exception as e:  # shown to the user on the page; the server goes on
        messages.send(Failed(f"{type(e).__name__}: {e}"))
    finally:
        messages.close()


# Imported once by the fork server, not by every run: the engine, and torch._dynamo, which torch imports
# the first time a process builds an optimizer (a large part of a run's start).
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


class LocalRunner:
    """Runs in child processes of this server, from a fork server (spawn where there is none)."""

    def __init__(self) -> None:
        self.context = child_context()

    def new_stop(self) -> multiprocessing.synchronize.Event:
        return self.context.Event()  # set by the server, read by the child between batches

    def queue_of(self, config: TrainConfig) -> str:
        return str(resolve_device(config.device))

    def slots(self, default: int) -> int:
        return default

    def share(self, snapshots: dict[str, Snapshot], gone: list[str]) -> None:
        """Only this server shows its runs: nothing to share."""

    def shared_job(self, job_id: str) -> SharedJob | None:
        return None

    def run(self, spec: RunSpec, data: Mnist, send: Callable[[Message], None], stop) -> RunResult:
        receiving, sending = self.context.Pipe(duplex=False)
        child = self.context.Process(target=_train_in_child, args=(spec, _shared(data), sending, stop), daemon=True)
        with _without_main_script():
            child.start()
        sending.close()  # the child holds the sending end now: recv() ends when the child does
        try:
            while True:
                try:
                    message = receiving.recv()
                except EOFError:
                    break
                if isinstance(message, Finished):
                    return message.result
                if isinstance(message, Failed):
                    raise RunError(message.error)
                send(message)
            child.join(5)
            raise RunError(f"the training process ended unexpectedly (exit code {child.exitcode})")
        finally:
            child.join(5)
            if child.is_alive():
                child.kill()


class RayRunner:
    """Runs on a Ray cluster, one actor each (`ray_runs`); Ray itself is imported only here."""

    def __init__(self, address: str) -> None:
        from . import ray_runs

        self.ray_runs = ray_runs
        ray_runs.connect(address)
        self.board = ray_runs.job_board()

    def new_stop(self) -> threading.Event:
        return threading.Event()

    def queue_of(self, config: TrainConfig) -> str:
        return "ray"  # the cluster picks the device; one queue in front of it

    def slots(self, default: int) -> int:
        return self.ray_runs.run_slots()

    def share(self, snapshots: dict[str, Snapshot], gone: list[str]) -> None:
        """Publish this replica's runs on the cluster's board (owner keys left out)."""
        self.ray_runs.publish(self.board, {i: replace(s, owner="") for i, s in snapshots.items()}, gone)

    def shared_job(self, job_id: str) -> SharedJob | None:
        """A run another replica started, if the board has it."""
        return SharedJob(job_id, self) if self.ray_runs.shared_snapshot(self.board, job_id) is not None else None

    def run(self, spec: RunSpec, data: Mnist, send: Callable[[Message], None], stop) -> RunResult:
        try:
            return self.ray_runs.run_on_ray(spec, data, send, stop.is_set)
        except self.ray_runs.RayRunError as e:
            raise RunError(str(e)) from None


class SharedJob:
    """A run of another app replica, as the cluster's board shows it: read-only (no owner here)."""

    owner = ""

    def __init__(self, job_id: str, runner: RayRunner) -> None:
        self.id, self.runner = job_id, runner
        self._last: Snapshot | None = None

    @property
    def name(self) -> str:
        return self.snapshot().name

    def snapshot(self) -> Snapshot:
        snap = self.runner.ray_runs.shared_snapshot(self.runner.board, self.id)
        self._last = snap or self._last  # gone from the board: the last one seen
        return self._last


Runner = LocalRunner | RayRunner
SHARE_EVERY = 0.5  # seconds between publications of a replica's runs on a shared board


def runner_for(address: str | None) -> Runner:
    """The Ray cluster at `address` ('local' starts one here), else child processes of this server."""
    return RayRunner(address) if address else LocalRunner()


class TrainingJob:
    """One model trained in the background. A watcher thread starts a child process for each run
    and folds its reports into this object's state, which only this object's lock guards; neither
    ever calls into a user interface. The model is saved to the store after each run."""

    def __init__(self, job_id: str, owner: str, name: str, config: TrainConfig, store: ModelStore,
                 load_data: Callable[[], Mnist], queue: DeviceQueue, continue_from: str | None = None,
                 threads: int = 0, model_id: str = "", runner: Runner | None = None,
                 base: str | None = None, extra: ExtraExamples | None = None) -> None:
        # owner: the browser's key, in this server's memory only; files get its OwnerTags hash.
        self.id, self.owner, self.name, self.config = job_id, owner, name, config
        self.store, self.load_data, self.queue = store, load_data, queue
        self.continue_from = continue_from
        self.base, self.extra = base, extra  # a stored model copied as this job's start; examples besides MNIST
        self.model_id = model_id or uuid.uuid4().hex  # the model this job makes (or trains further)
        self.ended_at: float | None = None  # time.monotonic() when its last run ended; None while one is on
        self.threads = threads  # torch threads of a run; 0: the CPUs others leave free, followed
        self.runner = runner or LocalRunner()
        self.device = self.runner.queue_of(config)  # then, once started, the device it trains on
        self.lock = threading.Lock()
        self.stop_event = self.runner.new_stop()
        self.thread: threading.Thread | None = None
        self._status, self._error, self._saved = QUEUED, "", False
        self._progress: Progress | None = None
        self._history: list[EpochRecord] = []
        self._batch_losses: list[float] = []
        self._grad_at: list[float] = []
        self._grad_norms: list[list[float]] = []
        self._weights: np.ndarray | None = None
        self._batches_per_epoch = 0
        self._preparing = ""
        self._host = ""
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
                batches_per_epoch=self._batches_per_epoch, preparing=self._preparing, host=self._host,
                model_id=self.model_id,
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

    def _receive(self, message: Message) -> None:
        with self.lock:
            match message:
                case Preparing(text=text):
                    self._preparing = text
                case Started():
                    self._batches_per_epoch, self._weights = message.batches_per_epoch, message.weights
                    self.device, self._host, self._preparing = message.device, message.host, ""
                case Report(progress=progress, weights=weights):
                    if progress is not None:
                        self._progress = progress
                        self._batch_losses.extend(progress.batch_losses)
                        self._grad_at.append(progress.epoch - 1 + progress.batch / progress.batches)
                        self._grad_norms.append(progress.grad_norms)
                    if weights is not None:
                        self._weights = weights  # a fresh array each time, never changed afterwards
                case Halted():
                    self._halted.set()
                case EpochDone(record=record):
                    self._history.append(record)

    def _run(self) -> None:
        if not self.queue.acquire(self.id, self.stop_event.is_set):
            self._set(status=STOPPED)
            self._end()
            return
        try:
            self._set(status=RUNNING)
            start = None
            if self._runs or self.continue_from is not None:
                # The model this job made or was given, under whatever name it has now, with its own settings
                # (its layers above all), trained on the device asked for now.
                start, meta = StartState.from_store(self.store, self.follow_model())
                if meta.id != self.model_id:
                    raise StoreError(f"'{meta.name}' is no longer the model this run made; train a new one")
                self.config = replace(TrainConfig.from_dict(meta.config), device=self.config.device)
                self._set(history=list(start.history))
            elif self.base is not None:  # a copy of another model, trained on as a new one
                start, meta = StartState.from_store(self.store, self.base)
                start.optimizer = {}  # a fresh optimizer: this run's learning rate, not the end of the base's schedule
                self._set(history=list(start.history))
            continuing = bool(self._runs or self.continue_from is not None)
            spec = RunSpec(self.config, self._run_epochs, self.threads, start, extra=self.extra)
            result = self.runner.run(spec, self.load_data(), self._receive, self.stop_event)
            # A new model takes a free name; a model trained further replaces only the file that still
            # holds its id, never another model that has taken the name since.
            save_run(self.store, result, self.name, self.store.owners.tag(self.owner), self.model_id,
                     replaces=self.model_id if continuing else None)
            with self.lock:
                self._saved = True
                self._runs += 1
                self._status = STOPPED if self.stop_event.is_set() else DONE
        except Exception as e:  # shown to the user on the page; the server goes on
            error = str(e) if isinstance(e, (RunError, StoreError, OSError)) else f"{type(e).__name__}: {e}"
            self._set(status=FAILED, error=error)
        finally:
            self.queue.release()
            self._end()

class JobRegistry:
    """Every job of a process, by id; one per server, shared by all its users. The names of active
    jobs are reserved: no other job, rename or save may take them while they train."""

    def __init__(self, store: ModelStore, load_data: Callable[[], Mnist], slots_per_device: int = 1,
                 keep_seconds: float = KEEP_SECONDS, runner: Runner | None = None) -> None:
        self.store, self.load_data = store, load_data
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
               extra: ExtraExamples | None = None) -> TrainingJob:
        """Queue a new job; `continue_from` trains a stored model of this owner further (saving it
        under its name); `base` starts a new model as a copy of any stored one; `extra` mixes more
        examples into its epochs. Of two submits of one new name at once, exactly one gets a job."""
        device = self.runner.queue_of(config)
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
                if base is not None:
                    self.store.meta(base)  # exists and is readable, or a StoreError now
                name = check_name(name) if name else self.default_name(config)
                if self._reserved(name):
                    raise StoreError(f"a run named '{name}' exists already (waiting or training now, so its "
                                     "model is not in the table yet); choose another name")
                if self.store.exists(name):
                    raise StoreError(f"a model named '{name}' exists already; choose another name")
            queue = self.queues.setdefault(device, DeviceQueue(self.slots))
            job_id = secrets.token_urlsafe(6)
            job = TrainingJob(job_id, owner, name, config, self.store, self.load_data, queue, continue_from,
                              model_id=model_id, runner=self.runner, base=base, extra=extra)
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

    def _check_owner(self, meta: ModelMeta, owner: str, operator: bool) -> None:
        if meta.builtin:
            raise StoreError(f"'{meta.name}' ships with the app and cannot be changed or deleted")
        if not self.may_change(meta, owner, operator):
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
