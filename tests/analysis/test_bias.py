"""The gradient-bias meter against a direct computation, and ARTBP's mean getting closer to the full gradient."""

import numpy as np
import pytest
import torch

from explorer.analysis.bias import gradient_bias, gradient_vector
from explorer.model.config import ModelConfig
from explorer.model.network import SequenceClassifier
from explorer.training.losses import per_sample_loss
from explorer.training.truncation import FULL, Truncation


def make(kind="lstm", hidden=8, bidir=False):
    torch.manual_seed(0)
    return SequenceClassifier(ModelConfig(kind=kind, hidden_size=hidden, bidirectional=bidir)).eval()


def batch(n=8, T=16):
    g = torch.Generator().manual_seed(3)
    return torch.rand(n, T, 28, generator=g), torch.randint(0, 10, (n,), generator=g)


@pytest.mark.parametrize("kind", ["lstm", "mingru", "minlstm"])  # the min cells' forward is their parallel scan
def test_the_full_gradient_is_autograd_on_the_fused_module(kind):
    model = make(kind)
    x, y = batch()
    loss = per_sample_loss(model(x), y).mean()
    expected = torch.cat([g.flatten() for g in torch.autograd.grad(loss, list(model.parameters()))])
    torch.testing.assert_close(gradient_vector(model, x, y, "last", FULL), expected)


@pytest.mark.parametrize("kind", ["lstm", "mingru", "minlstm"])
def test_bias_rows_are_cosines_and_errors_of_the_truncated_gradients(kind):
    model = make(kind)
    x, y = batch()
    rows = gradient_bias(model, x, y, "every", [2, 8, 15], draws=24)
    assert [(r.family, r.k) for r in rows] == [(f, k) for f in ("chunks", "window", "artbp") for k in (2, 8, 15)]
    full = gradient_vector(model, x, y, "every", FULL)
    for r in rows:
        if r.family != "artbp":
            g = gradient_vector(model, x, y, "every", Truncation(r.k, every=1 if r.family == "window" else None))
            assert r.cosine == pytest.approx(float(g @ full / (g.norm() * full.norm())), rel=1e-5)
            assert r.relative_error == pytest.approx(float((g - full).norm() / full.norm()), rel=1e-5)
    chunks = {r.k: r for r in rows if r.family == "chunks"}
    assert chunks[15].cosine > chunks[2].cosine  # longer truncation, closer to the full gradient
    window = {r.k: r for r in rows if r.family == "window"}
    assert window[15].relative_error < 1e-3  # k1 = 1, k2 = T - 1 misses only what crosses 15 rows: almost nothing
    artbp = [r for r in rows if r.family == "artbp"]
    assert all(r.error_of_mean < r.relative_error for r in artbp)  # averaging draws removes noise, not a bias


def test_artbp_mean_converges_as_draws_grow():
    model = make("gru")
    x, y = batch()
    few = gradient_bias(model, x, y, "last", [3], families=("artbp",), draws=4)[0]
    many = gradient_bias(model, x, y, "last", [3], families=("artbp",), draws=64)[0]
    assert many.error_of_mean < few.error_of_mean and many.cosine_of_mean > 0.9
    biased = gradient_bias(model, x, y, "last", [3], families=("chunks",))[0]
    assert many.error_of_mean < biased.relative_error


def test_windows_are_left_out_for_bidirectional_models():
    rows = gradient_bias(make(bidir=True), *batch(), "every", [4], draws=2)
    assert {r.family for r in rows} == {"chunks", "artbp"} and np.isfinite([r.cosine for r in rows]).all()


def test_with_the_loss_on_the_last_row_chunks_and_windows_give_one_gradient():
    """What the meter's caption says when the loss is on the last row; with a loss at every row they differ."""
    model = make("gru")
    x, y = batch()
    for loss_at, same in (("last", True), ("every", False)):
        rows = gradient_bias(model, x, y, loss_at, [3, 7], families=("chunks", "window"))
        chunks, window = rows[:2], rows[2:]
        assert [r.cosine for r in chunks] == [r.cosine for r in window] if same else chunks != window
