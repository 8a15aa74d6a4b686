"""Runs on a real local Ray instance: a tiny job, a stop, a worker killed mid-run."""

from __future__ import annotations

import os
import signal

import pytest

from mnist_core.runs import EpochDone, Halted, Report, RunSpec, Started
from mnist_core.train import TrainConfig

from .test_runs import small_data

ray = pytest.importorskip("ray")
ray_runs = pytest.importorskip("mnist_core.ray_runs")


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
