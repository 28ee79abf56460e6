"""The Gradients page's sentences where they used to be false: Pascanu's bound read as a verdict, and a share over
training compared with a number that was never measured."""

import numpy as np
import pytest
import torch
from claims import check_chain_reading, check_training_decay_reading

from explorer.analysis.chain import bptt_chain
from explorer.analysis.gradients import bptt_profile, digit_batch
from explorer.data.digits import load_sample
from explorer.model.config import ModelConfig
from explorer.model.network import layer_weights, untrained_model
from explorer.readings.gradients import chain_reading, training_decay_reading


@pytest.fixture(scope="module")
def digit():
    x, y = load_sample()[1].tensors()
    return x[5], int(y[5])


def uniform_spectrum_rnn(sigma: float, hidden: int = 128) -> torch.nn.Module:
    """A tanh RNN whose W_hh has every singular value equal to sigma (sigma times an orthogonal matrix) and whose
    input weights are 0: Pascanu's σ_max(W_hh) is sigma, and the digit's pixels change nothing."""
    model = untrained_model(ModelConfig("rnn", hidden), 0)
    with torch.no_grad():
        w_ih, _, w_hh, _ = layer_weights(model, 0, 0)
        w_ih.zero_()
        q, _ = torch.linalg.qr(torch.randn(hidden, hidden, generator=torch.Generator().manual_seed(0)))
        w_hh.copy_(sigma * q)
    return model


def test_pascanus_bound_is_a_ceiling_not_a_verdict(digit):
    chain = bptt_chain(uniform_spectrum_rnn(0.999), *digit)
    assert chain.recurrent_norm == pytest.approx(0.999)
    measured = chain.delta[0] / chain.delta[-1]
    assert 0.1 < measured < 1  # a tenth of the gradient or more reaches row 1: nothing vanishes
    old = (  # what the reading said whenever σ_max(W_hh) < 1/γ
        " σ_max(W_hh) = 0.999 is below 1/γ = 1: every ‖J_t‖₂ is below 1, so the gradient must vanish (Pascanu et "
        "al. 2013)."
    )
    with pytest.raises(AssertionError, match="vanish"):
        check_chain_reading(chain_reading(chain) + old, chain)
    text = chain_reading(chain)
    assert "must vanish" not in text and "0.999^27 ≈ 0.97 from row 28 to row 1" in text
    assert "That is a ceiling, not a measurement: over 27 rows it does not force vanishing." in text
    assert f"‖δ_1‖ / ‖δ_28‖ = {measured:.2g}" in text and "it neither vanishes (10⁻² or less) nor explodes" in text
    check_chain_reading(text, chain)


def test_a_ceiling_low_enough_forces_vanishing(digit):
    chain = bptt_chain(uniform_spectrum_rnn(0.5), *digit)
    text = chain_reading(chain)
    assert "0.5^27 ≈ 7.5e-09" in text and "so over these rows the gradient must vanish" in text
    assert chain.delta[0] / chain.delta[-1] <= 0.5**27 and "the gradient vanishes" in text
    check_chain_reading(text, chain)


def test_no_gradient_at_the_last_row_is_said_not_measured(digit):
    model = uniform_spectrum_rnn(0.999, 16)
    with torch.no_grad():
        model.head.weight.zero_()  # the loss no longer depends on h: every δ is 0
    chain = bptt_chain(model, *digit)
    assert np.all(chain.delta == 0) and np.isnan(chain.decay)
    text = chain_reading(chain)
    assert "no gradient reaches row 28 (‖δ_28‖ = 0): nothing to measure" in text
    check_chain_reading(text, chain)


def test_training_decay_says_no_gradient_reached_the_row_instead_of_comparing_with_zero():
    x, y = digit_batch(load_sample()[1], 16, 0)
    silent = untrained_model(ModelConfig("rnn", 16), 0)
    with torch.no_grad():
        silent.head.weight.zero_()  # at "init": no gradient at all reaches row 28
    norms = {
        "init": bptt_profile(silent, x, y).dh_last_row[-1, 0],
        "final": bptt_profile(untrained_model(ModelConfig("rnn", 16), 1), x, y).dh_last_row[-1, 0],
    }
    assert np.median(norms["init"][:, -1]) == 0 and np.median(norms["final"][:, -1]) > 0
    old = (  # what the reading said: NaN shown as 0, then compared
        "Row 1 receives 0 of row 28's gradient at init and 10⁻¹ at final (batch medians, rounded to a power of ten): "
        "training shortened how far the gradient travels back for these digits."
    )
    with pytest.raises(AssertionError, match="shortened"):
        check_training_decay_reading(old, norms, 28)
    text = training_decay_reading(norms, 28)
    assert "no gradient reached row 28 at init (batch median 0)" in text
    assert "shortened" not in text and "lengthened" not in text and "Nothing to compare over training" in text
    check_training_decay_reading(text, norms, 28)


def test_training_decay_says_when_the_gradients_are_not_finite():
    norms = {"init": np.array([[1e-3, 1.0]]), "epoch 1": np.array([[np.inf, 1.0]]), "final": np.array([[np.nan, 1.0]])}
    text = training_decay_reading(norms, 28)
    assert "the gradients at final are not finite" in text and "shortened" not in text and "10⁻³" not in text
    check_training_decay_reading(text, norms, 28)
    one = training_decay_reading({"final": np.array([[1e-3, 1.0]])}, 28)
    assert one == "Row 1 receives 10⁻³ of row 28's gradient at final (batch medians)."
