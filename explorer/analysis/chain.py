"""The BPTT chain of one digit: one-step Jacobians, their product, and the error recursion they make.

For one direction of a model and the loss on the last row alone, let s_t be the whole state after row t in
that direction's reading order — every layer's h_t, and c_t for an LSTM, concatenated, layer 1 first —,
J_t = ∂s_t/∂s_{t-1} the one-step Jacobian (the input rows held fixed; layer l reads layer l-1's new h inside
the step) and δ_t = ∂ℓ/∂s_t, the partial derivative with the other parts of s_t held fixed. Then

    δ_t = J_{t+1}ᵀ δ_{t+1}   and so   δ_t = (J_T ⋯ J_{t+1})ᵀ δ_T,   ‖δ_t‖ ≤ ‖J_T‖ ⋯ ‖J_{t+1}‖ ‖δ_T‖,

because the state reaches the loss only through the next step and, after the last one, the readout (which
reads the last layer's h alone: δ_T is zero elsewhere). A stacked bidirectional model has no such chain:
its upper layers read both directions at every row. Everything is computed in float64 on a copy of the
model, the Jacobians with torch.func and δ separately by autograd through the whole step-by-step unroll, so
the recursion can be checked, not assumed.

Pascanu et al. (2013): for a one-layer tanh RNN, J_t = diag(1 - h_t²) W_hh and |tanh'| ≤ γ = 1, so
‖J_t‖ ≤ σ_max(W_hh) γ and ‖δ_t‖ ≤ (σ_max γ)^(T-t) ‖δ_T‖. Below 1/γ that upper bound shrinks geometrically,
and forces the gradient to vanish only over horizons long enough for (σ_max γ)^k to be small (0.999^27 is
0.97); how much arrives is what `delta` measures. Above 1/γ it may explode (necessary, not sufficient). For
an LSTM the cell path carries ∏ f: `forget_product` is, per unit, how much of c_t survives to the end
through the forget gates alone. minGRU and minLSTM have no W_hh: h_t = a_t ⊙ h_{t-1} + b_t with a_t (the share
kept, 1 − z_t or f_t / (f_t + i_t)) and b_t read from x_t alone, so within a layer ∂h_T/∂h_t = diag(∏ a) over the
steps after t exactly; `forget_product` then holds that product of keep shares, per unit.
"""

import copy
from dataclasses import dataclass

import numpy as np
import torch

from ..model import mincells
from ..model.config import MIN_KINDS
from ..model.network import SequenceClassifier, layer_weights
from ..model.unroll import gru_step, lstm_step, rnn_step, unroll
from ..training.losses import per_sample_loss

KEEP_SHARE = {"lstm": "f", "mingru": "(1 − z)", "minlstm": "f/(f + i)"}  # the product `forget_product` multiplies


def keep_share(kind: str, gates: dict) -> torch.Tensor:
    """The share of the old state each step keeps, from a run's gates (lists over steps of (B, H)): (B, T, H)."""
    if kind == "mingru":
        return 1 - torch.stack(gates["z"], dim=1)
    f = torch.stack(gates["f"], dim=1)
    return f / (f + torch.stack(gates["i"], dim=1)) if kind == "minlstm" else f


@dataclass(frozen=True)
class Chain:
    """The chain of one digit, every array indexed by image row (0 = top), reading order undone."""

    kind: str
    direction: int
    singular: np.ndarray  # (T, k) the k largest singular values of J_t (the row each step reads); first step: nan
    step_norm: np.ndarray  # (T,) ‖J_t‖₂ (= singular[:, 0])
    product_norm: np.ndarray  # (T,) ‖∂s_last/∂s_t‖₂ = ‖J_last ⋯ J_{t+1}‖₂; 1 at the last step
    bound: np.ndarray  # (T,) ∏ ‖J_u‖₂ over the same steps: the bound on the product's norm
    delta: np.ndarray  # (T,) ‖δ_t‖ measured by autograd through the unroll
    delta_product: np.ndarray  # (T,) ‖(J_last ⋯ J_{t+1})ᵀ δ_last‖: what the recursion claims
    forget_product: np.ndarray | None  # (L*H, T) LSTM: ∏ f over the steps after t, per unit; minGRU/minLSTM: ∏ of
    # the keep share (KEEP_SHARE); 1 at the last step
    recurrent_norm: float  # one-layer tanh RNN: σ_max(W_hh) of this direction (else nan)
    gamma: float | None  # Pascanu's bound on the nonlinearity's derivative (1 for a tanh RNN); None: no such bound
    delta_layers: np.ndarray  # (L, T) ‖δ_t‖ of each layer's part of the state, layer 1 first

    @property
    def decay(self) -> float:
        """‖δ‖ at the direction's first step over ‖δ‖ at its last: the share of the last step's gradient that
        reaches the first row read; nan where none reaches the last step (‖δ_last‖ = 0) or either is not finite."""
        first, last = (self.delta[-1], self.delta[0]) if self.direction else (self.delta[0], self.delta[-1])
        if not (np.isfinite(first) and np.isfinite(last) and last > 0):
            return float("nan")
        return float(first / last)

    @property
    def recursion_error(self) -> float:
        """Largest relative difference between measured ‖δ_t‖ and the product's, over the rows."""
        scale = np.maximum(self.delta, np.finfo(np.float64).tiny)
        return float(np.max(np.abs(self.delta - self.delta_product) / scale))


def _layer_step(kind: str, H: int, w_ih, b_ih, w_hh, b_hh, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """One layer's step for one sample: input x, state s (h, or h and c concatenated) -> the new state."""
    xp = torch.nn.functional.linear(x, w_ih, b_ih)[None]
    if kind in MIN_KINDS:
        return mincells.step(kind, xp, s[None])[0][0]
    if kind == "lstm":
        h, c, _, _ = lstm_step(xp, s[None, :H], s[None, H:], w_hh, b_hh)
        return torch.cat([h[0], c[0]])
    if kind == "gru":
        return gru_step(xp, s[None], w_hh, b_hh)[0][0]
    return rnn_step(xp, s[None], w_hh, b_hh)[0][0]


def _stack_step(model: SequenceClassifier, direction: int):
    """s_{t-1} -> s_t of the whole stack of layers of one direction, for one input row x_t: s is every layer's
    state concatenated, layer 1 first; layer l reads layer l-1's new h."""
    cfg = model.config
    H, L, per = cfg.hidden_size, cfg.num_layers, cfg.hidden_size * (2 if cfg.kind == "lstm" else 1)
    weights = [[w if w is None else w.detach() for w in layer_weights(model, layer, direction)] for layer in range(L)]

    def step(s: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        out, inp = [], x
        for layer, w in enumerate(weights):
            new = _layer_step(cfg.kind, H, *w, inp, s[layer * per : (layer + 1) * per])
            out.append(new)
            inp = new[:H]
        return torch.cat(out)

    return step


def _states(model: SequenceClassifier, un, direction: int) -> torch.Tensor:
    """Every layer's state after each step, concatenated (T, L*S) in this direction's reading order."""
    parts = []
    for layer_runs in un.runs:
        run = layer_runs[direction]
        parts.append(torch.stack(run.h, 1)[0].detach())
        if run.c:
            parts.append(torch.stack(run.c, 1)[0].detach())
    return torch.cat(parts, -1)


def _jacobians(model: SequenceClassifier, un, x: torch.Tensor, direction: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The state after each step (T, S) in reading order and the one-step Jacobians of steps 2..T (T-1, S, S), at
    the states the sequence went through, the input rows held fixed. S covers every layer of the direction."""
    rows = x.detach()[0].flip(0) if direction else x.detach()[0]
    states = _states(model, un, direction)
    return states, torch.func.vmap(torch.func.jacrev(_stack_step(model, direction)))(states[:-1], rows[1:])


def _check(model: SequenceClassifier, direction: int) -> None:
    cfg = model.config
    if not 0 <= direction < cfg.num_directions:
        raise ValueError(f"this model has no direction {direction}")
    if cfg.bidirectional and cfg.num_layers > 1:
        raise ValueError("a stacked bidirectional model mixes both directions at every row: no one-way chain")


def one_step_jacobians(model: SequenceClassifier, sequence: torch.Tensor, direction: int = 0):
    """(states (T, S), Jacobians (T-1, S, S)) of one direction's whole state, in reading order, in float64."""
    _check(model, direction)
    model = copy.deepcopy(model).double().eval()
    x = sequence.to(torch.float64)[None]
    with torch.no_grad():
        un = unroll(model, x)
    return _jacobians(model, un, x, direction)


def bptt_chain(
    model: SequenceClassifier, sequence: torch.Tensor, label: int, direction: int = 0, top: int = 4
) -> Chain:
    """The chain of one direction's whole state (every layer) for one sequence (T, 28) and its label, loss on
    the last row."""
    _check(model, direction)
    model = copy.deepcopy(model).double().eval()
    cfg = model.config
    x = sequence.to(torch.float64)[None]
    T, H, L = x.shape[1], cfg.hidden_size, cfg.num_layers
    un = unroll(model, x)
    lstm = cfg.kind == "lstm"
    # δ by autograd, as partials: each part of s after step t with the others held fixed, i.e. the nodes step t+1
    # reads (h_prev, c_prev). After the last step the readout reads the last layer's h alone: the other parts'
    # partials are 0 (run.c[-1] or a lower layer's h[-1] would also count paths through the last layer's h).
    nodes = []
    for layer in range(L):
        run = un.runs[layer][direction]
        nodes.append([*run.h_prev[1:], run.h[-1] if layer == L - 1 else None])
        if lstm:
            nodes.append([*run.c_prev[1:], None])
    loss = per_sample_loss(model.head(un.final_features()), torch.tensor([label])).sum()
    wanted = [n for part in nodes for n in part if n is not None]
    found = iter(torch.autograd.grad(loss, wanted, materialize_grads=True))
    grads = [[next(found)[0] if n is not None else torch.zeros(H, dtype=torch.float64) for n in part] for part in nodes]
    deltas = [torch.cat([part[s] for part in grads]) for s in range(T)]
    per = len(nodes) // L  # parts per layer: h, or h and c
    size = per * H
    layer_norms = np.array([[float(d[i * size : (i + 1) * size].norm()) for d in deltas] for i in range(L)])

    states, jac = _jacobians(model, un, x, direction)
    S = states.shape[1]
    singular = np.full((T, top), np.nan)
    singular[1:] = torch.linalg.svdvals(jac)[:, :top].numpy()
    products = [torch.eye(S, dtype=torch.float64)]  # ∂s_last/∂s_s for s = last, last-1, ..., first
    for s in range(T - 1, 0, -1):
        products.append(products[-1] @ jac[s - 1])
    products = torch.stack(products[::-1])  # (T, S, S), products[s] = ∂s_last/∂s_s
    step_norm = singular[:, 0]
    product_norm = torch.linalg.svdvals(products)[:, 0].numpy()  # (matrix_norm(ord=2) is 3x slower here)
    bound = np.array([float(np.prod(step_norm[s + 1 :])) for s in range(T)])
    delta = np.array([float(d.norm()) for d in deltas])
    delta_product = (products.transpose(1, 2) @ deltas[-1]).norm(dim=1).numpy()
    forget = None
    if cfg.kind in KEEP_SHARE:  # per layer, ∏ of the keep share over the steps after each one; layer 1 first
        blocks = []
        for layer in range(L):
            f = keep_share(cfg.kind, un.runs[layer][direction].gates)[0].detach().numpy()  # (T, H) reading order
            blocks.append(np.concatenate([np.cumprod(f[::-1], axis=0)[::-1][1:], np.ones((1, H))]).T)
        forget = np.concatenate(blocks)
    order = (lambda a: a[::-1].copy()) if direction else (lambda a: a)
    pascanu = cfg.kind == "rnn" and L == 1  # J_t = diag(1 - h_t²) W_hh: one tanh layer
    return Chain(
        cfg.kind,
        direction,
        order(singular),
        order(step_norm),
        order(product_norm),
        order(bound),
        order(delta),
        order(delta_product),
        None if forget is None else forget[:, ::-1].copy() if direction else forget,
        float(torch.linalg.svdvals(layer_weights(model, 0, direction)[2].detach())[0]) if pascanu else float("nan"),
        1.0 if pascanu else None,
        order(layer_norms.T).T.copy(),
    )
