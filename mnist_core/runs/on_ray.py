"""Training runs on a Ray cluster: one actor per run (a GPU where the cluster has one), its messages polled,
its weights back through Ray's object store, so workers need no shared disk. Imported only when asked for."""

from __future__ import annotations

import os
import queue
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError

from mnist_core.net.controls import Control
from mnist_core.net.data import Mnist
from mnist_core.runs.body import train_run
from mnist_core.runs.spec import ControlLine, Message, RunResult, RunSpec

POLL_SECONDS = 0.2  # between fetches of a run's messages: a stop reaches the worker within about this
# The mnist_core package, shipped to the workers with the job (`py_modules`).
ENGINE = Path(__file__).resolve().parent.parent


class RayRunError(RuntimeError):
    """A run on the cluster failed: its worker died, or the training raised; the message says which."""


CONNECT_SECONDS = 10.0  # for a cluster's address to answer at all, before Ray's own (minutes of) retries


def _check_answers(address: str) -> None:
    """RayRunError (one line) unless something answers at HOST:PORT (`ray://HOST:PORT` too): Ray itself
    retries an address nobody answers for minutes."""
    plain = address.removeprefix("ray://")
    host, _, port = plain.rpartition(":")
    if not host or not port.isdigit():
        raise RayRunError(f"a Ray address is auto, local, HOST:PORT or ray://HOST:PORT; got '{address}'")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_SECONDS).close()
    except OSError as e:
        raise RayRunError(f"nothing answers at the Ray address {address} ({e.strerror or e}); is the "
                          "cluster started (`ray start --head`)?") from None


def connect(address: str) -> None:
    """Join the Ray cluster at `address` ('auto', 'HOST:PORT', 'ray://HOST:PORT'), or start one on this
    machine for this process with 'local'. The engine's code travels to the workers with the job.
    RayRunError (one line) when there is no cluster there."""
    if ray.is_initialized():
        return
    if address not in ("auto", "local"):
        _check_answers(address)
    runtime_env = {"py_modules": [str(ENGINE)], "excludes": ["__pycache__", "*.pyc"]}
    if address == "local":
        # address="local": a new instance even where `ray start` left one this process could join.
        ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, runtime_env=runtime_env,
                 log_to_driver=False)
    else:
        try:
            ray.init(address=address, runtime_env=runtime_env, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as e:  # no cluster there ('auto' finds none)
            raise RayRunError(f"cannot join the Ray cluster at {address}: {str(e).splitlines()[0]}") from None


def cluster_gpus() -> int:
    return int(ray.cluster_resources().get("GPU", 0))


def run_slots() -> int:
    """How many runs the cluster trains at once: one per GPU, else one per two CPUs."""
    gpus = cluster_gpus()
    return gpus if gpus else max(1, int(ray.cluster_resources().get("CPU", 1)) // 2)


@ray.remote(max_concurrency=4)  # train, take, stop and control run in threads of their own
class RunActor:
    """One run at a time on a worker: trains in `train` while `take` hands over its messages, `control` passes it
    a live control and `stop` asks it to end. A worker trains the next run of its process too (`_Spare`); each
    run has its own token, so a stop or control sent to an ended run never reaches the next one."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.lock = threading.Lock()
        self.token = ""
        self.stop_requested = threading.Event()
        self.controls: queue.SimpleQueue[Control] = queue.SimpleQueue()
        # A threaded actor may run a stop or a control before the `train` sent ahead of it: kept by token until
        # that run begins; what was kept for any other token is stale then, and dropped.
        self.early_stops: set[str] = set()
        self.early_controls: dict[str, list[Control]] = {}

    def train(self, spec: RunSpec, data: Mnist, token: str = "") -> RunResult:
        with self.lock:  # the run before left nothing behind: its messages were taken before it was kept
            self.token, self.messages = token, []
            self.stop_requested.clear()
            while not self.controls.empty():
                self.controls.get_nowait()
            if token in self.early_stops:
                self.stop_requested.set()
            for control in self.early_controls.get(token, []):
                self.controls.put(control)
            self.early_stops.clear()
            self.early_controls.clear()
        return train_run(spec, data, self._send, self.stop_requested.is_set, self._receive)

    def _receive(self, wait: float) -> Control | None:
        try:
            return self.controls.get(timeout=wait) if wait > 0 else self.controls.get_nowait()
        except queue.Empty:
            return None

    def control(self, control: Control, token: str = "") -> None:
        with self.lock:
            if token == self.token:
                self.controls.put(control)
            else:
                self.early_controls.setdefault(token, []).append(control)

    def _send(self, message: Message) -> None:
        with self.lock:
            self.messages.append(message)

    def take(self) -> list[Message]:
        with self.lock:
            taken, self.messages = self.messages, []
        return taken

    def stop(self, token: str = "") -> None:
        with self.lock:
            if token == self.token:
                self.stop_requested.set()
            else:
                self.early_stops.add(token)


SPARE_SECONDS = 120.0  # a finished run's worker waits this long for this process's next run (a new one: 5-8 s)


class _Spare:
    """This process's one idle RunActor, kept after a run that ended well, for CPU runs only: a new worker
    imports torch and the engine (8 s of a run of 0.1 s on 2 cores, measured), where a teacher's "train more"
    or the next student's run usually comes within a minute. A GPU worker is never kept (idle, it would hold a
    GPU another replica's run waits for), nor one that holds the cluster's last free CPU."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.actor: ray.actor.ActorHandle | None = None
        self.job = ""  # the Ray job (this process's connection) the actor belongs to
        self.timer: threading.Timer | None = None

    def take(self) -> ray.actor.ActorHandle | None:
        """The kept worker, if it still answers on this connection; None otherwise."""
        with self.lock:
            actor, job, self.actor = self.actor, self.job, None
            if self.timer is not None:
                self.timer.cancel()
        if actor is None or job != _job_id():
            return None
        try:
            ray.get(actor.take.remote(), timeout=5)  # its node may be gone since
            return actor
        except Exception:  # noqa: BLE001 - dead, or gone with its node: a new one is made
            _kill(actor)
            return None

    def keep(self, actor: ray.actor.ActorHandle) -> None:
        try:
            free = ray.available_resources().get("CPU", 0)
        except Exception:  # noqa: BLE001 - the cluster is not answering: nothing kept, the run's result stands
            free = 0
        if free < 1:  # others wait for a CPU: leave it to them
            _kill(actor)
            return
        timer = threading.Timer(SPARE_SECONDS, self._expire, (actor,))
        timer.daemon = True
        with self.lock:
            old, self.actor, self.job, self.timer = self.actor, actor, _job_id(), timer
        timer.start()
        if old is not None:
            _kill(old)

    def _expire(self, actor: ray.actor.ActorHandle) -> None:
        with self.lock:
            if self.actor is not actor:
                return
            self.actor = None
        _kill(actor)


def _job_id() -> str:
    return ray.get_runtime_context().get_job_id() if ray.is_initialized() else ""


def _kill(actor: ray.actor.ActorHandle) -> None:
    try:
        ray.kill(actor)
    except Exception:  # noqa: BLE001 - already gone, or this process left the cluster
        pass


_spare = _Spare()


_data_refs: dict[int, tuple[Mnist, ray.ObjectRef]] = {}  # id(data) -> (data, its copy in the object store)


def _data_ref(data: Mnist) -> ray.ObjectRef:
    """The data set in the object store, put once per data object (about 55 MB of uint8)."""
    if id(data) not in _data_refs:
        _data_refs[id(data)] = (data, ray.put(data))
    return _data_refs[id(data)][1]


def run_on_ray(spec: RunSpec, data: Mnist, send: Callable[[Message], None],
               stop_requested: Callable[[], bool], controls: ControlLine | None = None) -> RunResult:
    """`runs.train_run` on a Ray worker, the same messages passed to `send` here, `controls` bound to the
    actor's `control` for the run; raises RayRunError when the worker dies or the training fails. Nothing is
    saved here: the caller saves the result it gets."""
    gpu = spec.config.device in ("auto", "cuda") or spec.config.device.startswith("cuda:")
    gpu = gpu and cluster_gpus() > 0
    # Ray shows the worker only the GPU it was given, as cuda:0: let the worker pick it.
    worker_spec = replace(spec, config=replace(spec.config, device="auto")) if gpu else spec
    worker_spec = replace(worker_spec, threads=spec.threads or 1)  # the one CPU the actor holds
    actor = None if gpu else _spare.take()
    if actor is None:
        actor = RunActor.options(num_gpus=1 if gpu else 0, num_cpus=1).remote()
    token = uuid.uuid4().hex
    if controls is not None:
        controls.bind(lambda control: actor.control.remote(control, token))
    ended_well = False
    try:
        done = actor.train.remote(worker_spec, _data_ref(data), token)
        stop_sent = False
        while True:
            ready, _ = ray.wait([done], timeout=POLL_SECONDS)
            for message in _get(actor.take.remote()):
                send(message)
            if not stop_sent and stop_requested():
                actor.stop.remote(token)
                stop_sent = True
            if ready:
                break
        for message in _get(actor.take.remote()):
            send(message)
        result = _get(done)
        ended_well = True
        return result
    finally:
        if controls is not None:
            controls.bind(None)
        _spare.keep(actor) if ended_well and not gpu else _kill(actor)


def _get(ref: ray.ObjectRef):
    try:
        return ray.get(ref, timeout=600)
    except RayTaskError as e:  # the training itself raised: its own message
        cause = e.cause if getattr(e, "cause", None) is not None else e
        raise RayRunError(f"{type(cause).__name__}: {cause}") from None
    except RayActorError as e:
        raise RayRunError("the Ray worker training this run died; nothing was saved "
                          f"({type(e).__name__})") from None
    except GetTimeoutError:
        raise RayRunError("the Ray worker training this run stopped answering; nothing was saved") from None



BOARD = "mnist-job-board"  # the named actor every replica of the app finds
NAMESPACE = "mnist-app"


@ray.remote(num_cpus=0)
class JobBoard:
    """The latest snapshot of every run of every app replica on this cluster, so that a share link opened
    on another replica (behind one address, with sticky sessions) shows the same run."""

    def __init__(self) -> None:
        self.snapshots: dict[str, object] = {}

    def publish(self, snapshots: dict[str, object], gone: list[str]) -> None:
        self.snapshots.update(snapshots)
        for job_id in gone:
            self.snapshots.pop(job_id, None)

    def get(self, job_id: str) -> object | None:
        return self.snapshots.get(job_id)


def job_board() -> ray.actor.ActorHandle:
    """The cluster's one board: made by the first replica, found by the others; it outlives them."""
    return JobBoard.options(name=BOARD, namespace=NAMESPACE, lifetime="detached", get_if_exists=True).remote()


def publish(board: ray.actor.ActorHandle, snapshots: dict[str, object], gone: list[str]) -> None:
    ray.get(board.publish.remote(snapshots, gone), timeout=10)


def shared_snapshot(board: ray.actor.ActorHandle, job_id: str) -> object | None:
    return ray.get(board.get.remote(job_id), timeout=10)
