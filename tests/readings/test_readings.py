"""The Watch page's sentences: each claim checked against the numbers (and equations against torch's modules)."""

from functools import cache

import numpy as np
import pytest
import torch
from claims import check_explain_caption, check_scan_reading

from explorer.analysis.explain import explain
from explorer.data.digits import load_sample
from explorer.model.checkpoint_file import read_checkpoint
from explorer.model.checkpoints import shipped_dir
from explorer.model.network import layer_weights
from explorer.model.unroll import trace
from explorer.readings.gradients import jacobian_caption
from explorer.readings.watch import explain_caption, gate_reading, saturation_caption, scan_reading, unit_caption

SHIPPED = ("rnn-128", "lstm-128", "gru-128", "bilstm-128", "lstm-2x128")


@cache
def shipped(name):
    return read_checkpoint(shipped_dir() / f"{name}.safetensors").model


@cache
def bundled_digit(i):
    test = load_sample()[1]
    return test.images[i].astype(np.float32) / 255.0, int(test.labels[i])


def guesses_by_prefix(model, image) -> list[int]:
    """Independent of the trace: the fused model run on rows 1..t, for every t."""
    x = torch.from_numpy(image)[None]
    with torch.no_grad():
        return [int(model(x[:, :t]).argmax()) for t in range(1, 29)]


@pytest.mark.parametrize("name", SHIPPED)
def test_prediction_path_and_settling_row_match_prefix_re_runs(name):
    image, _ = bundled_digit(8)
    cfg = shipped(name).config
    probs = trace(shipped(name), torch.from_numpy(image)[None]).probs[0]
    text = scan_reading(image, probs, cfg.bidirectional, cfg.num_layers)
    guesses = guesses_by_prefix(shipped(name), image)
    path = [guesses[0]] + [g for a, g in zip(guesses, guesses[1:]) if g != a]
    settled = 1 + max((t + 1 for t in range(28) if guesses[t] != guesses[-1]), default=0)
    assert f"Here the guess goes {' → '.join(map(str, path))} and settles at row {settled}." in text
    if name == "rnn-128":  # the README's example
        assert "2 → 5 → 7 → 1 → 2 → 5 and settles at row 21" in text


def test_blank_rows_are_counted_from_the_digit():
    image, _ = bundled_digit(8)
    first_ink = int(np.flatnonzero(image.max(axis=1) > 0)[0])
    probs = np.tile(np.eye(10)[3], (28, 1))
    text = scan_reading(image, probs, False, 1)
    assert f"Rows 1–{first_ink} carry no ink" in text and f"arrive at row {first_ink + 1}" in text
    assert "answers 3 from row 1 on and never changes its mind" in text
    assert f"That answer comes before the first ink (row {first_ink + 1}): the strokes never change it." in text
    probs[first_ink:, 3], probs[first_ink:, 5] = 0, 1  # the first ink row changes the answer: no such sentence
    text = scan_reading(image, probs, False, 1)
    assert f"settles at row {first_ink + 1}." in text and "before the first ink" not in text
    inked = image.copy()
    inked[0, 10] = 1.0
    assert "no ink" not in scan_reading(inked, probs, False, 1)
    assert "has no ink" in scan_reading(np.zeros((28, 28)), probs, False, 1)


def test_the_gate_equations_stated_are_what_torch_computes():
    """LSTM: c = f c + i g, h = o tanh(c); GRU: h = (1 - z) n + z h, n = tanh(W_in x + b_in + r (W_hn h + b_hn));
    RNN: h = tanh(W_ih x + b_ih + W_hh h + b_hh): recomputed from the weights and compared with the fused module."""
    image, _ = bundled_digit(3)
    x = torch.from_numpy(image)[None]
    for name in ("lstm-128", "gru-128", "rnn-128"):
        model = shipped(name)
        with torch.no_grad():
            out, _ = model.rnn(x)  # fused: the reference h
        h_ref = out[0].numpy()
        w_ih, b_ih, w_hh, b_hh = (w.detach().numpy() for w in layer_weights(model, 0, 0))
        s = trace(model, x).states[0][0]
        h_prev = np.vstack([np.zeros((1, 128)), h_ref[:-1]])
        if name == "lstm-128":
            c_prev = np.vstack([np.zeros((1, 128)), s["c"][0, :-1]])
            np.testing.assert_allclose(s["c"][0], s["f"][0] * c_prev + s["i"][0] * s["g"][0], atol=1e-5)
            np.testing.assert_allclose(h_ref, s["o"][0] * np.tanh(s["c"][0]), atol=1e-5)
            assert "cₜ = f ⊙ cₜ₋₁ + i ⊙ g" in gate_reading("lstm", False) and "hₜ = o ⊙ tanh(cₜ)" in gate_reading(
                "lstm", False
            )
        elif name == "gru-128":
            W_in, b_in, W_hn, b_hn = w_ih[256:], b_ih[256:], w_hh[256:], b_hh[256:]
            n = np.tanh(image @ W_in.T + b_in + s["r"][0] * (h_prev @ W_hn.T + b_hn))
            np.testing.assert_allclose(n, s["n"][0], atol=1e-5)
            np.testing.assert_allclose(h_ref, (1 - s["z"][0]) * n + s["z"][0] * h_prev, atol=1e-5)
            assert "n = tanh(W_in xₜ + b_in + r ⊙ (W_hn hₜ₋₁ + b_hn))" in gate_reading("gru", False)
        else:
            np.testing.assert_allclose(h_ref, np.tanh(image @ w_ih.T + b_ih + h_prev @ w_hh.T + b_hh), atol=1e-5)
            assert "hₜ = tanh(W_ih xₜ + b_ih + W_hh hₜ₋₁ + b_hh)" in gate_reading("rnn", False)


def test_what_each_row_and_the_classifier_read():
    lstm = gate_reading("lstm", False)
    assert "The next row reads both h and c" in lstm and "the classifier reads only h after the last row" in lstm
    assert "backward h after row 1" in gate_reading("lstm", True)
    assert "no cell state" in gate_reading("gru", False) and "forget" not in gate_reading("gru", False)


def test_rnn_saturation_sentence_is_measured():
    image, _ = bundled_digit(8)
    h = trace(shipped("rnn-128"), torch.from_numpy(image)[None]).get(0, 0, "h")[0]
    text = gate_reading("rnn", False, h)
    assert f"On this digit {np.mean(np.abs(h) > 0.9):.0%} of the values of h are beyond ±0.9" in text
    assert 1 - 0.9**2 < 0.19 + 1e-12  # tanh'(x) = 1 - tanh(x)^2 at |tanh| = 0.9


@pytest.mark.parametrize("kind", ("rnn", "gru", "lstm", "mingru", "minlstm"))
def test_unit_inspector_caption_names_only_the_cells_own_parts(kind):
    text = unit_caption(kind)
    assert ("forget gate" in text) == (kind in ("lstm", "minlstm")) and ("cell c" in text) == (kind == "lstm")
    assert ("update gate z" in text) == (kind in ("gru", "mingru"))
    assert ("no gates" in text) == (kind == "rnn") and ("no W_hh" in text) == kind.startswith("min")


@pytest.mark.parametrize("name", ("mingru-128", "minlstm-128"))
def test_the_min_cells_equations_stated_are_what_they_compute(name):
    """minGRU: h = (1 - z) h_prev + z n; minLSTM: h = f/(f + i) h_prev + i/(f + i) g; the gates from the row alone
    through σ and pos: recomputed in NumPy from the weights and held to the module's own (scan) output."""
    image, _ = bundled_digit(3)
    x = torch.from_numpy(image)[None]
    model = shipped(name)
    with torch.no_grad():
        h_ref = model.rnn(x)[0][0].double().numpy()  # the parallel scan: not the trace's loop
    w_ih, b_ih, w_hh, b_hh = layer_weights(model, 0, 0)
    assert w_hh is None and b_hh is None
    pre = image.astype(np.float64) @ w_ih.detach().double().numpy().T + b_ih.detach().double().numpy()
    sigmoid = 1 / (1 + np.exp(-pre))
    pos = np.where(pre >= 0, pre + 0.5, sigmoid)
    h_prev = np.vstack([np.zeros((1, 128)), h_ref[:-1]])
    text = gate_reading(model.config.kind, False, h_ref)
    if name == "mingru-128":
        z, n = sigmoid[:, :128], pos[:, 128:]
        np.testing.assert_allclose(h_ref, (1 - z) * h_prev + z * n, atol=1e-5)
        assert "z = σ(W_iz xₜ + b_iz)" in text and "n = pos(W_in xₜ + b_in)" in text
        assert "hₜ = (1 − z) ⊙ hₜ₋₁ + z ⊙ n" in text
    else:
        f, i, g = sigmoid[:, :128], sigmoid[:, 128:256], pos[:, 256:]
        np.testing.assert_allclose(h_ref, f / (f + i) * h_prev + i / (f + i) * g, atol=1e-5)
        assert "f = σ(W_if xₜ + b_if)" in text and "g = pos(W_ig xₜ + b_ig)" in text
        assert "hₜ = f/(f + i) ⊙ hₜ₋₁ + i/(f + i) ⊙ g" in text
    assert np.all(h_ref >= 0) and "never negative" in text and f"h goes up to {h_ref.max():.2f}." in text


def test_captions_for_the_state_jacobian_and_saturation():
    assert "(h_t, c_t)" in jacobian_caption({"lstm", "rnn"}, 32) and "first 32 digits" in jacobian_caption({"rnn"}, 32)
    assert "(h_t, c_t)" not in jacobian_caption({"gru"}, 32)
    assert "1,000 test digits" in saturation_caption(1000)


def blank_trace(model, sequence: np.ndarray):
    """The model's trace on an all-zero sequence as long as this one: what biases and states alone make."""
    return trace(model, torch.zeros(1, *sequence.shape))


@pytest.mark.parametrize("name", ["bilstm-128", "lstm-2x128"])
def test_blank_top_rows_are_zero_input_only_for_layer_one_and_unmoved_only_going_forward(name):
    model = shipped(name)
    cfg = model.config
    image, _ = bundled_digit(8)
    tr, blank = trace(model, torch.from_numpy(image)[None]), blank_trace(model, image)
    rows = int(np.flatnonzero(image.max(axis=1) > 0)[0])  # 7 blank rows
    old = (  # what the reading said for every model
        f"Rows 1–{rows} carry no ink: there each step sees a zero input, so only its biases and its own state move "
        f"it, until the strokes arrive at row {rows + 1}. "
    )
    with pytest.raises(AssertionError, match="zero input"):
        check_scan_reading(old, image, tr, blank, cfg.bidirectional, cfg.num_layers)
    if cfg.bidirectional:  # the backward direction has read every stroke by row 1: not what a blank digit gives
        assert np.abs(tr.get(0, 1, "h")[0, 0] - blank.get(0, 1, "h")[0, 0]).max() > 1
    else:  # layer 2 reads layer 1's h, which biases alone make nonzero
        assert np.abs(tr.get(0, 0, "h")[0, :rows]).max() > 0.1
    text = scan_reading(image, tr.probs[0], cfg.bidirectional, cfg.num_layers)
    assert f"Rows 1–{rows} carry no ink: there layer 1 reads a zero input" in text
    if cfg.bidirectional:
        assert "Layer 1's forward direction is moved only by its biases and its own state" in text
        assert "the backward direction reads bottom to top and has read every stroke before it gets there" in text
    else:
        assert "each layer above reads the h of the layer below, so only the biases and the states move" in text
    check_scan_reading(text, image, tr, blank, cfg.bidirectional, cfg.num_layers)


def test_a_first_step_keeps_its_input_part_above_layer_one_and_on_an_inked_row():
    model = shipped("lstm-2x128")
    image, _ = bundled_digit(8)
    tr = trace(model, torch.from_numpy(image)[None])
    upper = explain(model, tr, image, 1, 0, 3, 0)  # layer 2, row 1: reads layer 1's h
    assert upper.first_step and abs(upper.terms["i"].input_part) > 0.01
    old = (  # what the caption said at every first step
        explain_caption(upper).split(" This is")[0] + " This is the direction's first step: the state it reads is "
        "the zero initial state, so every recurrent part is 0 and only the biases remain."
    )
    with pytest.raises(AssertionError, match="input 0"):
        check_explain_caption(old, upper)
    text = explain_caption(upper)
    assert "every recurrent part W_hh · h is 0; the input part and the biases remain." in text
    check_explain_caption(text, upper)
    lower = explain(model, tr, image, 0, 0, 3, 0)  # layer 1, a blank row 1
    assert "only the biases remain" in explain_caption(lower)
    check_explain_caption(explain_caption(lower), lower)
    inked = image.copy()
    inked[0, 10:14] = 1.0  # ink in row 1: layer 1 reads it at its first step
    e = explain(model, trace(model, torch.from_numpy(inked)[None]), inked, 0, 0, 3, 0)
    assert "the input part and the biases remain" in explain_caption(e)
    check_explain_caption(explain_caption(e), e)
