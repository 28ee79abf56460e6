"""Figures of single units and of the prediction: one unit's gates over the rows, gate saturation across
the test digits, the probabilities of the ten classes."""

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..model.unroll import Trace, state_names
from .panels import NAMES, SCALE_OF, AnimatedFigure, finish, row_ticks, rows
from .style import ACCENT, FORWARD, MUTED


def unit_figure(tr: Trace, layer: int, direction: int, unit: int) -> go.Figure:
    """One unit's gates (top) and its g/c/h (bottom) over the image rows, as lines."""
    names = state_names(tr.config.kind)
    gates = [n for n in names if SCALE_OF[n] == "gate"]
    others = [n for n in names if SCALE_OF[n] != "gate"]
    panels = 2 if gates else 1
    T = tr.logits.shape[1]
    fig = make_subplots(
        rows=panels,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.12,
        figure=AnimatedFigure(),  # not animated: only to skip re-validating its template and titles
        subplot_titles=(["gates (0 = shut, 1 = open)"] if gates else []) + [", ".join(NAMES[n] for n in others)],
    )
    palette = {
        "i": "#2563eb",
        "f": "#dc2626",
        "o": "#16a34a",
        "r": "#7c3aed",
        "z": "#dc2626",
        "g": "#f59e0b",
        "n": "#f59e0b",
        "c": "#0f766e",
        "h": "#111827",
    }
    for r, group in enumerate([gates, others] if gates else [others], start=1):
        for n in group:
            fig.add_trace(
                go.Scatter(
                    x=rows(T),
                    y=tr.get(layer, direction, n)[0, :, unit].astype(np.float32),
                    mode="lines+markers",
                    name=f"{n} · {NAMES[n]}",
                    line=dict(color=palette[n], width=2.5 if n in "fch" else 1.8),
                    marker=dict(size=4),
                    hovertemplate=f"{n}, image row %{{x}}: %{{y:.3f}}<extra></extra>",
                ),
                row=r,
                col=1,
            )
    if gates:
        fig.update_yaxes(range=[-0.03, 1.03], row=1, col=1)
    fig.update_xaxes(title_text="image row" if T == 28 else "row", tickvals=row_ticks(T), row=panels, col=1)
    return finish(fig, f"unit {unit}", 460).update_layout(margin=dict(b=50), legend=dict(orientation="v"))


def saturation_figure(stats: dict, highlight: int | None = None, titles: dict | None = None) -> go.Figure:
    """Karpathy-style gate saturation: per unit, fraction of steps > 0.9 (x) and < 0.1 (y), one panel per gate
    (or, with `titles`, one panel per key of stats, e.g. one gate at several points of training)."""
    gates = list(stats)
    names = titles or {g: f"<b>{g}</b> · {NAMES[g]}" for g in gates}
    fig = make_subplots(rows=1, cols=len(gates), horizontal_spacing=0.06, subplot_titles=[names[g] for g in gates])
    for c, g in enumerate(gates, start=1):
        low, high = stats[g]
        units = np.arange(len(low))
        fig.add_trace(
            go.Scatter(
                x=high,
                y=low,
                mode="markers",
                customdata=units,
                showlegend=False,
                marker=dict(size=7, color=ACCENT, opacity=0.55, line=dict(width=0)),
                hovertemplate="unit %{customdata}<br>above 0.9: %{x:.0%} of steps<br>below 0.1: %{y:.0%}"
                "<extra></extra>",
            ),
            row=1,
            col=c,
        )
        fig.add_trace(
            go.Scatter(
                x=[0, 1],
                y=[1, 0],
                mode="lines",
                line=dict(color="#94a3b8", dash="dot", width=1),
                hoverinfo="skip",
                showlegend=False,
            ),
            row=1,
            col=c,
        )
        if highlight is not None and highlight < len(low):
            fig.add_trace(
                go.Scatter(
                    x=[high[highlight]],
                    y=[low[highlight]],
                    mode="markers",
                    showlegend=False,
                    marker=dict(size=13, color=FORWARD, symbol="star", line=dict(width=1, color="#7c2d12")),
                    hovertemplate=f"unit {highlight}<br>above 0.9: %{{x:.0%}}<br>below 0.1: %{{y:.0%}}<extra></extra>",
                ),
                row=1,
                col=c,
            )
        fig.update_xaxes(range=[-0.03, 1.03], tickformat=".0%", title_text="steps > 0.9 (open)", row=1, col=c)
        fig.update_yaxes(range=[-0.03, 1.03], tickformat=".0%", row=1, col=c, scaleanchor=f"x{'' if c == 1 else c}")
    fig.update_yaxes(title_text="steps < 0.1 (shut)", automargin=True, row=1, col=1)
    return finish(fig, "", 380).update_layout(margin=dict(l=70, t=40, b=50, r=30))


def prediction_figure(probs: np.ndarray, label: int | None = None, title: str = "") -> go.Figure:
    """P(class) after each row as lines (T, 10): the final guess, the label and every earlier leader stand out."""
    final = int(np.argmax(probs[-1]))
    leaders = set(probs.argmax(-1).tolist())  # classes that were the guess after some row
    others = iter(["#7c3aed", "#059669", "#db2777", "#ca8a04", "#0891b2", "#4b5563", "#9333ea", "#65a30d"])
    fig = go.Figure()
    for c in range(10):
        color = ACCENT if c == final else FORWARD if c == label else next(others) if c in leaders else MUTED
        role = (
            "final guess" + (" = label" if c == label else "")
            if c == final
            else "label"
            if c == label
            else "led for a while"
            if c in leaders
            else ""
        )
        fig.add_trace(
            go.Scatter(
                x=rows(len(probs)),
                y=probs[:, c].astype(np.float32),
                mode="lines",
                name=f"{c}: {role}" if role else f"{c}",
                line=dict(color=color, width=3 if c in (final, label) else 2 if role else 1),
                showlegend=bool(role),
                hovertemplate=f"class {c} after %{{x}} rows: %{{y:.1%}}<extra></extra>",
            )
        )
    fig.update_xaxes(title_text="rows read", tickvals=row_ticks(len(probs)), range=[0.5, len(probs) + 0.5])
    fig.update_yaxes(title_text="P(class)", tickformat=".0%", range=[-0.02, 1.02])
    legend = dict(orientation="h", y=1.02, yanchor="bottom", x=1, xanchor="right")
    return finish(fig, title, 320).update_layout(margin=dict(t=50 if title else 20, b=50, r=30), legend=legend)
