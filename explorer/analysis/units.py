"""Hidden units as a population: orderings for heatmaps, and gate saturation over many digits."""

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the orderings are read by pages that never load torch (Watch it read's sidebar)
    import torch

ORDERINGS = ("index", "activity", "cluster")
# Gates whose values lie in [0, 1] (the min cells' candidates n, g are positive and unbounded: not gates here).
SIGMOID_GATES = {"rnn": (), "lstm": ("i", "f", "o"), "gru": ("r", "z"), "mingru": ("z",), "minlstm": ("f", "i")}
LOW, HIGH = 0.1, 0.9  # Karpathy et al. (2015): a gate is left-saturated below 0.1, right-saturated above 0.9


def activity_order(h: np.ndarray) -> np.ndarray:
    """Units sorted by mean |h| over the steps, most active first; h is (T, H)."""
    return np.argsort(-np.abs(h).mean(axis=0), kind="stable")


def unit_linkage(h: np.ndarray) -> np.ndarray:
    """Average-linkage (UPGMA, Euclidean) clustering of the units of h (T, H) by their time courses (scipy)."""
    from scipy.cluster import hierarchy  # imported when first needed, not at server start

    return hierarchy.linkage(h.T.astype(np.float64), method="average", metric="euclidean")


def cluster_order(h: np.ndarray) -> np.ndarray:
    """Units ordered so that units with similar h over the steps sit together (dendrogram leaf order); h is (T, H)."""
    if h.shape[1] < 2:
        return np.arange(h.shape[1])
    from scipy.cluster import hierarchy

    return hierarchy.leaves_list(unit_linkage(h))


def order_units(h: np.ndarray, by: str) -> np.ndarray:
    """A permutation of the H units of h (T, H): by 'index', 'activity' or 'cluster'."""
    if by == "index":
        return np.arange(h.shape[1])
    if by == "activity":
        return activity_order(h)
    if by == "cluster":
        return cluster_order(h)
    raise ValueError(f"unit ordering must be one of {ORDERINGS}, got {by!r}")


def saturation_counts(values: np.ndarray, low: float = LOW, high: float = HIGH) -> tuple[np.ndarray, np.ndarray]:
    """Per unit, how many of the (B, T) steps in values (B, T, H) are below low and above high."""
    return (values < low).sum(axis=(0, 1)), (values > high).sum(axis=(0, 1))


def gate_saturation(model, images: "torch.Tensor", batch_size: int = 250) -> dict:
    """Fraction of steps each unit's sigmoid gates are below 0.1 / above 0.9 over images (N, 28, 28).

    Returns {(layer, direction): {gate: (low_fraction (H,), high_fraction (H,))}}; empty dicts for a plain RNN.
    """
    from ..model.unroll import record_states  # torch: imported when first needed, not with the orderings

    cfg = model.config
    gates = SIGMOID_GATES[cfg.kind]
    totals = {
        (layer, d): {g: [0, 0] for g in gates} for layer in range(cfg.num_layers) for d in range(cfg.num_directions)
    }
    for start in range(0, len(images), batch_size):
        states = record_states(model, images[start : start + batch_size])
        for (layer, direction), per_gate in totals.items():
            for g in gates:
                low, high = saturation_counts(states[layer][direction][g])
                per_gate[g][0] += low
                per_gate[g][1] += high
    steps = len(images) * images.shape[1]
    return {
        key: {g: (low / steps, high / steps) for g, (low, high) in per_gate.items()} for key, per_gate in totals.items()
    }
