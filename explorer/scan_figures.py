"""Plotly figures of the Watch page: a model reading a digit (plain data in, go.Figure out; no Streamlit).

The scan figures animate t = 1..28 in the browser. The heatmaps hold the whole trace once; each frame
changes layout shapes and labels (the scan line on the digit, a curtain over the rows not read yet, the
probability bars), so the figure stays small however many units the model has.
"""

import functools
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np
import plotly.colors
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from .style import ACCENT, BACKWARD, FONT, FORWARD, MUTED
from .unroll import DIRECTIONS, Trace, state_names

COLUMNS = np.arange(1, 29)  # the 28 pixels of a row


def rows(T: int) -> np.ndarray:
    """Rows 1..T of a sequence (1 = first; for plain row-MNIST, image row 1 = top): every heatmap's x axis."""
    return np.arange(1, T + 1)


def row_ticks(T: int) -> list[int]:
    step = 7 if T <= 35 else 8 if T <= 64 else 16
    return sorted({1, *range(step, T, step), T})


CLASSES = [str(c) for c in range(10)]
NAMES = {
    "i": "input gate",
    "f": "forget gate",
    "g": "candidate",
    "o": "output gate",
    "r": "reset gate",
    "z": "update gate",
    "n": "candidate",
    "c": "cell state",
    "h": "hidden state",
}
SCALES = {  # colour axis per quantity: sigmoid gates in [0, 1]; tanh-range g, n, h; unbounded c
    "gate": dict(colorscale="Viridis", cmin=0.0, cmax=1.0),
    "signed": dict(colorscale="RdBu_r", cmin=-1.0, cmax=1.0),
    "cell": dict(colorscale="PiYG_r", cmid=0.0),
}
SCALE_OF = {
    "i": "gate",
    "f": "gate",
    "o": "gate",
    "r": "gate",
    "z": "gate",
    "g": "signed",
    "n": "signed",
    "h": "signed",
    "c": "cell",
}
GATE_TICKS = dict(tickvals=[0, 0.5, 1], ticktext=["0 shut", "0.5", "1 open"])
GRIDS = {1: (1, 1), 4: (2, 2), 6: (2, 3)}  # heatmap panels -> (rows, cols): h; r z n h; i f g o c h
UNREAD = "rgba(15, 23, 42, 0.72)"  # veil over digit rows the model has not read yet


class AnimatedFigure(go.Figure):
    """A go.Figure whose animation frames, and the parts of its layout the frames animate (shapes, labels,
    slider, buttons, colour axes), are plain dicts, added when it is serialised.

    plotly.py validates every property on assignment: for 28 frames of shapes and labels, and a slider of 28
    steps, that was most of the time it took to build the figure (and so most of a redraw's server time).
    """

    # Declared on the class: plotly.py refuses instance attributes it doesn't know. Assigned per instance.
    plain_frames: tuple | list = ()
    plain_layout: Mapping = MappingProxyType({})  # read-only default: each figure gets its own dict

    def to_dict(self) -> dict:
        out = super().to_dict()
        out["layout"] = out.get("layout", {}) | self.plain_layout
        return out | {"frames": self.plain_frames}

    def to_plotly_json(self) -> dict:
        return self.to_dict()


def _ref(fig: go.Figure, row: int, col: int) -> tuple[str, str]:
    """('x3', 'y3')-style axis references of a subplot."""
    sp = fig.get_subplot(row, col)
    return sp.xaxis.plotly_name.replace("axis", ""), sp.yaxis.plotly_name.replace("axis", "")


def _axis(fig: go.Figure, ref: str):
    return fig.layout[ref.replace("x", "xaxis").replace("y", "yaxis")]


def _digit_panel(fig: go.Figure, image: np.ndarray, row: int, col: int) -> None:
    """The sequence as an image, (T, 28): the digit's rows, and any delay rows."""
    T = image.shape[0]
    fig.add_trace(
        go.Heatmap(
            z=np.asarray(image, np.float32),
            x=COLUMNS,
            y=rows(T),
            colorscale="gray",
            zmin=0,
            zmax=1,
            showscale=False,
            hovertemplate="row %{y}, column %{x}<br>ink %{z:.2f}<extra>digit</extra>",
        ),
        row=row,
        col=col,
    )
    xref, yref = _ref(fig, row, col)
    _axis(fig, yref).update(
        range=[T + 0.5, 0.5],
        scaleanchor=xref,
        title_text="image row" if T == 28 else "row",
        showgrid=False,
        tickvals=row_ticks(T),
        zeroline=False,
    )
    _axis(fig, xref).update(range=[0.5, 28.5], showticklabels=False, showgrid=False, constrain="domain", zeroline=False)


def _state_panel(
    fig: go.Figure, values: np.ndarray, order: np.ndarray, name: str, row: int, col: int, label: str, coloraxis: str
) -> None:
    """One units-by-rows heatmap; values is (T, H) in image-row order, shown with units in `order`."""
    T = values.shape[0]
    z = np.ascontiguousarray(values[:, order].T, dtype=np.float32)  # (H, T)
    units = np.repeat(order[:, None], T, axis=1).astype(np.int16)
    fig.add_trace(
        go.Heatmap(
            z=z,
            x=rows(T),
            y=np.arange(len(order)),
            customdata=units,
            coloraxis=coloraxis,
            name=name,
            hovertemplate=f"{label}<br>unit %{{customdata}}, image row %{{x}}<br>{name} = %{{z:.3f}}<extra></extra>",
        ),
        row=row,
        col=col,
    )
    xref, yref = _ref(fig, row, col)
    # Fixed ranges a hair wider than the heatmap: the curtains overhang it, so at no zoom or pixel rounding does a
    # sliver of a hidden column show along an edge.
    pad = 0.01 * len(order)
    _axis(fig, yref).update(
        range=[len(order) - 0.5 + pad, -0.5 - pad], showticklabels=False, showgrid=False, zeroline=False
    )
    _axis(fig, xref).update(range=[0.4, T + 0.6], tickvals=row_ticks(T), showgrid=False, zeroline=False)


def _prob_panel(fig: go.Figure, probs: np.ndarray, row: int, col: int, name: str):
    """P(class) after t rows (probs is (T, 10)) as bar shapes '<name> <class>', the leader coloured and labelled."""
    xref, yref = _ref(fig, row, col)
    _axis(fig, yref).update(range=[0, 1.15], tickformat=".0%", tickvals=[0, 0.5, 1], fixedrange=True)
    _axis(fig, xref).update(
        range=[-0.6, 9.6],
        tickvals=list(range(10)),
        ticktext=CLASSES,
        title_text="class",
        showgrid=False,
        zeroline=False,
        fixedrange=True,
    )

    def at(t):
        p = probs[t - 1]
        top = int(np.argmax(p))
        bars = [
            dict(
                type="rect",
                name=f"{name} {c}",
                xref=xref,
                yref=yref,
                x0=c - 0.38,
                x1=c + 0.38,
                y0=0,
                y1=float(p[c]),
                line=dict(width=0),
                fillcolor=ACCENT if c == top else MUTED,
                layer="above",
            )
            for c in range(10)
        ]
        label = dict(
            name=f"{name} label",
            xref=xref,
            yref=yref,
            x=top,
            y=float(p[top]),
            text=f"{p[top]:.0%}",
            showarrow=False,
            yanchor="bottom",
            font=dict(size=12, color=ACCENT),
        )  # ten labels would crowd
        return bars, [label]

    return at


def _digit_title(bidirectional: bool) -> str:
    forward = f"<span style='color:{FORWARD}'>■</span> forward ↓"
    return (
        f"the digit · {forward} <span style='color:{BACKWARD}'>■</span> backward ↑"
        if bidirectional
        else f"the digit · {forward}"
    )


def _scan_part(fig: go.Figure, bidirectional: bool, T: int, at_cell: tuple[int, int] = (1, 1)):
    """The digit's moving parts: a veil over unread rows (unidirectional) and the scan line of each direction."""
    xref, yref = _ref(fig, *at_cell)
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
    xref, yref = _ref(fig, row, col)

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


def _coloraxes(fig: go.Figure, names: list[str], cell_range: float = 1.0) -> dict[str, str]:
    """One colour axis (and bar) per kind of quantity among `names` (state letters); returns kind -> 'coloraxisN'."""
    used = [kind for kind in SCALES if any(SCALE_OF[n] == kind for n in names)]
    titles = {"gate": "gates", "signed": ", ".join(n for n in names if SCALE_OF[n] == "signed"), "cell": "c"}
    axes, n = {}, len(used)
    for k, kind in enumerate(used):
        name = "coloraxis" if k == 0 else f"coloraxis{k + 1}"
        scale = dict(SCALES[kind])
        if isinstance(scale.get("colorscale"), str):  # plotly.js knows no "_r" names: the explicit scale
            scale["colorscale"] = plotly.colors.get_colorscale(scale["colorscale"])
        if kind == "cell":
            scale |= dict(cmin=-cell_range, cmax=cell_range)
        # The top tick label pokes above the bar: keep the title one line and the bar short enough to clear it.
        bar = dict(
            title=dict(text=titles[kind], side="top", font=dict(size=12)),
            thickness=12,
            len=0.8 / n,
            x=1.01,
            xanchor="left",
            y=1 - (k + 0.55) / n,
            yanchor="middle",
            outlinewidth=0,
            **(GATE_TICKS if kind == "gate" else {}),
        )
        if kind == "cell":  # the range is clipped at a percentile: say so at the ends
            r = f"{cell_range:.2g}"
            bar |= dict(tickvals=[-cell_range, 0, cell_range], ticktext=[f"≤ −{r}", "0", f"≥ {r}"])
        fig.plain_layout = fig.plain_layout | {name: scale | dict(colorbar=bar)}
        axes[kind] = name
    return axes


def cell_colour_range(c: np.ndarray) -> float:
    """Colour range ±r for the unbounded cell state: the 99th percentile of |c|, so a few big units don't wash out
    the rest."""
    return max(float(np.percentile(np.abs(c), 99)), 0.1)


PRESENT_CHROME = 140  # pixels of a presentation screen above the figure: the header line, its button, padding


def _finish(fig: go.Figure, title: str, height: int, screen: int | None = None) -> go.Figure:
    """Title, size, fonts and margins; for a presentation screen, the height that fits it and larger type."""
    big = 0 if screen is None else (16 if screen < 1000 else 20)  # base font size on a 720p / 1080p screen
    fig.update_layout(
        title=dict(text=title, x=0, xanchor="left", font=dict(size=big + 6 if big else 17)),
        height=screen - PRESENT_CHROME if big else height,
        font=FONT | dict(size=big) if big else FONT,
        margin=dict(l=70, r=90, t=70, b=150 + 5 * (big - 16)) if big else dict(l=60, r=90, t=70, b=180),
        hoverlabel=dict(font_size=big or 13),
    )
    size = big + 3 if big else 14
    if isinstance(fig, AnimatedFigure):  # the same layout, without plotly.py validating it again
        titles = [a.to_plotly_json() for a in fig.layout.annotations]
        fig.plain_layout = fig.plain_layout | {
            "template": _white(),
            "annotations": [a | {"font": a.get("font", {}) | {"size": size}} for a in titles],
        }
    else:
        fig.update_layout(template="plotly_white").update_annotations(font_size=size)
    return fig


@functools.cache
def _white() -> dict:
    """Plotly's "plotly_white" template as the plain dict a figure's JSON holds."""
    return pio.templates["plotly_white"].to_plotly_json()


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
    axes = _coloraxes(fig, names, cell_colour_range(states["c"]) if "c" in states else 1.0)
    _digit_panel(fig, image, *pos["digit"])
    parts = []
    first_col, last_row = min(pos[k][1] for k in range(len(names))), max(pos[k][0] for k in range(len(names)))
    for k, n in enumerate(names):
        r, c = pos[k]
        _state_panel(fig, states[n], order, n, r, c, labels[k] + where, axes[SCALE_OF[n]])
        parts.append(_curtain(fig, r, c, H, direction, n, T))
        xref, yref = _ref(fig, r, c)
        if c == first_col:
            _axis(fig, yref).update(title_text=f"{H} units", title_standoff=2)
        if r == last_row:
            _axis(fig, xref).update(title_text="image row")
    parts.append(_prob_panel(fig, tr.probs[0], *pos["P"], "P"))
    _finish(fig, title + where, 300 + 270 * (n_rows - 1) + 250 if narrow else 820, screen)
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
    axes = _coloraxes(fig, ["h"])
    _digit_panel(fig, image, 1, 1)
    parts = []
    for r, (name, tr) in enumerate(traces, start=1):
        h = tr.get(tr.config.num_layers - 1, 0, "h")[0]
        _state_panel(fig, h, np.arange(h.shape[1]), "h", r, 2, labels[r - 1], axes["signed"])
        parts += [_curtain(fig, r, 2, h.shape[1], 0, name, T), _prob_panel(fig, tr.probs[0], r, 3, name)]
        _axis(fig, _ref(fig, r, 2)[1]).update(title_text=f"{h.shape[1]} units", title_standoff=2)
    _axis(fig, _ref(fig, n, 2)[0]).update(title_text="image row")
    _finish(fig, title, 320 * n + 180, screen)
    return _animate(fig, [_scan_part(fig, any(tr.config.bidirectional for _, tr in traces), T)] + parts, frame_ms, T)


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
    return _finish(fig, f"unit {unit}", 460).update_layout(margin=dict(b=50), legend=dict(orientation="v"))


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
    return _finish(fig, "", 380).update_layout(margin=dict(l=70, t=40, b=50, r=30))


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
    return _finish(fig, title, 320).update_layout(margin=dict(t=50 if title else 20, b=50, r=30), legend=legend)


def figure_html(fig: go.Figure) -> str:
    """A standalone HTML page of the figure (plotly.js inlined, works offline), for slides."""
    return fig.to_html(include_plotlyjs=True, full_html=True, auto_play=False, config={"displaylogo": False})


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
    (explorer.counterfactual.Occlusion) and the gradient's row saliency, relative to its largest row."""
    T = len(image)
    fig = make_subplots(
        rows=1,
        cols=3,
        column_widths=[0.24, 0.38, 0.38],
        horizontal_spacing=0.06,
        subplot_titles=["the digit", f"erase the row: change in P({occ.target})", "gradient: ‖∂ℓ/∂x_t‖ / largest"],
    )
    _digit_panel(fig, image, 1, 1)
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
    return _finish(fig, "", height).update_layout(margin=dict(t=40, b=10, l=10, r=10))


def edited_figure(edited: np.ndarray, before: np.ndarray, after: np.ndarray, height: int = 300) -> go.Figure:
    """The edited digit beside the final P(class) before (grey) and after the edit (accent)."""
    fig = make_subplots(
        rows=1, cols=2, column_widths=[0.3, 0.7], subplot_titles=["the edited digit", "P(class) after the last row"]
    )
    _digit_panel(fig, edited, 1, 1)
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
    return _finish(fig, "", height).update_layout(
        barmode="group", margin=dict(t=40, b=10, l=10, r=10), legend=dict(orientation="h", y=1.12, x=1, xanchor="right")
    )


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
