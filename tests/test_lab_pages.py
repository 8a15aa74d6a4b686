"""Inside's Network, Lab and Maths tabs and Mistakes' Confidence tab under AppTest (tiny MNIST, the shipped
model): the lab scores an edit on the test set and on the open class collection's held-out part at once."""

from __future__ import annotations

import json
import re

import numpy as np

from mnist_core.classroom.collection import ClassCollection, held_out, split
from mnist_core.classroom.scoring import examples
from mnist_core.net.data import load_mnist
from mnist_core.net.edits import SwitchOff
from mnist_core.net.lab import apply_edits, figures
from mnist_core.net.maths import Cell, layer_maths
from mnist_core.net.preprocess import as_pixels
from mnist_core.storage.drawings import Collections
from mnist_core.storage.models import ModelStore

from .helpers import bar_drawing
from .test_pages import inside_page, PROJECT


def open_class_with_drawings(root) -> list:
    room = ClassCollection(Collections(root))
    room.open("our-class", owner="teacher")
    for i in range(40):
        room.add(bar_drawing(i % 10), i % 10, owner=f"student{i % 4}", nickname=f"kid{i % 4}")
    drawings = Collections(root).load("our-class")
    assert any(held_out(d.file) for d in drawings)
    return drawings


def test_the_lab_scores_an_edit_on_the_test_set_and_our_handwriting(env):
    drawings = open_class_with_drawings(env / "drawings")
    at = inside_page("Lab", lab_edits={"default": [SwitchOff(2, 3)]})
    assert not at.exception
    table = at.dataframe[0].value
    held = examples(split(drawings)[1])
    columns = list(table.columns)
    assert columns == ["", "MNIST test set (100)", f"our handwriting (held out) ({len(held)})"]
    model, _, _ = ModelStore(env / "models").load("default")
    after = figures(apply_edits(model, [SwitchOff(2, 3)]), held.images, held.labels)
    before = figures(model, held.images, held.labels)
    assert table.iloc[0, 2] == f"{before.accuracy:.2%} → {after.accuracy:.2%}"
    assert any("Edits" in m.value and "output unit 3: switched off" in m.value for m in at.markdown)


def test_network_maths_and_confidence_tabs_render(env):
    at = inside_page("Network")
    assert not at.exception
    assert any("Click a node" in i.value for i in at.info)
    at = inside_page("Maths")
    assert not at.exception
    assert any(re.search(r"\*\*\d+ of 512 units on\*\*", m.value) for m in at.markdown)
    at.selectbox(key="m_layer").set_value(2).run()
    assert not at.exception and any("3.32 = all 10 at 10%" in m.value for m in at.markdown)



def lit_cells(figure: dict) -> np.ndarray | None:
    """The cells a figure leaves unveiled (its "veil" trace's gaps), or None without a veil."""
    veil = [trace for trace in figure["data"] if trace.get("name") == "veil"]
    return None if not veil else np.array([[v is None for v in row] for row in veil[0]["z"]])


def table_marks(at) -> list[list[str]]:
    """The maths' sums table's cells: "picked", "lit" or "" (from the colours its styler gave them)."""
    table = next(d for d in at.dataframe if "m_sums" in d.proto.id)
    frame = table.value
    marks = [[""] * len(frame.columns) for _ in range(len(frame))]
    css = table.proto.arrow_data.styler.styles
    for rules, body in re.findall(r"([^{}]+)\{([^}]*)\}", css):
        for row, col in re.findall(r"_row(\d+)_col(\d+)", rules):
            marks[int(row)][int(col)] = "picked" if "#ffd54f" in body else "lit" if "#fff3c4" in body else ""
    return marks


def test_picking_a_z_cell_lights_its_inputs_products_and_bias(env):
    at = inside_page("Maths")
    figures = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert len(figures) == 3 and all(lit_cells(f) is None for f in figures)  # nothing picked: nothing veiled
    assert any("Click (on a phone: tap) any cell" in m.value for m in at.markdown)
    unit = at.selectbox(key="m_unit0").value
    at.session_state["m_pick"] = (0, Cell("z", unit))  # what a click on the z cell stores (ui.maths_view._pick)
    at.run()
    assert not at.exception
    model, _, _ = ModelStore(env / "models").load("default")
    maths = layer_maths(model, as_pixels(load_mnist(env / "mnist").test_images[0]), 0)
    ink, weights, products = (lit_cells(json.loads(c.proto.spec)) for c in at.get("plotly_chart"))
    inked = (maths.inputs != 0).reshape(28, 28)
    for lit in (ink, weights, products):  # the inked pixels stay lit in all three 28x28 grids, the rest is veiled
        np.testing.assert_array_equal(lit, inked)
    assert table_marks(at) == [["", "", "lit", "picked", ""]]  # its bias lit, and the z picked itself; not a
    on = np.flatnonzero(maths.inputs)
    text = next(m.value for m in at.markdown if "data-testid='maths-pick'" in m.value)
    assert (f"z[{unit}] = {len(on)} inked pixels x weights ({maths.products[unit, on].sum():+.3f}) + bias "
            f"({maths.bias[unit]:+.3f}) = {maths.z[unit]:+.3f}; the other {784 - len(on)} pixels") in text
    # a later layer: z of the unit in the third row lights that row of products, the inputs on, and its bias
    at.selectbox(key="m_layer").set_value(1).run()
    maths = layer_maths(model, as_pixels(load_mnist(env / "mnist").test_images[0]), 1)
    shown = np.argsort(-np.abs(maths.z), kind="stable")[:24]
    at.session_state["m_pick"] = (1, Cell("z", int(shown[2])))
    at.run()
    inputs, products = (lit_cells(json.loads(c.proto.spec)) for c in at.get("plotly_chart"))
    np.testing.assert_array_equal(inputs[0], maths.inputs != 0)
    assert products[2].tolist() == (maths.inputs != 0).tolist() and not products[[0, 1, *range(3, 24)]].any()
    marks = table_marks(at)
    assert marks[2] == ["", "", "lit", "picked", ""] and sum(m != "" for row in marks for m in row) == 2
    # the output layer: p[d] lights its z
    at.selectbox(key="m_layer").set_value(2).run()
    at.session_state["m_pick"] = (2, Cell("p", 7))
    at.run()
    assert not at.exception
    marks = table_marks(at)
    seven = list(np.argsort(-np.abs(layer_maths(model, as_pixels(load_mnist(env / "mnist").test_images[0]), 2).z),
                            kind="stable")).index(7)
    assert marks[seven] == ["", "", "", "lit", "picked"] and sum(m != "" for row in marks for m in row) == 2
    assert any(re.search(r"p\[7\] = e\^\(\(z\[7\] − max z\) / 1\) / sum = e\^\([-+]\d", m.value) for m in at.markdown)


def test_a_draw_node_link_opens_its_panel_and_a_forged_one_says_so_in_a_line(env):
    from streamlit.testing.v1 import AppTest

    def opened(**params) -> AppTest:
        at = AppTest.from_file(str(PROJECT / "pages" / "inside.py"), default_timeout=60)
        for key, value in params.items():
            at.query_params[key] = value
        return at.run()

    at = opened(layer="1", unit="5")
    assert not at.exception and not at.warning
    assert any(m.value == "#### hidden 2 · unit 5" for m in at.markdown)  # the Network tab, with that unit's panel
    assert at.session_state["i_node"] == (1, 5) and "layer" not in at.query_params  # taken once from the address
    at.run()  # a rerun (any click) keeps the panel without the link
    assert any(m.value == "#### hidden 2 · unit 5" for m in at.markdown)
    for forged in ({"layer": "3", "unit": "0"}, {"layer": "0", "unit": "512"}, {"layer": "-1", "unit": "2"},
                   {"layer": "x", "unit": "<b>"}, {"unit": "4"}, {"layer": "2", "unit": "1e3"}):
        at = opened(**forged)
        assert not at.exception, forged
        assert [w.value for w in at.warning] == ["This link names a unit the current model (784-512-256-10) does not "
                                                 "have: click a node of the network instead."], forged


def test_mistakes_says_what_a_threshold_answers_and_how_well(env):
    from streamlit.testing.v1 import AppTest

    from mnist_core.net.confidence import coverage
    from mnist_core.net.data import load_mnist
    from mnist_core.net.evaluate import evaluate

    at = AppTest.from_file(str(PROJECT / "pages" / "mistakes.py"), default_timeout=60).run()
    assert not at.exception
    at.slider(key="m_cover_threshold").set_value(50).run()  # in percent
    data = load_mnist(env / "mnist")
    model, _, _ = ModelStore(env / "models").load("default")
    result = evaluate(model, data.test_images, data.test_labels)
    c = coverage(result.probs, result.labels, 0.5)
    expected = (f"Answers {c.answered:.1%} of the test digits, and of those gets {c.accuracy_answered:.1%} right "
                f"({c.accuracy_all:.1%} without the threshold).")
    assert any(f"data-testid='coverage-m_cover'>{expected}</div>" in m.value for m in at.markdown)


def test_switching_off_until_the_answer_changes_lists_the_sequence_and_keeps_it(env):
    from mnist_core.net.data import load_mnist
    from mnist_core.net.lab import knock_out_until_change

    at = inside_page("Lab")
    at.button(key="lab_knock").click().run()
    assert not at.exception
    model, _, _ = ModelStore(env / "models").load("default")
    expected = knock_out_until_change(model, load_mnist(env / "mnist").test_images[0])
    verdict = (f"The answer changed from {expected.digit_before} after {len(expected.steps)} units" if expected.changed
               else f"Still {expected.digit_before}")
    assert any(verdict in m.value for m in at.markdown)
    at.button(key="lab_keep").click().run()
    assert not at.exception
    assert at.session_state["lab_edits"]["default"] == expected.edits
