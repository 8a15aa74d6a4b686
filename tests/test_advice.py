"""Health in words (rules with live fixes), weight histograms, and the ready experiments with their links."""

from __future__ import annotations

import math

import pytest
import torch

from mnist_core.net.advice import health_warnings
from mnist_core.net.config import ConfigError, TrainConfig
from mnist_core.net.controls import Control, LiveControls
from mnist_core.net.experiments import experiment_from_query, experiment_link, experiment_query, EXPERIMENTS
from mnist_core.net.health import layer_weights, weight_spread
from mnist_core.net.history import EpochRecord
from mnist_core.net.model import MLP
from mnist_core.net.train import Trainer

CONFIG = TrainConfig(hidden=(64, 32), dropout=0.1, augment=0.0)


def record(epoch: int, loss: float = 0.3, train_f1: float = 0.95, test_f1: float = 0.95,
           dead: tuple[float, ...] = (0.0, 0.0)) -> EpochRecord:
    return EpochRecord(epoch, loss, train_f1, test_f1, test_f1, 1.0, [1.0, 1.0], list(dead))


def kinds(warnings) -> list[str]:
    return [w.kind for w in warnings]


def test_a_healthy_run_has_no_warnings():
    history = [record(1, 0.5), record(2, 0.3)]
    assert health_warnings(history, [1.0 - i / 200 for i in range(120)], 40, CONFIG, 3e-3) == []


def test_nan_says_where_and_offers_to_divide_the_learning_rate():
    [w] = health_warnings([], [2.3, 1.9, math.nan, math.nan], 40, CONFIG, 0.9)
    assert w.kind == "diverging" and "nan at batch 3" in w.text
    assert w.fixes[0].label == "divide the learning rate by 3 (0.9 → 0.3)"
    assert w.fixes[0].control == Control.set("lr", 0.3)


def test_a_rising_loss_says_from_what_to_what():
    losses = [0.4] * 20 + [0.2] * 10 + [0.9] * 10  # window 10: best stretch 0.2, latest 0.9
    [w] = health_warnings([], losses, 40, CONFIG, 0.03)
    assert w.kind == "rising" and "from 0.2 to 0.9 over the last 10 batches" in w.text
    assert w.fixes[0].control.setting == "lr" and w.fixes[0].control.value == pytest.approx(0.01)


def test_half_a_layer_dead():
    [w] = health_warnings([record(1, dead=(0.62, 0.1))], [], 40, CONFIG, 3e-3)
    assert w.kind == "dead" and w.text.startswith("62% of hidden layer 1's 64 units")


def test_overfitting_offers_more_dropout_and_more_augmentation():
    [w] = health_warnings([record(1, train_f1=0.995, test_f1=0.962)], [], 40, CONFIG, 3e-3)
    assert w.kind == "overfitting" and "3.3 points above test F1 0.962" in w.text
    assert [f.control for f in w.fixes] == [Control.set("dropout", 0.3), Control.set("augment", 0.3)]
    # Without dropout layers, only augmentation is offered (dropout cannot be added live).
    [w] = health_warnings([record(1, train_f1=0.995, test_f1=0.962)], [], 40, TrainConfig(dropout=0.0), 3e-3)
    assert [f.control.setting for f in w.fixes] == ["augment"]


def test_a_flat_loss_for_an_epoch_offers_a_larger_learning_rate():
    [w] = health_warnings([record(1, 0.53), record(2, 0.525)], [], 40, CONFIG, 1e-4)
    assert w.kind == "flat" and "(0.53 → 0.525, 0.9%)" in w.text
    assert w.fixes[0].control == Control.set("lr", 3e-4)
    assert health_warnings([record(1, 0.053), record(2, 0.0525)], [], 40, CONFIG, 1e-4) == []  # converged


def test_weight_spread_counts_now_against_the_start_over_the_same_bins(tiny):
    trainer = Trainer(TrainConfig(hidden=(32,), dropout=0.0, epochs=1, batch_size=20, lr=0.05, device="cpu"), tiny)
    start = layer_weights(trainer.model)
    [first, last] = weight_spread(start, trainer.model)
    assert first.start == first.now and sum(first.now) == 32 * 784 and first.name == "784 → 32"
    trainer.train()
    [first, last] = weight_spread(start, trainer.model)
    assert first.start != first.now and sum(first.now) == 32 * 784 and len(first.edges) == len(first.now) + 1
    assert first.edges[0] == -first.edges[-1] and last.name == "32 → 10"
    with torch.no_grad():
        trainer.model.layers[0].weight[0, 0] = math.nan  # a diverged weight is counted, not lost
    assert sum(weight_spread(start, trainer.model)[0].now) == 32 * 784


def test_init_scale_scales_the_first_weights(tiny):
    small = Trainer(TrainConfig(hidden=(8,), init_scale=0.1, device="cpu"), tiny).model
    torch.manual_seed(0)
    plain = MLP((8,), "relu", 0.1)
    assert torch.allclose(small.layers[0].weight, plain.layers[0].weight * 0.1)
    assert torch.equal(small.layers[0].bias, plain.layers[0].bias)
    with pytest.raises(ConfigError, match="initial weight scale"):
        TrainConfig(init_scale=0)
    assert "initial weights x0.1" in TrainConfig(init_scale=0.1).summary().extras


def test_at_least_eight_experiments_each_with_two_sentences_and_a_link_that_gives_it_back():
    assert len(EXPERIMENTS) >= 8
    for key, experiment in EXPERIMENTS.items():
        assert experiment.look.count(". ") >= 1 and experiment.look.endswith(".")
        link = experiment_link(experiment, "http://class.local/train")
        assert link.startswith(f"http://class.local/train?experiment={key}")
        query = dict(pair.split("=") for pair in link.split("?")[1].split("&"))
        query = {k: v.replace("%2C", ",") for k, v in query.items()}
        again, config = experiment_from_query(query)
        assert again is experiment and config == experiment.config
    assert experiment_query(EXPERIMENTS["lr-1"])["lr"] == "1"
    assert experiment_query(EXPERIMENTS["sigmoid-deep"])["hidden"] == "128,128"


def test_a_link_edited_by_hand_keeps_its_edit_and_a_bad_one_is_said_in_one_line():
    _, config = experiment_from_query({"experiment": "dropout-half", "dropout": "0.4", "hidden": "128"})
    assert config.dropout == 0.4
    _, config = experiment_from_query({"experiment": "tiny-16", "epochs": "1"})  # short: the rest its own
    assert config.hidden == (16,) and config.epochs == 1
    assert experiment_from_query({}) is None
    with pytest.raises(ConfigError, match="no experiment called 'nope'"):
        experiment_from_query({"experiment": "nope"})
    with pytest.raises(ConfigError, match="the link's 'lr' is 'fast', not a float"):
        experiment_from_query({"experiment": "lr-1", "lr": "fast"})
    with pytest.raises(ConfigError, match="learning rate must be in"):
        experiment_from_query({"experiment": "lr-1", "lr": "99"})


def test_a_planned_change_acts_when_the_run_reaches_its_position(tiny):
    trainer = Trainer(TrainConfig(hidden=(16,), dropout=0.0, epochs=2, batch_size=20, schedule="constant",
                                  lr=1e-3, device="cpu"), tiny)
    events = []
    live = LiveControls(lambda wait: None, events.append, planned=list(EXPERIMENTS["lr-raised"].planned))
    trainer.train(controls=live)
    [change] = trainer.changes
    assert change.epoch == pytest.approx(1.5, abs=1 / 15) and change.new == 0.1 and change.old == 1e-3


def test_a_loss_thrown_far_up_says_how_far_and_goes_once_the_network_learns_again():
    losses = [2.37, 2067.0, 598.0] + [2.33] * 60  # learning rate 1: one step throws it, then it falls back
    [w] = health_warnings([], losses, 469, CONFIG, 1.0)
    assert w.kind == "jumped" and "jumped to 2,067 at batch 2, 872 times the 2.37 it started at" in w.text
    assert [f.label for f in w.fixes] == ["divide the learning rate by 3 (1 → 0.333)",
                                          "divide the learning rate by 10 (1 → 0.1)"]
    # Back at 2.3 for an epoch: the loss of guessing, the network still learns nothing; the warning stays.
    [still] = health_warnings([], losses + [2.3] * 469, 469, CONFIG, 0.333)
    assert still.kind == "jumped" and still.fixes[0].label == "divide the learning rate by 3 (0.333 → 0.111)"
    assert health_warnings([], losses + [2.3] * 200 + [0.4] * 200, 469, CONFIG, 0.333) == []  # it learns again
    assert health_warnings([], [2.3, 2.0, 1.5], 469, CONFIG, 1e-3) == []
