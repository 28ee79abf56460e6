"""What a model predicts for a set of digits, and which digits it gets wrong."""

import numpy as np
import torch

from ..data.digits import Digits
from ..data.sequences import ROW_MNIST, SequenceTask
from .network import evaluating


@torch.no_grad()
def predict(
    model,
    digits: Digits,
    batch_size: int = 1000,
    task: SequenceTask = ROW_MNIST,
    start: int = 0,
    stop: int | None = None,
) -> np.ndarray:
    """The model's predicted class for digits[start:stop], each read as a sequence of `task` (fixed noise per
    digit number), (N,) int64; batches run on the model's device."""
    device = next(model.parameters()).device
    x, _ = digits.tensors()
    stop = len(x) if stop is None else min(stop, len(x))
    predicted = []
    with evaluating(model):
        for i in range(start, stop, batch_size):
            j = min(i + batch_size, stop)
            seq = task.apply(x[i:j], indices=torch.arange(i, j))
            predicted.append(model(seq.to(device)).argmax(-1).cpu())
    return torch.cat(predicted).numpy() if predicted else np.zeros(0, np.int64)


def misclassified(digits: Digits, predicted: np.ndarray) -> np.ndarray:
    """Indices of the digits whose prediction differs from the label, ascending."""
    return np.flatnonzero(predicted != digits.labels)


def settled_after(probs: np.ndarray) -> int:
    """Rows read (1..T) from which the most likely class never changes again; probs is (T, 10)."""
    guess = probs.argmax(-1)  # (T,)
    changed = np.flatnonzero(guess != guess[-1])
    return 1 if len(changed) == 0 else int(changed[-1]) + 2
