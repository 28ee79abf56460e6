"""What a model predicts for a set of digits, and which digits it gets wrong."""
import numpy as np
import torch

from .data import Digits


@torch.no_grad()
def predict(model, digits: Digits, batch_size: int = 1000) -> np.ndarray:
    """The model's predicted class for each digit, (N,) int64."""
    was_training = model.training
    model.eval()
    try:
        x, _ = digits.tensors()
        return torch.cat([model(x[i:i + batch_size]).argmax(-1) for i in range(0, len(x), batch_size)]).numpy()
    finally:
        model.train(was_training)


def misclassified(digits: Digits, predicted: np.ndarray) -> np.ndarray:
    """Indices of the digits whose prediction differs from the label, ascending."""
    return np.flatnonzero(predicted != digits.labels)


def settled_after(probs: np.ndarray) -> int:
    """Rows read (1..T) from which the most likely class never changes again; probs is (T, 10)."""
    guess = probs.argmax(-1)  # (T,)
    changed = np.flatnonzero(guess != guess[-1])
    return 1 if len(changed) == 0 else int(changed[-1]) + 2
