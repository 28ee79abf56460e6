"""BPTT quantities against autograd on the fused modules, and the gradient check against injected bugs."""

import functools
import itertools
from pathlib import Path

import numpy as np
import pytest
import torch

import explorer.model.unroll as stepwise
from explorer.analysis import gradcheck
from explorer.analysis.gradcheck import THRESHOLD, gradient_check
from explorer.analysis.gradients import (
    bptt_gradients,
    bptt_profile,
    digit_batch,
    first_to_last_ratio,
    hh_contributions,
    state_jacobian,
)
from explorer.data.digits import load_sample
from explorer.model.config import ModelConfig
from explorer.model.mincells import MinRNN
from explorer.model.network import SequenceClassifier, untrained_model
from explorer.model.unroll import trace, unroll
from explorer.readings.gradients import power_of_ten
from explorer.training.losses import loss_logits, per_sample_loss, step_logits

KINDS = ("rnn", "lstm", "gru", "mingru", "minlstm")


def make(kind, layers=1, bidir=False, hidden=10, seed=0):
    torch.manual_seed(seed)
    return SequenceClassifier(ModelConfig(kind=kind, hidden_size=hidden, num_layers=layers, bidirectional=bidir)).eval()


def batch(n=4, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)


def fused_grads(model, x, y, loss_at="last", k=28):
    """Reference: the fused module run chunk by chunk (state detached between chunks), then autograd."""
    x = x.clone().requires_grad_(True)
    T = x.shape[1]
    bounds = sorted({0, *range(T % k or k, T, k)} | {T}) if k < T else [0, T]
    state, outs = None, []
    for a, b in zip(bounds, bounds[1:]):
        if state is not None:
            state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
        out, state = model.rnn(x[:, a:b], state)
        outs.append(out)
    if loss_at == "last":
        h_n = state[0] if model.config.kind == "lstm" else state
        logits = model.readout(h_n)
    else:
        logits = model.head(torch.cat(outs, dim=1))
    loss = per_sample_loss(logits, y).mean()
    params = list(model.parameters())
    grads = torch.autograd.grad(loss, [x] + params)
    return loss, grads[0], dict(zip([n for n, _ in model.named_parameters()], grads[1:]))


@pytest.mark.parametrize(
    "kind,layers,bidir,loss_at", list(itertools.product(KINDS, (1, 2), (False, True), ("last", "every")))
)
def test_full_bptt_matches_autograd_on_fused_module(kind, layers, bidir, loss_at):
    model = make(kind, layers, bidir)
    x, y = batch()
    prof = bptt_profile(model, x, y, loss_at)
    loss, gx, gp = fused_grads(model, x, y, loss_at)
    assert prof.loss == pytest.approx(loss.item(), abs=1e-5)
    # Per-sample saliency: the summed loss gives each sample its own gradient, = B * mean-loss gradient.
    np.testing.assert_allclose(prof.dx, (gx * x.shape[0]).norm(dim=-1).numpy(), rtol=1e-4, atol=1e-7)
    assert prof.grad_norm == pytest.approx(float(torch.cat([g.flatten() for g in gp.values()]).norm()), rel=1e-4)
    if kind in ("mingru", "minlstm"):  # no W_hh: nothing to split by row, and the profile says so
        assert prof.dw_hh is None and prof.finite
        with pytest.raises(ValueError, match="no W_hh"):
            hh_contributions(bptt_gradients(model, x, y, loss_at))
        return
    for layer in range(layers):
        for d in range(2 if bidir else 1):
            contrib = hh_contributions(bptt_gradients(model, x, y, loss_at), layer, d).sum(0) / x.shape[0]
            name = f"rnn.weight_hh_l{layer}" + ("_reverse" if d else "")
            torch.testing.assert_close(contrib, gp[name], atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("kind", KINDS)
def test_dh_and_dc_equal_gradient_of_loss_wrt_the_state_restarted_at_t(kind):
    """dL/dh_t is the gradient of the loss of the fused module restarted from (h_t, c_t) on rows t+1..T."""
    model = make(kind)
    x, y = batch(3)
    prof = bptt_profile(model, x, y)
    with torch.no_grad():
        out, _ = model.rnn(x)
    for t in (0, 9, 20, 26):
        h0 = out[:, t].detach().clone().unsqueeze(0).requires_grad_(True)
        if kind == "lstm":
            _, (_h_t, c_t) = model.rnn(x[:, : t + 1])
            c0 = c_t.detach().clone().requires_grad_(True)
            _, (h_n, _) = model.rnn(x[:, t + 1 :], (h0, c0))
            loss = per_sample_loss(model.readout(h_n), y).sum()
            g_h, g_c = torch.autograd.grad(loss, [h0, c0])
            # dL/dc_t also flows through h_t = o_t tanh(c_t), which the restart holds fixed.
            o_t = torch.from_numpy(trace(model, x).get(0, 0, "o")[:, t])
            total_c = g_c[0] + g_h[0] * o_t * (1 - c_t[0].tanh() ** 2)
            np.testing.assert_allclose(prof.dc[0, 0, :, t], total_c.norm(dim=-1).detach().numpy(), rtol=1e-4, atol=1e-8)
        else:
            _, h_n = model.rnn(x[:, t + 1 :], h0)
            (g_h,) = torch.autograd.grad(per_sample_loss(model.readout(h_n), y).sum(), [h0])
        np.testing.assert_allclose(prof.dh[0, 0, :, t], g_h[0].norm(dim=-1).numpy(), rtol=1e-4, atol=1e-8)


@pytest.mark.parametrize(
    "kind,layers,k,loss_at", list(itertools.product(KINDS, (1, 2), (1, 4, 7, 10), ("last", "every")))
)
def test_truncated_bptt_matches_chunked_fused_module(kind, layers, k, loss_at):
    model = make(kind, layers)
    x, y = batch()
    prof = bptt_profile(model, x, y, loss_at, k)
    _loss, gx, gp = fused_grads(model, x, y, loss_at, k)
    np.testing.assert_allclose(prof.dx, (gx * x.shape[0]).norm(dim=-1).numpy(), rtol=1e-4, atol=1e-7)
    for layer in range(layers if kind not in ("mingru", "minlstm") else 0):  # the min cells have no W_hh
        contrib = hh_contributions(bptt_gradients(model, x, y, loss_at, k), layer, 0).sum(0) / x.shape[0]
        torch.testing.assert_close(contrib, gp[f"rnn.weight_hh_l{layer}"], atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("kind,bidir", list(itertools.product(KINDS, (False, True))))
@pytest.mark.parametrize("k", (1, 5, 14))
def test_truncation_zero_pattern_with_loss_at_last_step(kind, bidir, k):
    model = make(kind, 2, bidir)
    x, y = batch()
    prof = bptt_profile(model, x, y, "last", k)
    T = 28
    # Rows 1..T are indices 0..T-1. Unidirectional: every layer is exactly zero for t <= T-k. Bidirectional:
    # the last layer is (a lower layer's forward states also feed the upper backward direction, legitimately).
    layers = slice(-1, None) if bidir else slice(None)
    assert np.all(prof.dh[layers, 0, :, : T - k] == 0.0)
    assert np.all(prof.dh[-1, 0, :, T - k :] > 0)
    if kind == "lstm":
        assert np.all(prof.dc[layers, 0, :, : T - k] == 0.0)
    if bidir:  # the backward direction reads upwards, so only rows 1..k reach its final state
        assert np.all(prof.dh[-1, 1, :, k:] == 0.0)
        assert np.all(prof.dh[-1, 1, :, :k] > 0)
    else:
        assert np.all(prof.dx[:, : T - k] == 0.0) and np.all(prof.dx[:, T - k :] > 0)


def test_k_equal_T_is_full_bptt():
    model = make("lstm", 2)
    x, y = batch()
    a, b = bptt_profile(model, x, y, "every", 28), bptt_profile(model, x, y, "every")
    np.testing.assert_array_equal(a.dh, b.dh)
    np.testing.assert_array_equal(a.dw_hh, b.dw_hh)


def test_vanilla_rnn_gradient_vanishes_at_default_init():
    torch.manual_seed(0)
    model = SequenceClassifier(ModelConfig(kind="rnn", hidden_size=128)).eval()
    x, y = batch(32)
    med = np.median(bptt_profile(model, x, y).dh[0, 0], axis=0)  # (T,)
    assert med[0] / med[-1] < 1e-3  # row 1 receives orders of magnitude less than row 28
    assert np.all(np.diff(np.log(med[:20])) > 0)  # and it decays steadily going back in time


@pytest.mark.parametrize("kind,bidir", list(itertools.product(KINDS, (False, True))))
def test_state_jacobian_matches_autograd_jacobian_of_the_restarted_fused_module(kind, bidir):
    """The final h as a function of the whole state after row t, (h_t, c_t) for an LSTM, both free."""
    model = make(kind, 1, bidir, hidden=6)
    x, _ = batch(2)
    got = state_jacobian(model, x)
    assert got.h.shape == (2 if bidir else 1, 2, 28) and (got.c is not None) == (kind == "lstm")
    H = 6
    for d in range(2 if bidir else 1):
        seq = x.flip(1) if d else x
        sfx = "_reverse" if d else ""
        modules = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN} | {
            k: functools.partial(MinRNN, k)
            for k in ("mingru", "minlstm")  # the parallel scan, not the unroll's loop
        }
        cell = modules[kind](28, H, batch_first=True)
        cell.load_state_dict(
            {n.removesuffix(sfx): p for n, p in model.rnn.state_dict().items() if n.endswith("_reverse") == bool(d)}
        )
        for b in range(2):
            s = seq[b : b + 1]
            for step in (0, 13, 26):
                with torch.no_grad():
                    _, state = cell(s[:, : step + 1])
                h_t, c_t = state if kind == "lstm" else (state, None)

                def final_h(h0, c0=None, cell=cell, s=s, step=step):
                    st = (h0.view(1, 1, H), c0.view(1, 1, H)) if kind == "lstm" else h0.view(1, 1, H)
                    return cell(s[:, step + 1 :], st)[0][0, -1]

                row = (27 - step) if d else step
                if kind == "lstm":
                    J_h, J_c = torch.autograd.functional.jacobian(final_h, (h_t.flatten(), c_t.flatten()))
                    assert got.h[d, b, row] == pytest.approx(float(J_h.norm()), rel=1e-4)
                    assert got.c[d, b, row] == pytest.approx(float(J_c.norm()), rel=1e-4)
                    full = torch.cat([J_h, J_c], dim=1)  # Jacobian wrt the concatenated state (h_t, c_t)
                    assert got.full[d, b, row] == pytest.approx(float(full.norm()), rel=1e-4)
                else:
                    J = torch.autograd.functional.jacobian(final_h, h_t.flatten())
                    assert got.full[d, b, row] == pytest.approx(float(J.norm()), rel=1e-4)
            assert got.full[d, b, 0 if d else 27] == pytest.approx(np.sqrt(H), rel=1e-6)  # identity at the last step


def test_an_lstms_cell_path_carries_memory_the_h_path_alone_misses():
    """Holding c_t fixed leaves out a path of similar size: the full-state norm is clearly larger."""
    model = make("lstm", hidden=16)
    x, _ = batch(8)
    j = state_jacobian(model, x)
    assert np.all(j.full >= j.h) and np.median(j.c[0, :, 5:25] / j.h[0, :, 5:25]) > 0.3


# ---- the gradient check ----------------------------------------------------------------------------------------


CHECKED_CELLS = [("rnn", 1, False), ("gru", 1, False), ("lstm", 2, True), ("mingru", 1, False), ("minlstm", 2, True)]


@pytest.mark.parametrize("kind,layers,bidir", CHECKED_CELLS)
@pytest.mark.parametrize("loss_at", ("last", "every"))
def test_gradient_check_passes_on_correct_bptt(kind, layers, bidir, loss_at):
    model = make(kind, layers, bidir)
    x, y = batch()
    result = gradient_check(model, x, y, loss_at)
    assert result.passed and result.max_error < 1e-9, [c for c in result.checks if c.error >= 1e-9]
    kinds = {c.quantity for c in result.checks}
    assert kinds == {"∂L/∂w", "‖∂L/∂h_t‖", "‖∂L/∂x_t‖"} and len(result.checks) == 8 + 2 * len(
        gradcheck.checked_rows(28)
    )
    assert all(abs(c.analytic) > 0 for c in result.checks)  # nothing checked as 0 = 0
    rows = [c for c in result.checks if c.quantity == "‖∂L/∂h_t‖"]
    # The per-row values are what the page plots: the profile's per-sample norms (first digit).
    prof = bptt_profile(model.double(), x.double(), y, loss_at)
    for c, row in zip(rows, gradcheck.checked_rows(28)):
        assert c.analytic == pytest.approx(float(prof.dh[-1, 0, 0, row - 1]), rel=1e-9)
    model.float()


@pytest.mark.parametrize("layer,direction,k", [(0, 1, None), (1, 1, 5), (1, 0, 5), (0, 0, 11)])
@pytest.mark.parametrize("loss_at", ("last", "every"))
def test_gradient_check_covers_layers_directions_and_truncation(layer, direction, k, loss_at):
    model = make("lstm", 2, True)
    x, y = batch()
    result = gradient_check(model, x, y, loss_at, k=k, layer=layer, direction=direction)
    assert result.passed, [c for c in result.checks if not c.passed]
    where = [c.where for c in result.checks if c.quantity == "‖∂L/∂h_t‖"]
    assert all(f"layer {layer + 1}, {('forward', 'backward')[direction]}" in w for w in where)


def truncate_silently(monkeypatch, steps_kept: int) -> None:
    """The bug the check must catch: full BPTT quietly cut to the last `steps_kept` steps in the unroll."""
    real = stepwise.truncation_starts
    monkeypatch.setattr(
        stepwise, "truncation_starts", lambda steps, k: real(steps, k) if k < steps else {steps - steps_kept}
    )


@pytest.mark.parametrize("kind,layers,bidir", CHECKED_CELLS)
@pytest.mark.parametrize("loss_at", ("last", "every"))
def test_gradient_check_fails_on_bptt_silently_truncated_to_20_steps(monkeypatch, kind, layers, bidir, loss_at):
    model = make(kind, layers, bidir)
    x, y = batch()
    truncate_silently(monkeypatch, 20)
    result = gradient_check(model, x, y, loss_at)
    assert not result.passed and result.max_error > 1e-2
    failed = {c.where.split(",")[0] for c in result.checks if not c.passed}
    assert "row 1" in failed  # rows 1..8 get no gradient from the bug, and the reference says they should


def test_the_injected_bug_is_invisible_to_a_weights_only_finite_difference_check(monkeypatch):
    """Why per-row checks: on a plain RNN at init, the weights' gradients barely change when BPTT stops 20 rows
    back (the early rows' share has vanished), so a weights-only check at 1e-5 would pass the bug."""
    model = make("rnn", hidden=32)
    x, y = batch()
    right = gradient_check(model, x, y)
    truncate_silently(monkeypatch, 20)
    wrong = gradient_check(model, x, y)
    weights = [(a, b) for a, b in zip(right.checks, wrong.checks) if a.quantity == "∂L/∂w"]
    assert max(abs(a.analytic - b.analytic) / abs(a.analytic) for a, b in weights) < 1e-5
    assert not wrong.passed


def test_gradient_check_is_seeded_works_on_a_copy_and_leaves_the_global_rng_alone():
    model = make("gru", hidden=3)
    x, y = batch()
    before = torch.get_rng_state()
    a = gradient_check(model, x, y, seed=2)
    assert torch.equal(torch.get_rng_state(), before)
    assert model.rnn.weight_hh_l0.dtype == torch.float32
    torch.rand(10)
    assert gradient_check(model, x, y, seed=2) == a
    assert THRESHOLD == 1e-6


def test_gradient_check_entries_avoid_exact_zero_gradients():
    model = make("lstm", hidden=5)
    x, y = batch(3)
    x[:, :, :14] = 0.0  # half the input columns never fire: their W_ih gradients are exactly 0
    result = gradient_check(model, x, y)
    weights = [c for c in result.checks if c.quantity == "∂L/∂w"]
    assert all(abs(c.analytic) > 0 for c in weights)
    assert all(
        int(c.where.split("[")[1].split(",")[1].strip(" ]")) >= 14
        for c in weights
        if c.where.startswith("rnn.weight_ih_l0")
    )


def test_last_row_loss_gradient_equals_the_restarted_fused_module():
    """dh_last_row under every-row loss: the gradient of the loss after the last row alone, from h_t."""
    model = make("gru")
    x, y = batch(3)
    prof = bptt_profile(model, x, y, "every")
    last = bptt_profile(model, x, y, "last")
    # Unidirectional: the prediction after the last row is the readout, so l_T is the loss at the last row.
    np.testing.assert_allclose(prof.dh_last_row, last.dh, rtol=1e-4, atol=1e-9)
    assert not np.allclose(prof.dh, last.dh, rtol=1e-2)  # while every row's loss moves the total
    np.testing.assert_array_equal(last.dh_last_row, last.dh)
    with torch.no_grad():
        out, _ = model.rnn(x)
    for t in (0, 13):
        h0 = out[:, t].detach().clone().unsqueeze(0).requires_grad_(True)
        _, h_n = model.rnn(x[:, t + 1 :], h0)
        (g,) = torch.autograd.grad(per_sample_loss(model.readout(h_n), y).sum(), [h0])
        np.testing.assert_allclose(prof.dh_last_row[0, 0, :, t], g[0].norm(dim=-1).numpy(), rtol=1e-4, atol=1e-9)


@pytest.mark.parametrize("kind,bidir", [("lstm", True), ("gru", False)])
@pytest.mark.parametrize("loss_at", ("last", "every"))
def test_fused_and_unrolled_loss_logits_agree(kind, bidir, loss_at):
    model = make(kind, 2, bidir)
    x, _ = batch()
    with torch.no_grad():
        fused = loss_logits(model, x, loss_at)
        torch.testing.assert_close(fused, step_logits(model, unroll(model, x), loss_at), atol=1e-5, rtol=0)
    assert fused.shape == ((4, 10) if loss_at == "last" else (4, 28, 10))
    for k in (None, 5):
        with pytest.raises(ValueError, match="loss_at must be one of"):
            loss_logits(model, x, "first", k)


def test_the_readme_quotes_chrono_on_untrained_copies():
    """README's powers of ten (row 1 / row 28, batch medians of the default 256 digits), PyTorch's init → chrono."""
    readme = " ".join((Path(__file__).resolve().parents[2] / "README.md").read_text().split())
    x, y = digit_batch(load_sample()[1], 256, 0)
    for kind, name in [("lstm", "LSTM"), ("gru", "GRU"), ("mingru", "minGRU"), ("minlstm", "minLSTM")]:
        cfg = ModelConfig(kind, 128)
        before, after = (
            power_of_ten(first_to_last_ratio(bptt_profile(untrained_model(cfg, 0, chrono=c), x, y).dh[-1, 0]))
            for c in (None, 28)
        )
        assert f"{name}-128 {before} → {after}" in readme
