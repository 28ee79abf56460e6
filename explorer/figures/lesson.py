"""The lesson's figures: arrays in, go.Figure out, one per kind of step view that is not the browser view."""

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..model.config import NAMES
from .style import ACCENT, FONT, FORWARD, MUTED

COLOURS = ["#dc2626", ACCENT, "#16a34a", "#9333ea"]  # one per model, in the order a step lists them
KIND_COLOURS = {  # the same cell, the same colour, by display name
    "RNN": COLOURS[0],
    "LSTM": COLOURS[1],
    "GRU": COLOURS[2],
    "minGRU": "#0d9488",
    "minLSTM": "#ca8a04",
}


def colour(label: str, i: int) -> str:
    """A cell kind's own colour where the label is one (a kind, 'lstm', or its name, 'LSTM'), else the i-th of
    COLOURS."""
    return KIND_COLOURS.get(NAMES.get(label, label), COLOURS[i % len(COLOURS)])


def _layout(fig: go.Figure, height: int, **kwargs) -> go.Figure:
    fig.update_layout(
        height=height,
        font=FONT | {"size": FONT["size"] if height < 800 else 18},  # a projector's full-height figure: larger type
        margin=dict(l=60 if height < 800 else 90, r=20, t=30, b=50),
        plot_bgcolor="white",
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0, bgcolor="rgba(255,255,255,0.8)"),
        **kwargs,
    )
    fig.update_xaxes(showgrid=True, gridcolor="#eef2f7", zeroline=False)
    fig.update_yaxes(showgrid=True, gridcolor="#eef2f7", zeroline=False)
    return fig


def _digit_band(fig: go.Figure, rows: int | range, T: int, **where) -> None:
    """Shade the digit's rows (the steps of `rows`, 0-based; an int n: the first n) when the sequence has others."""
    rows = range(rows) if isinstance(rows, int) else rows
    if len(rows) < T:
        fig.add_vrect(x0=rows.start + 0.5, x1=rows.stop + 0.5, fillcolor="#fde68a", opacity=0.25, line_width=0, **where)
        fig.add_annotation(
            x=(rows.start + rows.stop + 1) / 2, y=0.02, yref="y domain", text="the digit's rows", showarrow=False,
            yanchor="bottom", **where,
        )  # fmt: skip


def memory_figure(curves: dict[str, np.ndarray], rows: int, height: int = 420) -> go.Figure:
    """P(right class) after each row, one line per model; the digit's rows shaded."""
    fig = go.Figure()
    T = max(len(p) for p in curves.values())
    for i, (label, p) in enumerate(curves.items()):
        fig.add_scatter(
            x=np.arange(1, len(p) + 1), y=p, name=label, mode="lines", line=dict(width=3, color=colour(label, i))
        )
    _digit_band(fig, rows, T)
    fig.update_yaxes(title="P(right class)", range=[0, 1.05])
    fig.update_xaxes(title="rows read", range=[0.5, T + 0.5])
    return _layout(fig, height)


def chain_figure(delta: np.ndarray, product: np.ndarray, bound: np.ndarray, rows: int, height: int = 420, steps=None):
    """‖δ_t‖/‖δ_T‖ (autograd) and the Jacobian product's norm with its bound, per row, on a log axis."""
    T = len(delta)
    x = np.arange(1, T + 1)
    fig = go.Figure()
    floor = np.finfo(np.float64).tiny  # log axes cannot show 0
    fig.add_scatter(
        x=x, y=np.maximum(delta / delta[-1], floor), name="‖δ_t‖ / ‖δ_T‖ (autograd)", line=dict(width=3, color=ACCENT)
    )
    fig.add_scatter(
        x=x, y=np.maximum(product, floor), name="‖J_T ⋯ J_t+1‖ (product)", line=dict(width=2, color=FORWARD)
    )
    fig.add_scatter(
        x=x, y=np.maximum(bound, floor), name="bound ∏ ‖J‖", line=dict(width=2, dash="dot", color="#64748b")
    )
    if steps is not None:
        fig.add_vline(x=T - steps, line=dict(color="#dc2626", width=2), annotation_text=f"{steps} rows back")
    _digit_band(fig, rows, T)
    fig.update_yaxes(type="log", title="size of the gradient (log)", exponentformat="power")
    fig.update_xaxes(title="row t", range=[0.5, T + 0.5])
    return _layout(fig, height)


def truncation_figure(grad: np.ndarray, full: np.ndarray, k: int, rows: int, height: int = 420) -> go.Figure:
    """Median ‖∂L/∂h_t‖ per row under full BPTT and truncated to k (bars on a linear axis: zero is no bar)."""
    T = len(grad)
    x = np.arange(1, T + 1)
    fig = go.Figure()
    fig.add_bar(x=x, y=full, name="full BPTT", marker_color=MUTED)
    fig.add_bar(x=x, y=grad, name=f"truncated to k = {k}", marker_color=ACCENT)
    fig.add_vline(x=T - k + 0.5, line=dict(color="#dc2626", width=2, dash="dash"))
    _digit_band(fig, rows, T)
    fig.update_yaxes(title="median ‖∂L/∂h_t‖", rangemode="tozero")  # linear: a row cut off has no bar at all
    fig.update_xaxes(title="row t", range=[0.5, T + 0.5])
    return _layout(fig, height, barmode="overlay", bargap=0.1)


def sweep_figure(means: dict[str, dict], k: int, full_k: int, height: int = 420) -> go.Figure:
    """Mean test accuracy against the truncation length k, one line per cell kind; the chosen k marked."""
    fig = go.Figure()
    for i, (kind, by_k) in enumerate(means.items()):
        ks = sorted(by_k)
        fig.add_scatter(
            x=ks,
            y=[by_k[j] for j in ks],
            name=NAMES.get(kind, kind),
            mode="lines+markers",
            line=dict(width=3, color=colour(kind, i)),
        )
    fig.add_vline(x=k, line=dict(color="#dc2626", width=2), annotation_text=f"k = {k}")
    fig.add_hline(y=0.1, line=dict(color="#64748b", dash="dot"), annotation_text="chance")
    fig.update_yaxes(title="test accuracy", range=[0, 1.05], tickformat=".0%")
    fig.update_xaxes(title=f"truncation length k ({full_k} = full BPTT)")
    return _layout(fig, height)


def bias_figure(histories: dict[str, list], chosen: str, f_rows: np.ndarray, rows: int, height: int = 420):
    """Left: test accuracy per epoch for each forget-gate bias (the chosen one bold). Right: the chosen model's mean
    forget gate per row."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12)
    for i, (bias, acc) in enumerate(histories.items()):
        bold = bias == chosen
        fig.add_scatter(
            x=np.arange(1, len(acc) + 1),
            y=acc,
            name=f"forget bias {bias}",
            mode="lines+markers",
            line=dict(width=4 if bold else 1.5, color=COLOURS[i % 4]),
            opacity=1 if bold else 0.5,
            row=1,
            col=1,
        )
    T = len(f_rows)
    fig.add_scatter(x=np.arange(1, T + 1), y=f_rows, name="mean f_t", line=dict(width=3, color=FORWARD), row=1, col=2)
    _digit_band(fig, rows, T, row=1, col=2)
    fig.update_yaxes(range=[0, 1.05], row=1, col=1, tickformat=".0%", title="test accuracy")
    fig.update_yaxes(range=[0, 1.05], row=1, col=2, title=f"mean forget gate, bias {chosen}")
    fig.update_xaxes(title="epoch of training", row=1, col=1)
    fig.update_xaxes(title="row t", range=[0.5, T + 0.5], row=1, col=2)
    return _layout(fig, height)


def accuracy_figure(accuracies: dict[str, float], delay: int, height: int = 420) -> go.Figure:
    """Test accuracy per model at one delay, as bars, with chance marked."""
    labels = list(accuracies)
    fig = go.Figure(
        go.Bar(
            x=labels,
            y=[accuracies[m] for m in labels],
            marker_color=[colour(m, i) for i, m in enumerate(labels)],
            text=[f"{accuracies[m]:.0%}" for m in labels],
            textposition="outside",
        )
    )
    fig.add_hline(y=0.1, line=dict(color="#64748b", dash="dot"), annotation_text="chance")
    fig.update_yaxes(title=f"test accuracy, {delay} rows after the digit", range=[0, 1.1], tickformat=".0%")
    return _layout(fig, height, showlegend=False)
