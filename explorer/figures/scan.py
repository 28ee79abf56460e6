"""The Watch page's main figures: a model reading a digit row by row, and two models side by side.

The scan figures animate t = 1..28 in the browser. The heatmaps hold the whole trace once; each frame
changes layout shapes and labels (the scan line on the digit, a curtain over the rows not read yet, the
probability bars), so the figure stays small however many units the model has."""

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..model.unroll import DIRECTIONS, Trace, state_names
from .panels import (
    GRIDS,
    NAMES,
    SCALE_OF,
    UNREAD,
    AnimatedFigure,
    axis,
    cell_colour_range,
    coloraxes,
    digit_panel,
    finish,
    prob_panel,
    ref,
    rows,
    state_panel,
)
from .style import BACKWARD, FORWARD


def _digit_title(bidirectional: bool) -> str:
    forward = f"<span style='color:{FORWARD}'>■</span> forward ↓"
    return (
        f"the digit · {forward} <span style='color:{BACKWARD}'>■</span> backward ↑"
        if bidirectional
        else f"the digit · {forward}"
    )


def _scan_part(fig: go.Figure, bidirectional: bool, T: int, at_cell: tuple[int, int] = (1, 1)):
    """The digit's moving parts: a veil over unread rows (unidirectional) and the scan line of each direction."""
    xref, yref = ref(fig, *at_cell)
    box = dict(type="rect", xref=xref, yref=yref, x0=0.5, x1=28.5, layer="above")

    def at(t):
        shapes = (
            []
            if bidirectional
            else [box | dict(name="unread", y0=t + 0.5, y1=T + 0.5, fillcolor=UNREAD, line=dict(width=0))]
        )
        shapes.append(
            box
            | dict(
                name="scan forward",
                y0=t - 0.5,
                y1=t + 0.5,
                fillcolor="rgba(249, 115, 22, 0.45)",
                line=dict(color=FORWARD, width=2),
            )
        )
        if bidirectional:
            shapes.append(
                box
                | dict(
                    name="scan backward",
                    y0=T + 0.5 - t,
                    y1=T + 1.5 - t,
                    fillcolor="rgba(6, 182, 212, 0.45)",
                    line=dict(color=BACKWARD, width=2),
                )
            )
        return shapes, []

    return at


def _curtain(fig: go.Figure, row: int, col: int, units: int, direction: int, name: str, T: int):
    """A white curtain (shape named 'curtain <name>') over the heatmap columns not reached after t steps."""
    xref, yref = ref(fig, row, col)

    def at(t):
        x0, x1 = (t + 0.5, T + 1) if direction == 0 else (0, T + 0.5 - t)
        return [
            dict(
                type="rect",
                name=f"curtain {name}",
                xref=xref,
                yref=yref,
                x0=x0,
                x1=x1,
                y0=-1,
                y1=units + 1,
                fillcolor="white",
                line=dict(width=0),
                layer="above",
            )
        ], []

    return at


def _animate(fig: AnimatedFigure, parts: list, frame_ms: int, T: int) -> AnimatedFigure:
    """Frames t = 1..T, a slider and Play/Pause/Resume; the figure itself shows t = T, the whole sequence read.

    Each part maps t to (shapes, annotations). Frames change layout only and play with redraw=False: a
    frame that touches a trace makes plotly.js re-plot, and heatmaps then blink or vanish mid-animation.
    """
    titles = list(fig.plain_layout.get("annotations") or [a.to_plotly_json() for a in fig.layout.annotations])

    def layout_at(t):
        shapes, notes = [], []
        for at in parts:
            s, a = at(t)
            shapes += s
            notes += a
        return dict(shapes=shapes, annotations=titles + notes)

    still = dict(mode="immediate", frame=dict(duration=0, redraw=False), transition=dict(duration=0))
    play = dict(mode="immediate", frame=dict(duration=frame_ms, redraw=False), transition=dict(duration=0))
    margin = fig.layout.margin
    below = -1 / (fig.layout.height - margin.t - margin.b)  # paper units per pixel below the plot area
    size = fig.layout.font.size  # 13, or larger on a presentation screen
    fig.plain_layout = fig.plain_layout | layout_at(T)
    fig.plain_layout |= dict(
        updatemenus=[
            dict(
                type="buttons",
                direction="left",
                x=0,
                y=(62 + 3 * (size - 13)) * below,
                xanchor="left",
                yanchor="top",
                pad=dict(t=0, r=6),
                showactive=False,
                bgcolor="#f3f5f9",
                bordercolor="#cbd5e1",
                font=dict(size=size),
                buttons=[
                    dict(label="▶ Play", method="animate", args=[None, play | dict(fromcurrent=False)]),
                    dict(label="❚❚ Pause", method="animate", args=[[None], still]),
                    dict(label="▶▶ Resume", method="animate", args=[None, play | dict(fromcurrent=True)]),
                ],
            )
        ],
        sliders=[
            dict(
                active=T - 1,
                x=0,
                len=1,
                y=(100 + 4 * (size - 13)) * below,
                yanchor="top",
                pad=dict(t=24, b=0, l=0, r=0),
                currentvalue=dict(prefix="rows read: ", font=dict(size=size + 1), xanchor="left"),
                font=dict(size=size - 2),
                tickcolor="#94a3b8",
                transition=dict(duration=0),  # the grip jumps with the frame instead of trailing it
                steps=[dict(label=str(t), method="animate", args=[[str(t)], still]) for t in rows(T)],
            )
        ],
    )
    fig.plain_frames = [dict(name=str(t), layout=layout_at(t)) for t in rows(T)]
    return fig


def _scan_grid(panels: int, narrow: bool) -> tuple[list, dict]:
    """make_subplots specs and (row, col) positions: 'digit', 'P' and heatmap 0..panels-1.

    Wide: the digit over P(class) on the left, heatmaps in a grid of GRIDS[panels] to the right.
    Narrow: the digit beside P(class) on top, heatmaps two abreast below (one full-width for a plain RNN).
    """
    if narrow:
        cols = 1 if panels == 1 else 2
        pos = {"digit": (1, 1), "P": (1, 2)} | {k: (2 + k // cols, 1 + k % cols) for k in range(panels)}
        specs = [[{}, {}]] + [[{"colspan": 2}, None] if panels == 1 else [{}, {}] for _ in range(-(-panels // cols))]
        return specs, pos
    rows, cols = GRIDS[panels]
    if rows == 1:  # a plain RNN: the single h panel spans both rows
        return [[{}, {"rowspan": 2}], [{}, None]], {"digit": (1, 1), "P": (2, 1), 0: (1, 2)}
    pos = {"digit": (1, 1), "P": (2, 1)} | {k: (1 + k // cols, 2 + k % cols) for k in range(panels)}
    return [[{} for _ in range(cols + 1)] for _ in range(2)], pos


def scan_figure(
    tr: Trace,
    image: np.ndarray,
    layer: int = 0,
    direction: int = 0,
    order: np.ndarray | None = None,
    title: str = "",
    frame_ms: int = 250,
    narrow: bool = False,
    screen: int | None = None,
) -> AnimatedFigure:
    """The animated scan of one digit: the digit, every gate/c/h as units x rows heatmaps, and P(class) after t rows.
    screen: a projector's height in pixels (presentation mode): the figure and its controls fit in it, in
    larger type."""
    names = state_names(tr.config.kind)
    T = tr.logits.shape[1]
    states = {n: tr.get(layer, direction, n)[0] for n in names}  # (T, H) each
    H = states["h"].shape[1]
    order = np.arange(H) if order is None else np.asarray(order)
    where = (
        ""
        if tr.config.num_layers == 1 and not tr.config.bidirectional
        else f" · layer {layer + 1}" + (f", {DIRECTIONS[direction]}" if tr.config.bidirectional else "")
    )
    labels = [f"<b>{n}</b> · {NAMES[n]}" for n in names]
    specs, pos = _scan_grid(len(names), narrow)
    titles = {pos["digit"]: _digit_title(tr.config.bidirectional), pos["P"]: "P(class) after t rows"}
    titles |= {pos[k]: labels[k] for k in range(len(names))}
    n_rows, cols = len(specs), len(specs[0])
    wide_cols = [0.24] + [0.76 / (cols - 1)] * (cols - 1)
    fig = make_subplots(
        rows=n_rows,
        cols=cols,
        specs=specs,
        figure=AnimatedFigure(),
        column_widths=None if narrow else wide_cols,
        horizontal_spacing=0.1 if narrow else 0.045,
        vertical_spacing=0.28 / n_rows,
        subplot_titles=[titles[rc] for rc in sorted(titles)],
    )
    axes = coloraxes(fig, names, cell_colour_range(states["c"]) if "c" in states else 1.0)
    digit_panel(fig, image, *pos["digit"])
    parts = []
    first_col, last_row = min(pos[k][1] for k in range(len(names))), max(pos[k][0] for k in range(len(names)))
    for k, n in enumerate(names):
        r, c = pos[k]
        state_panel(fig, states[n], order, n, r, c, labels[k] + where, axes[SCALE_OF[n]])
        parts.append(_curtain(fig, r, c, H, direction, n, T))
        xref, yref = ref(fig, r, c)
        if c == first_col:
            axis(fig, yref).update(title_text=f"{H} units", title_standoff=2)
        if r == last_row:
            axis(fig, xref).update(title_text="image row")
    parts.append(prob_panel(fig, tr.probs[0], *pos["P"], "P"))
    finish(fig, title + where, 300 + 270 * (n_rows - 1) + 250 if narrow else 820, screen)
    return _animate(fig, [_scan_part(fig, tr.config.bidirectional, T, pos["digit"])] + parts, frame_ms, T)


def compare_figure(
    image: np.ndarray, traces: list[tuple[str, Trace]], title: str = "", frame_ms: int = 250, screen: int | None = None
) -> AnimatedFigure:
    """Two or more models reading the same digit in sync: each one's last-layer forward h and P(class) after t rows."""
    n = len(traces)
    T = traces[0][1].logits.shape[1]
    if any(tr.logits.shape[1] != T for _, tr in traces):
        raise ValueError("models compared side by side must read sequences of the same length")
    specs = [[{"rowspan": n} if r == 0 else None, {}, {}] for r in range(n)]
    labels = [
        f"<b>{name}</b> · h, last layer" + (", forward" if tr.config.bidirectional else "") for name, tr in traces
    ]
    titles = [t for (name, _), label in zip(traces, labels) for t in (label, f"<b>{name}</b> · P(class) after t rows")]
    fig = make_subplots(
        rows=n,
        cols=3,
        specs=specs,
        figure=AnimatedFigure(),
        column_widths=[0.24, 0.5, 0.26],
        horizontal_spacing=0.06,
        vertical_spacing=0.14,
        subplot_titles=[_digit_title(any(tr.config.bidirectional for _, tr in traces))] + titles,
    )
    axes = coloraxes(fig, ["h"])
    digit_panel(fig, image, 1, 1)
    parts = []
    for r, (name, tr) in enumerate(traces, start=1):
        h = tr.get(tr.config.num_layers - 1, 0, "h")[0]
        state_panel(fig, h, np.arange(h.shape[1]), "h", r, 2, labels[r - 1], axes["signed"])
        parts += [_curtain(fig, r, 2, h.shape[1], 0, name, T), prob_panel(fig, tr.probs[0], r, 3, name)]
        axis(fig, ref(fig, r, 2)[1]).update(title_text=f"{h.shape[1]} units", title_standoff=2)
    axis(fig, ref(fig, n, 2)[0]).update(title_text="image row")
    finish(fig, title, 320 * n + 180, screen)
    return _animate(fig, [_scan_part(fig, any(tr.config.bidirectional for _, tr in traces), T)] + parts, frame_ms, T)


def figure_html(fig: go.Figure) -> str:
    """A standalone HTML page of the figure (plotly.js inlined, works offline), for slides."""
    return fig.to_html(include_plotlyjs=True, full_html=True, auto_play=False, config={"displaylogo": False})
