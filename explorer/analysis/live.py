"""A look inside a model while it trains: one fixed test digit's states and a small batch's gradient profile.

The Train page shows them after every epoch of a running job, beside the loss curves; computing them costs a
trace of one digit and one BPTT profile of LIVE_DIGITS digits (bench/bench.py measures the overhead).
"""

from dataclasses import dataclass

import numpy as np
import torch

from ..model.network import SequenceClassifier
from ..model.unroll import trace
from .gradients import bptt_profile

LIVE_DIGITS = 32  # digits of the gradient profile


@dataclass(frozen=True)
class LiveView:
    """The model after one epoch: the digit's last-layer states (forward direction) and the gradient profile."""

    epoch: int
    states: dict  # name -> (H, T): gates, c, h of the last layer's forward direction, on the digit
    probs: np.ndarray  # (T, 10) P(class) after each row, on the digit
    profile: np.ndarray  # (T,) batch median of ‖∂ℓ_T/∂h_t‖ (the last row's loss), last layer, forward direction


def look_inside(
    model: SequenceClassifier, digit: torch.Tensor, x: torch.Tensor, y: torch.Tensor, epoch: int
) -> LiveView:
    """digit: one sequence (T, 28); x, y: the profile's batch of sequences and labels."""
    tr = trace(model, digit[None])
    last = tr.states[-1][0]
    profile = bptt_profile(model, x, y, "last")
    return LiveView(
        epoch,
        {name: values[0].T.copy() for name, values in last.items()},
        tr.probs[0],
        np.median(profile.dh_last_row[-1, 0], axis=0),
    )
