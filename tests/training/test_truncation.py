"""Truncation schemes: the updates by hand, their gradients against a per-loss-term reference, full BPTT at
k = T, the zero patterns, ARTBP's unbiasedness by enumerating every draw."""

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from explorer.model.config import ModelConfig
from explorer.model.network import SequenceClassifier
from explorer.training import truncation
from explorer.training.losses import per_sample_loss
from explorer.training.truncation import FULL, Truncation, Window, truncated_loss, update_points, windows

KINDS = ("rnn", "lstm", "gru")


def make(kind, layers=1, bidir=False, hidden=6, seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    cfg = ModelConfig(kind=kind, hidden_size=hidden, num_layers=layers, bidirectional=bidir)
    return SequenceClassifier(cfg).to(dtype).eval()


def batch(n=3, T=12, seed=1, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, T, 28, generator=g, dtype=dtype), torch.randint(0, 10, (n,), generator=g)


def test_update_points_and_windows_by_hand():
    assert update_points(10, 3, "end") == [1, 4, 7, 10] and update_points(10, 3, "start") == [3, 6, 9, 10]
    assert update_points(10, 1, "end") == list(range(1, 11))
    chunks = windows(10, Truncation(3), "every")
    assert chunks == [Window(0, 1, (0,)), Window(1, 4, (1, 2, 3)), Window(4, 7, (4, 5, 6)), Window(7, 10, (7, 8, 9))]
    assert [(w.start, w.end) for w in windows(10, Truncation(3, align="start"), "every")] == [
        (0, 3),
        (3, 6),
        (6, 9),
        (9, 10),
    ]  # from row 1, the last chunk short
    with pytest.raises(ValueError, match="k1"):
        Truncation(3, every=5)
    slide = windows(10, Truncation(4, every=1), "every")  # every loss term reaches back exactly 4 rows
    assert [(w.start, w.end, w.losses) for w in slide[:5]] == [
        (0, 1, (0,)),
        (0, 2, (1,)),
        (0, 3, (2,)),
        (0, 4, (3,)),
        (1, 5, (4,)),
    ]
    assert windows(10, Truncation(4, every=2), "last") == [Window(6, 10, (9,))]
    assert windows(10, Truncation(10), "every") == windows(10, FULL, "every") == [Window(0, 10, tuple(range(10)))]
    assert Truncation(7).label(28) == "TBPTT(7, 7)" and Truncation(28).label(28) == "full BPTT"
    assert (
        Truncation(10, every=1).label(48) == "TBPTT(1, 10)"
        and Truncation(8, scheme="artbp").label(48) == "ARTBP(mean 8)"
    )


def reference_loss(model, x, y, loss_at, trunc):
    """Independent of the scheme's code: every loss term on its own, run from the exact state at the row its
    gradient may reach back to (detached there), through the fused module."""
    T = x.shape[1]
    reach, previous = {}, 0  # 0-based loss row -> first row it backpropagates into
    k2 = T if trunc.k is None else trunc.k
    k1 = min(trunc.k1 or T, T)
    for u in update_points(T, k1, trunc.align):
        for s in range(previous, u):  # the loss terms this update carries
            reach[s] = previous if k1 == min(k2, T) else max(0, u - k2)  # chunks: back to the chunk's start
        previous = u
    rows = [T - 1] if loss_at == "last" else range(T)
    total = 0
    for s in rows:
        r0 = reach[s]
        with torch.no_grad():
            state = model.rnn(x[:, :r0])[1] if r0 > 0 else None
        out, final = model.rnn(x[:, r0 : s + 1], state)
        if loss_at == "last":
            h_n = final[0] if model.config.kind == "lstm" else final
            logits = model.readout(h_n)
            total = total + F.cross_entropy(logits, y, reduction="none")
        else:
            total = total + F.cross_entropy(model.head(out[:, -1]), y, reduction="none") / T
    return total


def grads(model, loss):
    return torch.cat([g.flatten() for g in torch.autograd.grad(loss.sum(), list(model.parameters()))])


SCHEMES = [
    Truncation(4),
    Truncation(5, align="start"),
    Truncation(4, every=1),
    Truncation(5, every=2),
    Truncation(3, every=2, align="start"),
]


@pytest.mark.parametrize("kind,layers", [("rnn", 1), ("lstm", 2), ("gru", 1)])
@pytest.mark.parametrize("trunc", SCHEMES, ids=lambda t: t.label(12))
@pytest.mark.parametrize("loss_at", ("last", "every"))
def test_truncated_gradients_equal_the_per_loss_term_reference(kind, layers, trunc, loss_at):
    model = make(kind, layers)
    x, y = batch()
    ours = truncated_loss(model, x, y, loss_at, trunc)
    ref = reference_loss(model, x, y, loss_at, trunc)
    torch.testing.assert_close(
        ours, per_sample_loss(model.head(model.rnn(x)[0]), y) if loss_at == "every" else ref, rtol=1e-10, atol=1e-12
    )  # the value is the exact loss
    torch.testing.assert_close(grads(model, ours), grads(model, ref), rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "trunc", [Truncation(12), Truncation(12, every=1), Truncation(12, every=5, align="start"), Truncation(40)], ids=str
)
@pytest.mark.parametrize("loss_at", ("last", "every"))
def test_every_scheme_with_k_equal_T_is_full_bptt(kind, trunc, loss_at):
    model = make(kind, 2)
    x, y = batch()
    torch.testing.assert_close(
        grads(model, truncated_loss(model, x, y, loss_at, trunc)),
        grads(model, truncated_loss(model, x, y, loss_at, FULL)),
        rtol=1e-9,
        atol=1e-12,
    )


@pytest.mark.parametrize("trunc", SCHEMES, ids=lambda t: t.label(12))
def test_with_the_loss_on_the_last_row_only_the_last_k2_rows_get_gradient(trunc):
    """...or, for chunks from row 1, only the rows of the last (short) chunk."""
    model = make("lstm")
    x, y = batch()
    x.requires_grad_(True)
    (g,) = torch.autograd.grad(truncated_loss(model, x, y, "last", trunc).sum(), [x])
    saliency = g.norm(dim=-1)  # (B, T)
    first = 12 - 12 % trunc.k if trunc.align == "start" and trunc.k1 == trunc.k else 12 - trunc.k
    assert torch.all(saliency[:, :first] == 0) and torch.all(saliency[:, first:] > 0)


def test_the_window_reaches_back_exactly_k2_rows_from_every_loss_term():
    """TBPTT(1, k2) with the loss at every row: d(loss at row s)/d(x at row r) is nonzero exactly for
    s - k2 < r <= s."""
    model = make("gru")
    x, y = batch(1)
    for s in (3, 8, 11):
        xs = x.clone().requires_grad_(True)
        T = 12
        w = next(win for win in windows(T, Truncation(4, every=1), "every") if s in win.losses)
        assert (w.start, w.end) == (max(0, s + 1 - 4), s + 1)
        (g,) = torch.autograd.grad(reference_loss(model, xs, y, "every", Truncation(4, every=1)).sum(), [xs])
        assert g.norm(dim=-1)[0].count_nonzero() == T  # every row is reached by some loss term


def test_bidirectional_chunks_go_through_the_unroll_and_windows_are_refused():
    model = make("lstm", 1, True)
    x, y = batch()
    loss = truncated_loss(model, x, y, "every", Truncation(4))
    assert torch.isfinite(loss).all()
    with pytest.raises(ValueError, match="unidirectional"):
        truncated_loss(model, x, y, "every", Truncation(4, every=1))


def test_artbp_is_unbiased_over_every_possible_draw(monkeypatch):
    """With one sequence of 5 rows there are 2^4 cut patterns: their probability-weighted mean gradient is the
    full-BPTT gradient (up to round-off), while TBPTT at the same mean length is biased."""
    model = make("lstm", hidden=4)
    x, y = batch(1, T=5)
    full = grads(model, truncated_loss(model, x, y, "every", FULL))
    k = 2
    c = 1 / k
    mean = torch.zeros_like(full)
    for pattern in itertools.product([0, 1], repeat=4):  # 1 = the gradient passes into that step
        keep = torch.tensor([1, *pattern], dtype=torch.bool)[None]  # step 0 reads the zero state
        factors = torch.where(keep, torch.tensor(1 / (1 - c)), torch.tensor(0.0))
        p = np.prod([(1 - c) if b else c for b in pattern])
        monkeypatch.setattr(truncation, "artbp_gates", lambda B, T, k, generator, f=factors: f)
        mean += p * grads(model, truncated_loss(model, x, y, "every", Truncation(k, scheme="artbp")))
    torch.testing.assert_close(mean, full, rtol=1e-9, atol=1e-12)
    biased = grads(model, truncated_loss(model, x, y, "every", Truncation(k)))
    assert (biased - full).norm() / full.norm() > 1e-3


def test_artbp_draws_depend_on_the_generator_and_its_value_is_the_exact_loss():
    model = make("rnn", hidden=4)
    x, y = batch(4, T=20)
    trunc = Truncation(3, scheme="artbp")
    a = truncated_loss(model, x, y, "last", trunc, torch.Generator().manual_seed(1))
    b = truncated_loss(model, x, y, "last", trunc, torch.Generator().manual_seed(2))
    torch.testing.assert_close(a, truncated_loss(model, x, y, "last", FULL))
    assert not torch.allclose(grads(model, a), grads(model, b))
