"""BPTT through the explicit unroll: per-timestep gradients and their norms, truncation, state Jacobians."""

from dataclasses import dataclass

import numpy as np
import torch

from ..data.digits import Digits
from ..model.config import MIN_KINDS, ModelConfig
from ..model.network import SequenceClassifier, evaluating
from ..model.unroll import Unrolled, unroll
from ..training.losses import LossAt, last_row_loss, per_sample_loss, step_logits


@dataclass
class RunGradients:
    """Gradients wrt one layer/direction's per-step tensors; lists over steps in that direction's reading order."""

    h: list  # dL/dh_t (B, H): through every consumer of h_t (the next step, the layer above, the head)
    c: list  # dL/dc_t (B, H), LSTM only: also through h_t = o_t tanh(c_t); else empty
    hh: list  # dL/d(W_hh h_{t-1} + b_hh) (B, G*H): where dL/dW_hh enters; empty for minGRU/minLSTM (no W_hh)
    last_row_h: list  # dl_T/dh_t (B, H), l_T the loss on the prediction after the last row alone


@dataclass
class BPTTGradients:
    """Gradients of the summed per-sample loss (so each sample's are its own loss's) through an explicit unroll."""

    unrolled: Unrolled
    losses: torch.Tensor  # (B,) per-sample loss
    runs: list  # [layer][direction] -> RunGradients
    x: torch.Tensor  # dL/dx (B, T, 28)
    params: dict  # parameter name -> gradient of the summed loss


def _by_layer(items: list, directions: int) -> list:
    """A flat list over (layer, direction) -> [layer][direction]."""
    return [items[i : i + directions] for i in range(0, len(items), directions)]


def bptt_gradients(
    model: SequenceClassifier, x: torch.Tensor, y: torch.Tensor, loss_at: LossAt = "last", k: int | None = None
) -> BPTTGradients:
    """Backpropagate through the explicit unroll of x (B, T, 28), BPTT truncated to chunks of k steps.

    Truncation k cuts the sequence, in each direction's reading order, into chunks of k steps with the
    last chunk ending at the final step; the state is detached between chunks. With the loss at the last
    step only the last k rows receive gradient (dL/dh_t = 0 exactly for t <= T-k, rows counted 1..T). With
    the loss at every row, the loss at row s reaches back to the start of s's chunk: at most k steps, and
    fewer for rows early in a chunk (the usual TBPTT(k, k) of training loops). k = T is full BPTT.
    """
    x = x.detach().clone().requires_grad_(True)
    un = unroll(model, x, k)
    logits = step_logits(model, un, loss_at)
    losses = per_sample_loss(logits, y)
    runs = [run for layer_runs in un.runs for run in layer_runs]
    names, params = zip(*model.named_parameters())
    groups = {"x": [x], "params": list(params)}
    for i, run in enumerate(runs):
        groups |= {("h", i): run.h, ("c", i): run.c, ("hh", i): run.hh}
    every = loss_at == "every"
    flat = torch.autograd.grad(
        losses.sum(), [t for group in groups.values() for t in group], materialize_grads=True, retain_graph=every
    )
    grads, start = {}, 0
    for key, group in groups.items():
        grads[key] = [g.detach() for g in flat[start : start + len(group)]]
        start += len(group)
    if every:  # the last row's loss term alone: like for like with the loss at the last row
        last = torch.autograd.grad(
            last_row_loss(logits, y).sum(), [h for run in runs for h in run.h], materialize_grads=True
        )
        last_h = [[g.detach() for g in last[i * len(run.h) : (i + 1) * len(run.h)]] for i, run in enumerate(runs)]
    else:
        last_h = [grads["h", i] for i in range(len(runs))]
    per_run = [RunGradients(grads["h", i], grads["c", i], grads["hh", i], last_h[i]) for i in range(len(runs))]
    D = model.config.num_directions
    return BPTTGradients(un, losses.detach(), _by_layer(per_run, D), grads["x"][0], dict(zip(names, grads["params"])))


def hh_contributions(g: BPTTGradients, layer: int = 0, direction: int = 0) -> torch.Tensor:
    """Each step's contribution to dL/dW_hh of one layer/direction, (T, G*H, H) in reading order; they sum to it."""
    run = g.unrolled.runs[layer][direction]
    if not run.hh:
        raise ValueError("minGRU and minLSTM have no W_hh: their gates read x_t alone")
    return torch.stack([ga.T @ hp.detach() for ga, hp in zip(g.runs[layer][direction].hh, run.h_prev)])


@dataclass
class Profile:
    """Per-timestep BPTT quantities for one model and batch; time axes are image rows (0 = top).

    Norms of dL/dh_t, dL/dc_t and dL/dx_t are per sample (the gradient of that sample's own loss).
    dw_hh[l, d, t] is the Frobenius norm of row t's contribution to dL/dW_hh for the batch-mean loss
    (the gradient training follows); summed over t the contributions give W_hh's gradient exactly. It is None
    for minGRU and minLSTM, which have no W_hh.
    """

    config: ModelConfig
    loss_at: str
    k: int
    loss: float  # batch-mean loss
    dh: np.ndarray  # (L, D, B, T)
    dc: np.ndarray | None  # (L, D, B, T), LSTM only
    dx: np.ndarray  # (B, T): row saliency
    dw_hh: np.ndarray | None  # (L, D, T); None without W_hh (minGRU, minLSTM)
    grad_norm: float  # ||dL/dtheta|| over all parameters (before any clipping)
    dh_last_row: np.ndarray  # (L, D, B, T): ||dl_T/dh_t|| of the last row's loss alone (= dh for loss at last)

    @property
    def finite(self) -> bool:
        """Whether every gradient norm is finite (huge weights overflow float32)."""
        parts = [self.dh, self.dx, self.dh_last_row] + [p for p in (self.dc, self.dw_hh) if p is not None]
        return bool(np.isfinite(self.loss) and np.isfinite(self.grad_norm) and all(np.isfinite(p).all() for p in parts))


def _norms(grads: list, reverse: bool) -> np.ndarray:
    """List over steps of (B, H) gradients -> (B, T) norms, by image row."""
    n = torch.stack([g.norm(dim=-1) for g in grads], dim=1)
    return (n.flip(1) if reverse else n).numpy()


def _per_run(g: BPTTGradients, values) -> np.ndarray:
    """values(layer, direction) -> array, stacked as (L, D, ...)."""
    return np.stack([np.stack([values(layer, d) for d in range(len(dirs))]) for layer, dirs in enumerate(g.runs)])


def bptt_profile(
    model: SequenceClassifier, x: torch.Tensor, y: torch.Tensor, loss_at: LossAt = "last", k: int | None = None
) -> Profile:
    """Backpropagate the loss through the explicit unroll (see bptt_gradients) and record gradient norms per row."""
    with evaluating(model):
        g = bptt_gradients(model, x, y, loss_at, k)
    B, T = x.shape[:2]
    lstm = model.config.kind == "lstm"

    def contributions(layer: int, d: int) -> np.ndarray:
        # Row t's share of dL/dW_hh: outer product of dL/d(W_hh h_{t-1}) and h_{t-1}, batch-mean loss.
        n = hh_contributions(g, layer, d).flatten(1).norm(dim=1) / B
        return (n.flip(0) if d else n).numpy()

    dh = _per_run(g, lambda layer, d: _norms(g.runs[layer][d].h, d == 1))
    last = dh if loss_at == "last" else _per_run(g, lambda layer, d: _norms(g.runs[layer][d].last_row_h, d == 1))
    param_grads = torch.cat([p.reshape(-1) for p in g.params.values()]) / B
    return Profile(
        model.config,
        loss_at,
        T if k is None else k,
        float(g.losses.mean()),
        dh,
        _per_run(g, lambda layer, d: _norms(g.runs[layer][d].c, d == 1)) if lstm else None,
        g.x.norm(dim=-1).numpy(),
        None if model.config.kind in MIN_KINDS else _per_run(g, contributions),
        float(param_grads.norm()),
        last,
    )


@dataclass
class StateJacobian:
    """||dh_final/ds_t||_F per direction of the last layer, (D, B, T) by image row, s_t = the state after row t.

    h_final is the state the readout uses (forward: after row T; backward: after row 1). For an LSTM the
    state is (h_t, c_t), two independent inputs of the rest of the recurrence: `h` holds c_t fixed, `c`
    holds h_t fixed, and `full` is the norm of the Jacobian wrt both (their root sum of squares).
    """

    h: np.ndarray
    c: np.ndarray | None

    @property
    def full(self) -> np.ndarray:
        return self.h if self.c is None else np.sqrt(self.h**2 + self.c**2)


def state_jacobian(model: SequenceClassifier, x: torch.Tensor) -> StateJacobian:
    """Norms of the Jacobian of the last layer's final h with respect to the state after each row (StateJacobian)."""
    with evaluating(model):
        un = unroll(model, x.detach())
        parts = {"h": [], "c": []}
        for d, run in enumerate(un.runs[-1]):
            B, H = run.h[-1].shape
            eye = torch.eye(H).unsqueeze(1).expand(H, B, H)  # one backward pass per output unit, vmapped
            # The state after step s is what step s+1 reads; after the last step it is h_final itself.
            inputs = {"h": run.h_prev[1:], "c": run.c_prev[1:]}
            for name, states in inputs.items():
                if not states and name == "c":
                    continue
                jac = torch.autograd.grad(
                    run.h[-1],
                    states,
                    grad_outputs=eye,
                    is_grads_batched=True,
                    materialize_grads=True,
                    retain_graph=True,
                )
                n = torch.stack(
                    [j.pow(2).sum(dim=(0, 2)).sqrt() for j in jac] + [torch.full((B,), H**0.5 if name == "h" else 0.0)],
                    dim=1,
                )  # (B, T)
                parts[name].append((n.flip(1) if d else n).numpy())
        return StateJacobian(np.stack(parts["h"]), np.stack(parts["c"]) if parts["c"] else None)


def batch_indices(n: int, size: int, seed: int = 0) -> np.ndarray:
    """`size` of n digit numbers drawn without replacement with a fixed seed."""
    if not 1 <= size <= n:
        raise ValueError(f"batch size must be in 1..{n}, got {size}")
    return np.random.default_rng(seed).permutation(n)[:size]


def digit_batch(digits: Digits, size: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """`size` digits drawn without replacement with a fixed seed: images (B, 28, 28) in [0, 1], labels (B,)."""
    idx = batch_indices(len(digits), size, seed)
    x, y = digits.tensors()
    return x[idx], y[idx]


def batch_quantiles(norms: np.ndarray, q: tuple = (0.1, 0.5, 0.9)) -> np.ndarray:
    """Quantiles over the batch of per-sample norms (B, T) -> (len(q), T)."""
    return np.quantile(norms, q, axis=0)


def first_to_last_ratio(norms: np.ndarray) -> float:
    """Batch median at row 1 over batch median at row T of per-sample norms (B, T); nan if row T's is 0."""
    med = np.median(norms, axis=0)
    return float(med[0] / med[-1]) if med[-1] > 0 else float("nan")


def clip_scale(grad_norm: float, max_norm: float | None) -> float:
    """Factor gradient clipping multiplies the gradient by (as torch.nn.utils.clip_grad_norm_); 1 = untouched."""
    if max_norm is None:
        return 1.0
    return min(1.0, max_norm / (grad_norm + 1e-6))


def clipping_rows(profiles: dict[str, Profile], max_norm: float | None) -> list[dict]:
    """Per model: loss and the gradient norm before and after clipping at max_norm (Pascanu et al. 2013)."""
    rows = []
    for label, p in profiles.items():
        scale = clip_scale(p.grad_norm, max_norm)
        rows.append(
            {
                "model": label,
                "loss": p.loss,
                "norm before clipping": p.grad_norm,
                "norm after clipping": p.grad_norm * scale,
                "factor": scale,
            }
        )
    return rows
