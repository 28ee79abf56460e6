"""Figures of what-if reading: the terms that fed one number, rows hidden one at a time, an edited digit."""

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .panels import digit_panel, finish, row_ticks, rows
from .style import ACCENT, FONT, FORWARD, MUTED


def contributions_figure(panels: list[tuple[str, list[tuple[str, float]]]], height: int = 260) -> go.Figure:
    """Side-by-side horizontal bars: per panel (title, [(label, value), ...]) the largest terms of a sum, largest
    first at the top; positive terms push the pre-activation up (accent), negative ones down (orange)."""
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[t for t, _ in panels], horizontal_spacing=0.18)
    for col, (_, terms) in enumerate(panels, start=1):
        labels, values = [t[0] for t in terms], [t[1] for t in terms]
        fig.add_trace(
            go.Bar(
                x=values,
                y=labels,
                orientation="h",
                marker_color=[ACCENT if v >= 0 else FORWARD for v in values],
                hovertemplate="%{y}: %{x:.4g}<extra></extra>",
                showlegend=False,
            ),
            row=1,
            col=col,
        )
        fig.update_yaxes(autorange="reversed", type="category", row=1, col=col)
    fig.update_xaxes(zeroline=True, zerolinecolor="#94a3b8")
    fig.update_yaxes(automargin=True)
    fig.update_layout(height=height, margin=dict(l=90, r=10, t=40, b=10), font=FONT, plot_bgcolor="white")
    return fig


def occlusion_figure(image: np.ndarray, occ, saliency: np.ndarray, height: int = 360) -> go.Figure:
    """The digit beside, per row, the change in the tracked class's final probability when the row is erased
    (explorer.analysis.counterfactual.Occlusion) and the gradient's row saliency, relative to its largest row."""
    T = len(image)
    fig = make_subplots(
        rows=1,
        cols=3,
        column_widths=[0.24, 0.38, 0.38],
        horizontal_spacing=0.06,
        subplot_titles=["the digit", f"erase the row: change in P({occ.target})", "gradient: ‖∂ℓ/∂x_t‖ / largest"],
    )
    digit_panel(fig, image, 1, 1)
    y = rows(T)
    fig.add_trace(
        go.Bar(
            x=occ.change,
            y=y,
            orientation="h",
            marker_color=[FORWARD if c < 0 else ACCENT for c in occ.change],
            customdata=np.where(occ.blank, "blank row: nothing to erase", ""),
            hovertemplate="row %{y}: %{x:+.1%} %{customdata}<extra></extra>",
            showlegend=False,
        ),
        row=1,
        col=2,
    )
    top = float(np.max(saliency)) or 1.0
    fig.add_trace(
        go.Bar(
            x=np.asarray(saliency) / top,
            y=y,
            orientation="h",
            marker_color=MUTED,
            customdata=saliency,
            hovertemplate="row %{y}: %{customdata:.3g}<extra></extra>",
            showlegend=False,
        ),
        row=1,
        col=3,
    )
    for col in (2, 3):
        fig.update_yaxes(range=[T + 0.5, 0.5], tickvals=row_ticks(T), row=1, col=col)
    fig.update_xaxes(tickformat="+.0%", zeroline=True, zerolinecolor="#94a3b8", row=1, col=2)
    return finish(fig, "", height).update_layout(margin=dict(t=40, b=10, l=10, r=10))


def edited_figure(edited: np.ndarray, before: np.ndarray, after: np.ndarray, height: int = 300) -> go.Figure:
    """The edited digit beside the final P(class) before (grey) and after the edit (accent)."""
    fig = make_subplots(
        rows=1, cols=2, column_widths=[0.3, 0.7], subplot_titles=["the edited digit", "P(class) after the last row"]
    )
    digit_panel(fig, edited, 1, 1)
    for name, values, color in (("original", before, MUTED), ("edited", after, ACCENT)):
        fig.add_trace(
            go.Bar(
                x=list(range(10)),
                y=values,
                name=name,
                marker_color=color,
                hovertemplate=f"{name}: class %{{x}} %{{y:.1%}}<extra></extra>",
            ),
            row=1,
            col=2,
        )
    fig.update_yaxes(tickformat=".0%", range=[0, 1.02], row=1, col=2)
    fig.update_xaxes(tickvals=list(range(10)), title_text="class", row=1, col=2)
    return finish(fig, "", height).update_layout(
        barmode="group", margin=dict(t=40, b=10, l=10, r=10), legend=dict(orientation="h", y=1.12, x=1, xanchor="right")
    )
