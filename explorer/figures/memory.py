"""Figures of the Memory page: accuracy with its t-interval per cell and delay, and the gradient norm across time
of each cell's seed-0 model (arm results and arrays in, go.Figure out; no Streamlit)."""

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..experiments.memory import Arm, ArmResult
from ..model.config import KINDS
from .gradients import PALETTE

# The LSTM's initialisations share the LSTM's colour; each has its own marker and dash.
SYMBOLS = {None: "circle-open", 0.0: "circle-open", 1.0: "circle", 2.0: "diamond", "chrono": "star"}
DASHES = {None: "dot", 0.0: "dot", 1.0: "solid", 2.0: "dashdot", "chrono": "dash"}


def arm_color(arm: Arm) -> str:
    """One colour per cell kind, the app's palette in KINDS order."""
    return PALETTE[KINDS.index(arm.kind) % len(PALETTE)]


def _init(arm: Arm):
    return "chrono" if arm.chrono else arm.forget_bias


def accuracy_figure(results: list[ArmResult], chance: float = 0.1, height: int = 420) -> go.Figure:
    """One panel per delay: each arm's mean test accuracy over seeds with its t-interval as the error bar, and each
    seed's accuracy as a faint point."""
    delays = sorted({r.delay for r in results})
    arms = sorted({r.arm for r in results}, key=lambda a: a.order)
    names = [a.name for a in arms]
    fig = make_subplots(1, max(len(delays), 1), shared_yaxes=True, subplot_titles=[f"D = {d}" for d in delays])
    for col, delay in enumerate(delays, start=1):
        for r in (r for r in results if r.delay == delay):
            color, accs = arm_color(r.arm), 100 * r.accuracies
            lo, hi = (100 * v for v in r.interval)
            mean = 100 * r.mean
            fig.add_trace(
                go.Scatter(
                    x=[r.arm.name] * len(accs),
                    y=accs,
                    mode="markers",
                    marker=dict(color=color, opacity=0.35, size=6),
                    showlegend=False,
                    legendgroup=r.arm.name,
                    hovertemplate=f"{r.arm.name}, D = {delay}<br>a seed: %{{y:.1f}}%<extra></extra>",
                ),
                row=1,
                col=col,
            )
            several = len(accs) > 1
            fig.add_trace(
                go.Scatter(
                    x=[r.arm.name],
                    y=[mean],
                    name=r.arm.name,
                    legendgroup=r.arm.name,
                    showlegend=False,  # the x axis names each arm
                    mode="markers",
                    marker=dict(color=color, size=11, symbol=SYMBOLS.get(_init(r.arm), "circle"), line=dict(width=2)),
                    error_y=dict(
                        type="data",
                        symmetric=False,
                        array=[hi - mean if several else 0.0],
                        arrayminus=[mean - lo if several else 0.0],
                        visible=several,
                        color=color,
                        thickness=1.5,
                        width=6,
                    ),
                    hovertemplate=f"{r.arm.name}, D = {delay}<br>mean %{{y:.1f}}%"
                    + (f" (95% t-interval {lo:.1f}–{hi:.1f}%)" if several else " (one seed)")
                    + f", {len(accs)} seeds<extra></extra>",
                ),
                row=1,
                col=col,
            )
        fig.add_hline(y=100 * chance, line=dict(color="gray", dash="dot"), row=1, col=col)
    fig.update_xaxes(categoryorder="array", categoryarray=names, tickangle=-30)
    fig.update_yaxes(title="test accuracy (%)", row=1, col=1)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), showlegend=False)
    return fig


def profile_figure(
    profiles: dict[tuple[Arm, int], np.ndarray], digit_rows: range = range(28), height: int = 380
) -> go.Figure:
    """One panel per delay: each arm's median ||dL/dh_t|| per row (1 = the top row) on a log axis, the digit's
    rows (0-based, as SequenceTask.digit_rows) shaded."""
    delays = sorted({d for _, d in profiles})
    fig = make_subplots(1, max(len(delays), 1), shared_yaxes=True, subplot_titles=[f"D = {d}" for d in delays])
    shown = set()
    for col, delay in enumerate(delays, start=1):
        for arm in sorted((a for a, d in profiles if d == delay), key=lambda a: a.order):
            norms = profiles[arm, delay]
            fig.add_trace(
                go.Scatter(
                    x=np.arange(1, len(norms) + 1),
                    y=norms,
                    name=arm.name,
                    legendgroup=arm.name,
                    showlegend=arm not in shown,
                    mode="lines",
                    line=dict(color=arm_color(arm), dash=DASHES.get(_init(arm), "solid"), width=2),
                    hovertemplate=f"{arm.name}, D = {delay}<br>row %{{x}}: %{{y:.2e}}<extra></extra>",
                ),
                row=1,
                col=col,
            )
            shown.add(arm)
        fig.add_vrect(
            x0=digit_rows.start + 0.5,
            x1=digit_rows.stop + 0.5,
            fillcolor="rgba(148,163,184,0.15)",
            line_width=0,
            row=1,
            col=col,
        )
        fig.update_xaxes(title="row t (the digit, then the blank rows)", row=1, col=col)
    fig.update_yaxes(type="log", exponentformat="power")
    fig.update_yaxes(title="median ‖∂L/∂h_t‖", row=1, col=1)
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", yanchor="top", y=-0.25, x=0)
    )
    return fig
