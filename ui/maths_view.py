"""Inside -> Maths: one layer's computation for one digit as coloured cells with the arithmetic in each
hover line (the 784 inputs folded to 28x28), and the softmax steps with a temperature slider. The engine
(mnist_core.net.maths) gives the numbers; the sentences are made here, in this browser's language."""

from __future__ import annotations

import math

import numpy as np
import streamlit as st

from mnist_core.net.maths import layer_maths, LayerMaths, softmax_steps, SoftmaxSteps
from mnist_core.net.model import MLP
from ui.charts import layout
from ui.i18n import decimal_mark, num, number_format, pct, t
from ui.keys import INSIDE_SOURCE, INSIDE_TEST
from ui.layers import layer_choice, layer_label
from ui.tables import with_dashes

DIVERGING = [[0, "#2166ac"], [0.5, "#ffffff"], [1, "#b2182b"]]
SHOWN_UNITS = 24  # rows of a later layer's table: the units with the largest |z|


def next_mistake(mistakes: np.ndarray) -> None:
    """Look at the next test digit the model reads wrongly, after the one looked at now."""
    now = int(st.session_state.get(INSIDE_TEST, 0))
    later = mistakes[mistakes > now]
    if len(mistakes):
        st.session_state.update({INSIDE_SOURCE: "test", INSIDE_TEST: int(later[0] if len(later) else mistakes[0])})


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


# --- the views -----------------------------------------------------------------------------------

def _heat(z: np.ndarray, text: list[list[str]], title: str, height: int, key: str, x=None, y=None) -> None:
    limit = float(np.abs(z).max()) or 1.0
    trace = {"type": "heatmap", "z": z.tolist(), "text": text, "hovertemplate": "%{text}<extra></extra>",
             "colorscale": DIVERGING, "zmin": -limit, "zmax": limit, "showscale": False}
    if x is not None:
        trace["x"] = x
    if y is not None:
        trace["y"] = y
    st.plotly_chart({"data": [trace], "layout": layout(height, title, top=30, yaxis={"autorange": "reversed"})},
                    key=key, config={"displayModeBar": False})


def first_layer(maths: LayerMaths) -> None:
    option = t("unit {unit}: z = {z}, a = {a}")
    signed2, two = number_format(2, signed=True), number_format(2)
    unit = st.selectbox(t("Unit"), list(np.argsort(-maths.z, kind="stable")), key="m_unit0",
                        format_func=lambda u: option.format(unit=u, z=signed2(maths.z[u]), a=two(maths.a[u])))
    ink = maths.inputs.reshape(28, 28)
    weights = maths.weights[unit].reshape(28, 28)
    products = maths.products[unit].reshape(28, 28)
    texts = cell_texts(maths, unit)
    cells = [texts[r * 28:(r + 1) * 28] for r in range(28)]
    cols = st.columns(3)
    with cols[0]:
        _heat(ink, cells, t("inputs: the ink, 28×28"), 300, "m_ink")
    with cols[1]:
        _heat(weights, cells, t("weights of unit {unit}", unit=unit), 300, "m_w")
    with cols[2]:
        _heat(products, cells, t("inputs × weights"), 300, "m_p")
    st.markdown(f"<div data-testid='maths-sum'>{unit_text(maths, unit)}</div>", unsafe_allow_html=True)
    st.caption(t("Hover any cell for its multiplication. The normalisation of the input is folded into these "
                 "weights and bias, so a pixel without ink adds exactly 0."))


def later_layer(maths: LayerMaths) -> None:
    shown = np.argsort(-np.abs(maths.z), kind="stable")[:SHOWN_UNITS]
    products = maths.products[shown]  # (S, n_in)
    text = [cell_texts(maths, int(u)) for u in shown]
    row = t("unit {unit}")
    _heat(products, text, t("inputs × weights: {units} units (rows, largest |z|) × {inputs} inputs", units=len(shown),
                            inputs=num(products.shape[1], 0)),
          40 + 18 * len(shown), "m_products", y=[row.format(unit=u) for u in shown])
    names = {"unit": t("unit"), "sum": t("Σ inputs × weights"), "bias": t("bias")}
    rows = [{names["unit"]: int(u), names["sum"]: float(maths.products[u].sum()), names["bias"]: float(maths.bias[u]),
             "z": float(maths.z[u]), "a": float(maths.a[u])} for u in shown]
    st.dataframe(with_dashes(rows, {c: "{:.4f}" for c in (names["sum"], names["bias"], "z", "a")},
                             decimal=decimal_mark()), hide_index=True, width="stretch")


def softmax_view(maths: LayerMaths) -> None:
    temperature = st.slider(t("Temperature"), 0.1, 5.0, 1.0, 0.1, key="m_temperature",
                            help=t("The logits are divided by it before e^x: above 1 flattens, below 1 sharpens"))
    steps = softmax_steps(maths.z, temperature)
    names = {"digit": t("digit"), "shifted": t("z − max"), "scaled": t("÷ {temperature}",
                                                                         temperature=num(temperature, 1, trim=True)),
             "p": t("p = e^x / sum")}
    rows = [{names["digit"]: d, "z": float(steps.z[d]), names["shifted"]: float(steps.shifted[d]),
             names["scaled"]: float(steps.scaled[d]), "e^x": float(steps.exp[d]), names["p"]: pct(steps.p[d], 2)}
            for d in range(10)]
    formats = {"z": "{:.3f}", names["shifted"]: "{:.3f}", names["scaled"]: "{:.3f}", "e^x": "{:.4g}"}
    st.dataframe(with_dashes(rows, formats, decimal=decimal_mark()), hide_index=True, width="stretch")
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
        first_layer(maths)
    else:
        later_layer(maths)
    if layer == depth:
        softmax_view(maths)
