"""The NumPy RNN and its hand-written BPTT against autograd on the shipped RNN's weights, and a check that fails."""

import numpy as np
import pytest
import torch

from explorer.analysis import numpy_bptt
from explorer.analysis.gradcheck import first_principles
from explorer.data.digits import load_sample
from explorer.model.checkpoint_file import read_checkpoint
from explorer.model.checkpoints import shipped_dir


@pytest.fixture(scope="module")
def rnn():
    return read_checkpoint(shipped_dir() / "rnn-128.safetensors").model


@pytest.fixture(scope="module")
def digit():
    x, y = load_sample()[1].tensors()
    return x[11], int(y[11])


@pytest.mark.parametrize("loss_at", ["last", "every"])
@pytest.mark.parametrize("k", [None, 1, 5, 27, 28])
def test_numpy_bptt_is_autograd(rnn, digit, loss_at, k):
    result = first_principles(rnn, *digit, loss_at, k)
    assert result.max_error < 1e-10 and set(result.errors) == {"W_ih", "W_hh", "b_ih", "b_hh", "V", "c"}
    assert result.loss_numpy == pytest.approx(result.loss_autograd, rel=1e-12)


def weights(rnn):
    r, head = rnn.rnn, rnn.head
    ws = (r.weight_ih_l0, r.bias_ih_l0, r.weight_hh_l0, r.bias_hh_l0, head.weight, head.bias)
    return [w.detach().double().numpy() for w in ws]


def test_the_forward_pass_is_nn_rnns(rnn, digit):
    w = weights(rnn)
    h = numpy_bptt.forward(digit[0].double().numpy(), *w[:4])
    with torch.no_grad():
        out, _ = rnn.double().rnn(digit[0].double()[None])
    np.testing.assert_allclose(h[1:], out[0].numpy(), rtol=1e-12, atol=1e-14)
    rnn.float()


def test_truncation_changes_the_gradient_and_a_wrong_window_is_caught(rnn, digit, monkeypatch):
    x, y = digit[0].double().numpy(), digit[1]
    _, full = numpy_bptt.bptt(x, y, *weights(rnn), "every")
    _, short = numpy_bptt.bptt(x, y, *weights(rnn), "every", k=3)
    assert np.abs(full["W_hh"] - short["W_hh"]).max() > 1e-3 * np.abs(full["W_hh"]).max()
    original = numpy_bptt.bptt

    def one_row_too_far(*args):  # the bug a check must catch: k + 1 rows instead of k
        *rest, k = args
        return original(*rest, None if k is None else k + 1)

    monkeypatch.setattr(numpy_bptt, "bptt", one_row_too_far)
    assert first_principles(rnn, *digit, "every", 3).max_error > 1e-3
    assert first_principles(rnn, *digit, "every", None).max_error < 1e-10  # full BPTT is not affected


def test_only_a_plain_one_layer_rnn(digit):
    lstm = read_checkpoint(shipped_dir() / "lstm-128.safetensors").model
    with pytest.raises(ValueError, match="tanh RNN"):
        first_principles(lstm, *digit)
