"""BPTT through the explicit unroll: per-timestep gradient norms, truncation, Jacobians, a gradient check."""
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .internals import Unrolled, unroll
from .models import ModelConfig, SequenceClassifier

LOSS_AT = ("last", "every")


def step_logits(model: SequenceClassifier, un: Unrolled, loss_at: str) -> torch.Tensor:
    """Logits the loss sees: (B, 10) from the final states, or (B, T, 10) from the output at every row."""
    if loss_at == "last":
        return model.head(un.final_features())
    if loss_at == "every":
        return model.head(un.outputs)
    raise ValueError(f"loss_at must be one of {LOSS_AT}, got {loss_at!r}")


def loss_logits(model: SequenceClassifier, x: torch.Tensor, loss_at: str = "last", k: int | None = None):
    """Logits for the loss, with BPTT truncated to k steps; k >= T uses the fused module (fast)."""
    if k is None or k >= x.shape[1]:
        if loss_at == "last":
            return model(x)
        if loss_at == "every":
            return model.head(model.rnn(x)[0])
        raise ValueError(f"loss_at must be one of {LOSS_AT}, got {loss_at!r}")
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
    was_training = model.training
    model.eval()
    try:
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
    finally:
        model.train(was_training)


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
    was_training = model.training
    model.eval()
    try:
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
    finally:
        model.train(was_training)


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
    """Compare the explicit-unroll BPTT gradient with finite differences of the fused module, in float64.

    W_hh entries use the summed per-step contributions the Gradients page plots; other weights use
    autograd through the unroll.
    """
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = SequenceClassifier(config).double().eval()
    if x is None:
        x = torch.rand(batch, 28, 28, generator=gen, dtype=torch.float64)
    x = x.double()
    y = torch.randint(0, 10, (x.shape[0],), generator=gen)

    def loss_of_fused() -> float:
        with torch.no_grad():
            if loss_at == "last":
                logits = model(x)
            else:
                logits = model.head(model.rnn(x)[0])
            return float(per_sample_loss(logits, y).mean())

    params = dict(model.named_parameters())
    un = unroll(model, x)
    loss = per_sample_loss(step_logits(model, un, loss_at), y).mean()
    analytic = dict(zip(params, torch.autograd.grad(loss, list(params.values()))))
    analytic["rnn.weight_hh_l0"] = hh_contributions(model, x, y, loss_at=loss_at).sum(0)

    names = list(params)
    picks = ["rnn.weight_hh_l0", "rnn.weight_ih_l0", "rnn.bias_hh_l0", "head.weight"]
    picks += [names[int(i)] for i in torch.randint(0, len(names), (max(n_weights - len(picks), 0),), generator=gen)]
    rows = []
    for name in picks[:n_weights]:
        p = params[name]
        idx = tuple(int(torch.randint(0, s, (1,), generator=gen)) for s in p.shape)
        with torch.no_grad():
            orig = p[idx].item()
            p[idx] = orig + eps
            up = loss_of_fused()
            p[idx] = orig - eps
            down = loss_of_fused()
            p[idx] = orig
        rows.append(GradCheck(name, idx, analytic[name][idx].item(), (up - down) / (2 * eps)))
    return rows
