"""Plotly figures of a training run, live or finished: loss per step and accuracy per epoch (data in, go.Figure out)."""

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .style import ACCENT, FONT, FORWARD, MUTED

MAX_POINTS = 1500  # per line: a 100-epoch run has 6,300 steps, redrawn every second while it trains


def smooth(values: Sequence[float], weight: float = 0.9) -> np.ndarray:
    """Exponential moving average, bias-corrected (as TensorBoard does) so the first values are not pulled to 0."""
    avg = (1 - weight) * np.asarray(values, dtype=float)
    # avg[n] = weight * avg[n-1] + (1 - weight) * values[n], as a scan: after the pass with shift s each entry
    # holds its last 2s terms, so log2(n) vectorised passes replace a Python loop over every step.
    shift = 1
    while shift < len(avg):
        avg[shift:] = avg[shift:] + weight**shift * avg[:-shift]
        shift *= 2
    return avg / (1 - weight ** np.arange(1, len(avg) + 1))


def _thin(n: int, max_points: int) -> np.ndarray:
    """Indices of at most ~max_points evenly spaced items of n, always keeping the last."""
    idx = np.arange(0, n, max(1, math.ceil(n / max_points)))
    return idx if n == 0 or idx[-1] == n - 1 else np.append(idx, n - 1)


def training_curves_figure(
    step_loss: Sequence[float],
    epochs: Sequence[int],
    train_accuracy: Sequence[float],
    test_accuracy: Sequence[float],
    total_steps: int | None = None,
    total_epochs: int | None = None,
    max_points: int = MAX_POINTS,
) -> go.Figure:
    """Left: training loss per step (raw, faint, and smoothed) on a log axis. Right: train/test accuracy per epoch.

    Given the run's totals, the x axes span the whole run, so a live figure fills up instead of rescaling.
    """
    fig = make_subplots(
        rows=1, cols=2, horizontal_spacing=0.08, subplot_titles=("Training loss per step", "Accuracy per epoch")
    )
    idx = _thin(len(step_loss), max_points)
    loss = np.asarray(step_loss, dtype=float)
    x = idx + 1
    fig.add_trace(
        go.Scatter(
            x=x,
            y=loss[idx],
            mode="lines",
            name="loss",
            line=dict(color=MUTED, width=1),
            hovertemplate="step %{x}<br>loss %{y:.4f}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=smooth(loss)[idx],
            mode="lines",
            name="loss, smoothed",
            line=dict(color=ACCENT, width=2),
            hovertemplate="step %{x}<br>smoothed loss %{y:.4f}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    for name, values, color in (("train accuracy", train_accuracy, ACCENT), ("test accuracy", test_accuracy, FORWARD)):
        fig.add_trace(
            go.Scatter(
                x=list(epochs),
                y=100 * np.asarray(values, dtype=float),
                mode="lines+markers",
                name=name,
                line=dict(color=color, width=2),
                marker=dict(size=5),
                hovertemplate=f"epoch %{{x}}<br>{name} %{{y:.1f}}%<extra></extra>",
            ),
            row=1,
            col=2,
        )
    fig.update_xaxes(title_text="step", row=1, col=1, range=[0, total_steps] if total_steps else None)
    fig.update_yaxes(title_text="cross-entropy", type="log", row=1, col=1)
    last_epoch = total_epochs or max(epochs, default=1)
    fig.update_xaxes(
        title_text="epoch",
        row=1,
        col=2,
        range=[0.5, last_epoch + 0.5],
        tick0=0,
        dtick=next((d for d in (1, 2, 5, 10, 20, 50, 100) if last_epoch <= 10 * d), None),
    )
    fig.update_yaxes(title_text="accuracy (%)", range=[0, 101], row=1, col=2)
    fig.update_layout(
        height=340,
        margin=dict(l=10, r=10, t=40, b=10),
        font=FONT,
        uirevision="training",
        legend=dict(orientation="h", yanchor="bottom", y=-0.35, x=0.5, xanchor="center"),
    )
    return fig


def live_figure(view, height: int = 300) -> go.Figure:
    """Inside the model after an epoch (analysis.live.LiveView): the fixed digit's hidden state h (units x rows),
    its P(class) after each row, and the gradient profile ‖∂ℓ_T/∂h_t‖ of a small batch."""
    h = view.states["h"]
    T = h.shape[1]
    fig = make_subplots(
        rows=1,
        cols=3,
        column_widths=[0.4, 0.3, 0.3],
        horizontal_spacing=0.08,
        subplot_titles=[f"h on test digit #0, epoch {view.epoch}", "P(class) after t rows", "‖∂ℓ_T/∂h_t‖ (median)"],
    )
    rows = np.arange(1, T + 1)
    fig.add_trace(
        go.Heatmap(
            z=h,
            x=rows,
            colorscale="RdBu_r",
            zmin=-1,
            zmax=1,
            showscale=False,
            hovertemplate="unit %{y}, row %{x}: %{z:.3f}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    final = int(view.probs[-1].argmax())
    for c in range(10):
        fig.add_trace(
            go.Scatter(
                x=rows,
                y=view.probs[:, c],
                mode="lines",
                line=dict(color=ACCENT if c == final else MUTED, width=2.5 if c == final else 1),
                name=str(c),
                showlegend=False,
                hovertemplate=f"class {c} after %{{x}} rows: %{{y:.1%}}<extra></extra>",
            ),
            row=1,
            col=2,
        )
    fig.add_trace(
        go.Scatter(
            x=rows,
            y=np.where(view.profile > 0, view.profile, np.nan),
            mode="lines",
            line=dict(color=ACCENT),
            showlegend=False,
            hovertemplate="row %{x}: %{y:.3g}<extra></extra>",
        ),
        row=1,
        col=3,
    )
    fig.update_yaxes(autorange="reversed", title_text="unit", row=1, col=1)
    fig.update_yaxes(tickformat=".0%", range=[-0.02, 1.02], row=1, col=2)
    fig.update_yaxes(type="log", exponentformat="power", row=1, col=3)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), template="plotly_white")
    return fig
