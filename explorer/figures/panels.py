"""The pieces every figure of a model reading a digit shares: the row axis, the colour scale of each
state, the digit, heatmap and probability panels, the animated figure, the final layout."""

import functools
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np
import plotly.colors
import plotly.graph_objects as go
import plotly.io as pio

from .style import ACCENT, FONT, MUTED

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


def ref(fig: go.Figure, row: int, col: int) -> tuple[str, str]:
    """('x3', 'y3')-style axis references of a subplot."""
    sp = fig.get_subplot(row, col)
    return sp.xaxis.plotly_name.replace("axis", ""), sp.yaxis.plotly_name.replace("axis", "")


def axis(fig: go.Figure, ref: str):
    return fig.layout[ref.replace("x", "xaxis").replace("y", "yaxis")]


def digit_panel(fig: go.Figure, image: np.ndarray, row: int, col: int) -> None:
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
    xref, yref = ref(fig, row, col)
    axis(fig, yref).update(
        range=[T + 0.5, 0.5],
        scaleanchor=xref,
        title_text="image row" if T == 28 else "row",
        showgrid=False,
        tickvals=row_ticks(T),
        zeroline=False,
    )
    axis(fig, xref).update(range=[0.5, 28.5], showticklabels=False, showgrid=False, constrain="domain", zeroline=False)


def state_panel(
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
    xref, yref = ref(fig, row, col)
    # Fixed ranges a hair wider than the heatmap: the curtains overhang it, so at no zoom or pixel rounding does a
    # sliver of a hidden column show along an edge.
    pad = 0.01 * len(order)
    axis(fig, yref).update(
        range=[len(order) - 0.5 + pad, -0.5 - pad], showticklabels=False, showgrid=False, zeroline=False
    )
    axis(fig, xref).update(range=[0.4, T + 0.6], tickvals=row_ticks(T), showgrid=False, zeroline=False)


def prob_panel(fig: go.Figure, probs: np.ndarray, row: int, col: int, name: str):
    """P(class) after t rows (probs is (T, 10)) as bar shapes '<name> <class>', the leader coloured and labelled."""
    xref, yref = ref(fig, row, col)
    axis(fig, yref).update(range=[0, 1.15], tickformat=".0%", tickvals=[0, 0.5, 1], fixedrange=True)
    axis(fig, xref).update(
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


def coloraxes(fig: go.Figure, names: list[str], cell_range: float = 1.0) -> dict[str, str]:
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


def finish(fig: go.Figure, title: str, height: int, screen: int | None = None) -> go.Figure:
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
