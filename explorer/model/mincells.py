"""minGRU and minLSTM (Feng et al. 2024, "Were RNNs All We Needed?"): gates from x_t alone, trained by a scan.

Both cells keep a linear recurrence h_t = a_t ⊙ h_{t-1} + b_t whose a_t and b_t depend on the input only:
  minGRU:  z = σ(W_z x + b_z), n = g(W_n x + b_n),        h_t = (1 − z) ⊙ h_{t-1} + z ⊙ n
  minLSTM: f = σ(W_f x + b_f), i = σ(W_i x + b_i), g = g(W_g x + b_g),
           h_t = f / (f + i) ⊙ h_{t-1} + i / (f + i) ⊙ g
with the paper's positive candidate activation g(v) = v + 0.5 for v ≥ 0, σ(v) below. Over a whole sequence
h_t = A_t h_0 + Σ_{s≤t} (A_t / A_s) b_s with A_t = a_1 ⋯ a_t, which the scan computes in log space (b > 0),
as the paper does, in ceil(log2 T) parallel steps (bench/cells.py times it against the step loop).
`MinRNN` stacks layers (and directions) of one cell behind nn.RNN's interface, so training, truncation and
checkpoints treat it as the fused modules; the step-by-step trace runs the plain recurrence (explorer.unroll).
"""

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

GATE_COUNT = {"mingru": 2, "minlstm": 3}  # input projections stacked in weight_ih: (z, n) and (f, i, g)


def positive(v: torch.Tensor) -> torch.Tensor:
    """The paper's candidate activation g: v + 0.5 for v >= 0, sigmoid(v) below (continuous, always > 0)."""
    return torch.where(v >= 0, v + 0.5, torch.sigmoid(v))


def log_positive(v: torch.Tensor) -> torch.Tensor:
    """log g(v), without forming g where it underflows."""
    return torch.where(v >= 0, torch.log(F.relu(v) + 0.5), -F.softplus(-v))


def gates(kind: str, xp: torch.Tensor) -> dict[str, torch.Tensor]:
    """The gates of every step from the input projections xp (..., G*H): {'z', 'n'} or {'f', 'i', 'g'}."""
    if kind == "mingru":
        z, n = xp.chunk(2, dim=-1)
        return {"z": torch.sigmoid(z), "n": positive(n)}
    f, i, g = xp.chunk(3, dim=-1)
    return {"f": torch.sigmoid(f), "i": torch.sigmoid(i), "g": positive(g)}


def step(kind: str, xp: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """One step of the plain recurrence: (h_t, gates) from xp = W_ih x_t + b_ih (B, G*H) and h_{t-1} (B, H)."""
    g = gates(kind, xp)
    if kind == "mingru":
        return (1 - g["z"]) * h + g["z"] * g["n"], g
    total = g["f"] + g["i"]
    return g["f"] / total * h + g["i"] / total * g["g"], g


def log_coefficients(kind: str, xp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(log a_t, log b_t) of h_t = a_t h_{t-1} + b_t, from xp (B, T, G*H), stably in log space."""
    if kind == "mingru":
        k, n = xp.chunk(2, dim=-1)
        return -F.softplus(k), -F.softplus(-k) + log_positive(n)  # log(1 − z), log z + log g(n)
    f, i, g = xp.chunk(3, dim=-1)
    diff = F.softplus(-f) - F.softplus(-i)  # log i − log f
    return -F.softplus(diff), -F.softplus(-diff) + log_positive(g)  # log f/(f+i), log i/(f+i) + log g


def log_scan(log_a: torch.Tensor, log_b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(log A_t, log h_t) of h_t = a_t h_{t-1} + b_t from h_0 = 0, along dim 1, in ceil(log2 T) parallel steps.

    Hillis–Steele: after the step of span s, position t holds the composition of steps t−2s+1..t, and two
    adjacent pieces (A₁, B₁) then (A₂, B₂) compose to (A₁A₂, A₂B₁ + B₂), in logs a sum and a logaddexp, so
    nothing over- or underflows however long the sequence or shut the gates."""
    span, T = 1, log_a.shape[1]
    while span < T:
        later_a, later_b = log_a[:, span:], log_b[:, span:]
        log_b = torch.cat([log_b[:, :span], torch.logaddexp(log_b[:, :-span] + later_a, later_b)], dim=1)
        log_a = torch.cat([log_a[:, :span], log_a[:, :-span] + later_a], dim=1)
        span *= 2
    return log_a, log_b


def scan(kind: str, xp: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """Every h_t (B, T, H) of one direction from xp (B, T, G*H) and h_0 (B, H) (zeros if None), in parallel."""
    log_A, log_h = log_scan(*log_coefficients(kind, xp))
    h = torch.exp(log_h)
    if h0 is not None:
        h = h + torch.exp(log_A) * h0[:, None]  # h_0 may be negative or zero: kept out of the logs
    return h


def loop(kind: str, xp: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """scan's numbers by the plain recurrence, one step at a time (the reference and the bench's baseline)."""
    h = xp.new_zeros(xp.shape[0], xp.shape[2] // GATE_COUNT[kind]) if h0 is None else h0
    out = []
    for t in range(xp.shape[1]):
        h, _ = step(kind, xp[:, t], h)
        out.append(h)
    return torch.stack(out, dim=1)


def _reverse_within(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Each sequence's first lengths[b] steps in reverse order, padding left in place: (B, T, F)."""
    T = x.shape[1]
    t = torch.arange(T)[None, :]
    idx = torch.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)  # (B, T)
    return x.gather(1, idx[..., None].expand(-1, -1, x.shape[2]))


class MinRNN(nn.Module):
    """Stacked minGRU or minLSTM layers with nn.RNN's interface (batch_first): forward(x, h_0) -> (output, h_n).

    Parameters are named as nn.RNN's input half (weight_ih_l{k}[_reverse], bias_ih_l{k}[_reverse]); there is no
    W_hh. x may be a PackedSequence (each sequence then ends, and its backward direction starts, at its length).
    """

    def __init__(
        self,
        kind: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        batch_first: bool = True,
    ):
        super().__init__()
        if kind not in GATE_COUNT or not batch_first:
            raise ValueError(f"MinRNN takes kind mingru or minlstm, batch first; got {kind!r}")
        self.kind, self.input_size, self.hidden_size = kind, input_size, hidden_size
        self.num_layers, self.bidirectional, self.dropout = num_layers, bidirectional, dropout
        G, D, bound = GATE_COUNT[kind], 2 if bidirectional else 1, 1 / math.sqrt(hidden_size)
        for layer in range(num_layers):
            fan_in = input_size if layer == 0 else hidden_size * D
            for d in range(D):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                # torch's recurrent-module init: U(-1/sqrt(H), 1/sqrt(H)) for every weight and bias
                self.register_parameter(f"weight_ih{sfx}", nn.Parameter(torch.empty(G * hidden_size, fan_in)))
                self.register_parameter(f"bias_ih{sfx}", nn.Parameter(torch.empty(G * hidden_size)))
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    @staticmethod
    def _backward(x: torch.Tensor, lengths: torch.Tensor, packed: bool) -> torch.Tensor:
        """The backward direction's reading order: each sequence reversed within its length (all: a flip)."""
        return _reverse_within(x, lengths) if packed else x.flip(1)

    def forward(self, x, h0: torch.Tensor | None = None):
        packed = isinstance(x, PackedSequence)
        if packed:
            x, lengths = pad_packed_sequence(x, batch_first=True)
        else:
            lengths = torch.full((x.shape[0],), x.shape[1])
        D, layer_input, finals = 2 if self.bidirectional else 1, x, []
        for layer in range(self.num_layers):
            if layer > 0:
                layer_input = F.dropout(layer_input, self.dropout, self.training)
            outs = []
            for d in range(D):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                seq = self._backward(layer_input, lengths, packed) if d else layer_input
                xp = F.linear(seq, getattr(self, f"weight_ih{sfx}"), getattr(self, f"bias_ih{sfx}"))
                h = scan(self.kind, xp, None if h0 is None else h0[layer * D + d])  # (B, T, H)
                finals.append(h[torch.arange(h.shape[0]), lengths - 1])  # each sequence's last step
                outs.append(self._backward(h, lengths, packed) if d else h)
            layer_input = torch.cat(outs, dim=-1)  # (B, T, D*H) by position
        h_n = torch.stack(finals)  # (L*D, B, H)
        if packed:
            layer_input = pack_padded_sequence(layer_input, lengths, batch_first=True, enforce_sorted=False)
        return layer_input, h_n
