"""The pieces every figure of a model reading a digit shares: the row axis, the colour scale of each
state, the digit panel, the figure class that skips re-validation, the final layout."""

import functools
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from .style import FONT

COLUMNS = np.arange(1, 29)  # the 28 pixels of a row


def rows(T: int) -> np.ndarray:
    """Rows 1..T of a sequence (1 = first; for plain row-MNIST, image row 1 = top): every heatmap's x axis."""
    return np.arange(1, T + 1)


def row_ticks(T: int) -> list[int]:
    step = 7 if T <= 35 else 8 if T <= 64 else 16
    return sorted({1, *range(step, T, step), T})


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


def cell_colour_range(c: np.ndarray) -> float:
    """Colour range ±r for the unbounded cell state: the 99th percentile of |c|, so a few big units don't wash out
    the rest."""
    return max(float(np.percentile(np.abs(c), 99)), 0.1)


def finish(fig: go.Figure, title: str, height: int) -> go.Figure:
    """Title, size, fonts and margins."""
    fig.update_layout(
        title=dict(text=title, x=0, xanchor="left", font=dict(size=17)),
        height=height,
        font=FONT,
        margin=dict(l=60, r=90, t=70, b=180),
        hoverlabel=dict(font_size=13),
    )
    size = 14
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
