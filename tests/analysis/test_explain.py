"""Explain-this-number: every value recomputed from the weights equals the trace's, and the fused module's."""

import numpy as np
import pytest
import torch

from explorer.analysis.explain import explain, top_terms
from explorer.data.digits import load_sample
from explorer.data.sequences import SequenceTask
from explorer.model.checkpoint_file import read_checkpoint
from explorer.model.checkpoints import shipped_dir
from explorer.model.config import GATES, ModelConfig
from explorer.model.network import untrained_model
from explorer.model.unroll import trace
from explorer.readings.formulas import bptt_equations, equations, num, step_lines


@pytest.fixture(scope="module")
def digit():
    return load_sample()[1].tensors()[0][7].numpy()  # (28, 28) in [0, 1]


def shipped(name):
    return read_checkpoint(shipped_dir() / f"{name}.safetensors").model


CASES = [  # model, layer, direction
    ("rnn-128", 0, 0),
    ("gru-128", 0, 0),
    ("lstm-128", 0, 0),
    ("bilstm-128", 0, 1),  # the backward direction: h_prev is the row below
    ("bilstm-128", 0, 0),
    ("lstm-2x128", 1, 0),  # layer 2 reads layer 1's h
    ("lstm-2x128", 0, 0),
    ("mingru-128", 0, 0),  # no W_hh: the gates read the row alone
    ("minlstm-128", 0, 0),
]
MIN = ("mingru", "minlstm")


@pytest.mark.parametrize("name,layer,direction", CASES)
def test_every_number_equals_the_trace(digit, name, layer, direction):
    model = shipped(name)
    tr = trace(model, torch.from_numpy(digit)[None])
    T = len(digit)
    for unit, row in [(0, 0), (5, 13), (127, 27), (64, 1), (3, 26)]:
        e = explain(model, tr, digit, layer, direction, unit, row)
        states = tr.states[layer][direction]
        for gate in GATES[model.config.kind]:
            term = e.terms[gate]
            assert term.value == pytest.approx(float(states[gate][0, row, unit]), abs=2e-6)
            assert term.preactivation == pytest.approx(
                term.input_part + term.input_bias + term.recurrent_total, abs=1e-12
            )
            assert term.input_terms.sum() == pytest.approx(term.input_part, abs=1e-9)
        assert e.h == pytest.approx(float(states["h"][0, row, unit]), abs=2e-6)
        if model.config.kind == "lstm":
            assert e.c == pytest.approx(float(states["c"][0, row, unit]), abs=2e-6)
        first = row == (0 if direction == 0 else T - 1)
        assert e.first_step == first
        if model.config.kind.startswith("min"):  # no recurrent part at all, rather than a made-up zero
            assert all(t.recurrent_part is t.recurrent_bias is t.recurrent_terms is None for t in e.terms.values())
        if first:
            assert e.h_prev == 0.0 and all(t.recurrent_part in (0.0, None) for t in e.terms.values())
        else:
            neighbour = row - 1 if direction == 0 else row + 1
            assert e.h_prev == pytest.approx(float(states["h"][0, neighbour, unit]), abs=0)


def test_the_last_layers_h_is_the_fused_modules_output(digit):
    """Independent of the trace: nn.LSTM's own output at every row."""
    model = shipped("lstm-2x128")
    x = torch.from_numpy(digit)[None]
    with torch.no_grad():
        out, _ = model.rnn(x)
    tr = trace(model, x)
    for row in (0, 9, 27):
        e = explain(model, tr, digit, 1, 0, 17, row)
        assert e.h == pytest.approx(float(out[0, row, 17]), abs=2e-6)


def test_a_gru_n_gate_is_reset_times_the_recurrent_part(digit):
    model = shipped("gru-128")
    tr = trace(model, torch.from_numpy(digit)[None])
    e = explain(model, tr, digit, 0, 0, 40, 12)
    n, r = e.terms["n"], e.terms["r"]
    assert n.reset == r.value and r.reset is None
    assert n.preactivation == pytest.approx(
        n.input_part + n.input_bias + r.value * (n.recurrent_part + n.recurrent_bias), abs=1e-12
    )
    z = e.terms["z"].value
    assert e.h == pytest.approx((1 - z) * n.value + z * e.h_prev, abs=1e-12)


def test_a_delayed_sequence_and_the_rnn_term(digit):
    model = shipped("rnn-128")
    seq = SequenceTask("blank", 6).apply(torch.from_numpy(digit)[None])[0].numpy()
    tr = trace(model, torch.from_numpy(seq)[None])
    e = explain(model, tr, seq, 0, 0, 9, 31)  # a blank row: no input at all
    assert e.terms["h"].input_part == 0.0 and e.h == pytest.approx(float(tr.states[0][0]["h"][0, 31, 9]), abs=2e-6)
    with pytest.raises(ValueError, match="row"):
        explain(model, tr, seq, 0, 0, 9, 34)


def test_top_terms_by_magnitude():
    assert top_terms(np.array([0.1, -3.0, 2.0, 0.0]), 2) == [(1, -3.0), (2, 2.0)]


def parse(text: str) -> float:
    """A number as formulas.num writes it."""
    text = text.strip().strip("()")
    if r"\times10^" in text:
        mantissa, exponent = text.split(r"\times10^")
        return float(mantissa) * 10 ** int(exponent.strip("{}"))
    return float(text)


@pytest.mark.parametrize(
    "value,text",
    [(0.0, "0"), (0.12345, "0.1235"), (-1.5, "(-1.5)"), (3.2e-5, r"3.2\times10^{-5}"), (12345.0, r"1.234\times10^{4}")],
)
def test_num(value, text):
    assert num(value) == text and parse(text) == pytest.approx(value, rel=1e-3)


@pytest.mark.parametrize("name,layer,direction", CASES)
def test_the_substituted_numbers_are_the_traces(digit, name, layer, direction):
    model = shipped(name)
    tr = trace(model, torch.from_numpy(digit)[None])
    e = explain(model, tr, digit, layer, direction, 11, 14)
    lines = step_lines(e)
    states = tr.states[layer][direction]
    names = list(e.terms) + (["c", "h"] if model.config.kind == "lstm" else [] if model.config.kind == "rnn" else ["h"])
    assert len(lines) == len(names)
    for line, quantity in zip(lines, names):
        assert line.removeprefix(r"\begin{aligned}").startswith(f"{quantity}_{{15}}[11]")  # row 15, unit 11
        shown = parse(line.rsplit("=", 1)[1].removesuffix(r"\end{aligned}"))
        assert shown == pytest.approx(float(states[quantity][0, 14, 11]), rel=5e-4, abs=1e-7)
    term = next(iter(e.terms.values()))
    assert f"{num(term.input_part)} + {num(term.input_bias)}" in lines[0]
    reads_h = lines[-1] if model.config.kind.startswith("min") else lines[0]  # the min cells: only h's line
    assert ("h_{16}" in reads_h) == (direction == 1) and ("h_{14}" in reads_h) == (direction == 0)
    assert ("W_{h" in "".join(lines)) == (not model.config.kind.startswith("min"))
    assert ("h^{(1)}_{15}" in lines[0]) == (layer == 1) and ("x_{15}" in lines[0]) == (layer == 0)


def test_a_min_cells_h_is_the_modules_scan_output(digit):
    """Independent of the trace's loop: the min module's own parallel scan, at every row."""
    for name in ("mingru-128", "minlstm-128"):
        model = shipped(name)
        x = torch.from_numpy(digit)[None]
        with torch.no_grad():
            out, _ = model.rnn(x)
        tr = trace(model, x)
        for row in (0, 9, 27):
            e = explain(model, tr, digit, 0, 0, 17, row)
            assert e.h == pytest.approx(float(out[0, row, 17]), abs=2e-6)
            assert e.terms["n" if model.config.kind == "mingru" else "g"].nonlinearity == "positive"


@pytest.mark.parametrize("kind", MIN)
def test_a_min_cells_numbers_are_the_parallel_scans(digit, kind):
    """Independent of the trace: the scan behind MinRNN's forward, at every layer and direction of a stack."""
    model = untrained_model(ModelConfig(kind, 16, 2, True), 3)
    x = torch.from_numpy(digit)[None]
    with torch.no_grad():
        out, _ = model.rnn(x)  # (1, T, 2H): layer 2's forward then backward h, by image row
    tr = trace(model, x)
    for direction in (0, 1):
        for row in (0, 13, 27):
            e = explain(model, tr, digit, 1, direction, 5, row)
            assert e.h == pytest.approx(float(out[0, row, 16 * direction + 5]), abs=2e-6)
            assert all(t.recurrent_part is None and t.recurrent_terms is None for t in e.terms.values())
    candidate = e.terms["n" if kind == "mingru" else "g"]
    v = candidate.preactivation
    assert candidate.value == pytest.approx(v + 0.5 if v >= 0 else 1 / (1 + np.exp(-v)), abs=1e-12)


def test_equations_name_torchs_gates():
    assert equations("gru")[2] == r"n_t = \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn}))"
    assert len(equations("lstm")) == 6 and len(equations("rnn")) == 1 and bptt_equations()
    assert equations("mingru")[2] == r"h_t = (1 - z_t) \odot h_{t-1} + z_t \odot n_t"
    assert not any("W_{h" in line for kind in MIN for line in equations(kind))  # no W_hh in a min cell
