"""One number of a trace, explained: the cell's equations for one unit at one row, with the real numbers.

For a unit j of one layer and direction at image row t, every gate's pre-activation is split the way PyTorch
computes it: an input part W_ih[j] · x_t, the input bias b_ih[j], a recurrent part W_hh[j] · h_prev and the
recurrent bias b_hh[j] (None for minGRU and minLSTM, which have no W_hh: their gates read x_t alone).
x_t is the layer's input at row t (the digit's pixels for layer 1, the previous layer's h for the others);
h_prev is the state this direction read before row t (row t-1 going forward, row t+1 going backward, zeros
before the first step). Everything is recomputed in float64 from the weights and the trace's own inputs, so a
test can hold each value to the trace's.

The contributions say which inputs push a pre-activation most: the terms W[j, m] * input[m] of the sums.
"""

from dataclasses import dataclass

import numpy as np
import torch

from ..model.config import GATES, MIN_KINDS
from ..model.network import SequenceClassifier, layer_weights
from ..model.unroll import Trace

NONLINEARITY = {"i": "sigmoid", "f": "sigmoid", "o": "sigmoid", "r": "sigmoid", "z": "sigmoid"}  # else tanh
# (the min cells' candidate: "positive", mincells.positive)


@dataclass(frozen=True)
class Term:
    """One gate's pre-activation and value for one unit (for a plain RNN, the new h itself: gate 'h')."""

    gate: str
    input_part: float  # W_ih[j] · x_t
    input_bias: float  # b_ih[j]
    recurrent_part: float | None  # W_hh[j] · h_prev (None: no W_hh, minGRU and minLSTM)
    recurrent_bias: float | None  # b_hh[j] (likewise)
    reset: float | None  # GRU's n only: r_t[j], which multiplies (W_hn[j] · h_prev + b_hn[j])
    preactivation: float
    nonlinearity: str  # "sigmoid", "tanh" or "positive" (v + 0.5 for v >= 0, sigmoid below)
    value: float
    input_terms: np.ndarray  # (input size,) W_ih[j, m] * x_t[m]
    recurrent_terms: np.ndarray | None  # (H,) W_hh[j, m] * h_prev[m]; None without W_hh

    @property
    def recurrent_total(self) -> float:
        """What the recurrence adds to the pre-activation (for GRU's n, after the reset gate; 0 without W_hh)."""
        if self.recurrent_part is None:
            return 0.0
        scale = 1.0 if self.reset is None else self.reset
        return scale * (self.recurrent_part + self.recurrent_bias)


@dataclass(frozen=True)
class Explanation:
    """The cell's step for one unit at one row, every number from the weights and the trace's inputs."""

    kind: str
    layer: int
    direction: int
    unit: int
    row: int  # 0-based image row
    first_step: bool  # this direction's first step: h_prev (and c_prev) are the zero initial state
    terms: dict  # gate -> Term ('h' for a plain RNN)
    h_prev: float  # h_prev[j]
    c_prev: float | None  # LSTM
    c: float | None  # LSTM: f * c_prev + i * g
    h: float


def _sigmoid(a: float) -> float:
    return float(1.0 / (1.0 + np.exp(-a)))


def _activate(nonlinearity: str, a: float) -> float:
    if nonlinearity == "sigmoid":
        return _sigmoid(a)
    if nonlinearity == "positive":
        return a + 0.5 if a >= 0 else _sigmoid(a)
    return float(np.tanh(a))


def layer_input(trace: Trace, sequence: np.ndarray, layer: int) -> np.ndarray:
    """(T, input size) what a layer reads per image row: the pixels for layer 0, else the previous layer's h
    (forward then backward, as nn.LSTM concatenates them)."""
    if layer == 0:
        return np.asarray(sequence, np.float64)
    return np.concatenate([d["h"][0] for d in trace.states[layer - 1]], axis=-1).astype(np.float64)


def explain(
    model: SequenceClassifier, trace: Trace, sequence: np.ndarray, layer: int, direction: int, unit: int, row: int
) -> Explanation:
    """The step of `unit` (0-based) at image `row` (0-based) of a one-sequence trace (batch of 1)."""
    cfg = model.config
    T = len(sequence)
    if not (0 <= layer < cfg.num_layers and 0 <= direction < cfg.num_directions):
        raise ValueError(f"no layer {layer + 1}, direction {direction} in this model")
    if not (0 <= unit < cfg.hidden_size and 0 <= row < T):
        raise ValueError(f"unit must be in 0..{cfg.hidden_size - 1} and row in 0..{T - 1}")
    w_ih, b_ih, w_hh, b_hh = (
        None if t is None else t.detach().to(torch.float64).numpy() for t in layer_weights(model, layer, direction)
    )
    states = trace.states[layer][direction]
    x = layer_input(trace, sequence, layer)[row]
    previous = row - 1 if direction == 0 else row + 1  # the row this direction read before this one
    first = not 0 <= previous < T
    H = cfg.hidden_size
    h_prev = np.zeros(H) if first else states["h"][0, previous].astype(np.float64)
    gates = GATES[cfg.kind] or ("h",)
    terms = {}
    for g, name in enumerate(gates):
        j = g * H + unit  # this gate's row of the stacked weights
        input_terms = w_ih[j] * x
        if w_hh is None:  # minGRU, minLSTM: the gate reads x_t alone
            recurrent_terms, parts = None, (float(input_terms.sum()), float(b_ih[j]), None, None)
            reset, pre = None, parts[0] + parts[1]
        else:
            recurrent_terms = w_hh[j] * h_prev
            parts = (float(input_terms.sum()), float(b_ih[j]), float(recurrent_terms.sum()), float(b_hh[j]))
            reset = float(terms["r"].value) if name == "n" else None
            pre = parts[0] + parts[1] + (1.0 if reset is None else reset) * (parts[2] + parts[3])
        positive = cfg.kind in MIN_KINDS and name in ("n", "g")
        nonlinearity = "positive" if positive else NONLINEARITY.get(name, "tanh")
        value = _activate(nonlinearity, pre)
        terms[name] = Term(name, *parts, reset, pre, nonlinearity, value, input_terms, recurrent_terms)
    c_prev = c = None
    if cfg.kind == "mingru":
        z = terms["z"].value
        h = (1 - z) * float(h_prev[unit]) + z * terms["n"].value
    elif cfg.kind == "minlstm":
        f, i = terms["f"].value, terms["i"].value
        h = f / (f + i) * float(h_prev[unit]) + i / (f + i) * terms["g"].value
    elif cfg.kind == "lstm":
        c_prev = 0.0 if first else float(states["c"][0, previous, unit])
        c = terms["f"].value * c_prev + terms["i"].value * terms["g"].value
        h = terms["o"].value * float(np.tanh(c))
    elif cfg.kind == "gru":
        z = terms["z"].value
        h = (1 - z) * terms["n"].value + z * float(h_prev[unit])
    else:
        h = terms["h"].value
    return Explanation(cfg.kind, layer, direction, unit, row, first, terms, float(h_prev[unit]), c_prev, c, h)


def top_terms(terms: np.ndarray, n: int = 8) -> list[tuple[int, float]]:
    """The n terms of a sum with the largest magnitude, as (index, value), largest first."""
    order = np.argsort(-np.abs(terms), kind="stable")[:n]
    return [(int(i), float(terms[i])) for i in order]


def input_labels(layer: int, bidirectional: bool, hidden_size: int) -> list[str]:
    """Names of a layer's inputs: the row's pixels (columns 1..28) for layer 1, else the layer below's units."""
    if layer == 0:
        return [f"pixel {m + 1}" for m in range(28)]
    below = f"h^{layer}"
    if not bidirectional:
        return [f"{below}[{m}]" for m in range(hidden_size)]
    return [f"{below} fwd[{m}]" for m in range(hidden_size)] + [f"{below} bwd[{m}]" for m in range(hidden_size)]
