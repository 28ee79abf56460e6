"""Unit orderings and gate saturation, each checked against an independent computation."""

import itertools

import numpy as np
import pytest
import torch

from explorer.analysis.units import (
    activity_order,
    cluster_order,
    gate_saturation,
    order_units,
    saturation_counts,
    unit_linkage,
)
from explorer.data.digits import Digits
from explorer.model.config import ModelConfig
from explorer.model.network import SequenceClassifier
from explorer.model.predictions import misclassified, predict, settled_after
from explorer.model.unroll import trace


def make(kind, layers=1, bidir=False, hidden=6, seed=0):
    torch.manual_seed(seed)
    return SequenceClassifier(ModelConfig(kind=kind, hidden_size=hidden, num_layers=layers, bidirectional=bidir)).eval()


# ---- orderings ---------------------------------------------------------------------------------


def test_activity_order_matches_a_plain_sort():
    h = np.random.default_rng(0).normal(size=(28, 20))
    expected = sorted(range(20), key=lambda u: -sum(abs(h[t, u]) for t in range(28)))
    assert activity_order(h).tolist() == expected


def brute_force_upgma(points):
    """Average linkage straight from its definition: cluster distance = mean of all pairwise point distances."""
    clusters = {i: [i] for i in range(len(points))}
    merges = []
    for s in range(len(points) - 1):

        def dist(a, b):
            return np.mean([np.linalg.norm(points[p] - points[q]) for p in clusters[a] for q in clusters[b]])

        a, b = min(itertools.combinations(sorted(clusters), 2), key=lambda ab: dist(*ab))
        merges.append((a, b, dist(a, b), len(clusters[a]) + len(clusters[b])))
        clusters[len(points) + s] = clusters.pop(a) + clusters.pop(b)
    return np.array(merges)


@pytest.mark.parametrize("n,seed", [(2, 0), (7, 1), (15, 2)])
def test_unit_linkage_is_average_linkage_by_its_definition(n, seed):
    h = np.random.default_rng(seed).normal(size=(5, n))  # (T, H): n units
    np.testing.assert_allclose(unit_linkage(h), brute_force_upgma(h.T), rtol=1e-9, atol=1e-12)


def test_cluster_order_puts_similar_units_side_by_side():
    t = np.linspace(0, 1, 28)[:, None]
    groups = [np.sin(6 * t), -np.cos(3 * t), t]  # three distinct time courses
    rng = np.random.default_rng(0)
    members = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2])  # interleaved by index
    h = np.hstack([groups[g] + 0.01 * rng.normal(size=(28, 1)) for g in members])  # (28, 9)
    order = cluster_order(h)
    assert sorted(order.tolist()) == list(range(9))
    runs = members[order]
    assert sum(runs[i] != runs[i + 1] for i in range(8)) == 2  # each group is one contiguous block


def test_order_units_dispatch_and_single_unit():
    h = np.random.default_rng(1).normal(size=(28, 5))
    assert order_units(h, "index").tolist() == [0, 1, 2, 3, 4]
    assert order_units(h, "activity").tolist() == activity_order(h).tolist()
    assert order_units(h[:, :1], "cluster").tolist() == [0]
    with pytest.raises(ValueError, match="unit ordering"):
        order_units(h, "alphabetical")


# ---- saturation --------------------------------------------------------------------------------


def test_saturation_counts_by_hand():
    values = np.array([[[0.05, 0.5], [0.95, 0.1]], [[0.09, 0.91], [0.5, 0.9]]])  # (B=2, T=2, H=2)
    low, high = saturation_counts(values)
    assert low.tolist() == [2, 0]  # 0.1 itself is not below 0.1
    assert high.tolist() == [1, 1]  # nor is 0.9 above 0.9


def reference_lstm_gates(model, x):
    """i, f, o of a 1-layer LSTM from the fused module's own outputs h_{t-1} and the raw weights."""
    with torch.no_grad():
        out, _ = model.rnn(x)  # (B, T, H)
        h_prev = torch.cat([torch.zeros_like(out[:, :1]), out[:, :-1]], dim=1)
        rnn = model.rnn
        z = x @ rnn.weight_ih_l0.T + rnn.bias_ih_l0 + h_prev @ rnn.weight_hh_l0.T + rnn.bias_hh_l0
        i, f, _, o = z.chunk(4, dim=-1)
    return {"i": i.sigmoid().numpy(), "f": f.sigmoid().numpy(), "o": o.sigmoid().numpy()}


def test_lstm_gate_saturation_matches_fused_module():
    model = make("lstm", hidden=8)
    with torch.no_grad():  # push some gates towards saturation so both tails are populated
        model.rnn.bias_ih_l0[:8] -= 3.0
        model.rnn.bias_ih_l0[8:16] += 3.0
    x = torch.rand(37, 28, 28)
    stats = gate_saturation(model, x, batch_size=10)  # batches of 10, 10, 10, 7
    assert set(stats) == {(0, 0)} and set(stats[0, 0]) == {"i", "f", "o"}
    for g, values in reference_lstm_gates(model, x).items():
        low = np.array([np.mean([v < 0.1 for v in values[:, :, u].ravel()]) for u in range(8)])
        high = np.array([np.mean([v > 0.9 for v in values[:, :, u].ravel()]) for u in range(8)])
        np.testing.assert_allclose(stats[0, 0][g][0], low, atol=1e-12)
        np.testing.assert_allclose(stats[0, 0][g][1], high, atol=1e-12)
    assert stats[0, 0]["i"][0].mean() > 0.2 and stats[0, 0]["f"][1].mean() > 0.2


def test_forced_gates_saturate_completely():
    """Hand case: zero weights, forget-gate bias +50, input-gate bias -50 -> f > 0.9 and i < 0.1 at every step."""
    model = make("lstm", layers=2, bidir=True, hidden=4)
    with torch.no_grad():
        for p in model.rnn.parameters():
            p.zero_()
        for name, p in model.rnn.named_parameters():
            if name.startswith("bias_ih"):
                p[:4], p[4:8] = -50.0, 50.0
    stats = gate_saturation(model, torch.rand(5, 28, 28))
    assert set(stats) == {(0, 0), (0, 1), (1, 0), (1, 1)}
    for per_gate in stats.values():
        np.testing.assert_array_equal(per_gate["i"][0], 1.0)
        np.testing.assert_array_equal(per_gate["f"][1], 1.0)
        np.testing.assert_array_equal(per_gate["o"][0] + per_gate["o"][1], 0.0)  # sigmoid(0) = 0.5


def test_gru_and_rnn_saturation_shapes():
    gru = gate_saturation(make("gru", hidden=5), torch.rand(3, 28, 28))
    assert set(gru[0, 0]) == {"r", "z"} and gru[0, 0]["z"][0].shape == (5,)
    assert all(v.min() >= 0 and v.max() <= 1 for pair in gru[0, 0].values() for v in pair)
    assert gate_saturation(make("rnn"), torch.rand(3, 28, 28)) == {(0, 0): {}}


@pytest.mark.parametrize("kind,gates", [("mingru", "z"), ("minlstm", "fi")])
def test_a_min_cells_sigmoid_gates_saturate_as_their_biases_say(kind, gates):
    """Hand case: zero input weights, each sigmoid gate's bias ±50: every step below 0.1 or above 0.9."""
    model = make(kind, hidden=4)
    with torch.no_grad():
        model.rnn.weight_ih_l0.zero_()
        for slot, sign in zip(range(len(gates)), (-1, 1)):
            model.rnn.bias_ih_l0[4 * slot : 4 * (slot + 1)] = 50.0 * sign
    stats = gate_saturation(model, torch.rand(3, 28, 28))[0, 0]
    assert set(stats) == set(gates)
    for g, sign in zip(gates, (-1, 1)):
        np.testing.assert_array_equal(stats[g][0 if sign < 0 else 1], 1.0)


# ---- predictions -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind,bidir", [("lstm", False), ("gru", True)])
def test_predict_matches_step_by_step_trace(kind, bidir):
    model = make(kind, bidir=bidir, seed=4)
    rng = np.random.default_rng(0)
    digits = Digits(rng.integers(0, 256, size=(30, 28, 28), dtype=np.uint8), rng.integers(0, 10, size=30))
    predicted = predict(model, digits, batch_size=7)
    x, _ = digits.tensors()
    assert predicted.tolist() == trace(model, x).logits[:, -1].argmax(-1).tolist()
    wrong = misclassified(digits, predicted)
    assert wrong.tolist() == [i for i in range(30) if predicted[i] != digits.labels[i]]


def test_settled_after_by_brute_force():
    rng = np.random.default_rng(5)
    for _ in range(50):
        probs = rng.dirichlet(np.ones(10) * 0.3, size=28)
        final = probs[-1].argmax()
        expected = min(t for t in range(1, 29) if all(probs[s - 1].argmax() == final for s in range(t, 29)))
        assert settled_after(probs) == expected
    steady = np.tile(np.eye(10)[3], (28, 1))
    assert settled_after(steady) == 1
