"""Inside page: why the network answers as it does: its weights, activations, saliency, the nearest
training digits, how brittle it is, and a map of what a layer makes of the test digits."""

from __future__ import annotations

import time

import numpy as np
import streamlit as st

import ui.startup  # noqa: F401  (first: a page run alone on a fresh server still leaves the pages-folder mode)
from mnist_core.net.data import missing_files, MnistDataError
from mnist_core.net.graph import network_graph
from mnist_core.net.inside import (
    activations,
    features,
    hidden_index,
    METHODS,
    NearestDigits,
    occlusion,
    project,
    Projection,
    saliency,
    top_units,
    unit_grid_order,
)
from mnist_core.net.model import layers_label, MLP, weight_images
from mnist_core.net.perturb import PERTURBATIONS, shift_grid, shifted
from mnist_core.net.pictures import block_text, overlay, pixels_image, weight_grid
from mnist_core.net.preprocess import as_pixels
from ui.caches import inside_cache, loaded_model, model_version, pixel_neighbours, test_curve, test_evaluation
from ui.charts import curve_figure, layout, shift_figure
from ui.current_model import model_picker
from ui.engine import data_problem, dataset
from ui.galleries import gallery
from ui.i18n import N_, num, pct, t
from ui.keys import DRAWING_SEEN, DRAWN, INSIDE_SOURCE, INSIDE_TEST
from ui.lab import lab_view
from ui.last_drawing import last_drawing, mark_drawing_seen
from ui.maths_view import maths_view
from ui.models import model_names
from ui.network import linked_node, show_network, unit_panel

UNITS_PER_PAGE = 64
SHIFT_RADIUS = 5  # the grid of moved copies of the digit: -5..5 pixels each way
MAP_SAMPLE = 1000  # test digits on the map (plus every mistake): each carries its picture as hover text
METHOD_NAMES = {"pca": "PCA", "tsne": "t-SNE"}
COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf"]


# --- computed once per server (or per model version) and shared by every session -----------------

def hidden_neighbours(name: str, created: str) -> NearestDigits:
    """The training set through the model's last hidden layer: once per model version (about a second), kept
    within the Inside budget in bytes (ui.caches.inside_cache)."""
    def build() -> NearestDigits:
        model, _ = loaded_model(name, created)
        return hidden_index(model, dataset().train_images)

    return inside_cache().get(("neighbours", name, created), build)


def layer_map(name: str, created: str, layer: int | None, method: str) -> tuple[Projection, np.ndarray, np.ndarray]:
    """The map of one layer: its projection, which test digits are on it, and the model's answers to them
    (kept within the Inside budget in bytes)."""
    def build() -> tuple[Projection, np.ndarray, np.ndarray]:
        model, _ = loaded_model(name, created)
        preds = test_evaluation(name, created).preds  # the Mistakes page's, computed once per model
        mistakes = np.flatnonzero(preds != dataset().test_labels)
        shown = np.union1d(np.arange(min(MAP_SAMPLE, len(preds))), mistakes)
        return project(features(model, dataset().test_images[shown], layer), method), shown, preds[shown]

    return inside_cache().get(("map", name, created, layer, method), build)


# --- the input ---------------------------------------------------------------------------------

def choose_input() -> tuple[np.ndarray, str]:
    """The digit to look into: the last drawing from the Draw page, or a test digit. ([0, 1] (28, 28), title)"""
    last = last_drawing()
    if last is not None and last.serial != st.session_state.get(DRAWING_SEEN):
        # A drawing newer than the one looked at: the Draw page's strokes are answered without a page run
        # (ui/quick_answer.py), so the server's is the newest (what Mistakes sent here is older than it).
        st.session_state.update({DRAWING_SEEN: last.serial, INSIDE_SOURCE: "drawing"})
        st.session_state.pop(DRAWN, None)
    drawn = st.session_state.get(DRAWN)
    if drawn is None and last is not None:  # the server keeps this browser's last drawing (a reload loses none)
        drawn = last.pixels
    sources = (["drawing"] if drawn is not None else []) + ["test"]
    if st.session_state.get(INSIDE_SOURCE) not in sources:
        st.session_state[INSIDE_SOURCE] = sources[0]
    left, right = st.columns([2, 1])
    source = left.radio(t("Look at"), sources, key=INSIDE_SOURCE, horizontal=True,
                        format_func={"drawing": t("my last drawing (Draw page)"), "test": t("a test digit")}.get)
    if source == "drawing":
        return drawn, t("your drawing")
    data = dataset()
    index = right.number_input(t("Test digit number"), 0, len(data.test_labels) - 1, key=INSIDE_TEST,
                               help=t("0 to 9,999; the Mistakes page can send one here"))
    return as_pixels(data.test_images[index]), t("test digit #{index} (a {digit})", index=index,
                                                 digit=data.test_labels[index])


# --- the views -----------------------------------------------------------------------------------

@st.fragment
def network_view(name: str, model: MLP, image: np.ndarray) -> None:
    graph = network_graph(model, image)
    st.caption(t("The whole network for this digit: nodes darker the more they fire; lines are the strongest "
                 "contributions (output x weight), red pushing the unit above up, blue holding it back. Hover a "
                 "node for its numbers; click one for its panel."))
    kept = st.session_state.get("i_node")
    picked = show_network(graph, "i_network")  # the same figure whatever is picked: a click keeps its place
    if picked is not None:
        st.session_state["i_node"] = kept = picked
    if kept is None or kept[0] > len(model.hidden) or kept[1] >= (*model.hidden, 10)[kept[0]]:
        st.info(t("Click a node to see what it computes and what it fires for."))
        return
    unit_panel(name, model_version(name), model, image, *kept)


@st.fragment
def weights_view(model: MLP) -> None:
    weights = weight_images(model)
    st.caption(t("Each square is one first-layer unit: its 784 incoming weights laid out as the 28×28 picture "
                 "they look at. **Red**: ink there excites the unit; **blue**: ink there inhibits it; white: it does "
                 "not care. Many look like blurry strokes or pieces of digits."))
    left, middle, right = st.columns(3)
    order = left.radio(t("Order"), ["as in the network", "strongest first"], key="i_order", horizontal=True,
                       format_func={"as in the network": t("as in the network"),
                                    "strongest first": t("strongest first")}.get)
    per_unit = middle.radio(t("Colour scale"), ["each unit its own", "one for all"], key="i_scale", horizontal=True,
                            format_func={"each unit its own": t("each unit its own"),
                                         "one for all": t("one for all")}.get) == "each unit its own"
    units = unit_grid_order(weights) if order == "strongest first" else np.arange(len(weights))
    pages = -(-len(units) // UNITS_PER_PAGE)
    page = right.number_input(t("Page (of {pages})", pages=pages), 1, pages, 1, key="i_wpage") if pages > 1 else 1
    shown = units[(page - 1) * UNITS_PER_PAGE: page * UNITS_PER_PAGE]
    st.image(weight_grid(weights[shown], columns=16, scale=2, per_unit=per_unit, labels=[f"#{u}" for u in shown]),
             caption=t("{shown} of the {count} units", shown=len(shown), count=len(units)))


@st.fragment
def activations_view(model: MLP, image: np.ndarray) -> None:
    hidden, probs = activations(model, image)
    st.caption(t("How strongly each hidden unit responds to this digit. The answer is built from these numbers "
                 "alone: the last layer weighs them into a score for each digit."))
    for depth, values in enumerate(hidden, start=1):
        firing = float((values > 0).mean()) if model.activation in ("relu", "gelu") else None
        title = (t("Hidden layer {depth}: {count} units, {share} of them active for this digit", depth=depth,
                   count=len(values), share=pct(firing, 0)) if firing is not None
                 else t("Hidden layer {depth}: {count} units", depth=depth, count=len(values)))
        st.plotly_chart({"data": [{"type": "bar", "x": list(range(len(values))), "y": values.tolist(),
                                   "marker": {"color": "#08519c"},
                                   "hovertemplate": t("unit %{x}: %{y:.3f}<extra></extra>")}],
                         "layout": layout(220, title, top=30, bargap=0, xaxis={"title": {"text": t("unit")}})},
                        key=f"i_act_{depth}", config={"displayModeBar": False})
    first = hidden[0]
    top = top_units(first, 8)
    weights = weight_images(model)[top]
    # What each unit saw: its weights where this digit has ink (weight x pixel), on the same colour map.
    seen = weights * np.asarray(image, np.float32)[None]
    tiles = np.concatenate([weights, seen])
    labels = [f"#{u}: {num(first[u])}" for u in top] + [t("#{unit} x ink", unit=u) for u in top]
    st.markdown(t("**The first-layer units that fired most**: their weights (top row), and the weights where this "
                  "digit has ink (bottom row): red ink pushed the unit up, blue pulled it down."))
    st.image(weight_grid(tiles, columns=8, scale=3, labels=labels))


@st.fragment
def saliency_view(model: MLP, image: np.ndarray) -> None:
    _, probs = activations(model, image)
    predicted = int(probs.argmax())
    left, middle, right = st.columns(3)
    method_names = {"gradient × input": t("gradient × input"), "occlusion": t("occlusion")}
    method = left.radio(t("Method"), list(method_names), key="i_method", horizontal=True, format_func=method_names.get,
                        help=t("Gradient × input: how much each ink pixel adds to the digit's score. Occlusion: how "
                               "much its probability falls when a small square of ink is wiped out."))
    digit = middle.selectbox(t("Why (not) this digit"), list(range(10)), index=predicted, key=f"i_digit_{predicted}",
                             format_func=lambda d: t("{digit} ({share}) ← answer", digit=d, share=pct(probs[d], 0))
                             if d == predicted else t("{digit} ({share})", digit=d, share=pct(probs[d], 0)))
    patch = right.slider(t("Occlusion square"), 1, 7, 3, key="i_patch", disabled=method != "occlusion")
    values = saliency(model, image, digit) if method == "gradient × input" else occlusion(model, image, digit, patch)
    picture, explanation = st.columns([1, 2])
    picture.image(overlay(image, values, 10),
                  caption=t("{method} for {digit}", method=method_names[method], digit=digit))
    pushed_for = float(values[values > 0].sum())
    pushed_against = float(-values[values < 0].sum())
    explanation.markdown(
        t("**Red** pixels pushed the network towards **{digit}**, **blue** ones away from it; the grey digit "
          "underneath is the input. Here the red outweighs the blue {ratio} to 1.", digit=digit,
          ratio=num(pushed_for / max(pushed_against, 1e-9), 1)) if pushed_against > 0 else
        t("**Red** pixels pushed the network towards **{digit}**; no pixel pushed against it.", digit=digit))
    explanation.caption(t("Only pixels with ink can count: an MLP multiplies each pixel by a weight, so an empty "
                          "pixel adds nothing, wherever it is. Pick another digit to see why the network did not say "
                          "it."))


@st.fragment
def neighbours_view(name: str, model: MLP, image: np.ndarray) -> None:
    data = dataset()
    by_pixels = pixel_neighbours()
    by_hidden = hidden_neighbours(name, model_version(name))
    start = time.perf_counter()
    near_pixels, pixel_distance = by_pixels.query(features(None, image, None)[0], 8)
    near_hidden, hidden_distance = by_hidden.query(features(model, image, -1)[0], 8)
    took = time.perf_counter() - start
    for title, indices, distances in (
            (t("**By pixels**: the training digits whose ink lies in the same places"), near_pixels, pixel_distance),
            (t("**As the last hidden layer sees them**: the training digits the network treats as most alike"),
             near_hidden, hidden_distance)):
        st.markdown(title)
        captions = [f"{data.train_labels[i]}  d={num(d, 1)}" for i, d in zip(indices, distances, strict=True)]
        gallery(data.train_images[indices], captions, 8)
    st.caption(t("Searched all {count} training digits twice in {ms} ms. When the pixel neighbours are other digits "
                 "but the hidden-layer ones are right, the network has learned more than ink overlap.",
                 count=num(len(data.train_labels), 0), ms=num(took * 1000, 0)))


@st.fragment
def brittleness_view(name: str, model: MLP, image: np.ndarray) -> None:
    grid = shift_grid(model, image, radius=SHIFT_RADIUS)
    original = int(grid[SHIFT_RADIUS, SHIFT_RADIUS].argmax())
    left, right = st.columns([3, 2])
    left.plotly_chart(shift_figure(grid, original), key="i_shift_grid", config={"displayModeBar": False})
    with right:
        dx = st.slider(t("Move right"), -SHIFT_RADIUS, SHIFT_RADIUS, 0, key="i_dx")
        dy = st.slider(t("Move down"), -SHIFT_RADIUS, SHIFT_RADIUS, 0, key="i_dy")
        probs = grid[dy + SHIFT_RADIUS, dx + SHIFT_RADIUS]
        st.image(pixels_image(shifted(image, dx, dy), 6),
                 caption=t("Reads {digit} ({share} sure)", digit=int(probs.argmax()), share=pct(probs.max(), 0)))
    st.caption(t("Each pixel is a separate input to an MLP, so the same digit a few pixels off lights up inputs it "
                 "never saw lit in training: that is why drawings are centred like MNIST before it reads them."))

    st.markdown(t("**On all {count} test digits**", count=num(len(dataset().test_labels), 0)))
    left, right = st.columns(2)
    kinds = {"shift": t("shift (a random direction each)"), "rotation": t("rotation (either way)"),
             "noise": t("noise"), "thickness": t("stroke thickness")}
    kind = left.selectbox(t("Change"), list(PERTURBATIONS), key="i_kind", format_func=lambda k: kinds.get(k, k))
    others = ["(none)", *model_names(besides=name)]
    other = right.selectbox(t("Compare with"), others, key="i_other",
                            format_func=lambda o: t("(none)") if o == "(none)" else o)
    with st.spinner(t("Scoring the test set at each level (a few seconds, once per model) …")):
        lines = [(shown, test_curve(shown, model_version(shown), kind))
                 for shown in [name] + ([other] if other != "(none)" else [])]
    unit = PERTURBATIONS[kind][1]
    st.plotly_chart(curve_figure(lines, kind, unit), key="i_curve", config={"displayModeBar": False})
    summary = "; ".join(t("{model}: {start} → {end} at {level}", model=shown, start=pct(curve[0][1], 1),
                          end=pct(curve[-1][1], 1), level=num(curve[-1][0], 2, trim=True)) for shown, curve in lines)
    st.caption(t("{summary}. Compare a model trained with augmentation (like the shipped one) with one trained "
                 "without (the 'recommended' preset) to see what augmentation buys.", summary=summary))


@st.fragment
def map_view(name: str, model: MLP, image: np.ndarray) -> None:
    layers = [None, *range(len(model.hidden))]
    left, right = st.columns(2)
    layer = left.selectbox(t("Layer"), layers, index=len(layers) - 1, key="i_layer",
                           format_func=lambda x: t("the pixels (input)") if x is None else
                           t("hidden layer {depth} ({count} units)", depth=x + 1, count=model.hidden[x]))
    method = right.radio(t("Projection"), METHODS, key="i_projection", horizontal=True,
                         format_func={"pca": t("PCA (at once)"), "tsne": t("t-SNE (seconds, then kept)")}.get)
    picked_slot = st.container()  # a clicked digit shows here, above the map, where the eye already is
    with st.spinner(t("Placing the digits …")):
        projection, shown, preds = layer_map(name, model_version(name), layer, method)
    data = dataset()
    labels = data.test_labels[shown]
    points = projection.points
    hover = [t("#{index}: a {digit}, read {read}<br>{picture}", index=i, digit=true, read=p,
               picture=block_text(data.test_images[i])) for i, true, p in zip(shown, labels, preds, strict=True)]
    traces = []
    for digit in range(10):
        mine = np.flatnonzero(labels == digit)
        traces.append({"type": "scattergl", "mode": "markers", "name": str(digit), "x": points[mine, 0].tolist(),
                       "y": points[mine, 1].tolist(), "customdata": shown[mine].tolist(),
                       "text": [hover[i] for i in mine], "hovertemplate": "%{text}<extra></extra>",
                       "marker": {"size": 6, "color": COLOURS[digit], "opacity": 0.75}})
    wrong = np.flatnonzero(labels != preds)
    traces.append({"type": "scattergl", "mode": "markers", "name": t("mistakes"), "x": points[wrong, 0].tolist(),
                   "y": points[wrong, 1].tolist(), "customdata": shown[wrong].tolist(),
                   "text": [hover[i] for i in wrong], "hovertemplate": "%{text}<extra></extra>",
                   "marker": {"size": 12, "symbol": "circle-open", "color": "#000", "line": {"width": 1.5}}})
    star = projection.place(features(model, image, layer)[0])
    # WebGL like the rest: an SVG trace would be drawn beneath the WebGL points.
    traces.append({"type": "scattergl", "mode": "markers", "name": t("this digit"), "x": [float(star[0])],
                   "y": [float(star[1])], "hovertemplate": t("the digit you are looking at<extra></extra>"),
                   "marker": {"size": 22, "symbol": "star", "color": "#ffd700",
                              "line": {"width": 1.5, "color": "#000"}}})
    chosen = st.plotly_chart(
        {"data": traces, "layout": layout(620, t("{count} test digits placed by {method}; ringed: read wrongly",
                                                 count=num(len(shown), 0), method=METHOD_NAMES[method]),
                                          hoverlabel={"font": {"family": "monospace", "size": 9}},
                                          legend={"title": {"text": t("true digit")}}, clickmode="event+select")},
        key="i_map", on_select="rerun", selection_mode="points", config={"displayModeBar": False})
    about = dict(count=num(MAP_SAMPLE, 0))
    st.caption(t("Hover a point to see its digit, click one to look at it. Digits the layer finds alike sit together; "
                 "mistakes sit where two clusters meet. Compare the pixels with the last hidden layer: the network "
                 "pulls the classes apart. On the map: the first {count} test digits and every test digit the model "
                 "reads wrongly. t-SNE cannot place new points, so the star sits amid the five test digits nearest "
                 "to it in this layer.", **about) if method == "tsne" else
               t("Hover a point to see its digit, click one to look at it. Digits the layer finds alike sit together; "
                 "mistakes sit where two clusters meet. Compare the pixels with the last hidden layer: the network "
                 "pulls the classes apart. On the map: the first {count} test digits and every test digit the model "
                 "reads wrongly.", **about))
    points_chosen = chosen.selection.points if chosen is not None else []
    picked = [p.get("customdata") for p in points_chosen if p.get("customdata") is not None]
    if not picked:
        picked_slot.caption(t("Click a point on the map: its digit shows here."))
        return
    with picked_slot:
        index = int(picked[0])
        left, right = st.columns([1, 3])
        left.image(pixels_image(data.test_images[index], 4),
                   caption=t("test #{index}: a {digit}", index=index, digit=data.test_labels[index]))
        if right.button(t("Look inside test digit #{index}", index=index), key="i_map_pick"):
            st.session_state.update({INSIDE_SOURCE: "test", INSIDE_TEST: index})
            mark_drawing_seen()
            st.rerun()


def render() -> None:
    for key in (INSIDE_SOURCE, INSIDE_TEST):  # keep the choice when the user visits another page and comes back
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
    st.title(t("Inside the network"))
    top = st.columns([1, 2])
    with top[0]:
        name = model_picker()
    model, _ = loaded_model(name, model_version(name))
    if (linked := linked_node(model)) is not None:  # a node clicked on Draw: its panel, in the Network tab
        st.session_state.update({"i_node": linked, "i_tab": t("Network")})
    with top[1]:
        try:
            image, title = choose_input()
        except MnistDataError as e:
            st.warning(data_problem(e))
            return
    image = np.asarray(image, np.float32)
    _, probs = activations(model, image)
    picture, summary = st.columns([1, 5])
    picture.image(pixels_image(image, 3, grid=False))
    summary.markdown(t("Looking at **{title}** with model **{name}** ({layers}, {activation}): it reads **{digit}**, "
                       "{share} sure.", title=title, name=name, layers=layers_label(model.hidden),
                       activation=model.activation, digit=int(probs.argmax()), share=pct(probs.max(), 0)))
    mistakes = test_evaluation(name, model_version(name)).mistakes if not missing_files() else np.zeros(0, int)
    views = {N_("Network"): lambda: network_view(name, model, image),
             N_("Lab"): lambda: lab_view(name, model_version(name), image),
             N_("Maths"): lambda: maths_view(model, image, mistakes),
             N_("Weights"): lambda: weights_view(model), N_("Activations"): lambda: activations_view(model, image),
             N_("Saliency"): lambda: saliency_view(model, image),
             N_("Nearest digits"): lambda: neighbours_view(name, model, image),
             N_("Brittleness"): lambda: brittleness_view(name, model, image),
             N_("Map"): lambda: map_view(name, model, image)}
    needs_data = {"Network", "Lab", "Nearest digits", "Brittleness", "Map"}
    # Only the open tab runs (on_change="rerun"): the others would cost seconds the first time.
    tabs = st.tabs([t(label) for label in views], key="i_tab", on_change="rerun")
    for tab, (label, view) in zip(tabs, views.items(), strict=True):
        if not tab.open:
            continue
        with tab:
            if label in needs_data and missing_files():
                st.warning(t("This view needs the MNIST training and test sets; the Train page can download them."))
            else:
                view()


render()
