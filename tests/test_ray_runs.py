"""Runs on a real local Ray instance: a tiny job, a stop, a worker killed mid-run."""

from __future__ import annotations

import os
import signal
import time

import pytest

from mnist_core.net.config import TrainConfig
from mnist_core.runs.spec import EpochDone, Halted, Report, RunSpec, Started

from .helpers import small_data

ray = pytest.importorskip("ray")
ray_runs = pytest.importorskip("mnist_core.runs.on_ray")


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray_runs.connect("local")
    yield
    ray.shutdown()


def test_a_tiny_job_trains_on_a_worker_and_its_weights_come_back():
    messages = []
    spec = RunSpec(TrainConfig(hidden=(16,), epochs=2, batch_size=64, device="cpu"), epochs=2)
    result = ray_runs.run_on_ray(spec, small_data(), messages.append, lambda: False)
    started = messages[0]
    assert isinstance(started, Started) and int(started.host.rsplit(" ", 1)[1]) != os.getpid()  # another process
    assert [m.record.epoch for m in messages if isinstance(m, EpochDone)] == [1, 2]
    assert result.history[-1].test_accuracy > 0.9 and result.weights["layers.0.weight"].shape == (16, 784)


def test_stop_reaches_the_worker():
    messages = []
    spec = RunSpec(TrainConfig(hidden=(16,), epochs=50, batch_size=16, device="cpu"), epochs=50)
    result = ray_runs.run_on_ray(spec, small_data(), messages.append,
                                 lambda: any(isinstance(m, Report) for m in messages))
    assert result.stopped and any(isinstance(m, Halted) for m in messages)
    assert len(result.history) < 50


def test_a_worker_killed_mid_run_is_a_clear_failure():
    messages = []

    def send(message) -> None:
        messages.append(message)
        if isinstance(message, Report) and sum(isinstance(m, Report) for m in messages) == 1:
            os.kill(int(messages[0].host.rsplit(" ", 1)[1]), signal.SIGKILL)

    spec = RunSpec(TrainConfig(hidden=(16,), epochs=50, batch_size=16, device="cpu"), epochs=50)
    with pytest.raises(ray_runs.RayRunError, match="died"):
        ray_runs.run_on_ray(spec, small_data(), send, lambda: False)


def test_the_next_run_trains_on_the_kept_worker_and_a_stop_meant_for_the_run_before_does_not_reach_it(monkeypatch):
    """A finished run's worker trains the next one (a new worker costs 5-8 s to start), with a token of its own:
    a stop sent with the first run's token during the second is ignored. Then a kept worker is let go after
    SPARE_SECONDS."""
    import types

    tokens = iter(["first-run", "second-run", "third-run"])
    monkeypatch.setattr(ray_runs, "uuid", types.SimpleNamespace(uuid4=lambda: types.SimpleNamespace(hex=next(tokens))))
    first, second = [], []
    spec = RunSpec(TrainConfig(hidden=(16,), epochs=1, batch_size=64, device="cpu"), epochs=1)
    ray_runs.run_on_ray(spec, small_data(), first.append, lambda: False)
    kept = ray_runs._spare.actor
    assert kept is not None

    def send(message) -> None:
        second.append(message)
        if isinstance(message, Report) and sum(isinstance(m, Report) for m in second) == 1:
            kept.stop.remote("first-run")  # late, and for the run before

    longer = RunSpec(TrainConfig(hidden=(16,), epochs=20, batch_size=16, device="cpu"), epochs=20)
    result = ray_runs.run_on_ray(longer, small_data(), send, lambda: False)
    host = [next(m.host for m in messages if isinstance(m, Started)) for messages in (first, second)]
    assert host[0] == host[1]  # the same worker process
    assert not result.stopped and len(result.history) == 20

    monkeypatch.setattr(ray_runs, "SPARE_SECONDS", 0.5)
    ray_runs.run_on_ray(spec, small_data(), [].append, lambda: False)
    let_go = ray_runs._spare.actor
    deadline = time.monotonic() + 20
    while ray_runs._spare.actor is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ray_runs._spare.actor is None
    with pytest.raises(ray.exceptions.RayActorError):
        ray.get(let_go.take.remote(), timeout=60)


def test_a_stop_or_a_control_that_reaches_the_worker_before_its_run_begins_is_kept_for_that_run_only():
    """A threaded actor may take a stop (or a pause) before the `train` sent ahead of it: kept for its run's
    token, and dropped for a run with another token."""
    from mnist_core.net.controls import Control, Paused

    actor = ray_runs.RunActor.options(num_cpus=1).remote()
    spec = RunSpec(TrainConfig(hidden=(16,), epochs=20, batch_size=16, device="cpu"), epochs=20)
    data = ray.put(small_data())
    try:
        ray.get([actor.stop.remote("early"), actor.stop.remote("stale")], timeout=120)
        stopped = ray.get(actor.train.remote(spec, data, "early"), timeout=300)
        assert stopped.stopped and len(stopped.history) < 20
        ray.get([actor.stop.remote("stale"), actor.control.remote(Control("pause"), "paused")], timeout=60)
        paused = actor.train.remote(spec, data, "paused")
        deadline = time.monotonic() + 120
        while not any(isinstance(m, Paused) for m in ray.get(actor.take.remote())) and time.monotonic() < deadline:
            time.sleep(0.1)
        ray.get(actor.stop.remote("paused"), timeout=60)
        result = ray.get(paused, timeout=300)
        assert time.monotonic() < deadline and result.stopped and len(result.history) < 20  # paused, then stopped
    finally:
        ray.kill(actor)


# --- the app's jobs on the Ray backend ----------------------------------------------------------

@pytest.fixture
def ray_registry(tmp_path):
    from mnist_core.runs.jobs import JobRegistry
    from mnist_core.runs.ray_backend import RayRunner
    from mnist_core.storage.models import ModelStore

    data = small_data()
    return JobRegistry(ModelStore(tmp_path / "models", builtin_dir=None), lambda: data, runner=RayRunner("local"))


def test_a_job_on_ray_is_saved_by_the_server_and_trains_further(ray_registry):
    from mnist_core.runs.snapshot import DONE

    config = TrainConfig(hidden=(16,), epochs=1, batch_size=64, device="cpu")
    job = ray_registry.submit("alice", config, name="r1")
    assert job.wait(120)
    snap = job.snapshot()
    assert snap.status == DONE and snap.saved and snap.device == "cpu" and str(os.getpid()) not in snap.host
    assert ray_registry.store.meta("r1").epochs == 1 and ray_registry.store.owners.owns("alice",
                                                                                        ray_registry.store.meta("r1").owner)
    job.start(1)  # Train more: the stored model goes to the worker through the object store
    assert job.wait(120) and job.snapshot().status == DONE
    assert [r.epoch for r in ray_registry.store.meta("r1").history] == [1, 2]


def test_a_job_on_ray_stops_and_a_killed_worker_fails_it_saving_nothing(ray_registry):
    from mnist_core.runs.snapshot import FAILED, RUNNING, STOPPED

    config = TrainConfig(hidden=(16,), epochs=50, batch_size=16, device="cpu")
    job = ray_registry.submit("alice", config, name="stopped")
    while not (job.snapshot().status == RUNNING and job.snapshot().batch):
        assert not job.wait(0.05)
    job.stop()
    assert job.wait_halted(5) and job.wait(120)
    assert job.snapshot().status == STOPPED and ray_registry.store.meta("stopped").stopped

    killed = ray_registry.submit("alice", config, name="killed")
    while not (killed.snapshot().host and killed.snapshot().batch):
        assert not killed.wait(0.05)
    os.kill(int(killed.snapshot().host.rsplit(" ", 1)[1]), signal.SIGKILL)
    assert killed.wait(120)
    snap = killed.snapshot()
    assert snap.status == FAILED and "died" in snap.error and not snap.saved
    assert not ray_registry.store.exists("killed")


def test_the_cli_trains_on_ray_and_saves_here(tmp_path, tiny_dir):
    """The CLI joins a running cluster by its address, as a school's `serve` head is joined (this module's
    cluster: starting another made this test 21 s instead of 14 s, alone on 2 cores)."""
    import json
    import subprocess
    import sys

    from .helpers import PROJECT

    address = ray.get_runtime_context().gcs_address
    done = subprocess.run(
        [sys.executable, "-m", "mnist_core", "train", "--ray", address, "--epochs", "1", "--hidden", "8",
         "--device", "cpu", "--data-dir", str(tiny_dir), "--store", str(tmp_path / "models"), "--name", "viaray",
         "--json"], cwd=PROJECT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["epoch"] for line in lines] == [1] and "test_f1" in lines[0]
    assert "Training with 1 CPU thread on cpu" in done.stderr and (tmp_path / "models" / "viaray.pt").is_file()


def test_a_run_of_one_replica_is_seen_read_only_by_another(tmp_path, ray_registry):
    from mnist_core.runs.jobs import JobRegistry
    from mnist_core.runs.ray_backend import RayRunner, SharedJob
    from mnist_core.runs.snapshot import DONE

    other = JobRegistry(ray_registry.store, ray_registry.load_data, runner=RayRunner("local"))
    job = ray_registry.submit("alice", TrainConfig(hidden=(16,), epochs=2, batch_size=64, device="cpu"), name="seen")
    assert job.wait(120)
    deadline = time.monotonic() + 10
    while (seen := other.get(job.id)) is None or seen.snapshot().status != DONE:
        assert time.monotonic() < deadline, "the other replica never saw the finished run"
        time.sleep(0.2)
    snap = seen.snapshot()
    assert isinstance(seen, SharedJob) and seen.owner == "" and snap.owner == ""  # no key leaves its replica
    assert snap.name == "seen" and [r.epoch for r in snap.history] == [1, 2] and snap.saved
    assert other.get("no-such-job") is None


def test_a_job_on_ray_pauses_steps_and_takes_a_new_learning_rate_kept_in_its_saved_model(ray_registry):
    from mnist_core.net.controls import Control
    from mnist_core.runs.snapshot import STOPPED

    from .helpers import wait_for

    job = ray_registry.submit("alice", TrainConfig(hidden=(16,), epochs=50, batch_size=16, device="cpu"), name="live")
    assert wait_for(lambda: job.snapshot().batch >= 2, timeout=120)
    job.control("alice", Control("pause"))  # through the Ray actor's control line, to another process
    assert wait_for(lambda: job.snapshot().paused is not None and job.snapshot().look is not None, timeout=30)
    at = job.snapshot().paused

    def done(p) -> int:  # batches trained in all: a step may cross an epoch's end
        return (p.epoch - 1) * p.batches + p.batch

    for n in (1, 2):
        job.control("alice", Control("step"))
        assert wait_for(lambda n=n: (p := job.snapshot().paused) is not None and done(p) == done(at) + n,
                        timeout=30)
    job.control("alice", Control.set("lr", 0.001))
    assert wait_for(lambda: len(job.snapshot().changes) == 1, timeout=30)
    snap = job.snapshot()
    assert snap.config.lr == 0.001 and snap.changes[0].new == 0.001 and str(os.getpid()) not in snap.host
    job.control("alice", Control("resume"))
    assert wait_for(lambda: (s := job.snapshot()).paused is None and done(s) > done(at) + 2, timeout=30)
    job.stop()
    assert job.wait(120) and job.snapshot().status == STOPPED
    assert ray_registry.store.meta("live").changes == snap.changes  # saved by the server, as the worker sent it
