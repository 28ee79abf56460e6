"""Figures of the Truncation lab: accuracy against k, learning curves, where the gradient reaches by k,
the gradient-bias meter (arrays in, go.Figure out; no Streamlit)."""

import numpy as np
import plotly.colors
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .gradients import PALETTE, row_axis


def accuracy_vs_k_figure(arms: dict[str, dict], T: int, chance: float = 0.1, height: int = 360) -> go.Figure:
    """Test accuracy against truncation length k, one line per arm; arms[label][k] holds one accuracy per seed
    (k = None: full BPTT, drawn at k = T). Each seed's point faint; the mean with a ±1 SD bar."""
    fig = go.Figure()
    kinds = list(dict.fromkeys(label.split(",")[0] for label in arms))
    dashes = {"TBPTT(k, k)": "solid", "TBPTT(1, k)": "dash", "ARTBP": "dot"}
    all_ks = set()
    for label, by_k in arms.items():
        kind = label.split(",")[0]
        color = PALETTE[kinds.index(kind) % len(PALETTE)]
        ks = sorted(by_k, key=lambda k: T if k is None else k)
        xs = [T if k is None else k for k in ks]
        all_ks |= set(xs)
        per_k = [100 * np.asarray(by_k[k], float) for k in ks]
        several = any(len(a) > 1 for a in per_k)
        if several:
            fig.add_trace(
                go.Scatter(
                    x=[x for x, a in zip(xs, per_k) for _ in a],
                    y=np.concatenate(per_k),
                    mode="markers",
                    marker=dict(color=color, opacity=0.3, size=6),
                    showlegend=False,
                    hoverinfo="skip",
                    legendgroup=label,
                )
            )
        frozen = "frozen" in label
        dash = next((d for name, d in dashes.items() if name in label), "solid")
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=[float(a.mean()) for a in per_k],
                name=label,
                legendgroup=label,
                mode="markers" if frozen else "lines+markers",
                marker=dict(color=color, size=11 if frozen else 7, symbol="x" if frozen else "circle"),
                line=dict(color=color, dash=dash),
                error_y=dict(
                    type="data",
                    array=[float(a.std(ddof=1)) if len(a) > 1 else 0.0 for a in per_k],
                    visible=several,
                    color=color,
                    thickness=1.2,
                    width=3,
                ),
                hovertemplate=f"{label}<br>k = %{{x}}: %{{y:.1f}}%<extra></extra>",
            )
        )
    fig.add_hline(
        y=100 * chance,
        line=dict(color="gray", dash="dot"),
        annotation_text="chance",
        annotation_position="bottom right",
    )
    ticks = sorted(all_ks)
    fig.update_xaxes(
        type="log",
        tickvals=ticks,
        ticktext=[f"{k}" if k < T else f"{T} (full)" for k in ticks],
        title="truncation length k (rows of BPTT)",
    )
    fig.update_yaxes(title="test accuracy (%)", range=[0, 105])
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", yanchor="top", y=-0.25, x=0)
    )
    return fig


def learning_curves_figure(
    curves: dict[tuple[int, int], dict], height: int = 340, full_at: int | None = None
) -> go.Figure:
    """Test accuracy and mean training loss per epoch of every run; curves[(k, seed)] is a History dict, with
    full BPTT at k = full_at (named so).

    One colour per k; the seeds of a k share it and its legend entry.
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=["test accuracy (%)", "training loss"], horizontal_spacing=0.1)
    ks = sorted({k for k, _ in curves})
    colors = dict(zip(ks, plotly.colors.sample_colorscale("Viridis", np.linspace(0, 0.9, max(len(ks), 2)))))
    shown = set()
    for (k, seed), h in sorted(curves.items()):
        name = "full BPTT" if k == full_at else f"k = {k}"
        common = dict(legendgroup=str(k), line=dict(color=colors[k], width=1.5), name=name)
        fig.add_trace(
            go.Scatter(
                x=h["epoch"],
                y=[100 * a for a in h["test_accuracy"]],
                showlegend=k not in shown,
                hovertemplate=f"{name}, seed {seed}<br>epoch %{{x}}: %{{y:.1f}}%<extra></extra>",
                **common,
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=h["epoch"],
                y=h["loss"],
                showlegend=False,
                hovertemplate=f"{name}, seed {seed}<br>epoch %{{x}}: %{{y:.3f}}<extra></extra>",
                **common,
            ),
            row=1,
            col=2,
        )
        shown.add(k)
    fig.update_xaxes(title="epoch")
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def relative_log10(values: np.ndarray) -> np.ndarray:
    """log10 of each row of (K, T) over that row's maximum (0 = the largest entry); exact zeros -> nan."""
    values = np.asarray(values, np.float64)
    top = values.max(axis=1, keepdims=True)
    positive = values > 0
    return np.where(positive, np.log10(np.where(positive, values, 1.0) / np.where(top > 0, top, 1.0)), np.nan)


def rows_by_k_figure(labels: list, values: np.ndarray, title: str, height: int = 300) -> go.Figure:
    """Heatmap of a per-row quantity (K, T), one line per label, coloured by log10 relative to that line's largest row.

    Exact zeros are left blank: the grey background shows (no text in the cells, which a narrow chart crams);
    hovering shows the raw values, 0 there.
    """
    values = np.asarray(values, np.float64)
    z = relative_log10(values)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=np.arange(1, values.shape[1] + 1),
            y=[str(label) for label in labels],
            colorscale="Viridis",
            customdata=values,
            hoverongaps=True,
            colorbar=dict(title="log₁₀ of<br>row / max"),
            xgap=1,
            ygap=1,
            hovertemplate="%{y}, row %{x}: %{customdata:.3g}<extra></extra>",
        )
    )
    fig.update_xaxes(**row_axis(values.shape[1]))
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(
        title=dict(text=title, font=dict(size=14)),
        height=height,
        margin=dict(l=10, r=10, t=40, b=10),
        plot_bgcolor="#e8e8e8",
    )
    return fig


def bias_figure(rows: list, T: int, height: int = 330) -> go.Figure:
    """The gradient-bias meter: per family, the truncated gradient's cosine with the full one and its relative error,
    against k; for ARTBP also its mean over draws (rows: explorer.analysis.bias.Bias)."""
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.1,
        subplot_titles=["cosine with the full-BPTT gradient", "relative error ‖g_k − g‖ / ‖g‖"],
    )
    names = {"chunks": "TBPTT(k, k)", "window": "TBPTT(1, k)", "artbp": "ARTBP, one draw"}
    families = list(dict.fromkeys(r.family for r in rows))
    for i, family in enumerate(families):
        mine = [r for r in rows if r.family == family]
        color = PALETTE[i % len(PALETTE)]
        ks = [r.k for r in mine]
        for col, values in ((1, [r.cosine for r in mine]), (2, [r.relative_error for r in mine])):
            fig.add_trace(
                go.Scatter(
                    x=ks,
                    y=values,
                    name=names[family],
                    legendgroup=family,
                    showlegend=col == 1,
                    mode="lines+markers",
                    line=dict(color=color),
                    hovertemplate=f"{names[family]}<br>k = %{{x}}: %{{y:.3g}}<extra></extra>",
                ),
                row=1,
                col=col,
            )
        if family == "artbp":
            draws = mine[0].draws
            for col, values in ((1, [r.cosine_of_mean for r in mine]), (2, [r.error_of_mean for r in mine])):
                fig.add_trace(
                    go.Scatter(
                        x=ks,
                        y=values,
                        name=f"ARTBP, mean of {draws} draws",
                        legendgroup="mean",
                        showlegend=col == 1,
                        mode="lines+markers",
                        line=dict(color=color, dash="dot"),
                        hovertemplate=f"mean of {draws} draws<br>k = %{{x}}: %{{y:.3g}}<extra></extra>",
                    ),
                    row=1,
                    col=col,
                )
    ks = sorted({r.k for r in rows})
    fig.update_xaxes(type="log", title="k (rows)", tickvals=ks, ticktext=[str(k) for k in ks])
    fig.update_yaxes(range=[-0.05, 1.05], row=1, col=1)
    fig.update_yaxes(type="log", exponentformat="power", dtick=1, row=1, col=2)  # decades only
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", yanchor="top", y=-0.25, x=0)
    )
    return fig
