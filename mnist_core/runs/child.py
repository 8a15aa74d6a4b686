"""Runs in child processes of the server: a fork server with the engine preloaded, the data set in
shared memory, and the runner that starts a child and relays its messages."""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.forkserver
import multiprocessing.process
import os
import pickle
import sys
import types
from collections.abc import Callable
from dataclasses import fields
from multiprocessing.connection import Connection

from mnist_core.net.config import TrainConfig
from mnist_core.net.controls import Control
from mnist_core.net.data import Mnist
from mnist_core.net.device import resolve_device
from mnist_core.runs.body import train_run
from mnist_core.runs.snapshot import Snapshot
from mnist_core.runs.spec import (
    ControlLine,
    Failed,
    Finished,
    Message,
    RunError,
    RunResult,
    RunSpec,
)


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


def _receiver(controls: Connection) -> Callable[[float], Control | None]:
    """The child's end of its control pipe as `LiveControls` reads it: the next Control, waiting up to `wait`
    seconds. Unused, it costs one poll (a system call of a microsecond or so) before each batch."""
    def receive(wait: float) -> Control | None:
        try:
            return controls.recv() if controls.poll(wait) else None
        except (EOFError, OSError):  # the server's end closed: no more controls
            return None
    return receive


def _train_in_child(spec: RunSpec, data: Mnist | tuple, messages: Connection,
                    stop: multiprocessing.synchronize.Event, controls: Connection | None = None) -> None:
    """A child process of the server: one run, its messages and then its result through `messages`; its
    live controls come down `controls`."""
    with contextlib.suppress(OSError):
        os.nice(TRAINING_NICE)
    try:
        if isinstance(data, tuple):  # shared tensors (_shared): numpy views of the same pages
            data = Mnist(*(tensor.numpy() for tensor in data))
        result = train_run(spec, data, messages.send, stop.is_set, _receiver(controls) if controls else None)
        # Pickled by value: `send` would pass the tensors as shared memory that ends with this process.
        messages.send_bytes(pickle.dumps(Finished(result)))
    except Exception as e:  # shown to the user on the page; the server goes on
        messages.send(Failed(f"{type(e).__name__}: {e}"))
    finally:
        messages.close()


# A training process gives way to the server it serves when both want the CPU (a share link's first page, a
# click on Pause, a stroke on Draw): on a class's 2 cores the pages come first; alone, it trains as fast.
TRAINING_NICE = int(os.environ.get("MNIST_APP_TRAINING_NICE", "5"))
# Imported once by the fork server, not by every run: the engine, and torch._dynamo, which torch imports
# the first time a process builds an optimizer (a large part of a run's start).
CHILD_PRELOAD = ["mnist_core.runs.child", "torch._dynamo"]


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


def start_child(process: multiprocessing.process.BaseProcess) -> None:
    """Start a child process with a `__main__` with no file in place meanwhile, so that the child does not
    run the parent's main script again. Under Streamlit that module is the page script being run (app.py,
    or an AppTest's script, which stays `__main__` after its run): each training child ran that script
    outside any session, which logged "missing ScriptRunContext!" seven times a run, or failed on its
    session state. A script run that replaces `__main__` meanwhile keeps its own."""
    main = sys.modules.get("__main__")
    if main is None or getattr(main, "__file__", None) is None or getattr(main.__spec__, "name", None):
        process.start()  # a module run with -m, or no file: nothing of it is run again
        return
    stand_in = types.ModuleType("__main__")
    sys.modules["__main__"] = stand_in
    try:
        process.start()
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

    def shared_job(self, job_id: str) -> None:
        return None  # no other replica shares runs with this one

    def run(self, spec: RunSpec, data: Mnist, send: Callable[[Message], None], stop,
            controls: ControlLine | None = None) -> RunResult:
        receiving, sending = self.context.Pipe(duplex=False)
        control_in, control_out = self.context.Pipe(duplex=False)  # server -> child: Control records
        child = self.context.Process(target=_train_in_child, args=(spec, _shared(data), sending, stop, control_in),
                                     daemon=True)
        start_child(child)
        sending.close()  # the child holds the sending end now: recv() ends when the child does
        control_in.close()
        if controls is not None:
            controls.bind(control_out.send)
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
            if controls is not None:
                controls.bind(None)
            control_out.close()
            child.join(5)
            if child.is_alive():
                child.kill()
