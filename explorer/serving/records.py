"""Progress records and results as JSON text for the job table, and back.

A record is a frozen dataclass of the kinds known() names (or plain JSON: numbers, strings, lists, dicts);
numpy arrays travel as float32 bytes in base64, paths as strings. Decoding builds only the classes named
here, never anything a stored name could pick: the table is shared state, not code.
"""

import base64
import functools
import json
from dataclasses import fields, is_dataclass
from pathlib import Path

import numpy as np


@functools.cache
def known() -> dict[str, type]:
    """The record classes by name (imported when first needed: a worker with a plain task never loads torch)."""
    from ..analysis.live import LiveView
    from ..experiments.runner import SweepProgress
    from ..training.loop import Step
    from .tasks import DownloadProgress, EpochEnd, TrainOutcome

    return {cls.__name__: cls for cls in (Step, EpochEnd, LiveView, DownloadProgress, SweepProgress, TrainOutcome)}


def _plain(value):
    if is_dataclass(value) and known().get(type(value).__name__) is type(value):
        return {"@": type(value).__name__, **{f.name: _plain(getattr(value, f.name)) for f in fields(value)}}
    if isinstance(value, np.ndarray):
        a = np.ascontiguousarray(value, dtype=np.float32)
        return {"@": "array", "shape": list(a.shape), "data": base64.b64encode(a.tobytes()).decode()}
    if isinstance(value, Path):
        return {"@": "path", "path": str(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"a job record cannot hold a {type(value).__name__}")


def _built(value):
    if isinstance(value, list):
        return [_built(v) for v in value]
    if not isinstance(value, dict):
        return value
    kind = value.get("@")
    if kind == "array":
        return np.frombuffer(base64.b64decode(value["data"]), dtype=np.float32).reshape(value["shape"]).copy()
    if kind == "path":
        return Path(value["path"])
    if kind in known():
        cls = known()[kind]
        return cls(**{f.name: _built(value[f.name]) for f in fields(cls) if f.name in value})
    return {k: _built(v) for k, v in value.items()}


def encode(value) -> str:
    """JSON text of a record or result."""
    return json.dumps(_plain(value), allow_nan=True)


def decode(text: str | None):
    """The record or result encoded in text (None stays None)."""
    return None if text is None else _built(json.loads(text))
