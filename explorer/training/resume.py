"""Resume points: everything train() needs, at the end of an epoch, to go on as if it had never stopped.

The weights, the optimizer's and the schedule's state, the run's random generator, the step counters, the
history, the best epoch so far and the snapshots taken. Saved with torch.save to a temporary file that is
then renamed, and read back with weights_only=True (plain tensors, numbers, strings, lists and dicts: no
pickled code runs).
"""

import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from ..model.snapshots import Snapshot


@dataclass
class ResumePoint:
    """A training run after `epoch` complete epochs."""

    epoch: int
    model: dict  # state_dict
    optimizer: dict
    schedule: dict
    generator: torch.Tensor  # the run's torch.Generator state (batch order, augmentation, task noise)
    step: int
    seen: int
    elapsed: float  # seconds of training so far
    history: dict  # History.to_dict()
    best: dict  # BestWeights' fields
    snapshots: list  # Snapshot fields, as dicts


def snapshot_dicts(taken: list[Snapshot]) -> list[dict]:
    return [asdict(s) for s in taken]


def snapshots_of(dicts: list[dict]) -> list[Snapshot]:
    return [Snapshot(**d) for d in dicts]


def save(point: ResumePoint, path: str | os.PathLike) -> Path:
    """Write the point to path atomically (a reader never sees half of it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(delete=False, dir=path.parent, prefix=f".{path.name}.", suffix=".tmp") as f:
        tmp = Path(f.name)
    try:
        torch.save(asdict(point), tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load(path: str | os.PathLike) -> ResumePoint:
    """The point saved at path (tensors and plain values only)."""
    return ResumePoint(**torch.load(path, weights_only=True))
