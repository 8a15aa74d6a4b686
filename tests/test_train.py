import numpy as np
import pytest
import torch

from mnist_core.net.config import ConfigError, TrainConfig
from mnist_core.net.train import DeviceData, Trainer

FAST = dict(hidden=(32,), dropout=0.0, lr=3e-3, schedule="constant", batch_size=20, epochs=3, device="cpu")


def test_learns_a_tiny_set(tiny):
    trainer = Trainer(TrainConfig(**FAST), tiny)
    records = trainer.train()
    assert [r.epoch for r in records] == [1, 2, 3]
    assert records[-1].loss < records[0].loss
    assert records[-1].test_accuracy > 0.9 and records[-1].test_f1 > 0.9
    assert all(r.seconds > 0 for r in records)


def test_same_seed_same_numbers(tiny):
    a = Trainer(TrainConfig(**{**FAST, "dropout": 0.2}), tiny).train()
    b = Trainer(TrainConfig(**{**FAST, "dropout": 0.2}), tiny).train()
    c = Trainer(TrainConfig(**{**FAST, "dropout": 0.2, "seed": 1}), tiny).train()
    assert [r.loss for r in a] == [r.loss for r in b]
    assert [r.loss for r in a] != [r.loss for r in c]


def test_an_epochs_data_does_not_depend_on_the_epochs_made_before(tiny):
    # The trainer refills the same buffers every epoch: epoch 3 after epochs 1 and 2 is epoch 3 made first.
    config = TrainConfig(**FAST, augment=0.7, drawn=0.25)
    used = Trainer(config, tiny)
    first_images, _ = used.epoch_data(1)
    first_images = first_images.clone()
    used.epoch_data(2)
    images, labels = used.epoch_data(3)
    fresh_images, fresh_labels = Trainer(config, tiny).epoch_data(3)
    assert torch.equal(images, fresh_images) and torch.equal(labels, fresh_labels)
    assert not torch.equal(images, first_images)


def test_continuing_extends_the_history_like_one_long_run(tiny):
    config = TrainConfig(**FAST)
    whole = Trainer(config, tiny)
    whole.train(4)
    split = Trainer(config, tiny)
    split.train(2)
    split.train(2)
    assert [r.epoch for r in split.history] == [1, 2, 3, 4]
    np.testing.assert_allclose([r.loss for r in split.history], [r.loss for r in whole.history], rtol=1e-5)


def test_stop_takes_effect_within_one_batch_and_keeps_the_model(tiny):
    trainer = Trainer(TrainConfig(**FAST), tiny)
    before = trainer.model.layers[0].weight.detach().clone()
    calls = {"n": 0}

    def should_stop() -> bool:
        calls["n"] += 1
        return calls["n"] > 4  # the check before the run, then after batches 1, 2, 3; stop after the 4th

    reports = []
    records = trainer.train(3, on_progress=reports.append, should_stop=should_stop)
    assert len(records) == 1 and records[0].epoch == 1
    assert reports[-1].batch == 4 and reports[-1].batches == 15  # 300 images / 20
    assert records[0].fraction == pytest.approx(4 / 15)  # the history says how much of the epoch was trained
    assert not torch.equal(before, trainer.model.layers[0].weight)
    assert trainer.history == records


def test_progress_reports_cover_every_batch_loss(tiny):
    trainer = Trainer(TrainConfig(**{**FAST, "batch_size": 5}), tiny)  # 60 batches an epoch
    reports = []
    trainer.train(1, on_progress=reports.append)
    assert [r.batch for r in reports] == [20, 40, 60]
    assert sum(len(r.batch_losses) for r in reports) == 60
    assert np.mean([x for r in reports for x in r.batch_losses]) == pytest.approx(trainer.history[0].loss, rel=1e-5)


def test_each_report_and_epoch_carries_the_runs_health(tiny):
    trainer = Trainer(TrainConfig(**{**FAST, "hidden": (12, 6), "batch_size": 5}), tiny)
    reports = []
    record = trainer.train(1, on_progress=reports.append)[0]
    assert all(len(r.grad_norms) == 3 and all(n > 0 for n in r.grad_norms) for r in reports)  # 3 weight layers
    assert record.grad_norms == pytest.approx(np.mean([r.grad_norms for r in reports], axis=0))
    assert len(record.dead_share) == 2 and all(0 <= d <= 1 for d in record.dead_share)
    # Units killed by hand show in the next epoch's record (they stay dead: no gradient reaches them).
    with torch.no_grad():
        trainer.model.linear_layers()[0].bias[:6] = -1e4
    assert trainer.train(1)[0].dead_share[0] >= 0.5  # the 6 of 12 killed, and any that died on their own


@pytest.mark.parametrize("schedule, optimizer", [("onecycle", "adam"), ("cosine", "sgd"), ("constant", "sgd")])
def test_schedules_and_optimizers_train(tiny, schedule, optimizer):
    config = TrainConfig(**{**FAST, "schedule": schedule, "optimizer": optimizer, "lr": 0.05 if optimizer == "sgd"
                            else 3e-3, "weight_decay": 1e-4})
    assert Trainer(config, tiny).train()[-1].test_accuracy > 0.8


def test_bad_config_lists_every_problem():
    with pytest.raises(ConfigError, match="learning rate.*batch size") as err:
        TrainConfig(lr=0, batch_size=0)
    assert "epochs" not in str(err.value)


def test_config_round_trips_through_a_dict():
    config = TrainConfig(hidden=(64, 32), lr=0.01)
    assert TrainConfig.from_dict({**config.to_dict(), "unknown": 1}) == config


def test_device_data_is_float_in_unit_range(tiny):
    data = DeviceData.from_mnist(tiny, "cpu")
    assert data.train_images.dtype == torch.float32 and data.train_labels.dtype == torch.int64
    assert float(data.train_images.max()) == 1.0 and float(data.train_images.min()) >= 0.0


@pytest.mark.mnist
def test_a_short_run_on_real_mnist_learns(mnist):
    trainer = Trainer(TrainConfig(hidden=(64,), epochs=1, device="cpu"), mnist)
    record = trainer.train()[0]
    assert record.test_f1 > 0.9 and record.train_f1 > 0.9  # chance is 0.1


@pytest.mark.mnist
def test_stop_mid_epoch_on_real_mnist(mnist):
    trainer = Trainer(TrainConfig(hidden=(64,), epochs=2, device="cpu"), mnist)
    reports = []
    trainer.train(on_progress=reports.append, should_stop=lambda: len(reports) >= 3)
    # Asked to stop once the third report (batch 60) arrived: the next batch is the last.
    assert reports[-1].batch == 3 * 20 + 1 and reports[-1].batches == 469
    assert len(trainer.history) == 1 and trainer.history[0].test_accuracy > 0.5


def test_drawn_digits_take_their_originals_places_every_epoch(tiny):
    trainer = Trainer(TrainConfig(**FAST, drawn=0.25), tiny)
    index, drawings = trainer.drawn_digits()
    n = len(trainer.data.train_labels)
    assert len(index) == round(0.25 * n) and len(index.unique()) == len(index)
    assert drawings.shape == (len(index), 28, 28)
    assert not torch.equal(drawings, trainer.data.train_images[index])  # redrawn, not copies
    for epoch in (1, 2):
        images, labels = trainer.epoch_data(epoch)
        # Every drawing appears once, with its digit's label; the other images are the untouched originals.
        rows = {tuple(row.flatten().tolist()): i for i, row in enumerate(images)}
        places = [rows[tuple(d.flatten().tolist())] for d in drawings]
        assert len(set(places)) == len(index)
        assert torch.equal(labels[places], trainer.data.train_labels[index])
        others = torch.ones(n, dtype=torch.bool)
        others[places] = False
        originals = trainer.data.train_images[[i for i in range(n) if i not in set(index.tolist())]]
        assert torch.equal(images[others].sum(dim=(1, 2)).sort().values, originals.sum(dim=(1, 2)).sort().values)
    assert trainer.train(1)[0].test_accuracy > 0.5
    assert len(Trainer(TrainConfig(**FAST), tiny).drawn_digits()[0]) == 0


def test_drawn_share_is_checked():
    with pytest.raises(ConfigError, match="drawn digits must be in"):
        TrainConfig(drawn=1.5)


def test_hidden_sizes_read_the_same_for_the_page_and_the_cli():
    from mnist_core.net.config import parse_hidden

    assert parse_hidden("512, 256") == parse_hidden("512,256") == (512, 256)
    with pytest.raises(ConfigError, match="comma-separated whole numbers"):
        parse_hidden("12a")
    with pytest.raises(ConfigError, match="at least one hidden layer"):
        parse_hidden(" , ")


def test_one_summary_says_how_a_config_trains():
    summary = TrainConfig(hidden=(64, 32), optimizer="sgd", lr=0.05, momentum=0.8, augment=0.5, drawn=0.2,
                          hands=True).summary()
    assert (summary.layers, summary.optimizer) == ("784-64-32-10", "sgd, lr 0.05, one-cycle")
    assert (summary.optimizer_name, summary.lr, summary.schedule) == ("sgd", 0.05, "onecycle")
    assert summary.also == (("momentum", 0.8), ("elastic", None), ("hands", None))
    rows = dict(summary.rows())
    assert rows["augmentation"] == "0.5" and rows["drawn digits"] == "20%" and rows["batch size"] == "128"
    assert rows["also"] == "momentum 0.8, elastic, real hands"
    assert "also" not in dict(TrainConfig(augment=0.0).summary().rows())  # adam, nothing else on
