"""Figures of the Gradients page: gradient norms by row, saliency on the digit, the BPTT chain, the
forget-gate product, decay over training (arrays in, go.Figure out; no Streamlit)."""

import numpy as np
import plotly.colors
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..analysis.gradients import batch_quantiles
from .style import ACCENT

UNTRAINED = " (untrained)"  # label suffix of an untrained copy: same colour as its model, dotted


PALETTE = plotly.colors.qualitative.D3


BAND = (0.1, 0.9)  # the shaded spread over the batch: 10th to 90th percentile


def row_axis(T: int) -> dict:
    """The x axis over the rows of a sequence of T rows: image rows for plain row-MNIST, steps with a delay."""
    step = 7 if T <= 35 else 8 if T <= 64 else 16
    ticks = [1, *range(step, T, step)] + ([T] if T % step else [])
    title = "image row t (1 = top)" if T == 28 else "row t of the sequence (1 = first)"
    return dict(title=title, range=[0.5, T + 0.5], tickvals=sorted(set(ticks)))


def log_axis(*arrays) -> dict:
    """A log y axis for these values, labelled so that no two labels crowd a chart 300 px high: 1, 2 and 5 of each
    decade over fewer than 3 decades, each power of ten up to 10 decades (plotly's own choice labels every digit
    1-9 over a decade or two, and 2 and 5 of every decade over six), plotly's own beyond."""
    values = np.concatenate([np.asarray(a, np.float64).ravel() for a in arrays]) if arrays else np.empty(0)
    positive = values[np.isfinite(values) & (values > 0)]
    axis = dict(type="log", exponentformat="power")
    decades = np.log10(positive.max() / positive.min()) if len(positive) else np.inf
    if decades < 3:
        axis["dtick"] = "D2"
    elif decades <= 10:
        axis["dtick"] = 1
    return axis


def _style(label: str, labels: list[str]) -> tuple[str, str]:
    """(colour, dash) of a model's line: one colour per model, dotted for its untrained copy."""
    bases = list(dict.fromkeys(lb.removesuffix(UNTRAINED) for lb in labels))
    color = PALETTE[bases.index(label.removesuffix(UNTRAINED)) % len(PALETTE)]
    return color, "dot" if label.endswith(UNTRAINED) else "solid"


def _fill(color: str) -> str:
    r, g, b = plotly.colors.hex_to_rgb(color)
    return f"rgba({r},{g},{b},0.15)"


def _gaps(y: np.ndarray) -> np.ndarray:
    """Exact zeros as gaps: a log axis cannot show them, and a line to -infinity would mislead."""
    return np.where(y > 0, y, np.nan)


def _add_norms(
    fig: go.Figure, cell: tuple[int, int], label: str, values: np.ndarray, labels: list[str], first: bool
) -> None:
    """One model in one panel: (B, T) -> batch median line and 10-90% band; (T,) -> a line. Zeros are gaps."""
    color, dash = _style(label, labels)
    rows = np.arange(1, values.shape[-1] + 1)
    if values.ndim == 2:
        lo, med, hi = batch_quantiles(values, (BAND[0], 0.5, BAND[1]))
        fig.add_trace(
            go.Scatter(
                x=np.r_[rows, rows[::-1]],
                y=_gaps(np.r_[hi, lo[::-1]]),
                fill="toself",
                fillcolor=_fill(color),
                line=dict(width=0),
                hoverinfo="skip",
                showlegend=False,
                legendgroup=label,
                name=label + " band",
            ),
            *cell,
        )
    else:
        med = values
    fig.add_trace(
        go.Scatter(
            x=rows,
            y=_gaps(med),
            name=label,
            legendgroup=label,
            showlegend=first,
            line=dict(color=color, dash=dash, width=2),
            hovertemplate=f"{label}<br>row %{{x}}: %{{y:.3g}}<extra></extra>",
        ),
        *cell,
    )


def norms_figure(panels: dict[str, dict[str, np.ndarray]], height: int = 380) -> go.Figure:
    """Log-axis panels over image rows, up to three abreast (four make a 2 x 2 grid); panel title -> model label
    -> norms (B, T) or (T,). Per-sample norms (B, T) are drawn as the batch median with a 10th-90th percentile band.
    """
    titles = list(panels)
    cols = 2 if len(titles) == 4 else min(len(titles), 3)
    rows = -(-len(titles) // cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.07, vertical_spacing=0.16)
    labels = list(dict.fromkeys(lb for series in panels.values() for lb in series))
    shown = set()
    for i, title in enumerate(titles):
        row, col = divmod(i, cols)
        for label, values in panels[title].items():
            _add_norms(fig, (row + 1, col + 1), label, np.asarray(values), labels, label not in shown)
            shown.add(label)
        fig.update_yaxes(**log_axis(*panels[title].values()), row=row + 1, col=col + 1)
        T = max(np.asarray(v).shape[-1] for v in panels[title].values()) if panels[title] else 28
        fig.update_xaxes(**row_axis(T), row=row + 1, col=col + 1)
    # The legend goes below the x axis title with room for it fixed in pixels: left to plotly's automargin, a
    # legend of several lines (five models on a half-width chart) shrinks the plot and climbs onto the title.
    below = 62 + 22 * -(-len(labels) // 2)  # axis title, then the legend at two models a line at worst
    plot = height * rows - 60 * (rows - 1) - 50  # the plot area's height, as before the legend had its room
    fig.update_layout(
        height=plot + 40 + below,
        margin=dict(l=10, r=10, t=40, b=below),
        hovermode="closest",
        legend=dict(orientation="h", yanchor="top", y=-60 / plot, x=0),
    )
    return fig


def saliency_digit_figure(image, saliency: dict[str, np.ndarray], height: int = 300) -> go.Figure:
    """The sequence a model reads (T, 28) once per model, each row tinted by log10 of its ||dL/dx_t|| over the
    model's largest; `image` is one array for all, or a dict label -> array when the models read different tasks.

    The colour is relative within a model (0 = its most salient row), on one scale shared by all panels.
    """
    labels = list(saliency)
    rel = {
        lb: np.log10(np.maximum(s, 1e-300) / s.max()) if s.max() > 0 else np.zeros_like(s)
        for lb, s in ((lb, np.asarray(v, np.float64)) for lb, v in saliency.items())
    }
    zmin = min(float(r.min()) for r in rel.values()) if rel else -1.0
    zmin = min(zmin, -1.0)
    titles = [lb.replace(UNTRAINED, "<br>" + UNTRAINED.strip()) for lb in labels]
    if len(labels) > 3:  # narrow panels: names on two lines ("lstm-<br>2x128") rather than into each other
        titles = [t.replace("-", "-<br>", 1) for t in titles]
    fig = make_subplots(rows=1, cols=max(len(labels), 1), subplot_titles=titles, horizontal_spacing=0.03)
    ink = [[0, "rgba(255,255,255,0)"], [1, "rgba(255,255,255,1)"]]
    for col, label in enumerate(labels, start=1):
        r = rel[label]
        seq = np.asarray(image[label] if isinstance(image, dict) else image)
        T = len(r)
        fig.add_trace(
            go.Heatmap(
                z=np.repeat(r[:, None], 28, axis=1),
                x=np.arange(1, 29),
                y=np.arange(1, T + 1),
                zmin=zmin,
                zmax=0,
                colorscale="Viridis",
                coloraxis=None,
                showscale=col == 1,
                colorbar=dict(title="log₁₀ of row<br>saliency / max", len=0.9),
                customdata=np.repeat(np.asarray(saliency[label])[:, None], 28, axis=1),
                hovertemplate=f"{label}<br>row %{{y}}: ‖∂L/∂x_t‖ = %{{customdata:.3g}}<extra></extra>",
                name=label,
            ),
            row=1,
            col=col,
        )
        fig.add_trace(
            go.Heatmap(
                z=seq,
                x=np.arange(1, 29),
                y=np.arange(1, T + 1),
                zmin=0,
                zmax=1,
                colorscale=ink,
                showscale=False,
                hoverinfo="skip",
                name="digit",
            ),
            row=1,
            col=col,
        )
        fig.update_yaxes(
            range=[T + 0.5, 0.5],
            scaleanchor=f"x{col if col > 1 else ''}",
            constrain="domain",
            tickvals=row_axis(T)["tickvals"],
            showticklabels=col == 1,
            title="row" if col == 1 else None,
            row=1,
            col=col,
        )
        fig.update_xaxes(range=[0.5, 28.5], constrain="domain", showticklabels=False, row=1, col=col)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def chain_figure(chain, height: int = 360) -> go.Figure:
    """The BPTT chain of one digit (explorer.analysis.chain.Chain), three panels by image row: the one-step Jacobians'
    largest singular values (with Pascanu's line for a tanh RNN), the product's norm against its bound, and
    ‖δ_t‖ as autograd measures it against what the recursion gives."""
    T = len(chain.delta)
    x = np.arange(1, T + 1)
    fig = make_subplots(
        rows=1,
        cols=3,
        horizontal_spacing=0.07,
        subplot_titles=[
            "σ₁ ≥ σ₂ ≥ … of ∂s_t/∂s_{t−1}",
            "‖∂s_last/∂s_t‖₂ and its bound ∏‖J‖₂",
            "‖δ_t‖: autograd and the recursion",
        ],
    )
    top = chain.singular.shape[1]
    for k in range(top - 1, -1, -1):  # the smaller ones first, so the band fills up to the largest
        fig.add_trace(
            go.Scatter(
                x=x,
                y=chain.singular[:, k],
                name="σ₁ (the norm ‖J_t‖₂)" if k == 0 else f"σ_{k + 1}",
                mode="lines",
                line=dict(color=ACCENT if k == 0 else "rgba(37,99,235,0.35)", width=2.5 if k == 0 else 1),
                fill=None if k == top - 1 else "tonexty",
                fillcolor="rgba(37,99,235,0.10)",
                showlegend=k in (0, top - 1),
                legendgroup="sv",
                hovertemplate=f"row %{{x}}: σ_{k + 1} = %{{y:.3g}}<extra></extra>",
            ),
            row=1,
            col=1,
        )
    if chain.gamma is not None:
        fig.add_hline(
            y=chain.recurrent_norm,
            line=dict(color=PALETTE[1], dash="dash"),
            annotation_text=f"σ_max(W_hh) = {chain.recurrent_norm:.3g}",
            annotation_position="top left",
            row=1,
            col=1,
        )
        fig.add_hline(
            y=1 / chain.gamma,
            line=dict(color="gray", dash="dot"),
            annotation_text="1/γ",
            annotation_position="bottom left",
            row=1,
            col=1,
        )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=chain.product_norm,
            name="‖J_last ⋯ J_{t+1}‖₂",
            mode="lines+markers",
            marker=dict(size=4),
            line=dict(color=ACCENT),
            hovertemplate="row %{x}: %{y:.3g}<extra></extra>",
        ),
        row=1,
        col=2,
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=chain.bound,
            name="∏ ‖J_u‖₂ (bound)",
            mode="lines",
            line=dict(color=PALETTE[1], dash="dash"),
            hovertemplate="row %{x}: %{y:.3g}<extra></extra>",
        ),
        row=1,
        col=2,
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=chain.delta_product,
            name="‖(J_last ⋯ J_{t+1})ᵀ δ_last‖",
            mode="lines",
            line=dict(color=ACCENT, width=5),
            opacity=0.35,
            hovertemplate="row %{x}: %{y:.4g}<extra></extra>",
        ),
        row=1,
        col=3,
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=chain.delta,
            name="‖δ_t‖ by autograd",
            mode="markers",
            marker=dict(color="#111827", size=5),
            hovertemplate="row %{x}: %{y:.4g}<extra></extra>",
        ),
        row=1,
        col=3,
    )
    if len(chain.delta_layers) > 1:  # a stack: each layer's part of δ_t
        for layer, values in enumerate(chain.delta_layers):
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=values,
                    name=f"‖δ_t‖ of layer {layer + 1}",
                    mode="lines",
                    line=dict(color=PALETTE[2 + layer], dash="dot"),
                    hovertemplate=f"layer {layer + 1}, row %{{x}}: %{{y:.4g}}<extra></extra>",
                ),
                row=1,
                col=3,
            )
    fig.update_xaxes(**row_axis(T))
    fig.update_yaxes(type="log", exponentformat="power")
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", yanchor="top", y=-0.2, x=0)
    )
    return fig


def forget_product_figure(product: np.ndarray, layers: int = 1, share: str = "f", height: int = 320) -> go.Figure:
    """Heatmap of products of a keep share (layers*H, T): per unit, ∏ of `share` (an LSTM's f, a minGRU's (1 − z), a
    minLSTM's f/(f + i)) over the steps after row t, log10; the layers' units stacked, layer 1 first."""
    rows, T = product.shape
    H = rows // layers
    z = np.log10(np.maximum(product, 1e-12))
    names = [f"layer {i // H + 1}, unit {i % H}" if layers > 1 else f"unit {i}" for i in range(rows)]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=np.arange(1, T + 1),
            y=np.arange(rows),
            text=np.array(names)[:, None].repeat(T, 1),
            customdata=product,
            colorscale="Viridis",
            zmin=max(float(z.min()), -6.0),
            zmax=0.0,
            colorbar=dict(title=f"log₁₀ ∏ {share}"),
            hovertemplate=f"%{{text}}, row %{{x}}: ∏ {share} = %{{customdata:.3g}}<extra></extra>",
        )
    )
    for boundary in range(1, layers):
        fig.add_hline(y=boundary * H - 0.5, line=dict(color="white", width=2))
    fig.update_xaxes(**row_axis(T))
    fig.update_yaxes(title="unit" if layers == 1 else "unit (layer 1 above, then layer 2, …)", autorange="reversed")
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10))
    return fig


def over_training_figure(curves: dict, notes: dict | None = None, height: int = 340) -> go.Figure:
    """Batch medians of a per-row norm (B, T) at each point of training, in order: one line per point, coloured
    from early (dark) to late (light); notes[label] (what the model scored then) goes in the hover text."""
    labels = list(curves)
    colors = plotly.colors.sample_colorscale("Viridis", np.linspace(0, 0.92, max(len(labels), 2)))
    fig = go.Figure()
    T = 0
    for label, color in zip(labels, colors):
        median = np.median(np.asarray(curves[label], np.float64), axis=0)
        T = len(median)
        fig.add_trace(
            go.Scatter(
                x=np.arange(1, T + 1),
                y=np.where(median > 0, median, np.nan),
                name=label,
                mode="lines",
                line=dict(color=color, width=2),
                hovertemplate=f"{label}<br>{(notes or {}).get(label, '')}<br>row %{{x}}: %{{y:.3g}}<extra></extra>",
            )
        )
    fig.update_xaxes(**row_axis(T))
    fig.update_yaxes(type="log", exponentformat="power", title="‖∂ℓ_T/∂h_t‖ (batch median)")
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=20, b=10), legend=dict(title_text="training"))
    return fig
