"""Mistakes page: the test digits a model gets wrong: scores, confusion matrix, gallery, the dataset."""

from __future__ import annotations

import numpy as np
import streamlit as st

import ui.startup  # noqa: F401  (first: a page run alone on a fresh server still leaves the pages-folder mode)
from mnist_core.classroom.errors import ClassError
from mnist_core.net.confidence import coverage
from mnist_core.net.data import MnistDataError
from mnist_core.net.evaluate import disagreements, Evaluation, ORDERS, select_mistakes
from mnist_core.net.pictures import pixels_image
from ui.browser import is_teacher, owner
from ui.caches import collection_evaluation, collection_part, evaluation_of
from ui.charts import confusion_figure, coverage_figure, layout
from ui.current_model import changes_caption, model_picker
from ui.engine import classroom, collections, data_problem, dataset
from ui.galleries import clickable_gallery, gallery
from ui.i18n import decimal_mark, N_, num, pct, percent_format, said, t
from ui.keys import DRAWN, INSIDE_SOURCE, INSIDE_TEST
from ui.last_drawing import mark_drawing_seen
from ui.models import model_names
from ui.tables import DASH, with_dashes

PAGE_SIZE = 60
COMPARE_PAGE = 40  # digits per page in each half of Compare two models
# The engine's orders (ORDERS), as the page shows them in this browser's language.
ORDER_LABELS = {"confidence": N_("most confident mistakes first"),
                "true_probability": N_("least probability given to the true digit first"),
                "index": N_("by index in the test set")}


def scores_panel(result: Evaluation, accuracy: str | None = None, misread: str | None = None) -> None:
    """The set's scores (`accuracy` and `misread` title two of them; else the MNIST test set's titles)."""
    columns = st.columns(3)
    columns[0].metric(accuracy or t("Test accuracy"), pct(result.accuracy))
    columns[1].metric(t("Macro-F1"), num(result.macro_f1, 4))
    columns[2].metric(misread or t("Misclassified test digits"), num(len(result.mistakes), 0))
    if len(result.covered) < 10:
        st.caption(t("Macro-F1 and the table cover the digits this set holds: {digits}.",
                     digits=", ".join(map(str, result.covered.tolist()))))
    precision, recall = t("precision"), t("recall")
    rows = [{t("digit"): d, precision: float(result.precision[d]), recall: float(result.recall[d]),
             "F1": float(result.f1[d]), t("support"): int(result.support[d])} for d in result.covered.tolist()]
    st.dataframe(with_dashes(rows, {precision: "{:.4f}", recall: "{:.4f}", "F1": "{:.4f}"}, decimal=decimal_mark()),
                 hide_index=True, placeholder=DASH)


def mistake_captions(result: Evaluation, shown: np.ndarray) -> list[str]:
    """Each shown mistake's caption: true -> read, and how sure, in this browser's language ("9 -> 4 99 %")."""
    return [f"{result.labels[i]} -> {result.preds[i]} {pct(result.confidence[i], 0)}" for i in shown]


@st.fragment
def gallery_panel(result: Evaluation, images: np.ndarray, what: str = "test") -> None:
    """A fragment: changing a filter, the order, the page or the pick reruns only the gallery."""
    any_digit = [None, *range(10)]
    left, middle, right = st.columns(3)
    anything = t("any")
    true_digit = left.selectbox(t("True digit"), any_digit, format_func=lambda d: anything if d is None else str(d),
                                key="m_true")
    predicted = middle.selectbox(t("Predicted digit"), any_digit,
                                 format_func=lambda d: anything if d is None else str(d), key="m_pred")
    order = right.selectbox(t("Order"), list(ORDERS), format_func=lambda o: t(ORDER_LABELS[o]), key="m_order")
    chosen = select_mistakes(result, true_digit, predicted, order)
    if not len(chosen):
        st.info(t("No mistakes with these filters."))
        return
    pages = -(-len(chosen) // PAGE_SIZE)
    page = st.number_input(t("Page (of {pages})", pages=pages), 1, pages, 1, key="m_page") if pages > 1 else 1
    shown = chosen[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    captions = mistake_captions(result, shown)
    clicked = clickable_gallery(images[shown], shown, captions, 10, "m_gallery")
    if clicked is not None and clicked in shown:
        st.session_state["m_pick"] = clicked
    st.caption(t("{count} mistakes; shown {shown}: true -> predicted, with the model's confidence. Click a digit "
                 "to look closer.", count=len(chosen), shown=len(shown)))
    def named(i: int) -> str:
        words = dict(index=i, true=result.labels[i], read=result.preds[i])
        return (t("test digit #{index}: true {true} → predicted {read}", **words) if what == "test"
                else t("drawing #{index}: true {true} → predicted {read}", **words))

    pick = st.selectbox(t("Look closer at"), shown.tolist(), key="m_pick", format_func=named)
    left, right = st.columns([1, 2])
    left.image(pixels_image(images[pick], 8), caption=t("test digit #{index}", index=pick) if what == "test"
               else t("drawing #{index}", index=pick))
    right.plotly_chart({"data": [{"type": "bar", "x": list(range(10)), "y": result.probs[pick].tolist(),
                                  "marker": {"color": ["#cb181d" if d == result.preds[pick] else
                                                       "#238b45" if d == result.labels[pick] else "#9ecae1"
                                                       for d in range(10)]}}],
                        "layout": layout(260, t("Probabilities (red: its answer, green: the truth)"), top=30,
                                         xaxis={"dtick": 1}, yaxis={"range": [0, 1], "tickformat": ".0%"})},
                       key="m_probs", config={"displayModeBar": False})
    # Under both columns: in a third of the page its French or Spanish words were cut.
    if st.button(t("Look inside: why this answer?"), icon=":material/biotech:", key="m_inside"):
        # A test digit by its index; a drawing as the Draw page's newest drawing.
        st.session_state.update({INSIDE_SOURCE: "test", INSIDE_TEST: int(pick)} if what == "test" else
                                {INSIDE_SOURCE: "drawing", DRAWN: images[pick] / 255.0})
        mark_drawing_seen()
        st.switch_page("pages/inside.py")


def compare_panel(name: str, result: Evaluation, images: np.ndarray) -> None:
    others = model_names(besides=name)
    if not others:
        st.caption(t("Train another model to compare it with this one."))
        return
    other = st.selectbox(t("Compare with"), others, key="m_other")
    other_result = evaluation_of(other)
    only_this, only_other = disagreements(result, other_result)
    st.markdown(t("**{name}** gets {count} digits right that **{other}** gets wrong; **{other}** gets "
                  "{count_other} right that **{name}** gets wrong.", name=name, other=other, count=len(only_this),
                  count_other=len(only_other)))
    for side, (right_by, wrong_by, wrong_preds, indices) in enumerate((
            (name, other, other_result.preds, only_this), (other, name, result.preds, only_other))):
        if not len(indices):
            continue
        st.markdown(t("**Right by {right}, wrong by {wrong}**: {count} digits, {per_page} a page", right=right_by,
                      wrong=wrong_by, count=len(indices), per_page=COMPARE_PAGE))
        pages = -(-len(indices) // COMPARE_PAGE)
        page = st.number_input(t("Page (of {pages})", pages=pages), 1, pages, 1,
                               key=f"m_compare_page_{side}") if pages > 1 else 1
        shown = indices[(page - 1) * COMPARE_PAGE: page * COMPARE_PAGE]
        first = (page - 1) * COMPARE_PAGE + 1
        gallery(images[shown], [f"#{i}: {result.labels[i]}->{wrong_preds[i]}" for i in shown],
                caption=t("{first}-{last}: {shown} of {count}. Under each: the test digit's number, its true "
                          "digit -> what {wrong} answered", first=first, last=first + len(shown) - 1,
                          shown=len(shown), count=len(indices), wrong=wrong_by))


def dataset_panel() -> None:
    data = dataset()
    splits = {"training": t("training"), "test": t("test")}
    split = st.radio(t("Set"), list(splits), horizontal=True, key="m_split", format_func=splits.get)
    images, labels = (data.train_images, data.train_labels) if split == "training" else \
        (data.test_images, data.test_labels)
    counts = np.bincount(labels, minlength=10)
    st.plotly_chart({"data": [{"type": "bar", "x": list(range(10)), "y": counts.tolist(), "text": counts.tolist(),
                               "textposition": "outside"}],
                     "layout": layout(260, t("Digits in the training set ({count})", count=num(len(labels), 0))
                                      if split == "training" else
                                      t("Digits in the test set ({count})", count=num(len(labels), 0)), top=30,
                                      xaxis={"dtick": 1})}, key="m_counts", config={"displayModeBar": False})
    start = st.number_input(t("First image"), 0, len(labels) - 60, 0, step=60, key="m_start")
    window = np.arange(start, start + 60)
    gallery(images[window], [f"#{i}: {labels[i]}" for i in window])


def confusion_panel(result: Evaluation) -> None:
    normalised = st.toggle(t("Row-normalised (share of each true digit)"), key="m_normalised")
    # Not in the chart's title: a Plotly title does not wrap, and on a phone its French was cut.
    st.caption(t("Click a cell of the confusion matrix to see those digits."))
    clicked = st.plotly_chart(confusion_figure(result, normalised), key="m_confusion", on_select="rerun",
                              selection_mode="points", config={"displayModeBar": False})
    points = clicked.selection.points if clicked is not None else []
    if points and (points[0]["y"], points[0]["x"]) != st.session_state.get("m_cell"):
        cell = (int(points[0]["y"]), int(points[0]["x"]))
        st.session_state.update({"m_cell": cell, "m_true": cell[0], "m_pred": cell[1], "m_page": 1})
        st.rerun()


# What a threshold answers, one whole sentence per set of digits (a language words each its own way).
ON_TEST = N_("Answers {answered} of the test digits, and of those gets {right} right ({all} without the threshold).")
ON_DRAWINGS = N_("Answers {answered} of these drawings, and of those gets {right} right ({all} without the "
                 "threshold).")


def confidence_panel(result: Evaluation, images: np.ndarray, sentence: str, key: str) -> None:
    """A confidence threshold with its price: how much is answered, how much of that is right, the curve,
    and the errors made with over 90% confidence. `sentence`: ON_TEST or ON_DRAWINGS."""
    # In percent (90 %): a slider writes a fraction as 0.90 whatever the language.
    threshold = st.slider(t("Answer only when at least this sure"), 0, 100, 90, 1, key=f"{key}_threshold",
                          format=percent_format()) / 100
    figures = coverage(result.probs, result.labels, threshold)
    said_here = t(sentence, answered=pct(figures.answered, 1), right=pct(figures.accuracy_answered, 1),
                  all=pct(figures.accuracy_all, 1))
    st.markdown(f"<div data-testid='coverage-{key}'>{said_here}</div>", unsafe_allow_html=True)
    st.plotly_chart(coverage_figure(figures), key=f"{key}_curve", config={"displayModeBar": False})
    errors = figures.confident_errors
    st.markdown(t("**{count} very confident errors** (wrong, and over 90% sure):", count=len(errors)) if len(errors)
                else t("**{count} very confident errors** (wrong, and over 90% sure).", count=len(errors)))
    if len(errors):
        shown = errors[:PAGE_SIZE]
        gallery(images[shown], mistake_captions(result, shown),
                caption=t("true → read, and how sure (the {count} surest)", count=PAGE_SIZE)
                if len(errors) > PAGE_SIZE else t("true → read, and how sure"))


PARTS = {"held": N_("held-out part (never trained on)"), "all": N_("all of it"), "learn": N_("part to learn from")}


def collection_panel(name: str) -> None:
    """Mistakes on our handwriting: the model scored on a drawing collection, the held-out part by default."""
    open_name = classroom().open_name()
    names = collections().visible_names(owner(), is_teacher())  # the class's and this browser's own only
    choices = ([open_name] if open_name in names else []) + [n for n in names if n != open_name]
    if not choices:
        st.info(t("No drawing collections yet: the teacher opens a class collection on the Class page, and "
                  "students add drawings on the Draw page."))
        return
    left, right = st.columns(2)
    collection = left.selectbox(t("Collection"), choices, key="m_collection")
    part = right.selectbox(t("Part"), list(PARTS), format_func=lambda p: t(PARTS[p]), key="m_part")
    try:
        drawings, seen = collection_part(collection, part)
        result = collection_evaluation(name, collection, part)
    except ClassError:
        st.info(t("No drawings in the {part} of **{collection}** yet.", part=t(PARTS[part]), collection=collection))
        return
    except (ValueError, OSError) as e:
        st.error(t("The collection cannot be read: {reason}", reason=said(e)))
        return
    words = dict(name=name, count=len(seen), collection=collection, part=t(PARTS[part]))
    st.caption(t("**{name}** on the {count} held-out drawings of **{collection}** ({part}), read as the Draw page "
                 "reads them.", **words) if part == "held" else
               t("**{name}** on the {count} drawings of **{collection}** ({part}), read as the Draw page reads them.",
                 **words))
    scores_panel(result, t("Accuracy on our handwriting"), t("Misread drawings"))
    confusion_panel(result)
    pictures = (seen.images * 255).round().astype(np.uint8)
    gallery_panel(result, pictures, "drawing")
    st.subheader(t("Confidence, with its price"))
    confidence_panel(result, pictures, ON_DRAWINGS, "m_class_cover")


def render() -> None:
    st.title(t("Where the network goes wrong"))
    name = model_picker()
    changes_caption(name)
    sources = {"test": t("the MNIST test set"), "collection": t("our handwriting (a drawing collection)")}
    source = st.radio(t("Scored on"), list(sources), horizontal=True, key="m_source", format_func=sources.get)
    if source == "collection":
        collection_panel(name)
        return
    try:
        result = evaluation_of(name)
        images = dataset().test_images
    except MnistDataError as e:
        st.warning(data_problem(e))
        return
    mistakes_tab, confidence_tab, compare_tab, data_tab = st.tabs([t("Mistakes"), t("Confidence"),
                                                                   t("Compare two models"), t("Dataset")])
    with mistakes_tab:
        scores_panel(result)
        confusion_panel(result)
        gallery_panel(result, images)
    with confidence_tab:
        confidence_panel(result, images, ON_TEST, "m_cover")
    with compare_tab:
        compare_panel(name, result, images)
    with data_tab:
        dataset_panel()


render()
