"""The network lit up: a node-link picture of the whole MLP for one digit (the input as a small image, each
layer's nodes shaded by activation, the strongest edges coloured push / hold back), and the panel of one
clicked unit. Inside draws it with Plotly (a click opens a node's panel); Draw, on every stroke, as the same
picture in SVG with a hover text per node (Plotly's figure checks alone took ~10 ms of server CPU a stroke)."""

from __future__ import annotations

import functools
import html
from collections.abc import Callable
from urllib.parse import urlencode

import numpy as np
import streamlit as st

from mnist_core.net.graph import NetworkGraph, Node, unit_profiles, UnitProfiles
from mnist_core.net.maths import layer_maths
from mnist_core.net.model import layers_label, MLP, weight_images
from mnist_core.net.pictures import ink_uri, weight_grid
from ui.caches import loaded_model
from ui.charts import layout, unchecked
from ui.engine import dataset
from ui.galleries import gallery
from ui.i18n import num, number_format, pct, percent_writer, t, URL_LANG
from ui.keys import NODE_LAYER, NODE_UNIT, PROJECTOR
from ui.layers import layer_label
from ui.maths_view import unit_text

PUSH_COLOUR, HOLD_COLOUR = "#d62728", "#1f77b4"  # red pushes a unit up, blue holds it back (as the weight pictures)
OUTPUT_LABELS_PX = 72  # right of the output column: "7: 100 %" at 12 px, after half a 16 px marker
INPUT_LEFT, INPUT_WIDTH = -1.3, 1.0  # where the 28x28 input sits, in the figure's x units (a layer is 1 apart)
EDGE_WIDTHS = (0.6, 1.4, 2.6)  # the weakest, middle and strongest third of a layer's shown edges
NODE_SHADES = ((0.0, (0xf7, 0xfb, 0xff)), (0.4, (0x6b, 0xae, 0xd6)), (1.0, (0x08, 0x30, 0x6b)))  # low -> high output
Y_RANGE = (-0.03, 1.14)  # the figure's y axis: the layers in [0, 1], their names above


@st.cache_resource(max_entries=4, show_spinner=False)
def profiles(name: str, created: str) -> UnitProfiles:
    """Every unit's mean output per digit and 8 most-activating test digits: once per model version."""
    model, _ = loaded_model(name, created)
    data = dataset()
    return unit_profiles(model, data.test_images, data.test_labels)


def _positions(graph: NetworkGraph) -> list[dict[int, tuple[float, float]]]:
    """Unit -> (x, y) for the shown nodes of each layer: layer i at x = i + 1, spread over y in [0, 1]."""
    places = []
    for layer in graph.layers:
        count = len(layer.nodes)
        ys = np.linspace(0.02, 0.98, count) if count > 1 else np.array([0.5])
        places.append({n.unit: (layer.layer + 1.0, float(1 - y)) for n, y in zip(layer.nodes, ys, strict=True)})
    return places


@functools.lru_cache(maxsize=64)
def _spots(width: int, height: int, layers: int, layer: int, count: int) -> tuple[tuple[str, str], ...]:
    """network_svg's places (x, y as whole pixels' text) of a layer's `count` shown nodes, in unit order
    (_positions)."""
    x0, sx, sy = _scale(width, height, layers)
    ys = np.linspace(0.02, 0.98, count) if count > 1 else np.array([0.5])
    return tuple((f"{10 + (layer + 1.0 - x0) * sx:.0f}", f"{30 + (Y_RANGE[1] - float(1 - y)) * sy:.0f}") for y in ys)


@functools.lru_cache(maxsize=8)
def _pixel_spots(width: int, height: int, layers: int) -> tuple[str, ...]:
    """network_svg's place ("x y", whole pixels) of each of the input's 784 pixels (_pixel_place)."""
    x0, sx, sy = _scale(width, height, layers)
    return tuple(f"{10 + (x - x0) * sx:.0f} {30 + (Y_RANGE[1] - y) * sy:.0f}"
                 for x, y in (_pixel_place(pixel) for pixel in range(784)))


def _scale(width: int, height: int, layers: int) -> tuple[float, float, float]:
    """network_svg's frame: the left edge x0 in the figure's x units, and pixels per x and per y unit (a 10 px
    margin each side, 30 px above for the layers' names, 10 below)."""
    x0, x1 = INPUT_LEFT - 0.05, layers + 0.75
    return x0, (width - 20) / (x1 - x0), (height - 40) / (Y_RANGE[1] - Y_RANGE[0])


def _pixel_place(pixel: int) -> tuple[float, float]:
    """Where pixel (row, col) = divmod(pixel, 28) sits on the input image."""
    row, col = divmod(pixel, 28)
    return INPUT_LEFT + (col + 0.5) / 28 * INPUT_WIDTH, 1 - (row + 0.5) / 28


def _bands(sizes: np.ndarray) -> np.ndarray:
    """Which third of a layer's shown edges (by the size of their contribution) each edge is in: 0, 1, 2.
    The linear-interpolated 1/3 and 2/3 quantiles, as np.quantile's, without its overhead per call."""
    ranks = np.sort(sizes)
    cuts = np.interp([(len(ranks) - 1) / 3, 2 * (len(ranks) - 1) / 3], np.arange(len(ranks)), ranks)
    return np.searchsorted(cuts, sizes)


_HEX = [f"{level:02x}" for level in range(256)]  # a channel's two hex digits, looked up (_shades makes ~140 a stroke)


def _shades(values: np.ndarray) -> list[str]:
    """Nodes' fills for their outputs relative to their layer's highest, in [0, 1] (NODE_SHADES, linear)."""
    stops = [at for at, _ in NODE_SHADES]
    channels = [np.interp(values, stops, [rgb[c] for _, rgb in NODE_SHADES]).round().astype(int).tolist()
                for c in range(3)]
    return ["#" + _HEX[r] + _HEX[g] + _HEX[b] for r, g, b in zip(*channels, strict=True)]


def hover_templates(graph: NetworkGraph, fields: tuple[str, str, str, str] = ("{0}", "{1}", "{2}", "{3}"),
                    separator: str = "\n", escaped: bool = False) -> list[str]:
    """Each layer's hover text for one of its nodes as a format string: where it is, z, its bias, its output,
    one line each (joined by `separator`), the node's unit and its three numbers (written by `hover_numbers`)
    left as `fields`. `escaped`: the words ready for HTML (escaped once: the numbers need none)."""
    mark = html.escape if escaped else (lambda text: text)
    hidden_head, output_head = mark(t("{layer} · unit {unit}")), mark(t("{layer} · unit {unit} (digit {digit})"))
    bias_line = mark(t("bias = {bias}"))
    depth = len(graph.layers) - 1
    unit, z, bias, out = fields
    templates = []
    for layer in graph.layers:
        output = layer.layer == depth
        name = mark(layer_label(layer.layer, depth)).replace("{", "{{").replace("}", "}}")  # text, not a field
        head = (output_head if output else hidden_head).format(layer=name, unit=unit, digit=unit)
        templates.append(separator.join([head, "z = " + z, bias_line.format(bias=bias), ("p = " if output else "a = ")
                                         + out]))
    return templates


def hover_numbers(graph: NetworkGraph) -> Callable[[Node], tuple[str, str, str]]:
    """A node's z, bias and output as its hover text writes them (output of the last layer: a percentage), in
    this browser's language; the number formats are looked up once (Draw makes these on every stroke)."""
    signed, three, share = number_format(3, signed=True), number_format(3), percent_writer(1)
    depth = len(graph.layers) - 1
    return lambda n: (signed(n.z), signed(n.bias), share(n.a) if n.layer == depth else three(n.a))


def node_lines(graph: NetworkGraph) -> list[list[list[str]]]:
    """Each shown node's hover lines, layer by layer: where it is, z, its bias, its output (hover_templates)."""
    numbers = hover_numbers(graph)
    return [[template.format(n.unit, *numbers(n)).split("\n") for n in layer.nodes]
            for layer, template in zip(graph.layers, hover_templates(graph), strict=True)]


def layer_notes(graph: NetworkGraph) -> list[tuple[float, str, str]]:
    """The two lines above each column of the picture (x, first, second): 'input' 28×28, then each layer's
    name and how many of its units show."""
    depth = len(graph.layers) - 1
    return [(INPUT_LEFT + INPUT_WIDTH / 2, t("input"), "28×28")] + [
        (layer.layer + 1.0, layer_label(layer.layer, depth),
         t("top {shown} of {count}", shown=len(layer.nodes), count=num(layer.size, 0)) if layer.hidden_count
         else t("{count} units", count=num(layer.size, 0))) for layer in graph.layers]


def link_params() -> dict[str, str]:
    """What a node's link carries of this session: its `lang=` and projector mode."""
    params = {}
    if URL_LANG in st.session_state:
        params["lang"] = st.session_state[URL_LANG]
    if st.session_state.get(PROJECTOR):
        params["projector"] = "1"
    return params


def node_link(layer: int | str, unit: int | str, params: dict[str, str] | None = None) -> str:
    """The address of Inside's Network tab with one node's panel open, relative to the page it is on. A link
    opens a new session: it carries `params` (by default this session's `link_params`); the digit is the
    browser's last drawing, kept on the server, the model its current one."""
    return "inside?" + urlencode({NODE_LAYER: layer, NODE_UNIT: unit, **(link_params() if params is None else params)})


def linked_node(model: MLP) -> tuple[int, int] | None:
    """The node a Draw link names (?layer=&unit=), once: the parameters are taken out of the address. None
    without them; a layer or unit this model lacks (a forged or old link) is said in one line, and None."""
    if NODE_LAYER not in st.query_params and NODE_UNIT not in st.query_params:
        return None
    raw = (st.query_params.get(NODE_LAYER, ""), st.query_params.get(NODE_UNIT, ""))
    for key in (NODE_LAYER, NODE_UNIT):
        st.query_params.pop(key, None)
    sizes = (*model.hidden, 10)
    try:
        layer, unit = (int(v) for v in raw)
    except ValueError:
        layer, unit = -1, -1
    if not (0 <= layer < len(sizes) and 0 <= unit < sizes[layer]):
        st.warning(t("This link names a unit the current model ({layers}) does not have: click a node of the "
                     "network instead.", layers=layers_label(model.hidden)))
        return None
    return layer, unit


def network_svg(graph: NetworkGraph, height: int = 340, width: int = 440, links: bool = False,
                params: dict[str, str] | None = None) -> str:
    """The same picture as network_figure, as one SVG for an HTML block: no figure object to build and
    check, nothing for the browser to load; each node's numbers in its hover text (<title>). Made on every
    stroke, so each number is formatted once (about 1 ms). With `links`, each node is a link that opens its
    panel on Inside (node_link, carrying `params`: by default this session's)."""
    x0, sx, sy = _scale(width, height, len(graph.layers))

    def px(x: float) -> float:
        return 10 + (x - x0) * sx

    def py(y: float) -> float:
        return 30 + (Y_RANGE[1] - y) * sy

    # Every node's place on screen in whole pixels, as SVG text once: the edges only join them. A layer's k-th
    # shown node sits at the same place whichever unit it is: the places are made once per layout.
    places = [dict(zip((n.unit for n in layer.nodes), _spots(width, height, len(graph.layers), layer.layer,
                                                             len(layer.nodes)), strict=True))
              for layer in graph.layers]
    spots = [{unit: f"{x} {y}" for unit, (x, y) in layer.items()} for layer in places]
    pixels = _pixel_spots(width, height, len(graph.layers))
    ink = ink_uri(graph.image)  # the same picture (and PNG) as Draw's "what the network sees"
    ink_title = html.escape(t("input pixels: the ink the network reads"))
    parts = [f"<svg data-testid='network-svg' viewBox='0 0 {width} {height}' width='100%' "
             f"style='max-width:{width}px;font-family:sans-serif' xmlns='http://www.w3.org/2000/svg'>",
             f"<image href='{ink}' x='{px(INPUT_LEFT):.1f}' y='{py(1):.1f}' width='{INPUT_WIDTH * sx:.1f}' "
             f"height='{sy:.1f}' preserveAspectRatio='none' style='image-rendering:pixelated'>"
             f"<title>{ink_title}</title></image>"]
    for i, edges in enumerate(graph.edges):
        if not edges:
            continue
        bands = _bands(np.abs([e.contribution for e in edges])).tolist()
        starts, ends = pixels if i == 0 else spots[i - 1], spots[i]
        paths: dict[tuple[bool, int], list[str]] = {}
        for edge, band in zip(edges, bands, strict=True):
            paths.setdefault((edge.contribution >= 0, band), []).append(f"M{starts[edge.source]}L{ends[edge.target]}")
        for (push, band), segments in sorted(paths.items(), reverse=True):
            parts.append(f"<path d='{''.join(segments)}' stroke='{PUSH_COLOUR if push else HOLD_COLOUR}' "
                         f"stroke-width='{EDGE_WIDTHS[band]}' stroke-opacity='0.45' fill='none'/>")
    link = html.escape(node_link("LAYER", "UNIT", params)).replace("UNIT", "{0}") if links else ""  # once a picture
    whole, numbers = percent_writer(0), hover_numbers(graph)
    # Node {0} at ({1}, {2}) filled {3}, its hover text's numbers {4}-{6}: one template a layer, one format a node.
    hovers = hover_templates(graph, ("{0}", "{4}", "{5}", "{6}"), "&#10;", escaped=True)
    for layer, hover in zip(graph.layers, hovers, strict=True):
        output = layer.name == "output"
        values = np.array([n.a for n in layer.nodes])
        top = float(values.max()) if len(values) and values.max() > 0 else 1.0
        parts.append(f"<g data-layer='{html.escape(layer.name)}' stroke='#555' stroke-width='0.8'>")
        opening = f"<a href='{link.replace('LAYER', str(layer.layer))}' target='_self'>" if links else ""
        circle = (f"{opening}<circle cx='{{1}}' cy='{{2}}' r='{8 if output else 4.5}' fill='{{3}}'><title>{hover}"
                  f"</title></circle>{'</a>' if links else ''}")
        place = places[layer.layer]
        for n, fill in zip(layer.nodes, _shades(values / top), strict=True):
            x, y = place[n.unit]
            parts.append(circle.format(n.unit, x, y, fill, *numbers(n)))
            if output:
                parts.append(f"<text x='{int(x) + 11}' y='{int(y) + 4}' font-size='12' fill='#444' "
                             f"stroke='none'>{n.unit}: {whole(n.a)}</text>")
        parts.append("</g>")
    for x, first, second in layer_notes(graph):
        parts.append(f"<text data-note='{html.escape(first)}' x='{px(x):.1f}' y='{py(1.07) - 5:.1f}' font-size='11' "
                     f"text-anchor='middle' fill='#444'>{html.escape(first)}"
                     f"<tspan x='{px(x):.1f}' dy='13'>{html.escape(second)}</tspan></text>")
    return "".join(parts) + "</svg>"


def network_figure(graph: NetworkGraph, height: int = 460) -> dict:
    """The figure: the input image (heatmap), edges (6 traces: 3 widths x 2 signs, segments split by None),
    one marker trace per layer whose customdata is [layer, unit] (what a click selects)."""
    places = _positions(graph)
    traces: list[dict] = [{
        "type": "heatmap", "z": graph.image[::-1].tolist(), "x0": INPUT_LEFT + INPUT_WIDTH / 56, "dx": INPUT_WIDTH / 28,
        "y0": 1 / 56, "dy": 1 / 28, "colorscale": [[0, "#ffffff"], [1, "#000000"]], "zmin": 0, "zmax": 1,
        "showscale": False, "hovertemplate": t("input pixel: ink %{z:.2f}<extra></extra>")}]
    for i, edges in enumerate(graph.edges):
        if not edges:
            continue
        bands = _bands(np.abs([e.contribution for e in edges]))
        for sign, colour in (("push", PUSH_COLOUR), ("hold back", HOLD_COLOUR)):
            for band, width in enumerate(EDGE_WIDTHS):
                xs: list[float | None] = []
                ys: list[float | None] = []
                for edge, edge_band in zip(edges, bands, strict=True):
                    if edge.sign != sign or edge_band != band:
                        continue
                    start = _pixel_place(edge.source) if i == 0 else places[i - 1][edge.source]
                    end = places[i][edge.target]
                    xs += [start[0], end[0], None]
                    ys += [start[1], end[1], None]
                if xs:
                    traces.append({"type": "scatter", "mode": "lines", "x": xs, "y": ys, "hoverinfo": "skip",
                                   "showlegend": False, "line": {"color": colour, "width": width},
                                   "opacity": 0.45})
    click = html.escape(t("click for its panel"), quote=False)
    for layer, lines in zip(graph.layers, node_lines(graph), strict=True):
        output = layer.name == "output"
        values = np.array([n.a for n in layer.nodes])
        top = float(values.max()) if len(values) and values.max() > 0 else 1.0
        hover = ["<br>".join([*(html.escape(line, quote=False) for line in node), click]) for node in lines]
        traces.append({
            "type": "scatter", "mode": "markers+text" if output else "markers",
            "x": [places[layer.layer][n.unit][0] for n in layer.nodes],
            "y": [places[layer.layer][n.unit][1] for n in layer.nodes],
            "customdata": [[layer.layer, n.unit] for n in layer.nodes], "name": layer.name,
            "text": [f"{n.unit}: {pct(n.a, 0)}" for n in layer.nodes] if output else None,
            "textposition": "middle right", "cliponaxis": False,  # the labels go into the right margin
            "hovertext": hover, "hovertemplate": "%{hovertext}<extra></extra>", "showlegend": False,
            # A click selects a node; Plotly would fade every other one, which reads as "switched off".
            "unselected": {"marker": {"opacity": 1}, "textfont": {"color": "#444"}},
            "selected": {"marker": {"opacity": 1}},
            "marker": {"size": 16 if output else 9, "color": (values / top).clip(0, 1).tolist(), "cmin": 0, "cmax": 1,
                       "colorscale": [[at, "#" + "".join(f"{c:02x}" for c in rgb)] for at, rgb in NODE_SHADES],
                       "line": {"width": 0.8, "color": "#555"}}})
    notes = [{"x": x, "y": 1.07, "showarrow": False, "font": {"size": 11},
              "text": f"{html.escape(first, quote=False)}<br>{html.escape(second, quote=False)}"}
             for x, first, second in layer_notes(graph)]
    # The output labels ("7: 100 %") get a margin in pixels: a margin in x units shrank with a phone's width
    # and cut them at its edge (and wasted room on a laptop).
    return {"data": traces, "layout": layout(
        height, None, top=30, annotations=notes, clickmode="event+select", dragmode=False, hovermode="closest",
        margin={"l": 10, "r": OUTPUT_LABELS_PX, "t": 30, "b": 10},
        xaxis={"visible": False, "range": [INPUT_LEFT - 0.05, len(graph.layers) + 0.12], "fixedrange": True},
        yaxis={"visible": False, "range": list(Y_RANGE), "fixedrange": True}, plot_bgcolor="#fff")}


def show_network(graph: NetworkGraph, key: str, height: int = 460, clickable: bool = True) -> tuple[int, int] | None:
    """Draw the figure; with `clickable`, return the (layer, unit) of a clicked node (None if none)."""
    figure = unchecked(network_figure(graph, height))
    if not clickable:
        st.plotly_chart(figure, key=key, config={"displayModeBar": False})
        return None
    event = st.plotly_chart(figure, key=key, on_select="rerun", selection_mode="points",
                            config={"displayModeBar": False})
    points = event.selection.points if event is not None else []
    picked = [p["customdata"] for p in points if isinstance(p.get("customdata"), list)]
    return (int(picked[0][0]), int(picked[0][1])) if picked else None


def unit_panel(name: str, created: str, model: MLP, image: np.ndarray, layer: int, unit: int) -> None:
    """One unit's panel: what it computes from (first layer: its weights as 28x28 and weights x ink; later:
    the contribution of each unit below), the digits it fires most for, and its 8 most-activating test digits."""
    maths = layer_maths(model, image, layer)
    depth = len(model.hidden)
    where = (t("{layer} · unit {unit} (digit {digit})", layer=layer_label(layer, depth), unit=unit, digit=unit)
             if layer == depth else t("{layer} · unit {unit}", layer=layer_label(layer, depth), unit=unit))
    st.markdown(f"#### {where}")
    st.caption(unit_text(maths, unit))
    left, right = st.columns(2)
    with left:
        if layer == 0:
            weights = weight_images(model)[unit]
            st.image(weight_grid(np.stack([weights, weights * np.asarray(image, np.float32)]), columns=2, scale=5,
                                 labels=[t("its weights"), t("weights x ink")]))
            st.caption(t("Red: ink there pushes this unit up; blue: holds it back. Right: only where this digit has "
                         "ink."))
        else:
            parts = maths.products[unit]
            order = np.argsort(-np.abs(parts), kind="stable")[:20]
            st.plotly_chart({"data": [{
                "type": "bar", "x": [f"#{j}" for j in order], "y": parts[order].tolist(),
                "marker": {"color": [PUSH_COLOUR if v >= 0 else HOLD_COLOUR for v in parts[order]]},
                "hovertemplate": t("unit %{x} below: a x w = %{y:+.3f}<extra></extra>")}],
                "layout": layout(240, t("What the units below contributed (the 20 largest of {count})",
                                        count=num(len(parts), 0)), top=30,
                                 xaxis={"type": "category"})}, key=f"panel_bars_{layer}_{unit}",
                config={"displayModeBar": False})
    unit_profile = profiles(name, created)
    with right:
        means = unit_profile.means[layer][unit]
        st.plotly_chart({"data": [{"type": "bar", "x": list(range(10)), "y": means.tolist(),
                                   "marker": {"color": "#08519c"},
                                   "hovertemplate": t("digit %{x}: mean %{y:.3f}<extra></extra>")}],
                         "layout": layout(240, t("Its mean output on the test digits, per true digit"), top=30,
                                          xaxis={"dtick": 1})}, key=f"panel_means_{layer}_{unit}",
                        config={"displayModeBar": False})
        favourite = unit_profile.favourite_digits(layer, unit)[:3]
        st.caption(t("Fires most for {digits}.", digits=", ".join(str(d) for d in favourite)))
    data = dataset()
    top = unit_profile.top[layer][unit]
    gallery(data.test_images[top], [f"#{i}: {num(v)}" for i, v in zip(top, unit_profile.top_values[layer][unit],
                                                                     strict=True)],
            8, t("The 8 test digits it fires most for (test number: its output)"), scale=2)
