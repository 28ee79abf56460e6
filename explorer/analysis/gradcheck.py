"""Gradient check: the BPTT numbers the app plots against forward-mode derivatives of PyTorch's fused modules.

The analytic side is reverse-mode BPTT through the explicit step-by-step unroll (explorer.analysis.gradients), the
code behind every gradient chart. The reference is independent of it: the model is re-run with PyTorch's
fused single-layer nn.RNN/LSTM/GRU modules (minGRU and minLSTM: the log-space parallel scan of
explorer.model.mincells, not the step-by-step recurrence the unroll runs), segment by segment, and
differentiated in forward mode (torch.func.jvp) in float64. Forward mode has no step size, so unlike finite
differences its round-off stays near 1e-12 however small a gradient is, and a threshold of 1e-6 separates right
from wrong.

Checked: weights (W_hh from the per-row contributions the page plots, summed; minGRU and minLSTM have none, so
their input weights and biases instead), and per image row the plotted per-sample norms ||dL/dh_t|| and
||dL/dx_t||, for any layer and direction and truncation length.
A per-row check compares the analytic norm with the reference derivative along the analytic direction,
and both along a random direction: a gradient that is missing (zero) or wrong in size or direction fails.
"""

import copy
from dataclasses import dataclass

import numpy as np
import torch
import torch.func as tf
import torch.nn.functional as F

from ..model.config import MIN_KINDS
from ..model.network import SequenceClassifier, recurrent_module
from ..training.losses import LossAt, per_sample_loss
from ..training.truncation import FULL, Truncation, truncated_loss
from . import numpy_bptt
from .gradients import bptt_gradients, hh_contributions

THRESHOLD = 1e-6  # largest relative error that passes (float64; forward mode is exact up to round-off)


def checked_rows(T: int) -> tuple[int, ...]:
    """Rows whose per-row gradients are checked: the first, the last and three between (1, 7, 14, 21, 28 for T = 28)."""
    return tuple(sorted({1, *(round(T * f) for f in (0.25, 0.5, 0.75)), T}))


@dataclass(frozen=True)
class Check:
    """One checked quantity: the analytic (BPTT) and the reference (forward-mode, fused) value."""

    quantity: str  # e.g. "∂L/∂W" or "‖∂L/∂h_t‖"
    where: str  # e.g. "rnn.weight_hh_l0[3, 5]" or "row 7, layer 2, backward"
    analytic: float  # of the batch's first digit for per-row checks
    reference: float
    error: float  # relative; for per-row checks the largest over the digits and the two directions

    @property
    def passed(self) -> bool:
        return self.error < THRESHOLD


@dataclass(frozen=True)
class GradCheck:
    """All checks of one run and whether every one passed."""

    checks: list

    @property
    def max_error(self) -> float:
        return max(c.error for c in self.checks)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)


def _relative(a: torch.Tensor, b: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """|a - b| / scale elementwise; 0 where both are exactly 0."""
    return torch.where(scale > 0, (a - b).abs() / scale.clamp_min(1e-300), torch.zeros_like(scale))


class FusedReference:
    """The model re-run with fused single-layer modules over segments: truncation cuts and an injection point."""

    def __init__(self, model: SequenceClassifier, x: torch.Tensor, y: torch.Tensor, loss_at: LossAt, k: int | None):
        self.cfg, self.x, self.y, self.loss_at = model.config, x, y, loss_at
        self.T = x.shape[1]
        self.k = self.T if k is None else min(k, self.T)
        self.params = {name: p.detach() for name, p in model.named_parameters()}
        module = recurrent_module(self.cfg.kind)
        with torch.device("meta"):
            self.cells = [
                module(
                    model.rnn.input_size if layer == 0 else self.cfg.hidden_size * self.cfg.num_directions,
                    self.cfg.hidden_size,
                    batch_first=True,
                )
                for layer in range(self.cfg.num_layers)
            ]

    def _layer_params(self, params: dict, layer: int, direction: int) -> dict:
        sfx = f"_l{layer}" + ("_reverse" if direction else "")
        names = ("weight_ih", "bias_ih", "weight_hh", "bias_hh")  # those the cell has (min cells: no W_hh)
        return {f"{n}_l0": params[f"rnn.{n}{sfx}"] for n in names if f"rnn.{n}{sfx}" in params}

    def losses(
        self,
        params: dict | None = None,
        x: torch.Tensor | None = None,
        inject: tuple | None = None,
        delta: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Per-sample losses (B,); inject = (layer, direction, step): delta (B, H) is added to h after that step
        (reading order), both to what the next step reads and to what the step outputs."""
        params = self.params if params is None else params
        seq = self.x if x is None else x
        cuts = set(range(self.T - self.k, 0, -self.k))  # steps whose incoming state is detached
        for layer, cell in enumerate(self.cells):
            outs = []
            for d in range(self.cfg.num_directions):
                here = inject is not None and inject[:2] == (layer, d)
                bounds = sorted(cuts | {0, self.T} | ({inject[2] + 1} if here else set()))
                xs, state, pieces = seq.flip(1) if d else seq, None, []
                for a, b in zip(bounds, bounds[1:]):
                    if a in cuts:
                        state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
                    out, state = tf.functional_call(cell, self._layer_params(params, layer, d), (xs[:, a:b], state))
                    if here and b == inject[2] + 1:
                        out = torch.cat([out[:, :-1], (out[:, -1] + delta)[:, None]], dim=1)
                        state = (state[0] + delta, state[1]) if isinstance(state, tuple) else state + delta
                    pieces.append(out)
                out = torch.cat(pieces, dim=1)  # (B, T, H) in reading order
                outs.append(out.flip(1) if d else out)
            seq = torch.cat(outs, dim=-1)  # (B, T, D*H) by image row
        if self.loss_at == "last":  # forward h after row T, backward h after row 1
            features = torch.cat([o[:, -1] if d == 0 else o[:, 0] for d, o in enumerate(outs)], dim=-1)
        else:
            features = seq
        return per_sample_loss(F.linear(features, params["head.weight"], params["head.bias"]), self.y)

    def weight_derivative(self, name: str, index: tuple) -> float:
        """d(batch-mean loss)/d(weight entry), by forward mode."""
        tangents = {n: torch.zeros_like(p) for n, p in self.params.items()}
        tangents[name][index] = 1.0
        _, jv = tf.jvp(lambda p: self.losses(params=p).mean(), (self.params,), (tangents,))
        return float(jv)

    def state_derivative(self, layer: int, direction: int, step: int, v: torch.Tensor) -> torch.Tensor:
        """Per-sample d loss_b / d h_step along v (B, H), by forward mode."""
        zero = torch.zeros_like(v)
        return tf.jvp(lambda delta: self.losses(inject=(layer, direction, step), delta=delta), (zero,), (v,))[1]

    def input_derivative(self, v: torch.Tensor) -> torch.Tensor:
        """Per-sample d loss_b / d x along v (B, T, 28), by forward mode."""
        return tf.jvp(lambda x: self.losses(x=x), (self.x,), (v,))[1]


def _unit(v: torch.Tensor) -> torch.Tensor:
    """Each sample's vector (B, ...) scaled to norm 1 (zero vectors stay zero)."""
    n = v.flatten(1).norm(dim=1).view(-1, *[1] * (v.dim() - 1))
    return torch.where(n > 0, v / n.clamp_min(1e-300), torch.zeros_like(v))


def _row_check(
    quantity: str,
    where: str,
    analytic: torch.Tensor,
    derivative,
    gen: torch.Generator,
    support: torch.Tensor | None = None,
) -> Check:
    """Compare per-sample analytic gradients (B, ...) with derivative(v) along their own and a random direction
    (drawn within `support`, a 0/1 mask of the entries the analytic vector covers)."""
    norm = analytic.flatten(1).norm(dim=1)  # (B,): the numbers the page plots
    along = derivative(_unit(analytic))
    r = torch.randn(analytic.shape, generator=gen, dtype=analytic.dtype)
    r = _unit(r if support is None else r * support)
    a_r, g_r = (analytic * r).flatten(1).sum(1), derivative(r)
    scale = torch.stack([norm, along.abs(), a_r.abs(), g_r.abs()]).amax(0)
    error = torch.maximum(_relative(norm, along, scale), _relative(a_r, g_r, scale))
    return Check(quantity, where, float(norm[0]), float(along[0]), float(error.max()))


def _entry_that_matters(grad: torch.Tensor, gen: torch.Generator) -> tuple:
    """A random entry whose gradient is at least 1e-3 of the largest (a 0 = 0 match would check nothing)."""
    top = grad.abs().max()
    big = (grad.abs() >= 1e-3 * top).nonzero() if top > 0 else torch.ones_like(grad).nonzero()
    return tuple(int(i) for i in big[int(torch.randint(0, len(big), (1,), generator=gen))])


def gradient_check(
    model: SequenceClassifier,
    x: torch.Tensor,
    y: torch.Tensor,
    loss_at: LossAt = "last",
    k: int | None = None,
    layer: int | None = None,
    direction: int = 0,
    rows: tuple | None = None,
    n_weights: int = 8,
    seed: int = 0,
) -> GradCheck:
    """Check a float64 copy of the model on digits x (B, T, 28): weights, and per-row dL/dh_t of one layer and
    direction (default: the last layer, forward, as the Gradients page plots) and dL/dx_t."""
    model = copy.deepcopy(model).double().eval()
    x = x.double()
    gen = torch.Generator().manual_seed(seed)
    cfg, B, T = model.config, x.shape[0], x.shape[1]
    layer = cfg.num_layers - 1 if layer is None else layer
    rows = checked_rows(T) if rows is None else rows
    g = bptt_gradients(model, x, y, loss_at, k)
    ref = FusedReference(model, x, y, loss_at, k)
    checks = []

    sfx = f"_l{layer}" + ("_reverse" if direction else "")
    analytic = {n: v / B for n, v in g.params.items()}  # of the batch-mean loss
    if cfg.kind in MIN_KINDS:  # no W_hh: the input weights and biases of this layer and direction instead
        picks = [f"rnn.weight_ih{sfx}", f"rnn.bias_ih{sfx}", "head.weight"]
    else:
        analytic[f"rnn.weight_hh{sfx}"] = hh_contributions(g, layer, direction).sum(0) / B  # what the page plots
        picks = [f"rnn.weight_hh{sfx}", f"rnn.weight_ih{sfx}", f"rnn.bias_hh{sfx}", "head.weight"]
    names = list(analytic)
    picks += [names[int(i)] for i in torch.randint(0, len(names), (max(n_weights - len(picks), 0),), generator=gen)]
    for name in picks[:n_weights]:
        idx = _entry_that_matters(analytic[name], gen)
        a, r = float(analytic[name][idx]), ref.weight_derivative(name, idx)
        error = abs(a - r) / max(abs(a), abs(r)) if a or r else 0.0
        checks.append(Check("∂L/∂w", f"{name}{list(idx)}", a, r, error))

    place = f"layer {layer + 1}" if cfg.num_layers > 1 else ""
    place += (", " if place else "") + ("backward" if direction else "forward") if cfg.bidirectional else ""
    for row in rows:
        step = T - row if direction else row - 1  # the backward direction reads row T first
        where = f"row {row}" + (f", {place}" if place else "")
        checks.append(
            _row_check(
                "‖∂L/∂h_t‖",
                where,
                g.runs[layer][direction].h[step],
                lambda v, s=step: ref.state_derivative(layer, direction, s, v),
                gen,
            )
        )
        on_row = torch.zeros_like(x)
        on_row[:, row - 1] = 1.0
        checks.append(_row_check("‖∂L/∂x_t‖", f"row {row}", g.x * on_row, ref.input_derivative, gen, on_row))
    return GradCheck(checks)


@dataclass(frozen=True)
class FirstPrinciples:
    """explorer.analysis.numpy_bptt against autograd on one sequence: per parameter, the largest relative error."""

    loss_numpy: float
    loss_autograd: float
    errors: dict  # parameter name (numpy_bptt's) -> max |g_numpy - g_autograd| / max |g_autograd|

    @property
    def max_error(self) -> float:
        return max(self.errors.values())


def first_principles(
    model: SequenceClassifier, sequence: torch.Tensor, label: int, loss_at: str = "last", k: int | None = None
) -> FirstPrinciples:
    """Run numpy_bptt.bptt on a one-layer tanh RNN's own weights and compare every gradient with autograd through
    the fused module (TBPTT(1, k) when k < T), in float64."""
    cfg = model.config
    if cfg.kind != "rnn" or cfg.num_layers != 1 or cfg.bidirectional:
        raise ValueError("the NumPy BPTT is written for a one-layer, one-direction tanh RNN")
    model = copy.deepcopy(model).double().eval()
    x = sequence.to(torch.float64)
    T = x.shape[0]
    r, head = model.rnn, model.head
    weights = [w.detach().numpy() for w in (r.weight_ih_l0, r.bias_ih_l0, r.weight_hh_l0, r.bias_hh_l0)]
    loss_np, g = numpy_bptt.bptt(
        x.numpy(), label, *weights, head.weight.detach().numpy(), head.bias.detach().numpy(), loss_at, k
    )
    trunc = FULL if k is None or k >= T else Truncation(k, every=1)
    loss = truncated_loss(model, x[None], torch.tensor([label]), loss_at, trunc).sum()
    params = [r.weight_ih_l0, r.weight_hh_l0, r.bias_ih_l0, r.bias_hh_l0, head.weight, head.bias]
    grads = dict(zip(["W_ih", "W_hh", "b_ih", "b_hh", "V", "c"], torch.autograd.grad(loss, params)))
    ours = {"W_ih": g["W_ih"], "W_hh": g["W_hh"], "b_ih": g["b"], "b_hh": g["b"], "V": g["V"], "c": g["c"]}
    errors = {
        name: float(np.abs(ours[name] - ref.numpy()).max() / max(np.abs(ref.numpy()).max(), 1e-300))
        for name, ref in grads.items()
    }
    return FirstPrinciples(float(loss_np), float(loss.detach()), errors)
