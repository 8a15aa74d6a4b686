"""Inside's Network, Lab and Maths tabs and Mistakes' Confidence tab under AppTest (tiny MNIST, the shipped
model): the lab scores an edit on the test set and on the open class collection's held-out part at once."""

from __future__ import annotations

import re

from mnist_core.classroom.collection import ClassCollection, held_out, split
from mnist_core.classroom.scoring import examples
from mnist_core.net.edits import SwitchOff
from mnist_core.net.lab import apply_edits, figures
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
