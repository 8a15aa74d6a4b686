"""ui.tables: a missing score shows as a dash, a present one formatted, the values still numbers."""

from ui.tables import DASH, with_dashes


def test_a_queued_runs_missing_scores_show_as_dashes_not_none():
    rows = [{"name": "bo-net", "progress": "waiting (1 in line)", "MNIST test accuracy": None, "live test F1": None},
            {"name": "ada-big", "progress": "epoch 2 of 5", "MNIST test accuracy": 97.5, "live test F1": 0.97}]
    styler = with_dashes(rows, {"MNIST test accuracy": "{:.2f}%", "live test F1": "{:.4f}"})
    shown = styler.to_html()
    assert "None" not in shown and "nan" not in shown
    assert DASH in shown and "97.50%" in shown and "0.9700" in shown
    assert styler.data["MNIST test accuracy"].dtype.kind == "f"  # numbers: sortable by a click on the title
