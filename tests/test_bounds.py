"""Issue #26, one student cannot take down the class: the ceilings of a run (shared by the CLI and the app, within
what the store reads back), one run per browser, a cap on the server's queue, and a run's time limit."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mnist_core.net.config import (
    check_run_cost,
    ConfigError,
    MAX_TRAIN_LAYERS,
    MAX_TRAIN_PARAMETERS,
    parameters_of,
    PRESETS,
    TrainConfig,
)
from mnist_core.net.model import MLP, parameter_count
from mnist_core.runs.jobs import JobRegistry, QueueFull
from mnist_core.runs.snapshot import ACTIVE, STOPPED
from mnist_core.storage.models import MAX_LAYERS, MAX_PARAMETERS, ModelStore

from .conftest import PROJECT
from .helpers import FAST, wait_for

WAIT = 240  # seconds a tiny run may take to end: generous, for a loaded 2-core machine with the suite beside it


def test_every_preset_is_within_the_ceilings_and_the_huge_runs_are_not():
    for config in PRESETS.values():
        check_run_cost(config)
    for hidden, words in (((8192, 8192, 8192), "parameters"), ((64,) * 9, "hidden layers"),
                          ((8192,) * 100, "hidden layers")):
        with pytest.raises(ConfigError, match=words) as refused:
            check_run_cost(TrainConfig(hidden=hidden))
        assert "\n" not in str(refused.value)
    with pytest.raises(ConfigError, match="batches"):  # 200 epochs at batch 16: 750,000 batches
        check_run_cost(TrainConfig(epochs=200, batch_size=16))
    with pytest.raises(ConfigError, match="epochs"):
        check_run_cost(TrainConfig(epochs=10), history=9_995)


def test_the_ceilings_are_within_what_the_store_reads_back(tmp_path):
    assert MAX_TRAIN_LAYERS <= MAX_LAYERS and MAX_TRAIN_PARAMETERS <= MAX_PARAMETERS
    for hidden in ((16,), (300, 200, 100), (5,) * MAX_TRAIN_LAYERS):
        assert parameters_of(hidden) == parameter_count(MLP(hidden))


def test_the_cli_refuses_a_17_layer_or_73_million_parameter_model_in_one_line_and_saves_nothing(tmp_path):
    for hidden in (",".join(["32"] * 17), "8000,8000"):
        done = subprocess.run([sys.executable, "-m", "mnist_core", "train", "--hidden", hidden, "--store",
                               str(tmp_path / "models"), "--data-dir", str(tmp_path / "nothing")], cwd=PROJECT,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
        assert done.stderr.startswith("error: too large a run")
    assert not list((tmp_path / "models").glob("*.pt"))


@pytest.mark.parametrize("args", [["train", "--epochs", "x"], ["train", "--preset", "forged"], ["evaluate"],
                                  ["train", "--threads", "-3"], ["train", "--batch-size", "0"], ["nonsense"]])
def test_every_bad_argument_is_one_line_and_exit_2(tmp_path, args, capsys):
    # In this process (the CLI's own main; `python -m mnist_core` is only `sys.exit(main())`, run for real in
    # the test above): a new interpreter per case cost 4 s of importing torch each.
    from mnist_core.cli import main

    argv = [*args, *(["--store", str(tmp_path)] if args[0] in ("train", "evaluate") else [])]
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's own refusals
        code = e.code
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: "), err


def test_train_on_a_ray_address_nobody_answers_is_one_line(tmp_path, tiny_dir):
    pytest.importorskip("ray")
    done = subprocess.run([sys.executable, "-m", "mnist_core", "train", "--epochs", "1", "--hidden", "8",
                           "--ray", "127.0.0.1:9", "--store", str(tmp_path / "m"), "--data-dir", str(tiny_dir)],
                          cwd=PROJECT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines()[-1].startswith("error: nothing answers at the Ray address 127.0.0.1:9")
    assert "Traceback" not in done.stderr


@pytest.fixture
def registry(tmp_path, tiny):
    return JobRegistry(ModelStore(tmp_path / "models", builtin_dir=None), lambda: tiny,
                       train_digits=len(tiny.train_labels), max_queue=3)


def test_one_run_per_browser_waiting_or_training(registry):
    long = TrainConfig(**{**FAST, "epochs": 500})
    first = registry.submit("alice", long, name="first")
    with pytest.raises(QueueFull, match="you have a run waiting or training already"):
        registry.submit("alice", TrainConfig(**FAST), name="second")
    other = registry.submit("bob", TrainConfig(**FAST), name="bobs")  # another browser is not refused
    first.stop()  # bob's run waits for the one slot: it trains once alice's long one has stopped (it took 40 s)
    assert first.wait(WAIT)
    assert other.wait(WAIT) and other.snapshot().saved
    assert registry.submit("alice", TrainConfig(**FAST), name="second").wait(WAIT)  # after it ended: fine


def test_train_more_of_a_finished_run_counts_as_that_browsers_run(registry):
    done = registry.submit("alice", TrainConfig(**FAST), name="done")
    assert done.wait(WAIT)
    running = registry.submit("alice-too", TrainConfig(**{**FAST, "epochs": 500}), name="long")
    done.owner = "alice-too"  # the finished run's browser has another one training now
    with pytest.raises(QueueFull):
        done.start(1)
    running.stop()
    assert running.wait(WAIT)
    with pytest.raises(ConfigError, match="too large"):  # Train more is held to the ceilings too
        done.start(10_000)


def test_the_servers_queue_has_a_cap(registry):
    jobs = [registry.submit(f"student{i}", TrainConfig(**{**FAST, "epochs": 500}), name=f"s{i}") for i in range(3)]
    with pytest.raises(QueueFull, match="3 runs waiting or training") as refused:
        registry.submit("student-late", TrainConfig(**FAST), name="late")
    assert "\n" not in str(refused.value)
    for job in jobs:
        job.stop()
    for job in jobs:
        assert job.wait(WAIT)
    assert not [j for j in registry.jobs.values() if j.status in ACTIVE]


def test_a_run_at_the_servers_time_limit_stops_and_is_saved(tmp_path, tiny):
    registry = JobRegistry(ModelStore(tmp_path / "models", builtin_dir=None), lambda: tiny,
                           train_digits=len(tiny.train_labels), max_run_seconds=1.0)
    job = registry.submit("alice", TrainConfig(**{**FAST, "epochs": 1000}), name="endless")
    assert job.wait(WAIT)
    snap = job.snapshot()
    assert snap.status == STOPPED and snap.saved and "limit" in snap.note
    assert 1 <= registry.store.meta("endless").epochs < 1000 and registry.store.meta("endless").stopped
    wait_for(lambda: job.queue.running == 0)


def test_only_what_the_train_page_offers_is_accepted_each_refusal_one_line():
    from mnist_core.net.config import check_offered, OFFERED_CHOICES, preset
    from mnist_core.net.experiments import EXPERIMENTS

    for name, config in PRESETS.items():
        check_offered(config, also=preset(name))
        check_offered(config)  # every preset's values are on the page
    for experiment in EXPERIMENTS.values():
        check_offered(experiment.config, also=experiment.config)  # an experiment offers its own settings
    for forged, words in ((TrainConfig(batch_size=1), "batch_size 1 is not offered"),
                          (TrainConfig(batch_size=100), "batch_size 100"),
                          (TrainConfig(epochs=1000), "epochs 1000 is outside"),
                          (TrainConfig(dropout=0.95), "dropout 0.95"),
                          (TrainConfig(momentum=0.5), "momentum 0.5"),
                          (TrainConfig(init_scale=50.0), "init_scale 50")):
        with pytest.raises(ConfigError, match=words) as refused:
            check_offered(forged, also=PRESETS["recommended"])
        assert "\n" not in str(refused.value) and str(refused.value).startswith("not a setting the page offers")
    with pytest.raises(ConfigError, match="device 'cuda:7'"):
        check_offered(TrainConfig(device="cuda:7"), devices=("auto", "cpu"))
    batch_one = EXPERIMENTS["batch-1"].config  # batch size 1 is offered with its experiment only
    check_offered(batch_one, also=batch_one)
    with pytest.raises(ConfigError):
        check_offered(batch_one, also=PRESETS["recommended"])
    assert 1 not in OFFERED_CHOICES["batch_size"]
    for name in ("nope", "", None, 3, "recommended\x00"):
        with pytest.raises(ConfigError, match="no preset called") as refused:
            preset(name)
        assert "\n" not in str(refused.value)
