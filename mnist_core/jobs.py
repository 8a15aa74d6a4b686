"""Training runs in background threads: start, snapshot, stop, train more; a registry of jobs by id
that lets at most a few runs train on each device at a time (the rest wait in a queue)."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime

import numpy as np

from .data import Mnist
from .device import resolve_device
from .inside import weight_images
from .store import check_name, ModelStore, save_trained, StoreError
from .train import EpochRecord, Progress, TrainConfig, Trainer

QUEUED, RUNNING, DONE, STOPPED, FAILED = "queued", "running", "done", "stopped", "failed"
ACTIVE = (QUEUED, RUNNING)
WEIGHTS_EVERY = 0.5  # seconds between copies of the first layer's weights for a live view


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


class TrainingJob:
    """One model trained in a background thread. Only this object's lock guards its state; the
    thread never calls into any user interface. The model is saved to the store after each run."""

    def __init__(self, job_id: str, owner: str, name: str, config: TrainConfig, store: ModelStore,
                 load_data: Callable[[], Mnist], queue: DeviceQueue, continue_from: str | None = None) -> None:
        self.id, self.owner, self.name, self.config = job_id, owner, name, config
        self.store, self.load_data, self.queue = store, load_data, queue
        self.continue_from = continue_from
        self.device = str(resolve_device(config.device))
        self.trainer: Trainer | None = None
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None
        self._status, self._error, self._saved = QUEUED, "", False
        self._progress: Progress | None = None
        self._history: list[dict] = []
        self._batch_losses: list[float] = []
        self._grad_at: list[float] = []
        self._grad_norms: list[list[float]] = []
        self._weights: np.ndarray | None = None
        self._weights_time = 0.0
        self._run_epochs = config.epochs
        self._previous_seconds = 0.0  # training time of the model before this job's runs

    # --- control ---------------------------------------------------------------------------
    def start(self, epochs: int | None = None) -> None:
        """Start a run of `epochs` (default: the config's); for a finished job, train it further."""
        with self.lock:
            if self.thread is not None and self.thread.is_alive():
                raise RuntimeError("this job is still running")
            self._run_epochs = epochs or self.config.epochs
            self._status, self._error, self._progress = QUEUED, "", None
            self.stop_event.clear()
            self.thread = threading.Thread(target=self._run, name=f"train-{self.id}", daemon=True)
            self.thread.start()

    def stop(self) -> None:
        """Ask the job to stop; it ends within one batch (or leaves the queue at once)."""
        self.stop_event.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the current run ends; True if it did."""
        thread = self.thread
        if thread is not None:
            thread.join(timeout)
        return thread is None or not thread.is_alive()

    # --- reading ---------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        with self.lock:
            p = self._progress
            snap = Snapshot(
                id=self.id, owner=self.owner, name=self.name, status=self._status,
                config=self.config.to_dict(), device=self.device, history=list(self._history),
                batch_losses=list(self._batch_losses), error=self._error, saved=self._saved,
                grad_at=list(self._grad_at), grad_norms=list(self._grad_norms), weights=self._weights,
                batches_per_epoch=self.trainer.batches_per_epoch() if self.trainer else 0,
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

    # --- the thread --------------------------------------------------------------------------
    def _on_progress(self, progress: Progress) -> None:
        now = time.monotonic()
        # A fresh array each time (never changed afterwards), copied here in the training thread.
        weights = weight_images(self.trainer.model) if now - self._weights_time >= WEIGHTS_EVERY else None
        with self.lock:
            self._progress = progress
            self._batch_losses.extend(progress.batch_losses)
            self._grad_at.append(progress.epoch - 1 + progress.batch / progress.batches)
            self._grad_norms.append(progress.grad_norms)
            if weights is not None:
                self._weights, self._weights_time = weights, now

    def _set(self, **state) -> None:
        with self.lock:
            for key, value in state.items():
                setattr(self, f"_{key}", value)

    def _run(self) -> None:
        if not self.queue.acquire(self.id, self.stop_event.is_set):
            self._set(status=STOPPED)
            return
        try:
            self._set(status=RUNNING)
            if self.trainer is None:
                self.trainer = self._make_trainer()
                self._set(weights=weight_images(self.trainer.model))
            start = time.perf_counter()
            self.trainer.train(self._run_epochs, self._on_progress, self.stop_event.is_set, self._on_epoch)
            self._set(weights=weight_images(self.trainer.model))  # as trained, whenever it ended
            self._save(time.perf_counter() - start)
            self._set(status=STOPPED if self.stop_event.is_set() else DONE, saved=True)
        except Exception as e:  # shown to the user on the page; the server goes on
            self._set(status=FAILED, error=f"{type(e).__name__}: {e}")
        finally:
            self.queue.release()

    def _make_trainer(self) -> Trainer:
        data = self.load_data()
        if self.continue_from is None:
            return Trainer(self.config, data)
        model, meta, optimizer_state = self.store.load(self.continue_from)
        # The stored model's own settings (its layers above all), trained on the device asked for now.
        self.config = replace(TrainConfig.from_dict(meta.config), device=self.config.device)
        history = [EpochRecord(**r) for r in meta.history]
        self._previous_seconds = meta.train_seconds
        with self.lock:
            self._history = [asdict(r) for r in history]
        return Trainer(self.config, data, model=model, history=history, optimizer_state=optimizer_state)

    def _on_epoch(self, record: EpochRecord) -> None:
        with self.lock:
            self._history.append(asdict(record))

    def _save(self, seconds: float) -> None:
        self._previous_seconds += seconds
        save_trained(self.store, self.trainer, self.name, self._previous_seconds,
                     stopped=self.stop_event.is_set(), owner=self.owner, overwrite=True)


class JobRegistry:
    """Every job of a process, by id; one per server, shared by all its users."""

    def __init__(self, store: ModelStore, load_data: Callable[[], Mnist], slots_per_device: int = 1) -> None:
        self.store, self.load_data, self.slots = store, load_data, slots_per_device
        self.jobs: dict[str, TrainingJob] = {}
        self.queues: dict[str, DeviceQueue] = {}
        self.lock = threading.Lock()

    def submit(self, owner: str, config: TrainConfig, name: str | None = None,
               continue_from: str | None = None, epochs: int | None = None) -> TrainingJob:
        """Queue a new job; `continue_from` trains a stored model further (saving it under its name)."""
        device = str(resolve_device(config.device))
        if continue_from is not None:
            name = continue_from
            self.store.meta(continue_from)  # exists and is readable, or a StoreError now
            if self.store.is_builtin(continue_from):
                raise StoreError(f"'{continue_from}' ships with the app; train a copy under a new name")
        else:
            name = check_name(name) if name else self.default_name(config)
            if self.store.exists(name) or any(j.name == name and j.status in ACTIVE for j in self.jobs.values()):
                raise StoreError(f"a model named '{name}' exists already; choose another name")
        with self.lock:
            queue = self.queues.setdefault(device, DeviceQueue(self.slots))
            job_id = secrets.token_urlsafe(6)
            job = TrainingJob(job_id, owner, name, config, self.store, self.load_data, queue, continue_from)
            self.jobs[job_id] = job
        job.start(epochs)
        return job

    def get(self, job_id: str) -> TrainingJob | None:
        with self.lock:
            return self.jobs.get(job_id)

    def jobs_of(self, owner: str) -> list[TrainingJob]:
        with self.lock:
            return [j for j in self.jobs.values() if j.owner == owner]

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

