"""The gradient-bias meter: how far a truncated gradient is from the full-BPTT gradient, scheme by scheme, k by k."""

from dataclasses import dataclass

import torch

from ..model.network import SequenceClassifier, evaluating
from ..training.losses import LossAt
from ..training.truncation import FULL, Truncation, family_truncation, truncated_loss


@dataclass(frozen=True)
class Bias:
    """One scheme at one k against full BPTT, on one batch."""

    family: str  # chunks, window or artbp
    k: int
    cosine: float  # of the truncated gradient with the full one (ARTBP: the mean over draws of each draw's)
    relative_error: float  # ||g_k - g|| / ||g|| (ARTBP: the mean over draws)
    cosine_of_mean: float | None = None  # ARTBP: of the draws' mean gradient (-> 1: unbiased)
    error_of_mean: float | None = None  # ARTBP: ||mean of the draws - g|| / ||g|| (-> 0 as draws grow)
    draws: int = 1


def gradient_vector(
    model: SequenceClassifier,
    x: torch.Tensor,
    y: torch.Tensor,
    loss_at: LossAt,
    trunc: Truncation,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """All parameters' gradients of the batch-mean loss, flattened, under a truncation scheme."""
    params = [p for p in model.parameters()]
    loss = truncated_loss(model, x, y, loss_at, trunc, generator).mean()
    return torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params, materialize_grads=True)])


def _compare(g: torch.Tensor, full: torch.Tensor) -> tuple[float, float]:
    cos = torch.nn.functional.cosine_similarity(g, full, dim=0, eps=1e-30)
    return float(cos), float((g - full).norm() / full.norm().clamp_min(1e-30))


def gradient_bias(
    model: SequenceClassifier,
    x: torch.Tensor,
    y: torch.Tensor,
    loss_at: LossAt,
    ks: list[int],
    families: tuple[str, ...] = ("chunks", "window", "artbp"),
    draws: int = 16,
    seed: int = 0,
) -> list[Bias]:
    """Every family at every k < T against the full gradient on the batch (x: sequences (B, T, 28))."""
    T = x.shape[1]
    out = []
    with evaluating(model):
        full = gradient_vector(model, x, y, loss_at, FULL)
        for family in families:
            if family == "window" and model.config.bidirectional:
                continue  # overlapping windows need a unidirectional model
            for k in (k for k in ks if k < T):
                trunc = family_truncation(family, k)
                if family == "artbp":
                    gen = torch.Generator().manual_seed(seed)
                    gs = [gradient_vector(model, x, y, loss_at, trunc, gen) for _ in range(draws)]
                    single = [_compare(g, full) for g in gs]
                    cos_mean, err_mean = _compare(torch.stack(gs).mean(0), full)
                    out.append(
                        Bias(
                            family,
                            k,
                            sum(c for c, _ in single) / draws,
                            sum(e for _, e in single) / draws,
                            cos_mean,
                            err_mean,
                            draws,
                        )
                    )
                else:
                    out.append(Bias(family, k, *_compare(gradient_vector(model, x, y, loss_at, trunc), full)))
    return out
