"""The BPTT chain against independent computations: the fused modules' own Jacobians, autograd, the trace."""

import numpy as np
import pytest
import torch

from explorer.analysis.chain import bptt_chain, one_step_jacobians
from explorer.data.digits import load_sample
from explorer.data.sequences import SequenceTask
from explorer.model.checkpoint_file import read_checkpoint
from explorer.model.checkpoints import shipped_dir
from explorer.model.config import ModelConfig
from explorer.model.network import SequenceClassifier, untrained_model
from explorer.model.unroll import trace
from explorer.readings.gradients import chain_reading, forget_reading


@pytest.fixture(scope="module")
def digit():
    x, y = load_sample()[1].tensors()
    return x[5], int(y[5])


def shipped(name):
    return read_checkpoint(shipped_dir() / f"{name}.safetensors").model


CASES = [("rnn-128", 0), ("gru-128", 0), ("lstm-128", 0), ("bilstm-128", 0), ("bilstm-128", 1), ("lstm-2x128", 0)]
CASES += [("mingru-128", 0), ("minlstm-128", 0)]


@pytest.mark.parametrize("name,direction", CASES)
def test_the_error_recursion_is_the_measured_gradient(digit, name, direction):
    """‖δ_t‖ from autograd through the whole unroll equals ‖(J_T ⋯ J_{t+1})ᵀ δ_T‖, and the norms obey the bound."""
    chain = bptt_chain(shipped(name), *digit, direction=direction)
    assert chain.recursion_error < 1e-9
    assert np.all(chain.product_norm <= chain.bound * (1 + 1e-9))
    last = 0 if direction else 27  # the direction's last step, where the product is the identity
    assert chain.product_norm[last] == pytest.approx(1.0) and chain.bound[last] == 1.0
    first = 27 if direction else 0
    assert np.isnan(chain.singular[first]).all() and np.all(np.diff(chain.singular[last]) <= 0)


def fused_step(model, row: torch.Tensor, direction: int):
    """s_{t-1} -> s_t through the fused nn module itself (one step of a one-layer model), in float64."""
    module = model.rnn
    H = model.config.hidden_size
    lstm = model.config.kind == "lstm"
    layers = module.num_layers * (2 if module.bidirectional else 1)

    def step(s):
        h0 = torch.zeros(layers, 1, H, dtype=torch.float64)
        h0 = h0.index_copy(0, torch.tensor([direction]), s[:H].view(1, 1, H))
        if lstm:
            c0 = torch.zeros(layers, 1, H, dtype=torch.float64).index_copy(
                0, torch.tensor([direction]), s[H:].view(1, 1, H)
            )
            _, (h, c) = module(row.view(1, 1, -1), (h0, c0))
            return torch.cat([h[direction, 0], c[direction, 0]])
        _, h = module(row.view(1, 1, -1), h0)
        return h[direction, 0]

    return step


@pytest.mark.parametrize("name,direction", [("rnn-128", 0), ("gru-128", 0), ("lstm-128", 0), ("bilstm-128", 1)])
def test_one_step_jacobians_are_the_fused_modules(digit, name, direction):
    model = shipped(name)
    states, jac = one_step_jacobians(model, digit[0], direction)
    fused = model.double()
    rows = digit[0].to(torch.float64).flip(0) if direction else digit[0].to(torch.float64)
    for s in (1, 9, 27):
        expected = torch.autograd.functional.jacobian(fused_step(fused, rows[s], direction), states[s - 1])
        torch.testing.assert_close(jac[s - 1], expected, rtol=1e-9, atol=1e-12)


def test_a_tanh_rnns_jacobian_and_pascanus_line(digit):
    model = shipped("rnn-128")
    states, jac = one_step_jacobians(model, digit[0])
    w_hh = model.rnn.weight_hh_l0.detach().double()
    torch.testing.assert_close(jac[4], torch.diag(1 - states[5] ** 2) @ w_hh)
    chain = bptt_chain(model, *digit)
    assert chain.gamma == 1.0 and chain.recurrent_norm == pytest.approx(float(torch.linalg.svdvals(w_hh)[0]))
    assert np.all(chain.step_norm[1:] <= chain.recurrent_norm + 1e-9)  # ‖diag(tanh') W‖ ≤ γ ‖W‖
    assert np.isnan(bptt_chain(shipped("gru-128"), *digit).recurrent_norm)


@pytest.mark.parametrize("direction", [0, 1])
def test_the_forget_gate_product_is_the_traces(digit, direction):
    model = shipped("bilstm-128")
    f = trace(model, digit[0][None]).states[0][direction]["f"][0].astype(np.float64)  # (T, H) by image row
    chain = bptt_chain(model, *digit, direction=direction)
    for row in (0, 13, 27):
        later = f[row + 1 :] if direction == 0 else f[:row]  # the steps read after this row
        np.testing.assert_allclose(chain.forget_product[:, row], later.prod(axis=0), rtol=1e-5)


def test_a_delayed_sequence(digit):
    seq = SequenceTask("blank", 10).apply(digit[0][None])[0]
    chain = bptt_chain(shipped("lstm-128"), seq, digit[1])
    assert chain.delta.shape == (38,) and chain.recursion_error < 1e-9


def test_the_readings_follow_the_numbers(digit):
    trained = bptt_chain(shipped("rnn-128"), *digit)
    text = chain_reading(trained)
    assert f"has norm {trained.product_norm[0]:.3g}" in text and f"bound of {trained.bound[0]:.3g}" in text
    assert trained.recurrent_norm > 1 and "Pascanu et al.'s bound does not force the gradient to shrink" in text
    below = int(np.sum(trained.step_norm[1:] < 1))
    assert f"brings ‖J_t‖₂ below 1 at {below} of 27 steps" in text
    small = untrained_model(ModelConfig("rnn", 64), 0, recurrent_scale=0.5)  # spectral radius 0.5
    quiet = bptt_chain(small, *digit)
    text = chain_reading(quiet)
    ceiling = quiet.recurrent_norm**27  # Pascanu's bound on ‖δ_1‖ / ‖δ_28‖ (γ = 1)
    assert quiet.recurrent_norm < 1 and f"{quiet.recurrent_norm:.3g}^27 ≈ {ceiling:.2g}" in text
    assert np.all(quiet.step_norm[1:] <= quiet.recurrent_norm) and quiet.decay <= ceiling
    assert ceiling > 10**-1.5 and "over 27 rows it does not force vanishing" in text  # σ_max 0.91: a loose ceiling
    assert quiet.decay < 1e-8 and f"‖δ_1‖ / ‖δ_28‖ = {quiet.decay:.2g}" in text and "the gradient vanishes" in text
    lstm = bptt_chain(shipped("lstm-128"), *digit)
    assert "Pascanu" not in chain_reading(lstm)
    column = lstm.forget_product[:, 0]
    text = forget_reading(lstm.forget_product, 0)
    assert f"{int(np.sum(column > 0.5))} of 128 units keep more than half" in text
    assert f"median {np.median(column):.2g}" in text


def test_the_readme_quotes_these_chains():
    """README's figures for test digit 0 of the default batch (256 digits, seed 0)."""
    from pathlib import Path

    from explorer.analysis.gradients import digit_batch

    readme = " ".join((Path(__file__).resolve().parents[2] / "README.md").read_text().split())
    x, y = digit_batch(load_sample()[1], 256, 0)
    chains = {n: bptt_chain(shipped(n), x[0], int(y[0])) for n in ("rnn-128", "gru-128", "lstm-128")}
    rnn, gru, lstm = chains.values()
    assert f"has norm {rnn.product_norm[0]:.2g} for `rnn-128` (σ_max(W_hh) = {rnn.recurrent_norm:.2g}" in readme
    assert f"{gru.product_norm[0]:.2g} for `gru-128` and {lstm.product_norm[0]:.2g} for `lstm-128`" in readme
    bounds = [c.bound[0] for c in chains.values()]
    assert min(bounds) >= 1e8 and max(bounds) < 1e13 and "the bounds are 10⁸–10¹²" in readme
    assert round(np.log10(np.median(lstm.forget_product[:, 0]))) == -10 and "a median of 10⁻¹⁰ from row 1" in readme


def test_a_stacked_lstms_chain_covers_both_layers(digit):
    model = shipped("lstm-2x128")
    chain = bptt_chain(model, *digit)
    assert chain.delta_layers.shape == (2, 28) and chain.forget_product.shape == (256, 28)
    np.testing.assert_allclose(np.sqrt((chain.delta_layers**2).sum(0)), chain.delta, rtol=1e-12)
    assert chain.delta_layers[0, -1] == 0.0 and chain.delta_layers[1, -1] > 0  # the readout reads layer 2 only
    tr = trace(model, digit[0][None])
    for layer in (0, 1):
        f = tr.states[layer][0]["f"][0].astype(np.float64)
        np.testing.assert_allclose(chain.forget_product[layer * 128 : (layer + 1) * 128, 5], f[6:].prod(0), rtol=1e-5)
    states, jac = one_step_jacobians(model, digit[0])
    fused = model.double()
    rows = digit[0].to(torch.float64)

    def both_layers(s):  # the fused 2-layer nn.LSTM, one row, from s = (h1, c1, h2, c2)
        h0 = torch.stack([s[0:128], s[256:384]])[:, None]
        c0 = torch.stack([s[128:256], s[384:512]])[:, None]
        _, (h, c) = fused.rnn(rows[12].view(1, 1, -1), (h0, c0))
        return torch.cat([h[0, 0], c[0, 0], h[1, 0], c[1, 0]])

    torch.testing.assert_close(jac[11], torch.autograd.functional.jacobian(both_layers, states[11]))


def test_a_stacked_bidirectional_model_has_no_one_way_chain(digit):
    model = SequenceClassifier(ModelConfig("gru", 8, num_layers=2, bidirectional=True))
    with pytest.raises(ValueError, match="both directions"):
        bptt_chain(model, *digit)


def keep_shares(model, rows: torch.Tensor) -> torch.Tensor:
    """A one-layer minGRU's 1 − z_t or minLSTM's f_t / (f_t + i_t), (T, H), from its weights by hand, float64."""
    w, b = model.rnn.weight_ih_l0.detach().double(), model.rnn.bias_ih_l0.detach().double()
    pre = rows.double() @ w.T + b  # (T, G*H)
    H = model.config.hidden_size
    if model.config.kind == "mingru":
        return 1 - 1 / (1 + torch.exp(-pre[:, :H]))
    f, i = 1 / (1 + torch.exp(-pre[:, :H])), 1 / (1 + torch.exp(-pre[:, H : 2 * H]))
    return f / (f + i)


@pytest.mark.parametrize("name", ["mingru-128", "minlstm-128"])
def test_a_min_cells_jacobian_is_the_diagonal_of_its_keep_shares(digit, name):
    """No W_hh: J_t = diag(a_t), so the product back from the last row is diag(∏ a) and its norm the largest unit's."""
    model = shipped(name)
    a = keep_shares(model, digit[0])
    _, jac = one_step_jacobians(model, digit[0])
    for s in (1, 9, 27):
        torch.testing.assert_close(jac[s - 1], torch.diag(a[s]), rtol=1e-9, atol=1e-12)
    chain = bptt_chain(model, *digit)
    for row in (0, 13, 27):
        np.testing.assert_allclose(chain.forget_product[:, row], a[row + 1 :].prod(0).numpy(), rtol=1e-9)
        assert chain.product_norm[row] == pytest.approx(float(a[row + 1 :].prod(0).max()), rel=1e-9)
    assert chain.recursion_error < 1e-9 and chain.gamma is None
    text = chain_reading(chain)
    assert "has no W_hh: each J_t is diagonal" in text and f"has norm {float(a[1:].prod(0).max()):.3g}" in text
    keep = forget_reading(chain.forget_product, 0, model.config.kind)
    assert f"median {float(np.median(a[1:].prod(0).numpy())):.2g}" in keep and "∂h_last/∂h_t itself" in keep


@pytest.mark.parametrize("kind", ["mingru", "minlstm"])
def test_a_stacked_min_cells_chain_is_not_diagonal_and_says_nothing_of_a_diagonal(digit, kind):
    """Layer 2 reads layer 1's new h inside the step: J_t has an off-diagonal block, and the reading says no more."""
    model = untrained_model(ModelConfig(kind, 8, 2), 0)
    _, jac = one_step_jacobians(model, digit[0])
    assert jac[5][8:, :8].abs().max() > 0 and jac[5][:8, 8:].abs().max() == 0  # layer 1 never reads layer 2
    chain = bptt_chain(model, *digit)
    assert chain.recursion_error < 1e-9 and chain.forget_product.shape == (16, 28)
    assert "diagonal" not in chain_reading(chain)
