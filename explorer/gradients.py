"""BPTT through the explicit unroll: per-timestep gradient norms, truncation, Jacobians, a gradient check."""
import copy
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .data import Digits
from .internals import Unrolled, unroll
from .models import ModelConfig, SequenceClassifier, evaluating, final_hidden, seeded_model

LOSS_AT = ("last", "every")


def head_logits(model: SequenceClassifier, features: torch.Tensor, outputs: torch.Tensor,
                loss_at: str) -> torch.Tensor:
    """Logits the loss sees: (B, 10) from the final features (B, D*H), or (B, T, 10) from the outputs (B, T, D*H)."""
    if loss_at == "last":
        return model.head(features)
    if loss_at == "every":
        return model.head(outputs)
    raise ValueError(f"loss_at must be one of {LOSS_AT}, got {loss_at!r}")


def step_logits(model: SequenceClassifier, un: Unrolled, loss_at: str) -> torch.Tensor:
    """head_logits of an explicit unroll."""
    return head_logits(model, un.final_features(), un.outputs, loss_at)


def loss_logits(model: SequenceClassifier, x: torch.Tensor, loss_at: str = "last", k: int | None = None):
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


@dataclass
class Profile:
    """Per-timestep BPTT quantities for one model and batch; time axes are image rows (0 = top).

    Norms of dL/dh_t, dL/dc_t and dL/dx_t are per sample (the gradient of that sample's own loss).
    dw_hh[l, d, t] is the Frobenius norm of row t's contribution to dL/dW_hh for the batch-mean loss
    (the gradient training follows); summed over t the contributions give W_hh's gradient exactly.
    """

    config: ModelConfig
    loss_at: str
    k: int
    loss: float  # batch-mean loss
    dh: np.ndarray  # (L, D, B, T)
    dc: np.ndarray | None  # (L, D, B, T), LSTM only
    dx: np.ndarray  # (B, T): row saliency
    dw_hh: np.ndarray  # (L, D, T)
    grad_norm: float  # ||dL/dtheta|| over all parameters (before any clipping)


def _norms(grads: list, reverse: bool) -> np.ndarray:
    """List over steps of (B, H) gradients -> (B, T) norms, by image row."""
    n = torch.stack([g.norm(dim=-1) for g in grads], dim=1)
    return (n.flip(1) if reverse else n).numpy()


def bptt_profile(model: SequenceClassifier, x: torch.Tensor, y: torch.Tensor, loss_at: str = "last",
                 k: int | None = None) -> Profile:
    """Backpropagate the loss through the explicit unroll and record gradient norms per row.

    Truncation k cuts the sequence, in each direction's reading order, into chunks of k steps with the
    last chunk ending at the final step; the state is detached between chunks. With the loss at the last
    step only the last k rows receive gradient (dL/dh_t = 0 exactly for t <= T-k, rows counted 1..T). With
    the loss at every row, the loss at row s reaches back to the start of s's chunk: at most k steps, and
    fewer for rows early in a chunk (the usual TBPTT(k, k) of training loops). k = T is full BPTT.
    """
    with evaluating(model):
        x = x.detach().clone().requires_grad_(True)
        un = unroll(model, x, k)
        B = x.shape[0]
        losses = per_sample_loss(step_logits(model, un, loss_at), y)
        runs = [run for layer_runs in un.runs for run in layer_runs]
        wrt = [x] + [t for run in runs for t in run.h + run.c + run.hh] + list(model.parameters())
        grads = torch.autograd.grad(losses.sum(), wrt, materialize_grads=True)
        g_x, rest = grads[0], [g.detach() for g in grads[1:]]
        cfg = model.config
        L, D, T = cfg.num_layers, cfg.num_directions, x.shape[1]
        dh = np.zeros((L, D, B, T), np.float32)
        dc = np.zeros((L, D, B, T), np.float32) if cfg.kind == "lstm" else None
        dw = np.zeros((L, D, T), np.float32)
        for idx, run in enumerate(runs):
            l, d = divmod(idx, D)
            g_h, rest = rest[:T], rest[T:]
            g_c, rest = rest[: len(run.c)], rest[len(run.c):]
            g_a, rest = rest[:T], rest[T:]
            dh[l, d] = _norms(g_h, d == 1)
            if dc is not None:
                dc[l, d] = _norms(g_c, d == 1)
            # Row t's share of dL/dW_hh: outer product of dL/d(W_hh h_{t-1}) and h_{t-1}, batch-mean loss.
            contrib = torch.stack([(ga.T @ hp.detach()).norm() for ga, hp in zip(g_a, run.h_prev)]) / B
            dw[l, d] = (contrib.flip(0) if d else contrib).numpy()
        param_grads = torch.cat([g.reshape(-1) for g in rest]) / B
        return Profile(cfg, loss_at, T if k is None else k, float(losses.detach().mean()), dh, dc,
                       g_x.norm(dim=-1).numpy(), dw, float(param_grads.norm()))


def hh_contributions(model: SequenceClassifier, x: torch.Tensor, y: torch.Tensor, layer: int = 0,
                     direction: int = 0, loss_at: str = "last", k: int | None = None) -> torch.Tensor:
    """Per-step contributions to dL/dW_hh (batch-mean loss), (T, G*H, H) in reading order."""
    un = unroll(model, x, k)
    loss = per_sample_loss(step_logits(model, un, loss_at), y).mean()
    run = un.runs[layer][direction]
    g_a = torch.autograd.grad(loss, run.hh, materialize_grads=True)
    return torch.stack([ga.T @ hp for ga, hp in zip(g_a, run.h_prev)])


def jacobian_norms(model: SequenceClassifier, x: torch.Tensor) -> np.ndarray:
    """||dh_final/dh_t||_F for the last layer, per direction: (D, B, T), by image row.

    h_final is the state the readout uses (forward: row T, backward: row 1); the Jacobian is taken through
    every path inside that layer's recurrence (for LSTM including the cell state).
    """
    with evaluating(model):
        un = unroll(model, x.detach())
        out = []
        for d, run in enumerate(un.runs[-1]):
            B, H = run.h[-1].shape
            eye = torch.eye(H).unsqueeze(1).expand(H, B, H)  # one backward pass per output unit, vmapped
            jac = torch.autograd.grad(run.h[-1], run.h, grad_outputs=eye, is_grads_batched=True,
                                      materialize_grads=True, retain_graph=True)
            n = torch.stack([j.pow(2).sum(dim=(0, 2)).sqrt() for j in jac], dim=1)  # (B, T)
            out.append((n.flip(1) if d else n).numpy())
        return np.stack(out)


@dataclass(frozen=True)
class GradCheck:
    """One weight's analytic (BPTT) and central finite-difference gradient."""

    param: str
    index: tuple
    analytic: float
    numeric: float

    @property
    def rel_error(self) -> float:
        return abs(self.analytic - self.numeric) / max(abs(self.analytic) + abs(self.numeric), 1e-12)


def gradient_check(config: ModelConfig, n_weights: int = 8, batch: int = 4, eps: float = 1e-5,
                   seed: int = 0, loss_at: str = "last", x: torch.Tensor | None = None) -> list[GradCheck]:
    """BPTT gradients of a fresh float64 model (weights from seed) vs finite differences of its fused module."""
    gen = torch.Generator().manual_seed(seed)
    model = seeded_model(config, seed).double().eval()
    if x is None:
        x = torch.rand(batch, 28, 28, generator=gen, dtype=torch.float64)
    x = x.double()
    y = torch.randint(0, 10, (x.shape[0],), generator=gen)
    return _finite_difference_check(model, x, y, n_weights, eps, gen, loss_at)


def _any_entry(grad: torch.Tensor, gen: torch.Generator) -> tuple:
    return tuple(int(torch.randint(0, s, (1,), generator=gen)) for s in grad.shape)


def _entry_that_matters(grad: torch.Tensor, gen: torch.Generator) -> tuple:
    """A random entry whose gradient is at least 1e-3 of the largest (a 0 = 0 match would check nothing)."""
    if grad.abs().max() == 0:
        return _any_entry(grad, gen)
    big = (grad.abs() >= 1e-3 * grad.abs().max()).nonzero()  # (N, ndim) indices
    return tuple(int(i) for i in big[int(torch.randint(0, len(big), (1,), generator=gen))])


def _finite_difference_check(model: SequenceClassifier, x: torch.Tensor, y: torch.Tensor, n_weights: int,
                             eps: float, gen: torch.Generator, loss_at: str, pick=_any_entry) -> list[GradCheck]:
    """Analytic BPTT gradients of a float64 model vs central differences of its fused module."""
    def loss_of_fused() -> float:  # called under no_grad below
        return float(per_sample_loss(loss_logits(model, x, loss_at), y).mean())

    params = dict(model.named_parameters())
    un = unroll(model, x)
    loss = per_sample_loss(step_logits(model, un, loss_at), y).mean()
    analytic = dict(zip(params, torch.autograd.grad(loss, list(params.values()))))
    # W_hh_l0 is checked through the per-step contributions the Gradients page plots, summed.
    analytic["rnn.weight_hh_l0"] = hh_contributions(model, x, y, loss_at=loss_at).sum(0)

    names = list(params)
    picks = ["rnn.weight_hh_l0", "rnn.weight_ih_l0", "rnn.bias_hh_l0", "head.weight"]
    picks += [names[int(i)] for i in torch.randint(0, len(names), (max(n_weights - len(picks), 0),), generator=gen)]
    rows = []
    for name in picks[:n_weights]:
        p = params[name]
        idx = pick(analytic[name], gen)
        with torch.no_grad():
            orig = p[idx].item()
            p[idx] = orig + eps
            up = loss_of_fused()
            p[idx] = orig - eps
            down = loss_of_fused()
            p[idx] = orig
        rows.append(GradCheck(name, idx, analytic[name][idx].item(), (up - down) / (2 * eps)))
    return rows


def check_model_gradients(model: SequenceClassifier, x: torch.Tensor, y: torch.Tensor, n_weights: int = 8,
                          eps: float = 1e-5, seed: int = 0, loss_at: str = "last") -> list[GradCheck]:
    """gradient_check on a float64 copy of a given model and batch (the model and digits a page shows).

    Entries are drawn among those with a non-negligible gradient (a trained model has many exact zeros,
    e.g. input weights of the always-blank border columns).
    """
    model = copy.deepcopy(model).double().eval()
    return _finite_difference_check(model, x.double(), y, n_weights, eps, torch.Generator().manual_seed(seed),
                                    loss_at, pick=_entry_that_matters)


# ---- what the Gradients page draws and says -------------------------------------------------------------------


def digit_batch(digits: Digits, size: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """`size` digits drawn without replacement with a fixed seed: images (B, 28, 28) in [0, 1], labels (B,)."""
    if not 1 <= size <= len(digits):
        raise ValueError(f"batch size must be in 1..{len(digits)}, got {size}")
    idx = np.random.default_rng(seed).permutation(len(digits))[:size]
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
        rows.append({"model": label, "loss": p.loss, "norm before clipping": p.grad_norm,
                     "norm after clipping": p.grad_norm * scale, "factor": scale})
    return rows


SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def power_of_ten(x: float) -> str:
    """x > 0 rounded to the nearest power of ten in log space, e.g. 3.2e-6 -> '10⁻⁵'; 0 -> '0'."""
    if x == 0:
        return "0"
    return "10" + str(round(float(np.log10(x)))).translate(SUPERSCRIPT)


def decay_reading(ratios: dict[str, float], T: int = 28) -> str:
    """One line comparing models by how much of the gradient at row T reaches row 1."""
    parts = []
    for label, r in ratios.items():
        if np.isnan(r):
            parts.append(f"{label}: no gradient at row {T}")
            continue
        verdict = " (vanishing)" if r < 1e-2 else " (exploding)" if r > 1e2 else ""
        parts.append(f"{label} {power_of_ten(r)}{verdict}")
    return (f"The gradient reaching row 1 is this fraction of the gradient at row {T} (batch medians of "
            f"‖∂L/∂h_t‖): " + ", ".join(parts) + ".")
