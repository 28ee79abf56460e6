"""Step-by-step re-run of a model's own weights: gates, cell state, hidden state and predictions per row."""

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence

from . import mincells
from .config import DIRECTIONS, GATES, MIN_KINDS, ModelConfig
from .network import SequenceClassifier, evaluating, final_hidden, layer_weights


def state_names(kind: str) -> tuple[str, ...]:
    """Per-step quantities a trace records for a kind, e.g. ('i', 'f', 'g', 'o', 'c', 'h') for LSTM."""
    return GATES[kind] + (("c",) if kind == "lstm" else ()) + ("h",)


def lstm_step(xp, h, c, w_hh, b_hh):
    """One nn.LSTM step; xp = W_ih x_t + b_ih precomputed. Returns h, c, hh projection and gates."""
    a = F.linear(h, w_hh, b_hh)  # (B, 4H): the W_hh h_{t-1} + b_hh part
    i, f, g, o = (xp + a).chunk(4, dim=-1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c = f * c + i * g
    h = o * torch.tanh(c)
    return h, c, a, {"i": i, "f": f, "g": g, "o": o}


def gru_step(xp, h, w_hh, b_hh):
    """One nn.GRU step (r, z, n as in torch: n = tanh(W_in x + b_in + r * (W_hn h + b_hn)))."""
    a = F.linear(h, w_hh, b_hh)  # (B, 3H)
    xr, xz, xn = xp.chunk(3, dim=-1)
    ar, az, an = a.chunk(3, dim=-1)
    r = torch.sigmoid(xr + ar)
    z = torch.sigmoid(xz + az)
    n = torch.tanh(xn + r * an)
    h = (1 - z) * n + z * h
    return h, a, {"r": r, "z": z, "n": n}


def rnn_step(xp, h, w_hh, b_hh):
    """One nn.RNN (tanh) step."""
    a = F.linear(h, w_hh, b_hh)  # (B, H)
    return torch.tanh(xp + a), a, {}


def truncation_starts(steps: int, k: int) -> set[int]:
    """Steps whose incoming state is detached: chunks of k steps, the last chunk ending at the final step."""
    return {s for s in range(1, steps) if (steps - s) % k == 0}


@dataclass
class DirectionRun:
    """Per-step tensors of one layer and direction, each a list over steps in this direction's reading order."""

    h: list  # h_t, (B, H) each
    h_prev: list  # the h each step read: its own node, so a gradient wrt it is the restart partial
    c_prev: list  # the c each step read (LSTM, else empty), likewise
    hh: list  # W_hh h_{t-1} + b_hh, (B, G*H): where dL/dW_hh enters (empty for minGRU/minLSTM: no W_hh)
    c: list  # LSTM cell state, else empty
    gates: dict  # gate letter -> list of (B, H)


def run_direction(
    kind: str, xp: torch.Tensor, w_hh, b_hh, cut: set[int], step_hook=None, initial: tuple | None = None
) -> DirectionRun:
    """Unroll one layer/direction over xp (B, T, G*H) in reading order: the state entering a step in `cut` is
    detached; step_hook(t, state) may transform the state entering step t (e.g. scale its gradient); `initial`
    is the (h, c) before the first step (zeros if None)."""
    B, T, _ = xp.shape
    H = xp.shape[2] // mincells.GATE_COUNT[kind] if w_hh is None else w_hh.shape[1]
    h, c = initial if initial is not None else (xp.new_zeros(B, H), xp.new_zeros(B, H))
    run = DirectionRun([], [], [], [], [], {g: [] for g in GATES[kind]})
    for t in range(T):
        if t in cut:
            h, c = h.detach(), c.detach()
        elif step_hook is not None and t > 0:
            h, c = step_hook(t, h), step_hook(t, c)
        # Views: a gradient wrt the state a step reads then holds the other state part fixed (h_t and c_t as
        # independent inputs of the rest of the recurrence), whereas one wrt run.c[t] also flows through h_t.
        h = h.view_as(h)
        run.h_prev.append(h)
        if kind == "lstm":
            c = c.view_as(c)
            run.c_prev.append(c)
            h, c, a, gates = lstm_step(xp[:, t], h, c, w_hh, b_hh)
            run.c.append(c)
        elif kind == "gru":
            h, a, gates = gru_step(xp[:, t], h, w_hh, b_hh)
        elif kind in MIN_KINDS:
            (h, gates), a = mincells.step(kind, xp[:, t], h), None  # no W_hh: nothing to record for dL/dW_hh
        else:
            h, a, gates = rnn_step(xp[:, t], h, w_hh, b_hh)
        run.h.append(h)
        if a is not None:
            run.hh.append(a)
        for name, value in gates.items():
            run.gates[name].append(value)
    return run


@dataclass
class Unrolled:
    """An explicit unroll of a whole model: runs[layer][direction] and the last layer's outputs."""

    runs: list  # [layer][direction] -> DirectionRun
    outputs: torch.Tensor  # (B, T, D*H) last layer, indexed by image row, as nn.LSTM's output

    def final_features(self) -> torch.Tensor:
        """Readout features: forward h_T and backward h_1 (its last step) of the last layer, (B, D*H)."""
        return torch.cat([run.h[-1] for run in self.runs[-1]], dim=-1)


def unroll(
    model: SequenceClassifier,
    x: torch.Tensor,
    k: int | None = None,
    *,
    cuts: set[int] | None = None,
    step_hook=None,
    initial: list | None = None,
) -> Unrolled:
    """Re-run the model's weights step by step on x (B, T, 28).

    BPTT is truncated to chunks of k steps (the last chunk ending at the final step), or cut before the steps
    in `cuts`; both in each direction's reading order. step_hook(t, state) transforms the state entering step
    t (ARTBP scales its gradient). initial[layer][direction] = (h, c) starts the run from a given state.
    """
    cfg = model.config
    T = x.shape[1]
    cut = truncation_starts(T, T if k is None else k) if cuts is None else cuts
    layer_input = x
    runs = []
    for layer in range(cfg.num_layers):
        if layer > 0:
            layer_input = F.dropout(layer_input, cfg.dropout, model.training)
        layer_runs, outs = [], []
        for d in range(cfg.num_directions):
            w_ih, b_ih, w_hh, b_hh = layer_weights(model, layer, d)
            seq = layer_input.flip(1) if d else layer_input  # backward direction reads the last row first
            start = initial[layer][d] if initial is not None else None
            run = run_direction(cfg.kind, F.linear(seq, w_ih, b_ih), w_hh, b_hh, cut, step_hook, start)
            out = torch.stack(run.h, dim=1)  # (B, T, H) in reading order
            outs.append(out.flip(1) if d else out)
            layer_runs.append(run)
        runs.append(layer_runs)
        layer_input = torch.cat(outs, dim=-1)  # (B, T, D*H) by image row
    return Unrolled(runs, layer_input)


def prefix_logits(model: SequenceClassifier, x: torch.Tensor) -> torch.Tensor:
    """Logits the model gives if the digit ended after row t, for every t: (B, T, 10), via the fused module."""
    B, T, _ = x.shape
    lengths = torch.arange(1, T + 1).repeat(B)  # sample b, prefix t -> row b*T + t - 1
    packed = pack_padded_sequence(x.repeat_interleave(T, dim=0), lengths, batch_first=True, enforce_sorted=False)
    _, state = model.rnn(packed)
    return model.readout(final_hidden(model, state)).view(B, T, -1)


def one_layer_prefix_logits(model: SequenceClassifier, x: torch.Tensor, forward_h: torch.Tensor) -> torch.Tensor:
    """prefix_logits for a one-layer bidirectional model, from the forward direction's h after each row
    (forward_h (B, T, H), causal, so already the prefix's final forward state) and one fused run of the backward
    direction over every prefix: sequence t holds rows t, t-1, …, 0, then zero rows, which come after the step
    whose output is read and so change nothing. Same numbers as prefix_logits, in one batch instead of a packed
    re-run of both directions."""
    B, T, F_in = x.shape
    rows = torch.arange(T)
    back = rows[:, None] - rows[None, :]  # sequence t, step s reads row t - s
    seqs = (x[:, back.clamp(min=0)] * (back >= 0)[None, :, :, None]).reshape(B * T, T, F_in)
    with torch.device("meta"):
        reverse = type(model.rnn)(F_in, model.config.hidden_size, batch_first=True)
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    reverse.load_state_dict({f"{n}_l0": getattr(model.rnn, f"{n}_l0_reverse") for n in names}, assign=True)
    out, _ = reverse(seqs)  # (B*T, T, H)
    backward_h = out.view(B, T, T, -1)[:, rows, rows]  # (B, T, H): sequence t's output after its row 0
    h_n = torch.stack([forward_h.reshape(B * T, -1), backward_h.reshape(B * T, -1)])  # (2, B*T, H)
    return model.readout(h_n).view(B, T, -1)


@dataclass
class Trace:
    """Everything the model computed while reading a batch of digits, as numpy arrays.

    states[layer][direction][name] has shape (B, T, H) and axis 1 is the image row (row 0 = top) for both
    directions, as in nn.LSTM's output: the backward direction reads row T-1 first and row 0 last.
    logits/probs[b, t] are the model's output had the digit ended after row t (rows 0..t). For a
    unidirectional model that is the head applied to h_t. For a bidirectional model it is the whole model
    re-run on rows 0..t, so the backward direction has read only those rows too (no peeking at rows not
    yet shown); its heatmaps, by contrast, show the backward pass over the full digit.
    """

    config: ModelConfig
    states: list
    logits: np.ndarray  # (B, T, 10)

    @property
    def finite(self) -> bool:
        """Whether every recorded number is finite: huge weights overflow float32 into inf and NaN."""
        return bool(np.isfinite(self.logits).all()) and all(
            np.isfinite(a).all() for dirs in self.states for named in dirs for a in named.values()
        )

    @property
    def probs(self) -> np.ndarray:
        e = np.exp(self.logits - self.logits.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    def get(self, layer: int, direction: int, name: str) -> np.ndarray:
        return self.states[layer][direction][name]

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Flat name -> array dict (for .npz export): 'l0_forward_f', ..., 'logits', 'probs'."""
        out = {
            f"l{layer}_{DIRECTIONS[d]}_{name}": arr
            for layer, dirs in enumerate(self.states)
            for d, named in enumerate(dirs)
            for name, arr in named.items()
        }
        return out | {"logits": self.logits, "probs": self.probs}


def _stack(steps: list, reverse: bool) -> np.ndarray:
    out = torch.stack(steps, dim=1)  # (B, T, H) in reading order
    return (out.flip(1) if reverse else out).numpy()


def _states(un: Unrolled) -> list:
    """[layer][direction] -> {name: (B, T, H) array by image row} of an unroll."""
    states = []
    for layer_runs in un.runs:
        per_dir = []
        for d, run in enumerate(layer_runs):
            named = {g: _stack(v, d == 1) for g, v in run.gates.items()}
            if run.c:
                named["c"] = _stack(run.c, d == 1)
            named["h"] = _stack(run.h, d == 1)
            per_dir.append(named)
        states.append(per_dir)
    return states


@torch.no_grad()
def record_states(model: SequenceClassifier, x: torch.Tensor) -> list:
    """Gates, c and h of every step on x (B, T, 28), without predictions: states[layer][direction][name] (B, T, H)."""
    with evaluating(model):
        if model.config.num_layers == 1:  # the same numbers as trace's
            return one_layer_states(model, x)[0]
        return _states(unroll(model, x))


def one_layer_states(model: SequenceClassifier, x: torch.Tensor) -> tuple[list, torch.Tensor]:
    """states[0][direction][name] of a one-layer model, and its output (B, T, D*H), from one fused run: h is the
    module's output; each step's gates are recomputed from (x_t, h_{t-1}) for every row at once; c follows its
    recursion c_t = f_t c_{t-1} + i_t g_t. The unroll's numbers to float32 round-off, without its step loop."""
    kind, H, (B, T, _) = model.config.kind, model.config.hidden_size, x.shape
    out, _ = model.rnn(x)  # (B, T, D*H) by image row
    per_dir = []
    for d in range(model.config.num_directions):
        w_ih, b_ih, w_hh, b_hh = layer_weights(model, 0, d)
        xs, hs = x, out[..., d * H : (d + 1) * H]
        if d:  # the backward direction's reading order
            xs, hs = xs.flip(1), hs.flip(1)
        h_prev = torch.cat([hs.new_zeros(B, 1, H), hs[:, :-1]], dim=1)
        xp = F.linear(xs, w_ih, b_ih)
        a = None if w_hh is None else F.linear(h_prev, w_hh, b_hh)
        named = {}
        if kind in MIN_KINDS:
            named = mincells.gates(kind, xp)  # every gate reads x_t alone
        elif kind == "lstm":
            i, f, g, o = (xp + a).chunk(4, dim=-1)
            i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
            c, cell = torch.empty_like(i), i.new_zeros(B, H)
            for t in range(T):
                cell = f[:, t] * cell + i[:, t] * g[:, t]
                c[:, t] = cell
            named = {"i": i, "f": f, "g": g, "o": o, "c": c}
        elif kind == "gru":
            (xr, xz, xn), (ar, az, an) = xp.chunk(3, dim=-1), a.chunk(3, dim=-1)
            r = torch.sigmoid(xr + ar)
            named = {"r": r, "z": torch.sigmoid(xz + az), "n": torch.tanh(xn + r * an)}
        named["h"] = hs
        per_dir.append({n: (v.flip(1) if d else v).numpy() for n, v in named.items()})
    return [per_dir], out


@torch.no_grad()
def trace(model: SequenceClassifier, x: torch.Tensor) -> Trace:
    """Run the model on x (B, T, 28) step by step and record gates, c, h and the per-row predictions."""
    with evaluating(model):
        if model.config.num_layers == 1:
            states, out = one_layer_states(model, x)
            H = model.config.hidden_size
            if model.config.bidirectional and model.config.kind in MIN_KINDS:
                logits = prefix_logits(model, x)  # the scan runs every prefix at once
            elif model.config.bidirectional:
                logits = one_layer_prefix_logits(model, x, out[..., :H])
            else:
                logits = model.head(out)
            return Trace(model.config, states, logits.numpy())
        un = unroll(model, x)
        if model.config.bidirectional:
            logits = prefix_logits(model, x)  # layer 2 reads layer 1's backward pass: re-run every prefix
        else:
            logits = model.head(un.outputs)  # (B, T, 10): head on h_t after each row
        return Trace(model.config, _states(un), logits.numpy())
