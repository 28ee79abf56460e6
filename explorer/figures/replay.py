"""The training replay: the same digit read by the snapshots a model saved while it trained."""

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .panels import SCALE_OF, SCALES, cell_colour_range, row_ticks, rows
from .style import FONT


def replay_figure(
    traces: list, labels: list[str], notes: list[str], layer: int, direction: int, name: str, height: int = 480
) -> go.Figure:
    """One digit read by the model at each point of its training, as client-side frames: the heatmap of one
    state (units x rows) and P(class) after each row. traces[i] is a one-digit Trace at point labels[i];
    notes[i] goes in the title (the accuracy and loss then). The figure shows the last point."""
    T = traces[0].logits.shape[1]
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.55, 0.45],
        horizontal_spacing=0.16,  # room for the heatmap's colour bar between the panels
        subplot_titles=[name, "P(class) after t rows"],
    )
    colorscale, zmin, zmax = _replay_scale(name, traces, layer, direction)

    def data(tr):
        z = tr.get(layer, direction, name)[0].T  # (H, T)
        probs = tr.probs[0]
        heat = go.Heatmap(
            z=z,
            x=rows(T),
            colorscale=colorscale,
            zmin=zmin,
            zmax=zmax,
            colorbar=dict(x=0.47, xanchor="left", len=0.9, thickness=12),
            hovertemplate="unit %{y}, row %{x}: %{z:.3f}<extra></extra>",
        )
        lines = [
            go.Scatter(
                x=rows(T),
                y=probs[:, c],
                mode="lines",
                name=str(c),
                line=dict(width=2),
                hovertemplate=f"class {c} after %{{x}} rows: %{{y:.1%}}<extra></extra>",
            )
            for c in range(10)
        ]
        return [heat, *lines]

    for trace_ in data(traces[-1]):
        fig.add_trace(trace_, row=1, col=1 if isinstance(trace_, go.Heatmap) else 2)
    fig.update_yaxes(title_text="unit", autorange="reversed", row=1, col=1)
    fig.update_yaxes(tickformat=".0%", range=[-0.02, 1.02], row=1, col=2)
    fig.update_xaxes(title_text="image row" if T == 28 else "row", tickvals=row_ticks(T))
    frames = [
        go.Frame(name=label, data=data(tr), traces=list(range(11)), layout=dict(title=dict(text=f"{label}: {note}")))
        for tr, label, note in zip(traces, labels, notes)
    ]
    fig.frames = frames
    step = dict(mode="immediate", frame=dict(duration=0, redraw=True), transition=dict(duration=0))
    play = dict(mode="immediate", frame=dict(duration=700, redraw=True), transition=dict(duration=0), fromcurrent=False)
    fig.update_layout(
        title=dict(text=f"{labels[-1]}: {notes[-1]}", x=0, xanchor="left", font=dict(size=15)),
        height=height,
        template="plotly_white",
        font=FONT,
        legend=dict(orientation="v", y=1, x=1.02, title_text="class", font=dict(size=12)),
        margin=dict(l=60, r=20, t=60, b=130),
        updatemenus=[
            dict(
                type="buttons",
                direction="left",
                x=0,
                y=-0.22,
                xanchor="left",
                yanchor="top",
                showactive=False,
                buttons=[
                    dict(label="▶ Play training", method="animate", args=[None, play]),
                    dict(label="❚❚ Pause", method="animate", args=[[None], step]),
                ],
            )
        ],
        sliders=[
            dict(
                active=len(labels) - 1,
                x=0.3,
                len=0.7,
                y=-0.2,
                yanchor="top",
                currentvalue=dict(prefix="training: ", xanchor="left"),
                steps=[dict(label=label, method="animate", args=[[label], step]) for label in labels],
            )
        ],
    )
    return fig


def _replay_scale(name: str, traces: list, layer: int, direction: int) -> tuple[str, float, float]:
    """Colours for one state over every point of training, as in the scan: gates 0..1, tanh states -1..1, the
    cell symmetric around 0 to its largest magnitude over all points."""
    scale = SCALES[SCALE_OF[name]]
    if "cmin" in scale:
        return scale["colorscale"], scale["cmin"], scale["cmax"]
    top = max(cell_colour_range(tr.get(layer, direction, name)[0]) for tr in traces)
    return scale["colorscale"], -top, top
