"""Inside -> Maths: one layer's computation for one digit as coloured cells with the arithmetic in each
hover line (the 784 inputs folded to 28x28), and the softmax steps with a temperature slider. A click (a tap
on a phone: there is no hover there) on a cell keeps the cells it is computed from lit and veils the rest, and
says its arithmetic in one line. The engine (mnist_core.net.maths) gives the numbers and which cells a cell
comes from; the sentences are made here, in this browser's language."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import numpy as np
import streamlit as st

from mnist_core.net.maths import Cell, cell_sources, CellSources, layer_maths, LayerMaths, softmax_steps, SoftmaxSteps
from mnist_core.net.model import MLP
from ui.charts import layout, unchecked
from ui.i18n import decimal_mark, LOCALIZED, num, number_format, pct, t
from ui.keys import INSIDE_SOURCE, INSIDE_TEST
from ui.last_drawing import mark_drawing_seen
from ui.layers import layer_choice, layer_label
from ui.tables import DASH, with_dashes

DIVERGING = [[0, "#2166ac"], [0.5, "#ffffff"], [1, "#b2182b"]]
SHOWN_UNITS = 24  # rows of a later layer's table: the units with the largest |z|
PICK = "m_pick"  # the picked cell: (layer, Cell)
VEIL = "rgba(255,255,255,0.85)"  # laid over the cells a picked cell does not come from
OUTLINED = 40  # cells of a chart outlined one by one when lit; more are only left unveiled
SVG_POINTS = 2000  # a chart's clickable points: SVG up to this many, WebGL above (12,288 for 24 x 512)


def next_mistake(mistakes: np.ndarray) -> None:
    """Look at the next test digit the model reads wrongly, after the one looked at now."""
    now = int(st.session_state.get(INSIDE_TEST, 0))
    later = mistakes[mistakes > now]
    if len(mistakes):
        st.session_state.update({INSIDE_SOURCE: "test", INSIDE_TEST: int(later[0] if len(later) else mistakes[0])})
        mark_drawing_seen()


# --- the sentences -------------------------------------------------------------------------------

def cell_texts(maths: LayerMaths, unit: int) -> list[str]:
    """The hover line of each product cell of one unit (one per input): thousands of them, so the template
    and the number formats are looked up once."""
    terms = num(len(maths.inputs), 0)
    three, signed3, signed4 = number_format(3), number_format(3, signed=True), number_format(4, signed=True)
    x, w = maths.inputs, maths.weights[unit]
    xw = x * w
    if maths.layer == 0:
        pixel = t("pixel ({row}, {col}): {x} x weight {w} = {xw} (one of {count} terms of z[{unit}])")
        return [pixel.format(row=i // 28, col=i % 28, x=three(x[i]), w=signed3(w[i]), xw=signed4(xw[i]), count=terms,
                             unit=unit) for i in range(len(x))]
    line = t("input {input}: {x} x weight {w} = {xw} (one of {count} terms of z[{unit}])")
    return [line.format(input=i, x=three(x[i]), w=signed3(w[i]), xw=signed4(xw[i]), count=terms, unit=unit)
            for i in range(len(x))]


def unit_text(maths: LayerMaths, unit: int) -> str:
    """One unit's sum, in numbers: z[7] = sum of 784 inputs x weights (+1.234) + bias (-0.100) = +1.134; ..."""
    signed = number_format(3, signed=True)
    numbers = dict(unit=unit, count=num(len(maths.inputs), 0), terms=signed(maths.products[unit].sum()),
                   bias=signed(maths.bias[unit]), z=signed(maths.z[unit]))
    if maths.activation == "none":
        return t("z[{unit}] = sum of {count} inputs x weights ({terms}) + bias ({bias}) = {z}", **numbers)
    return t("z[{unit}] = sum of {count} inputs x weights ({terms}) + bias ({bias}) = {z}; a = {activation}({z}) = "
             "{a}", activation=maths.activation, a=num(maths.a[unit], 3), **numbers)


def softmax_text(steps: SoftmaxSteps) -> str:
    """The softmax's sums and its entropy in bits, against the most it can be (all ten equally likely)."""
    count = len(steps.p)
    return t("sum of e^x = {total}; the ten p add up to {sum}. Entropy {entropy} bits (0 = certain of one digit; "
             "{most} = all {count} at {share}).", total=num(steps.total, 3), sum=num(steps.p.sum(), 3),
             entropy=num(steps.entropy), most=num(math.log2(count)), count=count, share=pct(1 / count, 0))


def pick_text(maths: LayerMaths, cell: Cell, sources: CellSources, depth: int,
              steps: SoftmaxSteps | None = None) -> str:
    """The picked cell's arithmetic in one line, with its numbers: for z the lit products and the bias."""
    signed, three = number_format(3, signed=True), number_format(3)
    unit, i = cell.unit, cell.input
    first = maths.layer == 0
    if cell.kind == "z":
        numbers = dict(unit=unit, count=num(len(sources.inputs), 0), zeros=num(sources.zeros, 0),
                       terms=signed(maths.products[unit, sources.inputs].sum()), bias=signed(maths.bias[unit]),
                       z=signed(maths.z[unit]))
        if first:
            return t("z[{unit}] = {count} inked pixels x weights ({terms}) + bias ({bias}) = {z}; the other {zeros} "
                     "pixels have no ink and add nothing.", **numbers)
        if sources.zeros:
            return t("z[{unit}] = {count} inputs x weights ({terms}) + bias ({bias}) = {z}; the other {zeros} inputs "
                     "are 0 and add nothing.", **numbers)
        return t("z[{unit}] = {count} inputs x weights ({terms}) + bias ({bias}) = {z}.", **numbers)
    if cell.kind == "a":
        if maths.activation == "none":
            return t("z[{unit}] = {z}: the output layer passes its z on as it is, to the softmax.", unit=unit,
                     z=signed(maths.z[unit]))
        return t("a[{unit}] = {activation}(z[{unit}]) = {activation}({z}) = {a}.", unit=unit,
                 activation=maths.activation, z=signed(maths.z[unit]), a=three(maths.a[unit]))
    if cell.kind == "p" and steps is not None:
        return t("p[{digit}] = e^((z[{digit}] − max z) / {temperature}) / sum = e^({scaled}) / {total} = {exp} / "
                 "{total} = {p}.", digit=unit, temperature=num(steps.temperature, 1, trim=True),
                 scaled=signed(steps.scaled[unit]), total=num(steps.total, 3), exp=num(steps.exp[unit], 3),
                 p=pct(steps.p[unit], 2))
    if cell.kind == "product":
        return cell_texts(maths, unit)[i]
    if cell.kind == "bias":
        return t("bias[{unit}] = {bias}: learned in training, added to the sum that makes z[{unit}].", unit=unit,
                 bias=signed(maths.bias[unit]))
    if cell.kind == "weight":
        return t("weight of pixel ({row}, {col}) in unit {unit} = {w}: learned in training.", row=i // 28,
                 col=i % 28, unit=unit, w=signed(maths.weights[unit, i]))
    if first:
        return t("pixel ({row}, {col}): ink {x}, from the drawing; an input of every unit of this layer.", row=i // 28,
                 col=i % 28, x=three(maths.inputs[i]))
    return t("input {input} = {x}: the output a[{input}] of {layer}; an input of every unit of this layer.", input=i,
             x=three(maths.inputs[i]), layer=layer_label(maths.layer - 1, depth))


# --- the views -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Grid:
    """One chart of cells: its values and, per cell, which cell of the layer's computation it shows (kind,
    unit and input as in mnist_core.net.maths.Cell; -1 where a kind has none)."""

    values: np.ndarray  # (rows, cols)
    kinds: np.ndarray  # (rows, cols) of CELL_KINDS
    units: np.ndarray  # (rows, cols) int
    inputs: np.ndarray  # (rows, cols) int
    hover: list[list[str]]

    def cell(self, row: int, col: int) -> Cell:
        return Cell(str(self.kinds[row, col]), int(self.units[row, col]), int(self.inputs[row, col]))

    def picked(self, cell: Cell) -> np.ndarray:
        return (self.kinds == cell.kind) & (self.units == cell.unit) & (self.inputs == cell.input)

    def lit(self, sources: CellSources, n_in: int) -> np.ndarray:
        """Which cells of this chart `sources` names."""
        code = self.units * n_in + self.inputs
        return (((self.kinds == "input") & np.isin(self.inputs, sources.inputs))
                | ((self.kinds == "weight") & np.isin(code, sources.weights @ [n_in, 1]))
                | ((self.kinds == "product") & np.isin(code, sources.products @ [n_in, 1]))
                | ((self.kinds == "bias") & (self.units == (-2 if sources.bias is None else sources.bias)))
                | ((self.kinds == "z") & np.isin(self.units, sources.z)))


def _full(shape: tuple[int, int], value) -> np.ndarray:
    return np.full(shape, value, dtype=object if isinstance(value, str) else int)


def pixel_grid(values: np.ndarray, kind: str, unit: int, hover: list[str]) -> Grid:
    """784 cells of one kind folded to 28x28 (input i at row i // 28, column i % 28)."""
    return Grid(values.reshape(28, 28), _full((28, 28), kind), _full((28, 28), unit), np.arange(784).reshape(28, 28),
                [hover[r * 28:(r + 1) * 28] for r in range(28)])


def _outline(rows: np.ndarray, cols: np.ndarray, colour: str, width: float) -> list[dict]:
    return [{"type": "rect", "xref": "x", "yref": "y", "x0": c - 0.5, "x1": c + 0.5, "y0": r - 0.5, "y1": r + 0.5,
             "line": {"color": colour, "width": width}} for r, c in zip(rows.tolist(), cols.tolist(), strict=True)]


def grid_figure(grid: Grid, title: str, height: int, lit: np.ndarray | None = None,
                picked: np.ndarray | None = None, **axes) -> dict:
    """The cells as a heatmap; over it, with a pick, a veil on the cells not `lit` (named "veil": lit cells are
    gaps in it) and outlines on the picked cell and on few lit ones; on top, one invisible point per cell that
    carries its hover line and is what a click selects (a heatmap cannot be selected)."""
    rows, cols = grid.values.shape
    axes = dict(axes)
    limit = float(np.abs(grid.values).max()) or 1.0
    heat = {"type": "heatmap", "z": grid.values.tolist(), "colorscale": DIVERGING, "zmin": -limit, "zmax": limit,
            "showscale": False, "hoverinfo": "skip", "xgap": 1 if cols <= 28 else 0, "ygap": 1 if rows <= 28 else 0}
    traces, shapes = [heat], []
    if lit is not None and picked is not None:
        shown = lit | picked
        traces.append({"type": "heatmap", "name": "veil", "z": np.where(shown, np.nan, 1.0).tolist(),
                       "colorscale": [[0, VEIL], [1, VEIL]], "zmin": 0, "zmax": 1, "showscale": False,
                       "hoverinfo": "skip"})
        if 0 < lit.sum() <= OUTLINED:
            shapes += _outline(*np.nonzero(lit & ~picked), "#444", 1.5)
        shapes += _outline(*np.nonzero(picked), "#000", 3)
    ys, xs = np.mgrid[0:rows, 0:cols]
    hidden = {"marker": {"opacity": 0}}
    traces.append({"type": "scatter" if rows * cols <= SVG_POINTS else "scattergl", "mode": "markers", "name": "cells",
                   "x": xs.ravel().tolist(), "y": ys.ravel().tolist(), "text": [h for row in grid.hover for h in row],
                   "hovertemplate": "%{text}<extra></extra>", "showlegend": False,
                   "marker": {"size": 8, "opacity": 0}, "selected": hidden, "unselected": hidden})
    xaxis = {"visible": False, "range": [-0.5, cols - 0.5], "fixedrange": True, **axes.pop("xaxis", {})}
    yaxis = {"visible": False, "range": [rows - 0.5, -0.5], "fixedrange": True, **axes.pop("yaxis", {})}
    return {"data": traces, "layout": layout(height, title, top=30, xaxis=xaxis, yaxis=yaxis, shapes=shapes,
                                             clickmode="event+select", dragmode=False, hovermode="closest", **axes)}


def _pick_cell(key: str, layer: int, units: list[int], kinds: dict[str, str]) -> None:
    """The sums table's on_select: its picked bias, z, a or p cell becomes the pick; none picked clears it."""
    state = st.session_state.get(key)
    cells = state.selection.cells if state is not None else []
    for row, column in cells:
        if column in kinds and 0 <= row < len(units):
            st.session_state[PICK] = (layer, Cell(kinds[column], units[row]))
            return
    st.session_state.pop(PICK, None)


def _pick(key: str, layer: int, grid: Grid) -> None:
    """A chart's on_select: the clicked cell becomes the pick; a double click (no point selected) clears it."""
    state = st.session_state.get(key)
    points = state.selection.points if state is not None else []
    rows, cols = grid.values.shape
    for point in points:
        row, col = round(point.get("y", -1)), round(point.get("x", -1))
        if 0 <= row < rows and 0 <= col < cols:
            st.session_state[PICK] = (layer, grid.cell(row, col))
            return
    st.session_state.pop(PICK, None)


class Charts:
    """A layer's charts (key -> grid, title, height, axes) and the picked cell among them: each chart, drawn
    where the caller stands, has the pick's sources lit; `caption` writes the picked cell's arithmetic."""

    def __init__(self, maths: LayerMaths, depth: int, grids: dict[str, tuple[Grid, str, int, dict]],
                 units: np.ndarray) -> None:
        self.maths, self.depth, self.grids = maths, depth, grids
        pick = st.session_state.get(PICK)
        cell = pick[1] if pick is not None and pick[0] == maths.layer else None
        in_table = cell is not None and cell.kind in ("bias", "z", "a", "p") and cell.unit in units
        if cell is not None and not in_table and not any(g.picked(cell).any() for g, *_ in grids.values()):
            cell = None  # a cell of a unit no longer shown (another digit, another unit chosen)
        self.cell = cell
        self.sources = cell_sources(maths, cell) if cell is not None else None

    def draw(self, key: str) -> None:
        grid, title, height, axes = self.grids[key]
        lit = grid.lit(self.sources, self.maths.weights.shape[1]) if self.sources is not None else None
        picked = grid.picked(self.cell) if self.cell is not None else None
        st.plotly_chart(unchecked(grid_figure(grid, title, height, lit, picked, **axes)), key=key,
                        on_select=partial(_pick, key, self.maths.layer, grid), selection_mode="points",
                        config={"displayModeBar": False})

    def table(self, key: str, units: np.ndarray, steps: SoftmaxSteps | None = None) -> None:
        """A row per unit: its sum of inputs x weights, bias, z and a (p for the output, at `steps`' temperature).
        A table, not a chart: a tap on a phone selects its cell at once (a chart's tap only shows the hover). Its
        bias, z, a and p cells are picked like the charts' cells, and the lit ones are coloured."""
        maths = self.maths
        last = "p" if steps is not None else "a"
        names = {"unit": t("unit"), "sum": t("Σ inputs × weights"), "bias": t("bias"), "z": "z", last: last}
        rows = [{names["unit"]: int(u), names["sum"]: float(maths.products[u].sum()),
                 names["bias"]: float(maths.bias[u]), "z": float(maths.z[u]),
                 last: float(steps.p[u] if steps is not None else maths.a[u])} for u in units]
        formats = {c: "{:.4f}" for c in (names["sum"], names["bias"], "z", "a")} | {"p": "{:.2%}"}
        styler = with_dashes(rows, formats, decimal=decimal_mark())
        kinds = {names[k]: k for k in ("bias", "z", last)}
        marks = np.full((len(units), len(names)), "", dtype=object)
        selected = None
        for r, u in enumerate(units):
            for c, column in enumerate(names.values()):
                kind = kinds.get(column)
                if kind is None:
                    continue
                if self.cell == Cell(kind, int(u)):
                    marks[r, c], selected = "background-color: #ffd54f; font-weight: bold", (r, column)
                elif self.sources is not None and ((kind == "bias" and self.sources.bias == u)
                                                   or (kind == "z" and u in self.sources.z)):
                    marks[r, c] = "background-color: #fff3c4"
        styler = styler.apply(lambda _: marks, axis=None)
        if self.cell is not None:  # a table of its own per pick: the grid would keep showing its last selection
            key = f"{key}_{self.cell.kind}_{self.cell.unit}_{self.cell.input}"
        st.dataframe(styler, hide_index=True, width="stretch", key=key, on_select=partial(_pick_cell, key,
                     maths.layer, [int(u) for u in units], kinds), selection_mode="single-cell",
                     selection_default={"selection": {"cells": [selected]}} if selected else None, placeholder=DASH)

    def caption(self, steps: SoftmaxSteps | None = None) -> None:
        text = (pick_text(self.maths, self.cell, self.sources, self.depth, steps) if self.cell is not None else
                t("Click (on a phone: tap) any cell: the cells it is computed from stay lit, the others fade, and "
                  "its arithmetic shows here. Double-click to clear."))
        st.markdown(f"<div data-testid='maths-pick'>{text}</div>", unsafe_allow_html=True)


def first_layer(maths: LayerMaths, depth: int) -> None:
    option = t("unit {unit}: z = {z}, a = {a}")
    signed2, two = number_format(2, signed=True), number_format(2)
    unit = st.selectbox(t("Unit"), [int(u) for u in np.argsort(-maths.z, kind="stable")], key="m_unit0",
                        format_func=lambda u: option.format(unit=u, z=signed2(maths.z[u]), a=two(maths.a[u])))
    texts = cell_texts(maths, unit)
    charts = Charts(maths, depth, {
        "m_ink": (pixel_grid(maths.inputs, "input", -1, texts), t("inputs: the ink, 28×28"), 300, {}),
        "m_w": (pixel_grid(maths.weights[unit], "weight", unit, texts), t("weights of unit {unit}", unit=unit), 300,
                {}),
        "m_p": (pixel_grid(maths.products[unit], "product", unit, texts), t("inputs × weights"), 300, {})},
        np.array([unit]))
    for column, key in zip(st.columns(3), ("m_ink", "m_w", "m_p"), strict=True):
        with column:
            charts.draw(key)
    charts.table("m_sums", np.array([unit]))
    st.markdown(f"<div data-testid='maths-sum'>{unit_text(maths, unit)}</div>", unsafe_allow_html=True)
    charts.caption()
    st.caption(t("Hover any cell for its multiplication. The normalisation of the input is folded into these "
                 "weights and bias, so a pixel without ink adds exactly 0."))


def later_layer(maths: LayerMaths, depth: int, steps: SoftmaxSteps | None = None) -> None:
    """Inputs x weights of the 24 units of largest |z| (all ten for the output), beside their bias, z and a (p for
    the output, at the slider's temperature); the inputs above."""
    shown = np.argsort(-np.abs(maths.z), kind="stable")[:SHOWN_UNITS]
    n_in = len(maths.inputs)
    line = t("input {input}: a[{input}] of {layer} = {x}")
    below, three = layer_label(maths.layer - 1, depth), number_format(3)
    inputs = Grid(maths.inputs[None], _full((1, n_in), "input"), _full((1, n_in), -1), np.arange(n_in)[None],
                  [[line.format(input=i, layer=below, x=three(x)) for i, x in enumerate(maths.inputs)]])
    products = Grid(maths.products[shown], _full((len(shown), n_in), "product"),
                    np.repeat(shown[:, None], n_in, axis=1), np.repeat(np.arange(n_in)[None], len(shown), axis=0),
                    [cell_texts(maths, int(u)) for u in shown])
    row = t("unit {unit}")
    rows = {"yaxis": {"visible": True, "tickvals": list(range(len(shown))), "automargin": True,
                      "ticktext": [row.format(unit=u) for u in shown]}}
    charts = Charts(maths, depth, {
        "m_inputs": (inputs, t("inputs: the outputs a of {layer} ({count})", layer=below, count=num(n_in, 0)), 90,
                     {}),
        "m_products": (products, t("inputs × weights: {units} units (rows, largest |z|) × {inputs} inputs",
                                   units=len(shown), inputs=num(n_in, 0)), 40 + 18 * len(shown), rows)}, shown)
    charts.draw("m_inputs")
    charts.draw("m_products")
    charts.caption(steps)
    charts.table("m_sums", shown, steps)


def softmax_view(steps: SoftmaxSteps) -> None:
    names = {"digit": t("digit"), "shifted": t("z − max"), "scaled": t("÷ {temperature}",
                                                                         temperature=num(steps.temperature, 1,
                                                                                         trim=True)),
             "p": t("p = e^x / sum")}
    rows = [{names["digit"]: d, "z": float(steps.z[d]), names["shifted"]: float(steps.shifted[d]),
             names["scaled"]: float(steps.scaled[d]), "e^x": float(steps.exp[d]), names["p"]: pct(steps.p[d], 2)}
            for d in range(10)]
    formats = {"z": "{:.3f}", names["shifted"]: "{:.3f}", names["scaled"]: "{:.3f}", "e^x": "{:.4g}"}
    st.dataframe(with_dashes(rows, formats, decimal=decimal_mark()), hide_index=True, width="stretch", placeholder=DASH)
    st.markdown(f"<div data-testid='softmax-sum'>{softmax_text(steps)}</div>", unsafe_allow_html=True)


def maths_view(model: MLP, image: np.ndarray, mistakes: np.ndarray) -> None:
    left, right = st.columns([2, 1], vertical_alignment="bottom")
    depth = len(model.hidden)
    layers = {i: layer_choice(model, i) for i in range(depth + 1)}  # made now, in this run's language
    layer = left.selectbox(t("Layer"), list(layers), key="m_layer", format_func=layers.get)
    right.button(t("Next mistake"), key="m_next", on_click=next_mistake, args=(mistakes,),
                 help=t("The next test digit this model reads wrongly"))
    maths = layer_maths(model, image, layer)
    if layer < depth:
        st.markdown(t("**{layer}**: z = weights · inputs + bias, then a = {activation}(z): **{on} of {count} units "
                      "on** for this digit.", layer=layer_label(layer, depth), activation=maths.activation,
                      on=num(maths.units_on, 0), count=num(len(maths.a), 0)))
    else:
        st.markdown(t("**output**: z = weights · inputs + bias (the logits), then the softmax turns them into ten "
                      "probabilities."))
    if layer == 0:
        first_layer(maths, depth)
    elif layer < depth:
        later_layer(maths, depth)
    else:  # the temperature first: the p cells beside z are at it
        temperature = st.slider(t("Temperature"), 0.1, 5.0, 1.0, 0.1, key="m_temperature", format=LOCALIZED,
                                help=t("The logits are divided by it before e^x: above 1 flattens, below 1 sharpens"))
        steps = softmax_steps(maths.z, temperature)
        later_layer(maths, depth, steps)
        softmax_view(steps)
