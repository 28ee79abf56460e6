"""What if a row were not there: edited digits and the occlusion map.

Erasing a row sets its 28 pixels to 0 — exactly what the model reads on a blank row, so "erased" means "this
row had no ink". The occlusion map erases each row in turn and records how the probability of one class after
the last row changes; it answers "what does the model need?" by re-running the model, where the gradient's row
saliency (‖∂L/∂x_t‖) answers "what would a small change move?" from one backward pass. The two can disagree:
a saturated unit has a small gradient yet erasing its row changes a lot, and a large gradient may point at a
change the row's actual pixels never make.
"""

from dataclasses import dataclass

import numpy as np
import torch

from ..model.network import SequenceClassifier, evaluating


def erase(sequence: np.ndarray, rows) -> np.ndarray:
    """A copy of the sequence (T, 28) with the given 0-based rows set to 0."""
    out = np.array(sequence, dtype=np.float32, copy=True)
    rows = sorted(set(int(r) for r in rows))
    if rows and not (rows[0] >= 0 and rows[-1] < len(out)):
        raise ValueError(f"rows must be in 0..{len(out) - 1}, got {rows}")
    out[rows] = 0.0
    return out


def keep_only(sequence: np.ndarray, rows) -> np.ndarray:
    """A copy with every row but the given ones set to 0."""
    keep = set(int(r) for r in rows)
    return erase(sequence, [r for r in range(len(sequence)) if r not in keep])


@torch.no_grad()
def final_probabilities(model: SequenceClassifier, sequences: np.ndarray) -> np.ndarray:
    """P(class) after the last row for a batch of sequences (B, T, 28): (B, 10), by the fused module."""
    with evaluating(model):
        logits = model(torch.as_tensor(np.asarray(sequences, np.float32)))
    return torch.softmax(logits.double(), -1).numpy()


@dataclass(frozen=True)
class Occlusion:
    """Each row erased in turn: the change in one class's final probability (negative: the row helped it)."""

    target: int  # the class tracked (the label, or the model's own guess for a drawing)
    base: float  # its probability on the unedited digit
    change: np.ndarray  # (T,) P(target | row t erased) - base; exactly 0 where the row was already blank
    blank: np.ndarray  # (T,) bool: rows with no ink to erase

    @property
    def needed(self) -> np.ndarray:
        """Rows in decreasing order of how much erasing them costs the target class."""
        return np.argsort(self.change, kind="stable")


def occlusion(model: SequenceClassifier, sequence: np.ndarray, target: int) -> Occlusion:
    """The occlusion map of one sequence (T, 28): one batch of T edited copies through the model."""
    sequence = np.asarray(sequence, np.float32)
    T = len(sequence)
    edited = np.repeat(sequence[None], T + 1, axis=0)
    for t in range(T):
        edited[t + 1, t] = 0.0
    probs = final_probabilities(model, edited)[:, target]
    blank = ~np.any(sequence != 0, axis=1)
    change = np.where(blank, 0.0, probs[1:] - probs[0])
    return Occlusion(target, float(probs[0]), change, blank)


@dataclass(frozen=True)
class Agreement:
    """How the occlusion map and the gradient's row saliency rank the rows that have ink."""

    spearman: float  # rank correlation of the cost of erasing a row (-change) with its saliency; nan if < 3 rows
    top_occlusion: list  # 0-based rows, the 3 whose erasure costs the target most
    top_saliency: list  # the 3 with the largest saliency
    rows: int  # rows with ink compared


def agreement(occ: Occlusion, saliency: np.ndarray, top: int = 3) -> Agreement:
    """Compare the rows erasing hurts most with the rows the gradient marks most, over the rows with ink."""
    ink = np.flatnonzero(~occ.blank)
    cost, sal = -occ.change[ink], np.asarray(saliency, np.float64)[ink]
    testable = len(ink) >= 3 and np.ptp(cost) > 0 and np.ptp(sal) > 0
    from scipy import stats  # imported when first needed: scipy.stats costs a fresh server about 0.5 s

    rho = float(stats.spearmanr(cost, sal).statistic) if testable else float("nan")
    by_cost = ink[np.argsort(-cost, kind="stable")][:top].tolist()
    by_sal = ink[np.argsort(-sal, kind="stable")][:top].tolist()
    return Agreement(rho, by_cost, by_sal, len(ink))


def row_saliency(model: SequenceClassifier, sequence: np.ndarray, target: int) -> np.ndarray:
    """‖∂ℓ/∂x_t‖ per row (T,) of the loss -log P(target) after the last row, by autograd on the fused module."""
    x = torch.as_tensor(np.asarray(sequence, np.float32))[None].requires_grad_(True)
    with evaluating(model):
        loss = torch.nn.functional.cross_entropy(model(x), torch.tensor([target]))
        (g,) = torch.autograd.grad(loss, [x])
    return g[0].norm(dim=-1).double().numpy()
