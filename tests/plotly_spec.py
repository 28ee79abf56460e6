"""Reading a Plotly figure's JSON spec back into numbers, for tests of figures and of pages."""

import base64

import numpy as np


def array(value) -> np.ndarray:
    """A spec array: a plain list, or plotly's typed-array encoding {'dtype', 'bdata', 'shape'}."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]).newbyteorder("<"))
        shape = [int(n) for n in value["shape"].split(",")] if "shape" in value else [-1]
        return flat.reshape(shape)
    return np.asarray(value)


def heatmaps(spec: dict) -> dict:
    """Heatmap traces by name (the state letter); the digit, which has no name, under 'digit'."""
    return {d.get("name", "digit"): d for d in spec["data"] if d["type"] == "heatmap"}


def frame(spec: dict, t: int) -> dict:
    """The layout of frame t (1..28) with its shapes and annotations keyed by name."""
    (f,) = [f for f in spec["frames"] if f["name"] == str(t)]
    return {
        "shapes": {s["name"]: s for s in f["layout"]["shapes"]},
        "annotations": {a["name"]: a for a in f["layout"]["annotations"] if "name" in a},
    }


def bar_heights(shapes: dict, name: str) -> np.ndarray:
    """Heights of the probability bars '<name> 0'..'<name> 9' in a frame."""
    return np.array([shapes[f"{name} {c}"]["y1"] for c in range(10)])
