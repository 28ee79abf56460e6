"""Snapshots of the weights during training, for replaying how a model's internals evolved.

A run records the weights at its start (step 0), after a few early optimizer steps, and at a handful of epoch
ends spaced roughly geometrically (most change happens early), about 10-12 in all; the last epoch is not a
snapshot: the checkpoint's own weights are the exact final state. Snapshots are stored in float16, beside
the weights in the same checkpoint file (tensors "snapshot.NN.<parameter>"), with their step, epoch, loss and
test accuracy in the metadata; replay upcasts them to float32.
"""

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

EARLY_STEPS = (5, 20, 60)  # optimizer steps inside the first epoch
EPOCH_POINTS = 8  # epoch ends, geometrically spaced from 1 to the last epoch (which is excluded)
MAX_SNAPSHOTS = 24  # what a checkpoint may hold: the schedule above never exceeds 12


@dataclass(frozen=True)
class Snapshot:
    """The weights at one point of training and what they scored then."""

    step: int  # optimizer steps done (0: the initial weights)
    epoch: float  # epochs done, fractional inside an epoch
    loss: float | None  # training loss then: the step's batch, or the epoch's mean (None at step 0)
    test_accuracy: float | None
    state: dict  # parameter name -> float16 tensor

    @property
    def label(self) -> str:
        if self.step == 0:
            return "init"
        return f"epoch {self.epoch:g}" if float(self.epoch).is_integer() else f"step {self.step}"

    def meta(self) -> dict:
        return {"step": self.step, "epoch": self.epoch, "loss": self.loss, "test_accuracy": self.test_accuracy}


def plan(steps_per_epoch: int, epochs: int) -> tuple[set[int], set[int]]:
    """(optimizer steps inside the first epoch, epoch ends) at which a run records a snapshot (besides step 0)."""
    early = {s for s in EARLY_STEPS if s < steps_per_epoch}
    spaced = np.unique(np.round(np.geomspace(1, max(epochs, 1), EPOCH_POINTS)).astype(int)) if epochs > 1 else []
    return early, {int(e) for e in spaced if e < epochs}


def count(steps_per_epoch: int, epochs: int) -> int:
    """How many snapshots a full run records (step 0 included)."""
    early, ends = plan(steps_per_epoch, epochs)
    return 1 + len(early) + len(ends)


def capture(
    model: "torch.nn.Module", step: int, epoch: float, loss: float | None, test_accuracy: float | None
) -> Snapshot:
    """The model's weights now, in float16 (a copy)."""
    import torch  # here, not at the top: reading a checkpoint's snapshot list (model.header) needs no torch

    state = {k: v.detach().to("cpu", torch.float16).clone() for k, v in model.state_dict().items()}
    return Snapshot(step, epoch, loss, test_accuracy, state)


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def check_meta(entries, count: int) -> list[dict]:
    """A checkpoint's snapshot metadata, validated against the number of snapshot tensor sets; ValueError if not."""
    if not isinstance(entries, list) or len(entries) != count:
        raise ValueError(
            f"the snapshot metadata lists {len(entries) if isinstance(entries, list) else 'no'} "
            f"snapshots, the file holds {count}"
        )
    out, previous = [], -1
    for e in entries:
        e = e if isinstance(e, dict) else {}
        step, epoch, loss, acc = (e.get(k) for k in ("step", "epoch", "loss", "test_accuracy"))
        ok = _number(step) and isinstance(step, int) and previous < step < 10**9
        ok = ok and _number(epoch) and 0 <= epoch < 10**6
        ok = ok and (loss is None or (_number(loss) and math.isfinite(loss)))
        ok = ok and (acc is None or (_number(acc) and 0 <= acc <= 1))
        if not ok:
            raise ValueError("a snapshot's step, epoch, loss or accuracy is not a valid number, or steps go back")
        out.append({"step": step, "epoch": float(epoch), "loss": loss, "test_accuracy": acc})
        previous = step
    return out


@dataclass(frozen=True)
class Point:
    """One point of a run to replay: a snapshot, or the checkpoint's own final weights (index None)."""

    index: int | None
    label: str
    step: int
    epoch: float
    loss: float | None
    test_accuracy: float | None


def points(snaps: list, metrics: dict, history: dict) -> list[Point]:
    """Every snapshot, then the final weights with the metrics the checkpoint recorded for them."""
    out = [Point(i, s.label, s.step, s.epoch, s.loss, s.test_accuracy) for i, s in enumerate(snaps)]
    losses = history.get("loss") if isinstance(history, dict) else None
    epoch = metrics.get("epoch") if isinstance(metrics, dict) else None
    epoch = epoch if isinstance(epoch, int) and not isinstance(epoch, bool) and epoch >= 0 else None
    loss = losses[epoch - 1] if epoch and isinstance(losses, list) and len(losses) >= epoch else None
    loss = float(loss) if _number(loss) and math.isfinite(loss) else None
    acc = metrics.get("test_accuracy") if isinstance(metrics, dict) else None
    acc = float(acc) if _number(acc) and 0 <= acc <= 1 else None
    steps = metrics.get("steps") if isinstance(metrics, dict) else None
    steps = steps if isinstance(steps, int) and not isinstance(steps, bool) and steps >= 0 else 0
    label = "final" + (f" (epoch {epoch})" if epoch else "")
    return out + [Point(None, label, steps, float(epoch or 0), loss, acc)]


def recorded_points(meta: dict) -> list[Point]:
    """points() from a checkpoint's metadata alone (its validated "snapshots", "metrics" and "history", as
    model.header decodes them): what a page lists before, or without, loading the weights."""
    snaps = [Snapshot(m["step"], m["epoch"], m["loss"], m["test_accuracy"], {}) for m in meta.get("snapshots", [])]
    return points(snaps, meta.get("metrics"), meta.get("history"))
