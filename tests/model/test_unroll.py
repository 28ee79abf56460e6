"""The step-by-step re-run must reproduce the fused nn.RNN/LSTM/GRU exactly."""

import itertools

import numpy as np
import pytest
import torch

from explorer.model.config import ModelConfig
from explorer.model.network import SequenceClassifier
from explorer.model.unroll import record_states, state_names, trace, truncation_starts, unroll

CASES = list(itertools.product(("rnn", "lstm", "gru"), (1, 2), (False, True)))


def make(kind, layers=1, bidir=False, hidden=12, seed=0):
    torch.manual_seed(seed)
    return SequenceClassifier(ModelConfig(kind=kind, hidden_size=hidden, num_layers=layers, bidirectional=bidir)).eval()


@pytest.mark.parametrize("kind,layers,bidir", CASES)
def test_unroll_matches_fused_module(kind, layers, bidir):
    model = make(kind, layers, bidir)
    x = torch.rand(5, 28, 28)
    with torch.no_grad():
        out, state = model.rnn(x)
        un = unroll(model, x)
    torch.testing.assert_close(un.outputs, out, atol=1e-5, rtol=0)
    h_n = state[0] if kind == "lstm" else state
    finals = torch.stack([run.h[-1] for runs in un.runs for run in runs])  # (layers*dirs, B, H)
    torch.testing.assert_close(finals, h_n, atol=1e-5, rtol=0)
    if kind == "lstm":
        cells = torch.stack([run.c[-1] for runs in un.runs for run in runs])
        torch.testing.assert_close(cells, state[1], atol=1e-5, rtol=0)
    with torch.no_grad():
        torch.testing.assert_close(model.head(un.final_features()), model(x), atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind,layers,bidir", CASES)
def test_trace_shapes_and_prefix_predictions(kind, layers, bidir):
    model = make(kind, layers, bidir)
    x = torch.rand(3, 28, 28)
    tr = trace(model, x)
    assert len(tr.states) == layers and all(len(d) == (2 if bidir else 1) for d in tr.states)
    for dirs in tr.states:
        for named in dirs:
            assert tuple(named) == state_names(kind)
            assert all(a.shape == (3, 28, 12) for a in named.values())
    with torch.no_grad():
        out, _ = model.rnn(x)
        expected = torch.stack([model(x[:, : t + 1]) for t in range(28)], dim=1)  # model re-run on each prefix
    np.testing.assert_allclose(tr.logits, expected.numpy(), atol=1e-5)
    np.testing.assert_allclose(tr.probs.sum(-1), 1.0, atol=1e-6)
    # The last layer's h, indexed by image row, is nn's output for both directions.
    h = np.concatenate([named["h"] for named in tr.states[-1]], axis=-1)
    np.testing.assert_allclose(h, out.numpy(), atol=1e-5)


def test_lstm_gates_match_hand_computation():
    model = make("lstm")
    x = torch.rand(2, 28, 28)
    tr = trace(model, x)
    w_ih, w_hh = model.rnn.weight_ih_l0, model.rnn.weight_hh_l0
    b = model.rnn.bias_ih_l0 + model.rnn.bias_hh_l0
    h = torch.zeros(2, 12)
    c = torch.zeros(2, 12)
    with torch.no_grad():
        for t in range(28):
            z = x[:, t] @ w_ih.T + h @ w_hh.T + b
            i, f, g, o = z.sigmoid()[:, :12], z.sigmoid()[:, 12:24], z.tanh()[:, 24:36], z.sigmoid()[:, 36:]
            c = f * c + i * g
            h = o * c.tanh()
            for name, val in dict(i=i, f=f, g=g, o=o, c=c, h=h).items():
                np.testing.assert_allclose(tr.get(0, 0, name)[:, t], val.numpy(), atol=1e-6)


def test_saturated_gates_make_cell_grow_linearly():
    """Captum-style hand case: i = f = 1, g = 1 (biases huge, weights 0) -> c_t = t, h_t = tanh(t) * o."""
    model = make("lstm", hidden=4)
    with torch.no_grad():
        for p in model.rnn.parameters():
            p.zero_()
        model.rnn.bias_ih_l0[:] = 50.0  # every gate pre-activation = 50: sigmoid = 1, tanh = 1
    tr = trace(model, torch.rand(1, 28, 28))
    t = np.arange(1, 29, dtype=np.float32)[:, None]
    np.testing.assert_allclose(tr.get(0, 0, "c")[0], np.broadcast_to(t, (28, 4)), rtol=1e-6)
    np.testing.assert_allclose(tr.get(0, 0, "h")[0], np.tanh(np.broadcast_to(t, (28, 4))), rtol=1e-6)


def test_truncation_starts():
    assert truncation_starts(28, 28) == set()
    assert truncation_starts(28, 7) == {7, 14, 21}
    assert truncation_starts(28, 10) == {8, 18}  # last chunk ends at the final step
    assert truncation_starts(5, 1) == {1, 2, 3, 4}


def test_trace_restores_training_mode_and_exports():
    model = make("gru", 2, True).train()
    tr = trace(model, torch.rand(1, 28, 28))
    assert model.training
    arrays = tr.to_arrays()
    assert {"l0_forward_r", "l1_backward_h", "probs", "logits"} <= set(arrays)


@pytest.mark.parametrize("kind,layers,bidir", [("lstm", 1, False), ("gru", 2, True)])
def test_record_states_are_the_trace_states_without_predictions(kind, layers, bidir):
    model = make(kind, layers, bidir).train()
    x = torch.rand(2, 28, 28)
    states = record_states(model, x)
    assert model.training
    full = trace(model, x).states
    assert [[list(named) for named in dirs] for dirs in states] == [[list(named) for named in dirs] for dirs in full]
    for dirs, full_dirs in zip(states, full):
        for named, full_named in zip(dirs, full_dirs):
            for name, arr in named.items():
                np.testing.assert_array_equal(arr, full_named[name])
