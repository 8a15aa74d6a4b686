"""Inside -> Maths: one layer's computation for one digit as coloured cells with the arithmetic in each
hover line (the 784 inputs folded to 28x28), and the softmax steps with a temperature slider."""

from __future__ import annotations

import numpy as np
import streamlit as st

from mnist_core.net.maths import layer_maths, LayerMaths, softmax_steps
from mnist_core.net.model import layer_name, MLP
from ui.charts import layout
from ui.keys import INSIDE_SOURCE, INSIDE_TEST

DIVERGING = [[0, "#2166ac"], [0.5, "#ffffff"], [1, "#b2182b"]]
SHOWN_UNITS = 24  # rows of a later layer's table: the units with the largest |z|


def next_mistake(mistakes: np.ndarray) -> None:
    """Look at the next test digit the model reads wrongly, after the one looked at now."""
    now = int(st.session_state.get(INSIDE_TEST, 0))
    later = mistakes[mistakes > now]
    if len(mistakes):
        st.session_state.update({INSIDE_SOURCE: "test", INSIDE_TEST: int(later[0] if len(later) else mistakes[0])})


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
    unit = st.selectbox("Unit", list(np.argsort(-maths.z, kind="stable")), key="m_unit0",
                        format_func=lambda u: f"unit {u}: z = {maths.z[u]:+.2f}, a = {maths.a[u]:.2f}")
    grid = np.arange(784).reshape(28, 28)
    ink = maths.inputs.reshape(28, 28)
    weights = maths.weights[unit].reshape(28, 28)
    products = maths.products[unit].reshape(28, 28)
    cells = [[maths.cell_text(unit, int(grid[r, c])) for c in range(28)] for r in range(28)]
    cols = st.columns(3)
    with cols[0]:
        _heat(ink, cells, "inputs: the ink, 28×28", 300, "m_ink")
    with cols[1]:
        _heat(weights, cells, f"weights of unit {unit}", 300, "m_w")
    with cols[2]:
        _heat(products, cells, "inputs × weights", 300, "m_p")
    st.markdown(f"<div data-testid='maths-sum'>{maths.unit_text(unit)}</div>", unsafe_allow_html=True)
    st.caption("Hover any cell for its multiplication. The normalisation of the input is folded into these "
               "weights and bias, so a pixel without ink adds exactly 0.")


def later_layer(maths: LayerMaths) -> None:
    shown = np.argsort(-np.abs(maths.z), kind="stable")[:SHOWN_UNITS]
    products = maths.products[shown]  # (S, n_in)
    text = [[maths.cell_text(int(u), j) for j in range(products.shape[1])] for u in shown]
    _heat(products, text, f"inputs × weights: {len(shown)} units (rows, largest |z|) × {products.shape[1]} inputs",
          40 + 18 * len(shown), "m_products", y=[f"unit {u}" for u in shown])
    rows = [{"unit": int(u), "Σ inputs × weights": round(float(maths.products[u].sum()), 4),
             "bias": round(float(maths.bias[u]), 4), "z": round(float(maths.z[u]), 4),
             "a": round(float(maths.a[u]), 4)} for u in shown]
    st.dataframe(rows, hide_index=True, width="stretch")


def softmax_view(maths: LayerMaths) -> None:
    temperature = st.slider("Temperature", 0.1, 5.0, 1.0, 0.1, key="m_temperature",
                            help="The logits are divided by it before e^x: above 1 flattens, below 1 sharpens")
    steps = softmax_steps(maths.z, temperature)
    rows = [{"digit": d, "z": round(float(steps.z[d]), 3), "z − max": round(float(steps.shifted[d]), 3),
             f"÷ {temperature:g}": round(float(steps.scaled[d]), 3), "e^x": float(f"{steps.exp[d]:.4g}"),
             "p = e^x / sum": f"{steps.p[d]:.2%}"} for d in range(10)]
    st.dataframe(rows, hide_index=True, width="stretch")
    st.markdown(f"<div data-testid='softmax-sum'>sum of e^x = {steps.total:.4g}; the ten p add up to "
                f"{steps.p.sum():.3f}. {steps.entropy_text()}.</div>", unsafe_allow_html=True)


def maths_view(model: MLP, image: np.ndarray, mistakes: np.ndarray) -> None:
    left, right = st.columns([2, 1], vertical_alignment="bottom")
    depth = len(model.hidden)
    layer = left.selectbox("Layer", list(range(depth + 1)), key="m_layer",
                           format_func=lambda i: f"{layer_name(model, i)} ({(*model.hidden, 10)[i]} units)")
    right.button("Next mistake", key="m_next", on_click=next_mistake, args=(mistakes,),
                 help="The next test digit this model reads wrongly")
    maths = layer_maths(model, image, layer)
    if layer < depth:
        st.markdown(f"**{maths.name}**: z = weights · inputs + bias, then a = {maths.activation}(z): "
                    f"**{maths.on_text()}** for this digit.")
    else:
        st.markdown("**output**: z = weights · inputs + bias (the logits), then the softmax turns them into ten "
                    "probabilities.")
    if layer == 0:
        first_layer(maths)
    else:
        later_layer(maths)
    if layer == depth:
        softmax_view(maths)
