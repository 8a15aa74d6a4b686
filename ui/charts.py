"""The pages' Plotly charts: one layout for all, and the figures that take more than a few lines
(the Train page's live curves, the confusion matrix, the shift grid, robustness curves)."""

from __future__ import annotations

import functools
import html
import math
import re

import numpy as np
import pandas as pd

from mnist_core.net.confidence import Coverage
from mnist_core.net.evaluate import Evaluation
from mnist_core.runs.snapshot import Snapshot
from ui.i18n import decimal_mark, num, percent_writer, plotly_separators, t
from ui.run_words import change_mark

# Figures are plain dicts holding numpy arrays: go.Figure objects are slow to validate, and the Train
# page redraws its charts every second.
LIVE_HEIGHT = 320
LIVE_LEGEND = {"orientation": "h", "y": 1.12}


@functools.cache
def _unchecked_type() -> type:
    from plotly.basedatatypes import BaseFigure  # here, not at import: plotly takes a quarter second to load

    class Unchecked(BaseFigure):
        def __init__(self, figure: dict) -> None:  # no BaseFigure.__init__: that is the validation
            self._figure = figure

        def to_dict(self) -> dict:
            return self._figure

        def to_plotly_json(self) -> dict:
            return self._figure

    return Unchecked


def unchecked(figure: dict):
    """A figure dict that st.plotly_chart sends as it is. Streamlit builds a plotly `Figure` from a dict to
    validate it (`validate_figure=True`, no option to skip): for the Draw page's network that was a third
    of the server's time per stroke (py-spy). A `BaseFigure` counts as validated, and its `to_dict` is all
    Streamlit and plotly.io read; our figures are built by our own code, with the keys Plotly knows."""
    return _unchecked_type()(figure)


AXIS = re.compile(r"[xy]axis\d*")
PERCENT_TICKS = re.compile(r"\.([01])%")  # a percent axis's tickformat (".0%"): its labels get the language's way


def percent_labels(digits: int) -> dict[str, str]:
    """Plotly's label for each percentage from 0 to 100 with `digits` decimals ("80%", "12,5%" with a comma for
    separators), as this browser's language writes it ("80 %" in French), where the two differ: an axis's
    `labelalias`. Plotly has no setting for the percent sign (its locale's format takes only the decimal and
    thousands marks), so every label it may write is looked up."""
    write, mark, steps = percent_writer(digits), decimal_mark(), 10 ** digits
    plotly = {f"{k / steps:.{digits}f}".replace(".", mark) + "%": write(k / steps / 100)
              for k in range(100 * steps + 1)}
    return {label: ours for label, ours in plotly.items() if label != ours}


def layout(height: int, title: str | None = None, top: int = 40, **extra) -> dict:
    """The layout every chart of the app starts from: narrow margins, `top` pixels for the title; the numbers
    of its ticks and hover labels written the browser's language's way."""
    # Ticks and hover labels with this browser's decimal and thousands marks ("0,98" in French).
    base = {"height": height, "margin": {"l": 10, "r": 10, "t": top, "b": 10}, "separators": plotly_separators()}
    for key, axis in extra.items():  # and percent ticks with its percent sign ("80 %" in French)
        if AXIS.fullmatch(key) and isinstance(axis, dict) and \
                (percent := PERCENT_TICKS.fullmatch(str(axis.get("tickformat", "")))) is not None:
            if aliases := percent_labels(int(percent.group(1))):
                extra[key] = {**axis, "labelalias": aliases}
    if title is not None:
        base["title"] = {"text": title_lines(title)}
        if "<br>" in base["title"]["text"]:
            # Two lines from the top of the figure; a legend above the plot goes under them, not across them.
            base["title"].update({"y": 1 - TITLE_LINE / height, "yref": "container", "yanchor": "top"})
            legend_on_top = (extra.get("legend") or {}).get("y", 0) > 1
            base["margin"]["t"] = top + TITLE_LINE * (2 if legend_on_top else 1)
    return {**base, **extra}


LONG_TITLE = 44  # characters: longer, a title is cut on a phone (a Plotly title does not wrap), French first
TITLE_LINE = 18  # px: a title's second line


def title_lines(title: str) -> str:
    """A long chart title on two lines, broken after its colon, else before its bracket ("Santé de
    l'entraînement :<br>taille du gradient de chaque couche"); a short one as it is."""
    if len(title) <= LONG_TITLE or "<br>" in title:
        return title
    marks = [(at, mark) for mark in (": ", " (") if (at := title.find(mark)) > 0]
    if not marks:
        return title
    at, mark = min(marks)  # the first: "se mueve<br>(color: probabilidad de 0)", not inside the bracket
    return title[:at + 1] + "<br>" + title[at + 2:] if mark == ": " else title[:at] + "<br>" + title[at + 1:]


LIVE_POINTS = 500  # points per line: plenty for a chart, and quick for the browser to redraw every second


def chart_config(snap: Snapshot) -> dict:
    """While the curves move, static pictures (no hover layers to rebuild on every redraw); after, interactive."""
    return {"staticPlot": True} if snap.active else {}


def thinning(points: int) -> np.ndarray:
    """Which of `points` to draw: every k-th, at most LIVE_POINTS, and always the last, so that a line ends
    where the run is."""
    return np.unique(np.r_[np.arange(0, points, max(1, -(-points // LIVE_POINTS))), points - 1]) if points \
        else np.zeros(0, dtype=int)


def epoch_ends(snap: Snapshot) -> dict[int, float]:
    """Where each epoch of this job's history ended, on the charts' epoch axis (epoch k spans k-1 to k):
    at k, or earlier for an epoch a Stop cut short (its last progress report says where)."""
    at = np.asarray(snap.grad_at, dtype=float)
    first = math.ceil(at.min()) if len(at) else 1  # a job may continue a model trained before it
    ends = {}
    for record in snap.history:
        k = record.epoch
        if k >= first:
            inside = at[(at > k - 1) & (at <= k)]
            ends[k] = float(inside.max()) if len(inside) else float(k)
    return ends


def fractions(snap: Snapshot) -> dict[int, float]:
    """Each history epoch's share of its batches trained: below 1 for an epoch a Stop cut short (the
    record says so; for records from before it did, this job's progress reports)."""
    ends = epoch_ends(snap)
    return {r.epoch: min(float(r.fraction), ends.get(r.epoch, r.epoch) - r.epoch + 1) for r in snap.history}


def continuous(snap: Snapshot, x: np.ndarray | list[float]) -> np.ndarray:
    """Positions in epoch numbers (epoch k spans k-1 to k; 3.33 = a third into epoch 4) -> epochs trained,
    so that the charts run on without a gap after a Stop and Train more: every place after an epoch cut
    short moves back by the part of it never trained (stop at 3.33, the next epoch spans 3.33 to 4.33)."""
    x = np.asarray(x, dtype=float)
    cut = sorted((k, 1.0 - f) for k, f in fractions(snap).items() if f < 1.0)
    if not cut or not len(x):
        return x
    epochs = np.array([k for k, _ in cut], dtype=float)
    missing = np.cumsum([m for _, m in cut])
    # A place in epoch ceil(x) moves back by what the cut epochs before it lacked.
    before = np.searchsorted(epochs, np.ceil(x - 1e-9), side="left")  # cut epochs numbered below ceil(x)
    return x - np.r_[0.0, missing][before]


def loss_positions(snap: Snapshot) -> np.ndarray:
    """Each batch loss's place on the epochs-trained axis, so that the loss, F1 and health charts agree
    after a Stop and Train more (the stopped epoch's batches end early; the next epoch goes on from there)."""
    count = len(snap.batch_losses)
    per_epoch = max(snap.batches_per_epoch, 1)
    parts = [k - 1 + np.arange(1, round((end - k + 1) * per_epoch) + 1) / per_epoch
             for k, end in epoch_ends(snap).items()]
    done = np.concatenate(parts) if parts else np.zeros(0)
    if len(done) > count:  # losses that do not match the history: place them one after another
        return np.arange(1, count + 1) / per_epoch
    start = max(snap.epoch - 1, float(done[-1]) if len(done) else 0.0)
    return continuous(snap, np.concatenate([done, start + np.arange(1, count - len(done) + 1) / per_epoch]))


MARK_COLOR = "#d95f02"


def change_marks(snap: Snapshot) -> dict:
    """Each live setting change as a dashed vertical line with its label ("lr 0.003 → 0.3"), as layout parts."""
    at = continuous(snap, [c.epoch for c in snap.changes]).tolist()  # on the curves' axis
    shapes = [{"type": "line", "xref": "x", "yref": "paper", "x0": x, "x1": x, "y0": 0, "y1": 1,
               "line": {"color": MARK_COLOR, "width": 1.5, "dash": "dash"}} for x in at]
    notes = [{"x": at[i], "y": 1 - 0.09 * (i % 3), "xref": "x", "yref": "paper", "text": change_mark(c),
              "showarrow": False, "xanchor": "left", "font": {"size": 11, "color": MARK_COLOR},
              "bgcolor": "rgba(255,255,255,0.8)"} for i, c in enumerate(snap.changes)]
    return {"shapes": shapes, "annotations": notes} if snap.changes else {}


def loss_series(snap: Snapshot) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The loss chart's points: epochs trained, each batch's loss and its smoothed curve (at most LIVE_POINTS
    each, the last always); None before the first batch."""
    losses = np.asarray(snap.batch_losses, dtype=float)
    if not len(losses):
        return None
    keep = thinning(len(losses))
    # Exponential moving average, the usual smoothing of a loss curve, started at the first loss: pandas (loaded
    # with Streamlit already) rather than scipy.signal's filter, whose import cost every app server 1 CPU s.
    smooth = pd.Series(losses).ewm(alpha=0.05, adjust=False).mean().to_numpy()
    return loss_positions(snap)[keep], losses[keep], smooth[keep]


def loss_figure(snap: Snapshot) -> dict | None:
    """None before the first batch: an empty chart's axis ran from -1, as if a loss could be negative."""
    series = loss_series(snap)
    if series is None:
        return None
    x, raw, smooth = series
    return {"data": [{"type": "scatter", "mode": "lines", "x": x, "y": raw, "name": t("each batch"),
                      "line": {"width": 1, "color": "#b3d3ea"}},  # pale, not transparent: cheaper to draw
                     {"type": "scatter", "mode": "lines", "x": x, "y": smooth, "name": t("smoothed"),
                      "line": {"width": 2.5, "color": "#08519c"}}],
            "layout": layout(LIVE_HEIGHT, t("Training loss"), legend=LIVE_LEGEND,
                             xaxis={"title": {"text": t("epoch")}},
                             yaxis={"title": {"text": t("cross-entropy")}}, **change_marks(snap))}


def nice_ticks(low: float, high: float, count: int = 5) -> np.ndarray:
    """About `count` round tick values (1, 2 or 5 times a power of ten apart) from `low` to `high`."""
    if not high > low:
        return np.array([low])
    raw = (high - low) / count
    step = min((m * 10.0 ** math.floor(math.log10(raw)) for m in (1, 2, 5, 10)), key=lambda v: abs(v - raw))
    return np.arange(math.ceil(low / step) * step, high + step * 1e-9, step)


PLOT_MARGINS = (56, 12, 58, 40)  # px around the loss picture's plot: left, right, top, bottom


def loss_svg(snap: Snapshot) -> str | None:
    """The loss chart as one HTML block with an SVG inside (the same points, marks and words as `loss_figure`):
    what the live view draws while a run trains. A static picture either way, but no chart library for a new
    browser to load first: a share link's first view waited 3-4 s for Plotly's 4.7 MB (lesson_figures.py).
    The lines stretch to any width (a 1000x1000 view box, not scaled as a picture); the words are HTML at
    their own size, so a phone reads them as a laptop does."""
    series = loss_series(snap)
    if series is None:
        return None
    x, raw, smooth = series
    values = np.concatenate([raw[np.isfinite(raw)], smooth[np.isfinite(smooth)]])
    y_low, y_high = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
    y_high = y_high if y_high > y_low else y_low + 1.0
    x_low = float(x.min())
    x_high = float(x.max()) if x.max() > x.min() else x_low + 1.0

    def px(v) -> np.ndarray:  # 0..1000 across the plot
        return 1000 * (np.asarray(v, float) - x_low) / (x_high - x_low)

    def py(v) -> np.ndarray:  # 0..1000 down the plot
        return 1000 * (1 - (np.clip(np.asarray(v, float), y_low, y_high) - y_low) / (y_high - y_low))

    def polyline(ys: np.ndarray, colour: str, stroke: float) -> str:
        ok = np.isfinite(ys)  # a diverged loss (nan, inf) breaks the line there
        runs = np.split(np.arange(len(ys)), np.nonzero(np.diff(ok.astype(int)))[0] + 1)
        return "".join(f"<polyline fill='none' stroke='{colour}' stroke-width='{stroke}' "
                       "vector-effect='non-scaling-stroke' points='"
                       + " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px(x[r]), py(ys[r]), strict=True)) + "'/>"
                       for r in runs if len(r) > 1 and ok[r[0]])

    def word(text: str, style: str) -> str:
        return f"<span style='position:absolute;white-space:nowrap;{style}'>{html.escape(text)}</span>"

    lines, words = [], []
    for v in nice_ticks(y_low, y_high):
        y = float(py(v))
        lines.append(f"<line x1='0' y1='{y:.1f}' x2='1000' y2='{y:.1f}' stroke='#e8e8e8' "
                     "vector-effect='non-scaling-stroke'/>")
        words.append(word(num(v, 2, trim=True), f"right:calc(100% + 6px);top:{y / 10:.2f}%;transform:translateY(-50%)"))
    for v in nice_ticks(x_low, x_high):
        words.append(word(num(v, 2, trim=True), f"left:{float(px(v)) / 10:.2f}%;top:calc(100% + 4px);"
                                                "transform:translateX(-50%)"))
    lines.append(polyline(raw, "#b3d3ea", 1) + polyline(smooth, "#08519c", 2.5))
    marks = continuous(snap, [c.epoch for c in snap.changes])
    for i, (at, change) in enumerate(zip(marks, snap.changes, strict=True)):
        xx = float(px(min(max(float(at), x_low), x_high)))
        lines.append(f"<line x1='{xx:.1f}' y1='0' x2='{xx:.1f}' y2='1000' stroke='{MARK_COLOR}' stroke-width='1.5' "
                     "stroke-dasharray='5,4' vector-effect='non-scaling-stroke'/>")
        words.append(word(change_mark(change), f"left:calc({xx / 10:.2f}% + 3px);top:{4 + 16 * (i % 3)}px;"
                                               f"color:{MARK_COLOR};font-size:11px;background:rgba(255,255,255,0.8)"))
    left, right, top, bottom = PLOT_MARGINS
    key = "".join(f"<span style='display:inline-block;width:24px;border-top:{w}px solid {c};vertical-align:middle;"
                  f"margin:0 6px 0 {18 * (i > 0)}px'></span>{html.escape(name)}"
                  for i, (name, c, w) in enumerate(((t("each batch"), "#b3d3ea", 2), (t("smoothed"), "#08519c", 3))))
    label = html.escape(t("Training loss"), quote=True)
    return (f"<div data-testid='loss-chart' role='img' aria-label='{label}' style='position:relative;"
            f"height:{LIVE_HEIGHT}px;font-family:sans-serif;font-size:12px;color:#555;margin-bottom:0.5rem'>"
            f"<div style='position:absolute;left:{left}px;top:0;font-size:16px;color:#333'>"
            f"{html.escape(t('Training loss'))}</div><div style='position:absolute;left:{left}px;top:28px'>{key}</div>"
            f"<div style='position:absolute;left:{left}px;right:{right}px;top:{top}px;bottom:{bottom}px'>"
            "<svg viewBox='0 0 1000 1000' preserveAspectRatio='none' width='100%' height='100%' "
            f"style='position:absolute;left:0;top:0;overflow:visible'>{''.join(lines)}</svg>{''.join(words)}</div>"
            + word(t("epoch"), f"left:{left}px;right:{right}px;bottom:2px;text-align:center")
            + word(t("cross-entropy"), f"left:0;top:{top}px;bottom:{bottom}px;writing-mode:vertical-rl;"
                                       "transform:rotate(180deg);text-align:center")
            + "</div>")


def f1_figure(snap: Snapshot) -> dict:
    shares = fractions(snap)
    # Each epoch's scores sit where the epoch ended, in epochs trained: a stopped epoch's before its number.
    epochs = continuous(snap, [r.epoch - 1 + shares[r.epoch] for r in snap.history])
    lines = {t("train"): np.array([r.train_f1 for r in snap.history]),
             t("test"): np.array([r.test_f1 for r in snap.history])}
    # At least two points of F1 from bottom to top: a first epoch's nearly equal scores would otherwise
    # fill the chart with ticks like 0.93765, 0.9377.
    values = np.concatenate(list(lines.values()))
    middle = (values.min() + values.max()) / 2
    half = max(0.01, (values.max() - values.min()) * 0.55)
    return {"data": [{"type": "scatter", "mode": "lines+markers", "name": name, "x": epochs, "y": y}
                     for name, y in lines.items()],
            "layout": layout(LIVE_HEIGHT, t("Macro-F1 per epoch"), legend=LIVE_LEGEND,
                             xaxis={"title": {"text": t("epoch")}, "dtick": 1 if len(epochs) <= 20 else None},
                             # Capped at 1, the range keeps its height below (scores of 1.0 gave 0.99-1).
                             yaxis={"title": {"text": "macro-F1"},
                                    "range": [min(middle - half, 1.0 - 2 * half), min(1.0, middle + half)]},
                             **change_marks(snap))}


SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def power_text(mantissa: int, power: int) -> str:
    """m x 10^p as a person reads it, in this browser's language: a plain number from 0.001 to 1000 ("0,005" in
    French), else "5×10⁻⁴" (never the "5e-4" of a program)."""
    if -3 <= power <= 3:
        return num(mantissa * 10.0 ** power, max(0, -power), trim=True)
    return ("" if mantissa == 1 else f"{mantissa}×") + "10" + str(power).translate(SUPERSCRIPT)


def log_ticks(values: np.ndarray) -> dict:
    """Tick marks for a log axis, labelled 0.001, 0.01, ..., 10⁻⁵ (`power_text`): a power of ten each, fewer
    when the values span many decades (a learning rate too high), so that labels never crowd; 2 and 5 between
    them when the values span two decades or less, so that there are always a few labels. Hover labels are
    written as powers too ("1,23×10⁻⁵"), not "1.23e-5"."""
    values = values[np.isfinite(values) & (values > 0)]
    if not len(values):
        return {}
    low, high = math.floor(math.log10(values.min())), math.ceil(math.log10(values.max()))
    step = max(1, math.ceil((high - low) / 6))
    mantissas = (1, 2, 5) if high - low <= 2 else (1,)
    ticks = [(m, p) for p in range(low - (low % step), high + 1, step) for m in mantissas]
    return {"tickvals": [m * 10.0 ** p for m, p in ticks], "ticktext": [power_text(m, p) for m, p in ticks],
            "exponentformat": "power"}


def health_figure(snap: Snapshot) -> dict:
    """Each layer's weight-gradient size over the run, on a log scale: a learning rate too high shows as
    sizes that grow or jump about, one too low or dead units as sizes that shrink towards nothing."""
    norms = np.asarray(snap.grad_norms, dtype=float)  # (reports, layers)
    at = np.asarray(snap.grad_at, dtype=float)
    keep = thinning(len(at))
    layers = norms.shape[1] if norms.ndim == 2 else 0
    x, shown = (continuous(snap, at[keep]), norms[keep]) if layers else (at, norms)
    return {"data": [{"type": "scatter", "mode": "lines", "x": x, "y": shown[:, layer],
                      "name": t("output layer") if layer == layers - 1 else t("layer {layer}", layer=layer + 1)}
                     for layer in range(layers)],
            "layout": layout(300, t("Training health: size of each layer's gradient"),
                             legend={"orientation": "h", "y": 1.15}, xaxis={"title": {"text": t("epoch")}},
                             yaxis={"title": {"text": t("gradient norm")}, "type": "log", **log_ticks(norms)})}


def spread_figure(snap: Snapshot) -> dict | None:
    """Each layer's weight histogram now (solid) against at the start (dashed), side by side; None before the
    first epoch's report. Each LayerSpread: `edges` (bins + 1,), `start` and `now` (bins,) counts."""
    if not snap.spread:
        return None
    data = []
    for i, layer in enumerate(snap.spread):
        centres = (np.asarray(layer.edges[:-1]) + np.asarray(layer.edges[1:])) / 2
        axis = "" if i == 0 else str(i + 1)
        data += [{"type": "scatter", "mode": "lines", "x": centres, "y": layer.start,
                  "name": t("{layer} start", layer=layer.name),
                  "line": {"dash": "dash", "width": 1, "color": "#888"}, "xaxis": f"x{axis}", "yaxis": f"y{axis}"},
                 {"type": "scatter", "mode": "lines", "x": centres, "y": layer.now,
                  "name": t("{layer} now", layer=layer.name),
                  "line": {"width": 2, "color": "#08519c"}, "xaxis": f"x{axis}", "yaxis": f"y{axis}"}]
    # Each small chart titled with its layer, above it (an annotation per subplot's x domain).
    count = len(snap.spread)
    notes = [{"text": layer.name, "x": (i + 0.5) / count, "y": 1.0, "xref": "paper", "yref": "paper",
              "xanchor": "center", "yanchor": "bottom", "showarrow": False} for i, layer in enumerate(snap.spread)]
    return {"data": data, "layout": layout(260, t("Weights per layer: now, and at the start (dashed)"), top=60,
                                           grid={"rows": 1, "columns": count, "pattern": "independent"},
                                           showlegend=False, annotations=notes)}


def share_texts(values: np.ndarray) -> list[list[str]]:
    """Shares of a row for the confusion matrix, in this browser's language: one decimal ("12,5 %" in French),
    so no coloured cell reads "0%"; a share below 0.05% "<0,1 %"."""
    write = percent_writer(1)
    return [["0" if v == 0 else "<" + write(0.001) if v < 0.0005 else write(v) for v in row] for row in values.tolist()]


CELL_TEXT = 11  # px: a confusion matrix's numbers


def confusion_figure(result: Evaluation, normalised: bool) -> dict:
    counts = result.confusion
    values = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1) if normalised else counts
    text = share_texts(values) if normalised else [[num(v, 0) for v in row] for row in values.tolist()]
    # Mistakes stand out: the diagonal (all correct answers) would swamp the colour scale.
    shown = values.astype(float).copy()
    np.fill_diagonal(shown, np.nan)
    # Plotly reports clicks on markers, not on heatmap cells: a nearly invisible square marker sits
    # on each cell so that a click selects (true, predicted).
    cells_x, cells_y = [x for _ in range(10) for x in range(10)], [y for y in range(10) for _ in range(10)]
    return {
        "data": [{"type": "heatmap", "z": shown.tolist(), "x": list(range(10)), "y": list(range(10)),
                  # One size for every cell: Plotly fits each cell's text to it, which wrote a phone's 4-digit
                  # counts (and with them all the others) 5 px tall.
                  "text": text, "texttemplate": "%{text}", "textfont": {"size": CELL_TEXT}, "colorscale": "Reds",
                  "showscale": False, "hoverinfo": "skip"},
                 {"type": "scatter", "mode": "markers", "x": cells_x, "y": cells_y,
                  "marker": {"symbol": "square", "size": 34, "opacity": 0.01, "color": "#000"},
                  "customdata": [cell for row in text for cell in row],
                  "hovertemplate": t("true %{y} → predicted %{x}: %{customdata}<extra></extra>")}],
        "layout": layout(460, t("Confusion matrix"), top=30, showlegend=False,
                         clickmode="event+select",
                         xaxis={"title": {"text": t("predicted")}, "dtick": 1, "side": "top", "range": [-0.5, 9.5]},
                         yaxis={"title": {"text": t("true digit")}, "dtick": 1, "range": [9.5, -0.5]}),
    }


def shift_figure(grid: np.ndarray, original: int) -> dict:
    radius = grid.shape[0] // 2
    offsets = list(range(-radius, radius + 1))
    answers = grid.argmax(-1)
    return {"data": [{"type": "heatmap", "x": offsets, "y": offsets, "z": grid[..., original].tolist(),
                      "zmin": 0, "zmax": 1, "colorscale": "Blues", "colorbar": {"title": {"text": f"p({original})"}},
                      "text": answers.tolist(), "texttemplate": "%{text}",
                      "hovertemplate": t("%{x} right, %{y} down: reads %{text}<extra></extra>")}],
            "layout": layout(330, t("What it reads when the digit moves (colour: probability of {digit})",
                                    digit=original),
                             xaxis={"title": {"text": t("pixels right")}, "dtick": 1},
                             yaxis={"title": {"text": t("pixels down")}, "dtick": 1, "autorange": "reversed"})}


def curve_figure(lines: list[tuple[str, list[tuple[float, float]]]], kind: str, unit: str) -> dict:
    """Robustness curves: each model's test accuracy (y) at each level (x) of one change."""
    return {"data": [{"type": "scatter", "mode": "lines+markers", "name": shown,
                      "x": [level for level, _ in curve], "y": [accuracy for _, accuracy in curve]}
                     for shown, curve in lines],
            "layout": layout(340, t("Test accuracy against {change}", change=kind), xaxis={"title": {"text": unit}},
                             yaxis={"title": {"text": t("accuracy")}, "range": [0, 1], "tickformat": ".0%"},
                             legend={"orientation": "h", "y": -0.25})}


def coverage_figure(result: Coverage) -> dict:
    """Share answered and accuracy of those answered at every confidence threshold, the chosen one marked."""
    x = result.curve_thresholds.tolist()
    accuracy = [None if np.isnan(v) else float(v) for v in result.curve_accuracy]
    # The percentages written here, in the language's way: a hover template's "%{y:.1%}" is always "12,5%".
    one, two = percent_writer(1), percent_writer(2)
    return {"data": [
        {"type": "scatter", "mode": "lines", "name": t("share answered"), "x": x, "y": result.curve_answered.tolist(),
         "customdata": [one(v) for v in result.curve_answered.tolist()],
         "hovertemplate": t("threshold %{x:.2f}: answers %{customdata}<extra></extra>"),
         "line": {"color": "#1f77b4"}},
        {"type": "scatter", "mode": "lines", "name": t("accuracy of those answered"), "x": x, "y": accuracy,
         "customdata": ["" if v is None else two(v) for v in accuracy],
         "hovertemplate": t("threshold %{x:.2f}: %{customdata} right<extra></extra>"), "line": {"color": "#2ca02c"}}],
        "layout": layout(300, t("What a confidence threshold buys and costs"), top=30,
                         xaxis={"title": {"text": t("answer only when at least this sure")}, "range": [0, 1]},
                         yaxis={"tickformat": ".0%"}, legend={"orientation": "h", "y": -0.3},
                         shapes=[{"type": "line", "x0": result.threshold, "x1": result.threshold, "y0": 0, "y1": 1,
                                  "yref": "paper", "line": {"color": "#d62728", "dash": "dash"}}])}
