"""minGRU and minLSTM: the parallel scan against a float64 step loop, gradients, stacking, packing, checkpoints."""

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from explorer.data.digits import load_sample
from explorer.model import mincells
from explorer.model.checkpoint_file import read_checkpoint
from explorer.model.checkpoints import shipped_dir
from explorer.model.config import MIN_KINDS, ModelConfig
from explorer.model.network import untrained_model
from explorer.model.unroll import trace, unroll

KINDS = pytest.mark.parametrize("kind", MIN_KINDS)


def reference(kind: str, xp: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """The recurrence written out from the paper's equations in float64, independent of mincells.step."""
    xp = xp.double()
    H = xp.shape[2] // mincells.GATE_COUNT[kind]
    h = torch.zeros(xp.shape[0], H, dtype=torch.float64) if h0 is None else h0.double()
    g = lambda v: torch.where(v >= 0, v + 0.5, 1 / (1 + torch.exp(-v)))  # noqa: E731
    out = []
    for t in range(xp.shape[1]):
        parts = xp[:, t].split(H, dim=-1)
        if kind == "mingru":
            z = torch.sigmoid(parts[0])
            h = (1 - z) * h + z * g(parts[1])
        else:
            f, i = torch.sigmoid(parts[0]), torch.sigmoid(parts[1])
            h = f / (f + i) * h + i / (f + i) * g(parts[2])
        out.append(h)
    return torch.stack(out, dim=1)


def broken_scan(log_a, log_b):
    """A scan that composes pieces the wrong way round (A₁B₂ + B₁): what the comparison must catch."""
    span, T = 1, log_a.shape[1]
    while span < T:
        log_b = torch.cat([log_b[:, :span], torch.logaddexp(log_b[:, span:] + log_a[:, :-span], log_b[:, :-span])], 1)
        log_a = torch.cat([log_a[:, :span], log_a[:, :-span] + log_a[:, span:]], dim=1)
        span *= 2
    return log_a, log_b


@KINDS
@pytest.mark.parametrize("T", [1, 2, 5, 28, 68, 228])
@pytest.mark.parametrize("with_h0", [False, True])
def test_scan_equals_float64_loop(kind, T, with_h0):
    gen = torch.Generator().manual_seed(T)
    xp = 3 * torch.randn(4, T, mincells.GATE_COUNT[kind] * 16, generator=gen)
    h0 = torch.randn(4, 16, generator=gen) if with_h0 else None
    assert (mincells.scan(kind, xp, h0).double() - reference(kind, xp, h0)).abs().max() <= 1e-5
    assert (mincells.loop(kind, xp, h0).double() - reference(kind, xp, h0)).abs().max() <= 1e-5


@KINDS
def test_scan_survives_shut_and_open_gates(kind):
    """Saturated gates over a long sequence: the log-space scan neither overflows nor loses the answer."""
    G = mincells.GATE_COUNT[kind]
    for value in (-60.0, 60.0):
        xp = torch.full((2, 228, G * 8), value)
        h = mincells.scan(kind, xp)
        assert torch.isfinite(h).all()
        assert (h.double() - reference(kind, xp)).abs().max() <= 1e-5 * max(1.0, reference(kind, xp).abs().max())


@KINDS
def test_a_wrongly_composed_scan_is_caught(kind, monkeypatch):
    xp = 3 * torch.randn(4, 28, mincells.GATE_COUNT[kind] * 16, generator=torch.Generator().manual_seed(1))
    monkeypatch.setattr(mincells, "log_scan", broken_scan)
    assert (mincells.scan(kind, xp).double() - reference(kind, xp)).abs().max() > 1e-2


@KINDS
@pytest.mark.parametrize("with_h0", [False, True])
def test_scan_gradients_equal_autograd_through_the_loop(kind, with_h0):
    gen = torch.Generator().manual_seed(2)
    xp = 2 * torch.randn(3, 28, mincells.GATE_COUNT[kind] * 8, generator=gen, dtype=torch.float64)
    h0 = torch.randn(3, 8, generator=gen, dtype=torch.float64) if with_h0 else None
    weights = torch.randn(3, 28, 8, generator=gen, dtype=torch.float64)  # a loss that reads every h_t
    grads = []
    for fn in (mincells.scan, reference):
        x = xp.clone().requires_grad_()
        h0_ = None if h0 is None else h0.clone().requires_grad_()
        (fn(kind, x, h0_) * weights).sum().backward()
        grads.append((x.grad, None if h0_ is None else h0_.grad))
    assert torch.allclose(grads[0][0], grads[1][0], atol=1e-9, rtol=1e-7)
    if with_h0:
        assert torch.allclose(grads[0][1], grads[1][1], atol=1e-9, rtol=1e-7)


@KINDS
@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_the_module_equals_the_step_by_step_unroll(kind, layers, bidirectional):
    model = untrained_model(ModelConfig(kind=kind, hidden_size=12, num_layers=layers, bidirectional=bidirectional))
    x = torch.rand(3, 33, 28, generator=torch.Generator().manual_seed(layers))
    with torch.no_grad():
        out, _ = model.rnn(x)
        un = unroll(model, x)
        logits = model(x)
        tr = trace(model, x)
    assert (out - un.outputs).abs().max() <= 1e-5
    assert (model.head(un.final_features()) - logits).abs().max() <= 1e-5
    assert abs(tr.logits[:, -1] - logits.numpy()).max() <= 1e-5
    assert tr.states[layers - 1][0].keys() == {*mincells.gates(kind, torch.zeros(1, 1, 99)).keys(), "h"}


@KINDS
def test_prefix_predictions_of_a_bidirectional_model_reread_each_prefix(kind):
    """trace's per-row prediction for a bidirectional model: the whole model re-run on rows 0..t."""
    model = untrained_model(ModelConfig(kind=kind, hidden_size=8, bidirectional=True))
    x = torch.rand(2, 28, 28, generator=torch.Generator().manual_seed(3))
    tr = trace(model, x)
    with torch.no_grad():
        for t in (0, 9, 27):
            assert abs(tr.logits[:, t] - model(x[:, : t + 1]).numpy()).max() <= 1e-5


@KINDS
@pytest.mark.parametrize("bidirectional", [False, True])
def test_packed_sequences_end_where_their_length_says(kind, bidirectional):
    model = untrained_model(ModelConfig(kind=kind, hidden_size=8, num_layers=2, bidirectional=bidirectional))
    x = torch.rand(3, 10, 28, generator=torch.Generator().manual_seed(4))
    lengths = torch.tensor([10, 4, 7])
    with torch.no_grad():
        packed_out, h_n = model.rnn(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
        out, _ = pad_packed_sequence(packed_out, batch_first=True)
        for b, n in enumerate(lengths.tolist()):
            alone, alone_n = model.rnn(x[b : b + 1, :n])
            assert (out[b, :n] - alone[0]).abs().max() <= 1e-6
            assert (h_n[:, b] - alone_n[:, 0]).abs().max() <= 1e-6


@KINDS
def test_a_carried_state_continues_the_sequence(kind):
    """Chunked truncated BPTT hands the state on: two halves from the carried h equal one run."""
    model = untrained_model(ModelConfig(kind=kind, hidden_size=8, num_layers=2))
    x = torch.rand(2, 20, 28, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        whole, _ = model.rnn(x)
        first, state = model.rnn(x[:, :9])
        second, _ = model.rnn(x[:, 9:], state)
    assert (torch.cat([first, second], 1) - whole).abs().max() <= 1e-5


@pytest.mark.parametrize("name", [f"{kind}-128" for kind in MIN_KINDS])
def test_shipped_checkpoints_scan_equals_the_float64_loop(name):
    model = read_checkpoint(shipped_dir() / f"{name}.safetensors").model
    x = torch.from_numpy(load_sample()[1].images[:64]).float().div(255)
    with torch.no_grad():
        xp = torch.nn.functional.linear(x, model.rnn.weight_ih_l0, model.rnn.bias_ih_l0)
        assert (mincells.scan(model.config.kind, xp).double() - reference(model.config.kind, xp)).abs().max() <= 1e-5
        out, _ = model.rnn(x)
        assert (out - unroll(model, x).outputs).abs().max() <= 1e-5
