"""The pages' charts module: one layout, figures built from typed records."""

import numpy as np

from mnist_core.net.history import EpochRecord
from mnist_core.runs.snapshot import Snapshot
from ui.charts import f1_figure, layout, spread_figure


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


def test_spread_figure_draws_each_layer_now_solid_and_at_the_start_dashed_on_its_own_axes():
    from mnist_core.net.health import LayerSpread

    spreads = [LayerSpread("784 → 32", [-1.0, 0.0, 1.0], [5, 5], [3, 7]),
               LayerSpread("32 → 10", [-2.0, 0.0, 2.0], [1, 2], [2, 1])]
    snap = Snapshot(id="j", owner="", name="m", status="running", config={"hidden": [32]}, device="cpu",
                    spread=spreads)
    figure = spread_figure(snap)
    start, now, start2, now2 = figure["data"]
    assert start["line"]["dash"] == "dash" and "dash" not in now["line"]
    np.testing.assert_allclose(start["x"], [-0.5, 0.5])
    assert start["y"] == [5, 5] and now["y"] == [3, 7]
    assert (start2["xaxis"], now2["yaxis"]) == ("x2", "y2") and start["xaxis"] == "x"
    assert figure["layout"]["grid"]["columns"] == 2
    assert [a["text"] for a in figure["layout"]["annotations"]] == ["784 → 32", "32 → 10"]
    assert spread_figure(Snapshot(id="j", owner="", name="m", status="running", config={"hidden": [32]},
                                  device="cpu")) is None
