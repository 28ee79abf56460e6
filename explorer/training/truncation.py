"""Truncated backpropagation through time: every scheme, with its exact semantics, in one place.

Rows are the steps 1..T. A loss term sits at row s (with the loss on the last row only, s = T; with the
loss at every row, s = 1..T, each weighted 1/T). A scheme says, for each loss term, back to which row its
gradient flows; the forward pass is always exact, so the loss's value never changes.

- **TBPTT(k1, k2)** (Williams & Peng 1990): updates happen at the update points, every k1 rows; at an update
  point u, the loss terms of the rows since the previous update point are backpropagated through the last
  k2 rows, u-k2+1..u (the state entering row u-k2+1 is cut). `align` says where the update points are:
  "end" (the default): T, T-k1, T-2k1, ... (so the last chunk ends at T); "start": k1, 2k1, ... and T (the
  usual PyTorch loop, which cuts the sequence into chunks from row 1). 1 <= k1 <= k2.
  - k1 = k2 = k ("chunks"): the rows are cut into contiguous chunks (a short one first with "end", last with
    "start"); every loss term reaches back to the start of its chunk, between 1 and k rows.
  - k1 = 1 ("window"): every loss term reaches back exactly k2 rows (fewer near row 1): the sliding window of
    the source tutorial's NumPy `bptt`, which looks back at most 10 steps from every output.
  - k2 >= T: full BPTT, whatever k1.
  With the loss on the last row only, only u = T carries a loss: rows T-k2+1..T get gradient, earlier rows
  get exactly zero.
- **ARTBP** (Tallec & Ollivier 2017, "Unbiasing truncated backpropagation through time"): the gradient flows
  back from row t+1 to row t with probability 1 - c and is then multiplied by 1/(1 - c); with probability c
  it is cut there. Drawn independently at every row and for every sequence, with c = 1/k, the truncation
  lengths are geometric with mean about k, and along every path the expected factor is 1: the gradient is
  unbiased, E[g] = the full-BPTT gradient, though any one draw is noisy.

Training runs TBPTT on PyTorch's fused modules: chunks as one call per chunk with the state detached between
them (about the cost of full BPTT, less with the loss on the last row, whose earlier chunks need no backward
pass); overlapping windows as one batch of windows, each started from its exact state (windows from one start
merged, packed only when their lengths differ), which is about k2/k1 times the work of full BPTT with the loss
on every row. ARTBP and bidirectional models go through the step-by-step unroll (`bench/bench.py` measures each).
"""

from dataclasses import dataclass
from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..model.network import SequenceClassifier, final_hidden
from ..model.unroll import unroll
from .losses import LossAt, head_logits, per_sample_loss

Scheme = Literal["tbptt", "artbp"]
Align = Literal["end", "start"]


@dataclass(frozen=True)
class Truncation:
    """A truncation scheme (see the module docstring). k = None is full BPTT."""

    k: int | None = None  # k2: how far back a gradient flows (tbptt), or the mean truncation length (artbp)
    every: int | None = None  # k1: rows between updates (tbptt); None = k (chunks)
    align: Align = "end"
    scheme: Scheme = "tbptt"

    def __post_init__(self):
        if self.k is not None and self.k < 1:
            raise ValueError(f"k must be >= 1 (or None for full BPTT), got {self.k}")
        if self.every is not None and not 1 <= self.every <= (self.k or self.every):
            raise ValueError(f"k1 (rows between updates) must be in 1..k2 = {self.k}, got {self.every}")
        if self.scheme not in ("tbptt", "artbp") or self.align not in ("end", "start"):
            raise ValueError(f"unknown scheme {self.scheme!r} or alignment {self.align!r}")
        if self.scheme == "artbp" and self.k is None:
            raise ValueError("ARTBP needs a mean truncation length k")

    def full(self, T: int) -> bool:
        """Whether this is exactly full BPTT on sequences of T rows."""
        return self.scheme == "tbptt" and (self.k is None or self.k >= T)

    @property
    def k1(self) -> int | None:
        return self.every if self.every is not None else self.k

    def label(self, T: int) -> str:
        """e.g. 'full BPTT', 'TBPTT(7, 7)', 'TBPTT(1, 10)', 'ARTBP(k̄ = 8)'."""
        if self.full(T):
            return "full BPTT"
        if self.scheme == "artbp":
            return f"ARTBP(mean {self.k})"
        return f"TBPTT({self.k1}, {self.k})" + (", from row 1" if self.align == "start" else "")


FULL = Truncation()

Family = Literal["chunks", "window", "tbptt", "artbp"]  # a scheme across k, as sweeps and the bias meter vary it
FAMILIES: tuple[str, ...] = get_args(Family)


def family_truncation(family: str, k: int, k1: int | None = None) -> Truncation:
    """A family at length k: chunks TBPTT(k, k), window TBPTT(1, k), tbptt TBPTT(k1, k), artbp ARTBP of mean k."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    every = {"window": 1, "tbptt": k1}.get(family)
    return Truncation(k, every=every, scheme="artbp" if family == "artbp" else "tbptt")


def family_name(family: str, k1: int | None = None) -> str:
    """A family across k, e.g. 'TBPTT(k, k)', 'TBPTT(4, k)', 'ARTBP (mean k)'."""
    return {"chunks": "TBPTT(k, k)", "window": "TBPTT(1, k)", "tbptt": f"TBPTT({k1}, k)", "artbp": "ARTBP (mean k)"}[
        family
    ]


@dataclass(frozen=True)
class Window:
    """One update of TBPTT: rows [start, end) (0-based) backpropagated, for the loss terms at rows `losses`."""

    start: int
    end: int
    losses: tuple[int, ...]  # 0-based rows whose loss terms this update carries


def update_points(T: int, k1: int, align: Align) -> list[int]:
    """1-based rows at which TBPTT updates, in increasing order (always including T)."""
    if align == "end":
        return sorted({T - j * k1 for j in range(T // k1 + 1) if T - j * k1 >= 1})
    return sorted({*range(k1, T + 1, k1), T})


def windows(T: int, trunc: Truncation, loss_at: LossAt) -> list[Window]:
    """The updates of a TBPTT scheme on T rows (full BPTT: one window over everything)."""
    if trunc.full(T):
        return [Window(0, T, (T - 1,) if loss_at == "last" else tuple(range(T)))]
    k2, k1 = trunc.k, min(trunc.k1, T)
    out, previous = [], 0
    for u in update_points(T, k1, trunc.align):
        rows = (T - 1,) if loss_at == "last" else tuple(range(previous, u))
        start = previous if k1 == k2 else max(0, u - k2)  # chunks stay contiguous, a short last one included
        previous = u
        if rows and (loss_at == "every" or u == T):
            out.append(Window(start, u, rows))
    return out


def _cut_starts(T: int, trunc: Truncation) -> set[int]:
    """0-based steps whose incoming state is detached, for chunk schemes (k1 = k2) on the step-by-step unroll."""
    return {w.start for w in windows(T, trunc, "every") if w.start > 0}


def _loss_terms(
    model: SequenceClassifier,
    outputs: torch.Tensor,
    features: torch.Tensor | None,
    y: torch.Tensor,
    rows: list[int],
    T: int,
    loss_at: LossAt,
) -> torch.Tensor:
    """Per-sample sum of the loss terms at `rows` given the top layer's outputs there (B, len(rows), D*H)."""
    if loss_at == "last":
        return F.cross_entropy(head_logits(model, features, outputs, "last"), y, reduction="none")
    logits = model.head(outputs)  # (B, R, 10)
    B, R, C = logits.shape
    terms = F.cross_entropy(logits.reshape(B * R, C), y.repeat_interleave(R), reduction="none").view(B, R)
    return terms.sum(1) / T


def _chunked_fused(
    model: SequenceClassifier, x: torch.Tensor, y: torch.Tensor, loss_at: LossAt, ws: list[Window]
) -> torch.Tensor:
    """Contiguous chunks on the fused module: the state is carried from chunk to chunk, detached (with the loss on
    the last row only the last chunk carries a loss, and the rows before it are run without gradient)."""
    T, picked, rows = x.shape[1], [], []
    state = states_at(model, x, [ws[0].start])[ws[0].start]
    for w in ws:
        if state is not None:
            state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
        out, state = model.rnn(x[:, w.start : w.end], state)
        first = w.losses[0] - w.start
        contiguous = list(w.losses) == list(range(w.losses[0], w.losses[-1] + 1))
        picked.append(out[:, first : first + len(w.losses)] if contiguous else out[:, [r - w.start for r in w.losses]])
        rows += w.losses
    features = model.features(final_hidden(model, state)) if loss_at == "last" else None
    return _loss_terms(model, torch.cat(picked, dim=1), features, y, rows, T, loss_at)  # one head for all chunks


def states_at(model: SequenceClassifier, x: torch.Tensor, positions: list[int]) -> dict:
    """The fused module's exact state (h_n[, c_n]) before each 0-based step in `positions` (no gradient)."""
    cuts = sorted({p for p in positions if p > 0})
    out, state, at = {0: None}, None, 0
    with torch.no_grad():
        for p in cuts:
            _, state = model.rnn(x[:, at:p], state)
            out[p], at = state, p
    return out


def _merge_by_start(ws: list[Window]) -> list[Window]:
    """Windows from one start are prefixes of one another: on a unidirectional (causal) model, one run over the
    longest carries every loss term of them all, each still backpropagating only to its window's start."""
    merged = {}
    for w in ws:
        m = merged.get(w.start, Window(w.start, w.end, ()))
        merged[w.start] = Window(w.start, max(m.end, w.end), tuple(sorted({*m.losses, *w.losses})))
    return list(merged.values())


def _windows_fused(
    model: SequenceClassifier, x: torch.Tensor, y: torch.Tensor, loss_at: LossAt, ws: list[Window]
) -> torch.Tensor:
    """Overlapping windows as one batch on the fused module, each from its exact (detached) state: windows of one
    length as a plain batch (window-major, then sample), of several lengths packed."""
    B, T, _ = x.shape
    ws = _merge_by_start(ws)
    W, cfg = len(ws), model.config
    starts = states_at(model, x, [w.start for w in ws])
    lengths = [w.end - w.start for w in ws]
    longest = max(lengths)

    def initial(part: int) -> torch.Tensor:
        zeros = x.new_zeros(cfg.num_layers * cfg.num_directions, B, cfg.hidden_size)
        parts = [zeros if starts[w.start] is None else starts[w.start] for w in ws]
        return torch.cat([p[part] if isinstance(p, tuple) else p for p in parts], dim=1)

    state = (initial(0), initial(1)) if cfg.kind == "lstm" else initial(0)
    if all(n == longest for n in lengths):
        out, final = model.rnn(torch.cat([x[:, w.start : w.end] for w in ws]), state)
    else:
        seqs = torch.zeros(W * B, longest, x.shape[2], dtype=x.dtype)
        for i, w in enumerate(ws):
            seqs[i * B : (i + 1) * B, : w.end - w.start] = x[:, w.start : w.end]
        packed = pack_padded_sequence(
            seqs, torch.tensor(lengths).repeat_interleave(B), batch_first=True, enforce_sorted=False
        )
        out, final = model.rnn(packed, state)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=longest)  # (W*B, longest, H)
    if loss_at == "last":  # one window, the one ending at the last row
        (i,) = [i for i, w in enumerate(ws) if T - 1 in w.losses]
        features = model.features(final_hidden(model, final)[:, i * B : (i + 1) * B])
        return F.cross_entropy(model.head(features), y, reduction="none")
    terms = [(i, r - w.start) for i, w in enumerate(ws) for r in w.losses]  # every loss term: window, its row
    window, row = torch.tensor(terms).T
    picked = out.view(W, B, longest, -1)[window, :, row]  # (terms, B, H)
    logits = model.head(picked)
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.repeat(len(terms)), reduction="none")
    return ce.view(len(terms), B).sum(0) / T


def chunk_losses(model: SequenceClassifier, x: torch.Tensor, y: torch.Tensor, loss_at: LossAt, trunc: Truncation):
    """Online TBPTT (an update after every chunk): yields each chunk's per-sample loss in order; the caller steps
    the optimizer before asking for the next, so each chunk runs with the weights the previous update left.
    Needs chunks (k1 = k2) and a unidirectional model."""
    T = x.shape[1]
    if model.config.bidirectional or (not trunc.full(T) and (trunc.scheme != "tbptt" or trunc.k1 != trunc.k)):
        raise ValueError("an update per chunk needs TBPTT chunks (k1 = k) and a unidirectional model")
    ws = windows(T, trunc, loss_at)
    state = states_at(model, x, [ws[0].start])[ws[0].start]
    for w in ws:
        if state is not None:
            state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
        out, state = model.rnn(x[:, w.start : w.end], state)
        rows = [r - w.start for r in w.losses]
        features = model.features(final_hidden(model, state)) if loss_at == "last" else None
        yield _loss_terms(model, out[:, rows], features, y, rows, T, loss_at)


class _ScaleGrad(torch.autograd.Function):
    """Identity forward; the gradient multiplied by a per-sample factor (B,) going back."""

    @staticmethod
    def forward(ctx, h, factor):
        ctx.save_for_backward(factor)
        return h.view_as(h)

    @staticmethod
    def backward(ctx, grad):
        (factor,) = ctx.saved_tensors
        return grad * factor.view(-1, *[1] * (grad.dim() - 1)), None


def artbp_gates(B: int, T: int, k: int, generator: torch.Generator) -> torch.Tensor:
    """(B, T) factors for the state entering each step: 0 = cut, 1/(1 - c) = passed on (c = 1/k); step 0 reads
    the zero state."""
    c = 1.0 / k
    keep = torch.rand(B, T, generator=generator) >= c
    return torch.where(keep, torch.tensor(1.0 / (1.0 - c)), torch.tensor(0.0)) if c < 1 else torch.zeros(B, T)


def truncated_loss(
    model: SequenceClassifier,
    x: torch.Tensor,
    y: torch.Tensor,
    loss_at: LossAt = "last",
    trunc: Truncation = FULL,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Per-sample loss (B,) whose gradient is the truncated one (its value is always the exact loss)."""
    T = x.shape[1]
    bidirectional = model.config.bidirectional
    if trunc.full(T):
        outputs, state = model.rnn(x)
        return per_sample_loss(head_logits(model, model.features(final_hidden(model, state)), outputs, loss_at), y)
    if trunc.scheme == "artbp":
        gen = generator or torch.Generator().manual_seed(0)
        gates = artbp_gates(x.shape[0], T, trunc.k, gen)
        un = unroll(model, x, step_hook=lambda t, h: _ScaleGrad.apply(h, gates[:, t]))
        return per_sample_loss(head_logits(model, un.final_features(), un.outputs, loss_at), y)
    ws = windows(T, trunc, loss_at)
    chunks = trunc.k1 >= trunc.k  # contiguous: every window starts where the previous one ended
    if bidirectional:
        if not chunks:
            raise ValueError("overlapping windows (k1 < k2) need a unidirectional model")
        un = unroll(model, x, cuts=_cut_starts(T, trunc))
        return per_sample_loss(head_logits(model, un.final_features(), un.outputs, loss_at), y)
    return (_chunked_fused if chunks else _windows_fused)(model, x, y, loss_at, ws)
