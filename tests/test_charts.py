"""The pages' charts module: one layout, figures built from typed records."""

import numpy as np

from mnist_core.net.history import EpochRecord
from mnist_core.runs.snapshot import Snapshot
from ui.charts import f1_figure, layout, spread_figure


def test_layout_sets_height_margins_and_title_and_keeps_extras():
    base = layout(300, "Loss", top=30, xaxis={"dtick": 1})
    # Outside a page run the source language's number marks (a page's are its browser's: tests/test_i18n.py).
    assert base == {"height": 300, "margin": {"l": 10, "r": 10, "t": 30, "b": 10}, "title": {"text": "Loss"},
                    "xaxis": {"dtick": 1}, "separators": ".,"}
    assert "title" not in layout(200)


def test_a_long_title_takes_two_lines_and_room_for_them():
    # A Plotly title does not wrap: on a phone the French "Santé de l'entraînement : taille du gradient..." was cut.
    long = layout(300, "Santé de l'entraînement : taille du gradient de chaque couche", top=30)
    assert long["title"]["text"] == "Santé de l'entraînement :<br>taille du gradient de chaque couche"
    assert long["margin"]["t"] == 30 + 18 and long["title"]["yanchor"] == "top"
    assert layout(300, "Santé de l'entraînement : taille du gradient de chaque couche", top=30,
                  legend={"orientation": "h", "y": 1.15})["margin"]["t"] == 30 + 2 * 18  # its legend under them
    bracket = layout(300, "Lo que lee cuando el dígito se mueve (color: probabilidad de 0)")["title"]["text"]
    assert bracket == "Lo que lee cuando el dígito se mueve<br>(color: probabilidad de 0)"  # not inside the bracket
    assert layout(300, "Training loss")["title"]["text"] == "Training loss"


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


def stopped_then_trained_more() -> Snapshot:
    """Three full epochs, a Stop a third into epoch 4, then Train more for epoch 5: 3 batches an epoch."""
    history = [EpochRecord(epoch=e, loss=0.5, train_f1=0.9, test_f1=0.88, test_accuracy=0.9, seconds=1.0,
                           fraction=1 / 3 if e == 4 else 1.0) for e in (1, 2, 3, 4, 5)]
    at = [1 / 3, 2 / 3, 1, 4 / 3, 5 / 3, 2, 7 / 3, 8 / 3, 3, 10 / 3, 13 / 3, 14 / 3, 5]  # nominal: epoch k in (k-1, k]
    return Snapshot(id="j", owner="", name="m", status="done", config={"hidden": [16]}, device="cpu", epoch=5,
                    history=history, batch_losses=[1.0] * 13, batches_per_epoch=3, grad_at=at,
                    grad_norms=[[0.1, 0.2]] * 13)


def test_after_a_stop_and_train_more_the_charts_run_on_without_a_gap():
    from ui.charts import health_figure, loss_figure

    snap = stopped_then_trained_more()
    f1_x = f1_figure(snap)["data"][0]["x"]
    np.testing.assert_allclose(f1_x, [1, 2, 3, 10 / 3, 13 / 3])  # not 3, 3.33, then 5
    for figure in (loss_figure(snap), health_figure(snap)):
        x = np.asarray(figure["data"][0]["x"], dtype=float)
        assert not np.isnan(x).any()  # no break between 3.33 and 4
        steps = np.diff(x)
        np.testing.assert_allclose(steps, 1 / 3, atol=1e-9)  # evenly on, batch after batch
        assert x[-1] == f1_x[-1]  # all three charts end at the same place


def test_a_stop_recorded_in_a_saved_history_is_kept_by_a_later_job():
    # A later job continues the stopped model: this job's reports start in epoch 5; the record remembers 4's cut.
    snap = stopped_then_trained_more()
    snap.grad_at, snap.grad_norms = snap.grad_at[-3:], snap.grad_norms[-3:]
    np.testing.assert_allclose(f1_figure(snap)["data"][0]["x"], [1, 2, 3, 10 / 3, 13 / 3])


def test_the_smoothed_loss_starts_at_the_first_loss_and_moves_a_twentieth_of_the_way_each_batch():
    from ui.charts import loss_series

    losses = list(np.random.default_rng(0).random(50) * 2 + 0.1)
    snap = Snapshot(id="j", owner="", name="m", status="running", config={"hidden": [16]}, device="cpu")
    snap.batch_losses, snap.batches_per_epoch = losses, 10
    _, shown, smooth = loss_series(snap)
    expected = [losses[0]]
    for loss in losses[1:]:
        expected.append(0.95 * expected[-1] + 0.05 * loss)
    np.testing.assert_allclose(shown, losses)
    np.testing.assert_allclose(smooth, expected, rtol=1e-12)


def test_before_the_first_batch_there_is_no_loss_chart_to_draw():
    from ui.charts import loss_figure

    snap = Snapshot(id="j", owner="", name="m", status="running", config={"hidden": [16]}, device="cpu")
    assert loss_figure(snap) is None  # the page says "waiting for the first batches", not an axis from -1
    snap.batch_losses, snap.batches_per_epoch = [2.3, 2.1], 10
    assert len(loss_figure(snap)["data"][0]["x"]) == 2


def test_the_live_loss_picture_draws_the_figures_points_marks_and_words():
    import re

    from mnist_core.net.controls import SettingChange
    from ui.charts import loss_figure, loss_svg

    losses = [2.3, 1.9, float("nan"), 1.2, 0.9, 0.7, 0.6, 0.5, 0.45, 0.4]
    snap = Snapshot(id="j", owner="", name="m", status="running", config={"hidden": [16]}, device="cpu", epoch=1,
                    batch_losses=losses, batches_per_epoch=10,
                    changes=[SettingChange(epoch=0.5, setting="lr", old=0.003, new=0.3)])
    assert loss_svg(Snapshot(id="j", owner="", name="m", status="running", config={"hidden": [16]},
                             device="cpu")) is None  # before the first batch: the page's "waiting" line instead
    picture = loss_svg(snap)
    figure = loss_figure(snap)
    def runs(colour: str) -> list[list[float]]:  # each polyline of that colour: its points' x (0..1000)
        found = re.findall(rf"<polyline[^>]*stroke='{colour}'[^>]*points='([^']*)'", picture)
        return [[float(point.split(",")[0]) for point in run.split()] for run in found]

    raw, smooth = runs("#b3d3ea"), runs("#08519c")
    # Each batch's line breaks at the diverged batch: 2 points, then 7; the figure has the same 9 finite points.
    assert [len(r) for r in raw] == [2, 7] == [2, int(np.isfinite(figure["data"][0]["y"][3:]).sum())]
    assert sum(len(r) for r in smooth) == int(np.isfinite(figure["data"][1]["y"]).sum())
    xs = raw[0] + raw[1]
    assert xs[0] == 0.0 and xs[-1] == 1000.0 and xs == sorted(xs)  # epochs run left to right across the plot
    assert "lr 0.003 → 0.3" in picture and "stroke-dasharray" in picture  # the live change's mark
    for words in ("Training loss", "each batch", "smoothed", "epoch", "cross-entropy"):
        assert words in picture


# --- numbers on the charts, the browser's language's way ------------------------------------------

def _in(lang: str, monkeypatch) -> None:
    """The charts as a page in `lang` builds them (outside a page run they take the source language)."""
    monkeypatch.setattr("ui.i18n.language", lambda: lang)


def plain(text: str) -> str:
    """No-break spaces (Babel's, before a French or Spanish %) as plain ones."""
    return text.replace("\u202f", " ").replace("\xa0", " ")


def test_every_chart_layout_comes_from_the_one_layout_function():
    """A figure with a layout of its own writes its ticks and hovers the English way ("0.98", "80%") in every
    language: each figure of the pages takes `charts.layout` (its separators and percent labels)."""
    import ast

    from .helpers import PROJECT

    own = []
    for path in [*(PROJECT / "ui").glob("*.py"), *(PROJECT / "pages").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Dict):
                own += [f"{path.name}:{value.lineno}" for key, value in zip(node.keys, node.values, strict=True)
                        if isinstance(key, ast.Constant) and key.value == "layout" and isinstance(value, ast.Dict)]
    assert own == [], f"a figure's layout built by hand, not by ui.charts.layout: {own}"


def test_a_percent_axis_writes_the_languages_percent_and_its_decimal_mark(monkeypatch):
    _in("fr", monkeypatch)
    figure = layout(300, "x", yaxis={"range": [0, 1], "tickformat": ".0%"}, xaxis={"dtick": 1})
    assert figure["separators"][0] == ","  # 0,98: Plotly's ticks and hovers with the French decimal mark
    aliases = figure["yaxis"]["labelalias"]
    assert plain(aliases["80%"]) == "80 %" and len(aliases) == 101 and "labelalias" not in figure["xaxis"]
    one = layout(300, yaxis={"tickformat": ".1%"})["yaxis"]["labelalias"]
    assert plain(one["12,5%"]) == "12,5 %"  # Plotly's label already has the comma (separators)
    _in("en", monkeypatch)
    assert "labelalias" not in layout(300, yaxis={"tickformat": ".0%"})["yaxis"]  # 80% is English already
    _in("it", monkeypatch)
    assert "labelalias" not in layout(300, yaxis={"tickformat": ".0%"})["yaxis"]  # so is Italian's 80%


def test_a_log_axis_is_labelled_as_people_write_numbers_in_the_language(monkeypatch):
    from ui.charts import log_ticks

    _in("fr", monkeypatch)
    ticks = log_ticks(np.array([0.004, 0.08]))
    assert ticks["ticktext"] == ["0,001", "0,002", "0,005", "0,01", "0,02", "0,05", "0,1", "0,2", "0,5"]
    wide = log_ticks(np.array([3e-7, 20.0]))["ticktext"]
    assert wide == ["10⁻⁸", "10⁻⁶", "10⁻⁴", "0,01", "1", "100"]  # every other decade: nine would crowd
    assert ticks["exponentformat"] == "power"  # its hover labels too: 1,2×10⁻⁵, not 1.2e-5
    _in("en", monkeypatch)
    assert log_ticks(np.array([0.004, 0.08]))["ticktext"][:3] == ["0.001", "0.002", "0.005"]


def test_the_confusion_matrix_and_the_threshold_curve_write_their_percentages_in_the_language(monkeypatch):
    from mnist_core.net.confidence import coverage
    from mnist_core.net.evaluate import Evaluation
    from ui.charts import confusion_figure, coverage_figure

    _in("fr", monkeypatch)
    confusion = np.zeros((10, 10), int)
    confusion[3, 3], confusion[3, 5], confusion[7, 7], confusion[7, 1] = 7, 1, 9999, 1
    result = Evaluation.__new__(Evaluation)
    result.confusion = confusion
    cells = confusion_figure(result, normalised=True)["data"][0]["text"]
    assert (plain(cells[3][5]), plain(cells[7][1]), cells[0][1]) == ("12,5 %", "<0,1 %", "0")
    assert plain(confusion_figure(result, normalised=False)["data"][0]["text"][7][7]) == "9 999"
    probs = np.eye(10)[[1, 2, 3, 3]] * 0.6 + 0.04
    figure = coverage_figure(coverage(probs, np.array([1, 2, 3, 4]), 0.5))
    answered, right = figure["data"]
    assert plain(answered["customdata"][0]) == "100,0 %" and "%{customdata}" in answered["hovertemplate"]
    assert "75,00 %" in [plain(text) for text in right["customdata"]]
    assert not any("%}" in trace["hovertemplate"] for trace in figure["data"])  # no "%{y:.1%}": always "75.0%"
