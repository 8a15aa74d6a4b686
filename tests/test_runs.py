"""One training run: its messages in order, its result, and saving that result."""

from __future__ import annotations

import torch

from mnist_core.net.config import TrainConfig
from mnist_core.net.model import build_model
from mnist_core.runs.body import save_run, start_from_store, train_run
from mnist_core.runs.spec import EpochDone, Halted, Report, RunSpec, Started
from mnist_core.storage.models import ModelStore

from .helpers import small_data


def test_a_run_reports_in_order_and_returns_its_model(tmp_path):
    messages = []
    spec = RunSpec(TrainConfig(hidden=(16,), epochs=2, batch_size=64, device="cpu"), epochs=2)
    result = train_run(spec, small_data(), messages.append, lambda: False)
    assert isinstance(messages[0], Started) and messages[0].batches_per_epoch == 32
    assert [m.record.epoch for m in messages if isinstance(m, EpochDone)] == [1, 2]
    assert isinstance(messages[-1], Report) and messages[-1].progress is None
    assert not result.stopped and [r.epoch for r in result.history] == [1, 2]
    assert result.history[-1].test_accuracy > 0.9  # the generated classes are easy
    store = ModelStore(tmp_path / "models", builtin_dir=None)
    save_run(store, result, "tiny", model_id="abc")
    model, meta, optimizer = store.load("tiny")
    assert meta.id == "abc" and meta.metrics.test_accuracy == result.history[-1].test_accuracy
    again = build_model(result.model)
    again.load_state_dict(result.weights)
    probe = torch.rand(4, 28, 28)
    assert torch.equal(model(probe), again.eval()(probe)) and optimizer["state"]


def test_a_stop_request_ends_the_run_within_a_batch_and_says_so():
    messages = []
    spec = RunSpec(TrainConfig(hidden=(16,), epochs=5, batch_size=16, device="cpu"), epochs=5)
    result = train_run(spec, small_data(), messages.append,
                       lambda: any(isinstance(m, Report) for m in messages))
    assert result.stopped and sum(isinstance(m, Halted) for m in messages) == 1
    assert len(result.history) == 1 and result.history[0].epoch == 1  # the cut epoch, scored


def test_train_more_continues_history_weights_and_seconds(tmp_path):
    data = small_data()
    config = TrainConfig(hidden=(16,), epochs=1, batch_size=64, device="cpu")
    first = train_run(RunSpec(config, 1), data, lambda m: None, lambda: False)
    store = ModelStore(tmp_path / "models", builtin_dir=None)
    save_run(store, first, "m", model_id="id1")
    start, meta = start_from_store(store, "m")
    second = train_run(RunSpec(config, 2, start=start), data, lambda m: None, lambda: False)
    assert [r.epoch for r in second.history] == [1, 2, 3] and second.seconds > first.seconds
    assert not torch.equal(second.weights["layers.0.weight"], first.weights["layers.0.weight"])


def test_save_run_keeps_settings_history_metrics_and_optimizer(tmp_path, tiny):
    result = train_run(RunSpec(TrainConfig(hidden=(8,), epochs=2, batch_size=50, device="cpu"), 2), tiny,
                       lambda m: None, lambda: False)
    store = ModelStore(tmp_path / "models", builtin_dir=None)
    save_run(store, result, "t", owner="me")
    model, m, optimizer_state = store.load("t")
    assert m.epochs == 2 and m.history[1].epoch == 2
    assert m.metrics.test_f1 == result.history[-1].test_f1
    assert m.parameters == 784 * 8 + 8 + 8 * 10 + 10 and m.train_seconds == result.seconds and m.owner == "me"
    assert m.config.hidden == (8,) and optimizer_state["state"]
    # Continuing from the store carries on the history and the optimizer's moments.
    start, _ = start_from_store(store, "t")
    again = train_run(RunSpec(m.config, 1, start=start), tiny, lambda m: None, lambda: False)
    assert again.history[-1].epoch == 3
