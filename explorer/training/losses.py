"""The training loss: where the cross-entropy is taken (after the last row, or after every row), and its logits."""

from typing import Literal, get_args

import torch
import torch.nn.functional as F

from ..model.network import SequenceClassifier, final_hidden
from ..model.unroll import Unrolled, unroll

LossAt = Literal["last", "every"]
LOSS_AT: tuple[str, ...] = get_args(LossAt)


def check_loss_at(loss_at: str) -> None:
    if loss_at not in LOSS_AT:
        raise ValueError(f"loss_at must be one of {LOSS_AT}, got {loss_at!r}")


def head_logits(
    model: SequenceClassifier, features: torch.Tensor, outputs: torch.Tensor, loss_at: LossAt
) -> torch.Tensor:
    """Logits the loss sees: (B, 10) from the final features (B, D*H), or (B, T, 10) from the outputs (B, T, D*H)."""
    check_loss_at(loss_at)
    return model.head(features) if loss_at == "last" else model.head(outputs)


def step_logits(model: SequenceClassifier, un: Unrolled, loss_at: LossAt) -> torch.Tensor:
    """head_logits of an explicit unroll."""
    return head_logits(model, un.final_features(), un.outputs, loss_at)


def loss_logits(model: SequenceClassifier, x: torch.Tensor, loss_at: LossAt = "last", k: int | None = None):
    """Logits for the loss, with BPTT truncated to k steps; k >= T uses the fused module (fast)."""
    if k is None or k >= x.shape[1]:
        outputs, state = model.rnn(x)
        return head_logits(model, model.features(final_hidden(model, state)), outputs, loss_at)
    return step_logits(model, unroll(model, x, k), loss_at)


def per_sample_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy per sample (B,); with logits at every row, the mean over rows."""
    if logits.dim() == 2:
        return F.cross_entropy(logits, y, reduction="none")
    B, T, C = logits.shape
    return F.cross_entropy(logits.reshape(B * T, C), y.repeat_interleave(T), reduction="none").view(B, T).mean(1)


def last_row_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy per sample (B,) of the prediction after the last row alone (= per_sample_loss for (B, 10))."""
    return F.cross_entropy(logits if logits.dim() == 2 else logits[:, -1], y, reduction="none")
