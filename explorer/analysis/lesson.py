"""The numbers behind the lesson "Why LSTMs beat plain RNNs": accuracy on a delay task, how sure a model stays of
the right class row by row, how much of a cell the forget gates keep, and the per-row gradient under truncation."""

import numpy as np
import torch

from ..data.sequences import ROWS, SequenceTask
from ..model.network import SequenceClassifier
from ..model.unroll import trace
from .gradients import bptt_profile


def delay_task(kind: str, delay: int) -> SequenceTask:
    """The digit's rows then `delay` blank or noise rows (plain rows when delay is 0)."""
    return SequenceTask(kind, delay, "after") if delay else SequenceTask()


def forget_gates(model: SequenceClassifier, x: torch.Tensor) -> np.ndarray:
    """An LSTM's forget gates f_t of the last layer, forward direction, on a batch x (B, T, 28): (B, T, H)."""
    return trace(model, x).get(model.config.num_layers - 1, 0, "f")


def kept_fraction(f: np.ndarray, rows: range) -> np.ndarray:
    """∏ f over `rows` (0-based) per sample and unit, (B, H) from f (B, T, H): how much of each cell's content
    at the start of `rows` the forget gates alone carry to their end."""
    return np.prod(f[:, rows.start : rows.stop], axis=1)


def delay_rows(task: SequenceTask) -> range:
    """The rows (0-based) after the digit: the delay the memory has to bridge."""
    return range(ROWS, task.T) if task.at == "after" else range(0, 0)


def gradient_by_row(model: SequenceClassifier, x: torch.Tensor, y: torch.Tensor, k: int | None) -> np.ndarray:
    """Batch median of ‖∂L/∂h_t‖ per row (last layer, forward), the loss on the last row, BPTT truncated to k."""
    profile = bptt_profile(model, x, y, "last", k)
    return np.median(profile.dh[-1, 0], axis=0)
