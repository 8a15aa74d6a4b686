"""The pages' charts module: one layout, figures built from typed records."""

import numpy as np

from mnist_core.net.history import EpochRecord
from mnist_core.runs.snapshot import Snapshot
from ui.charts import f1_figure, layout


def test_layout_sets_height_margins_and_title_and_keeps_extras():
    base = layout(300, "Loss", top=30, xaxis={"dtick": 1})
    assert base == {"height": 300, "margin": {"l": 10, "r": 10, "t": 30, "b": 10}, "title": {"text": "Loss"},
                    "xaxis": {"dtick": 1}}
    assert "title" not in layout(200)


def test_f1_figure_reads_the_typed_history():
    history = [EpochRecord(epoch=e, loss=0.5, train_f1=0.9 + e / 100, test_f1=0.88 + e / 100, test_accuracy=0.9,
                           seconds=1.0) for e in (1, 2)]
    snap = Snapshot(id="j", owner="", name="m", status="done", config={"hidden": [16]}, device="cpu",
                    history=history, grad_at=[0.5, 1.0, 1.5, 2.0])
    figure = f1_figure(snap)
    train, test = figure["data"]
    np.testing.assert_allclose(train["y"], [0.91, 0.92])
    np.testing.assert_allclose(test["y"], [0.89, 0.90])
    np.testing.assert_allclose(train["x"], [1.0, 2.0])
