"""Figures and readings of the Gradients/Truncation pages, and the engine helpers behind them (init knobs,
batches, quantiles, clipping, the gradient check on a given model), each against an independent computation."""

import base64
import json

import numpy as np
import plotly.io
import pytest
import torch

from explorer.analysis.gradients import (
    Profile,
    batch_quantiles,
    bptt_profile,
    clip_scale,
    clipping_rows,
    digit_batch,
    first_to_last_ratio,
)
from explorer.data.digits import Digits
from explorer.figures.gradients import (
    UNTRAINED,
    chain_figure,
    forget_product_figure,
    norms_figure,
    saliency_digit_figure,
)
from explorer.figures.truncation import accuracy_vs_k_figure, learning_curves_figure, relative_log10, rows_by_k_figure
from explorer.model.config import ModelConfig
from explorer.model.network import SequenceClassifier, init_weights, spectral_radius, untrained_model
from explorer.readings.gradients import decay_reading, decay_verdict, power_of_ten

T = 28
rng = np.random.default_rng(0)


def spec(fig) -> dict:
    """The JSON Streamlit sends to the browser."""
    return json.loads(plotly.io.to_json(fig))


def arr(value) -> np.ndarray:
    """A trace's data as an array: plain JSON lists, or Plotly's typed arrays {dtype, bdata, shape}."""
    if isinstance(value, dict):
        shape = [int(n) for n in str(value.get("shape", "-1")).split(",")]
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).reshape(shape)
    return np.array(value, dtype=float)


# ---- init knobs ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("layers,bidir", [(1, False), (2, True)])
def test_forget_bias_sets_the_total_forget_gate_bias_only(layers, bidir):
    cfg = ModelConfig(kind="lstm", hidden_size=6, num_layers=layers, bidirectional=bidir)
    before = untrained_model(cfg)
    after = untrained_model(cfg, forget_bias=1.0)
    H = 6
    for name, p in after.rnn.named_parameters():
        q = dict(before.rnn.named_parameters())[name]
        if name.startswith("bias_ih"):
            assert torch.all(p[H : 2 * H] == 1.0)
        elif name.startswith("bias_hh"):
            assert torch.all(p[H : 2 * H] == 0.0)
        else:
            assert torch.equal(p, q), name
        if name.startswith("bias"):  # the i, g and o gates keep PyTorch's init
            assert torch.equal(torch.cat([p[:H], p[2 * H :]]), torch.cat([q[:H], q[2 * H :]]))
    # The forget gate of a fresh LSTM with zero state then opens to sigmoid(1 + W_if x) on average.
    assert torch.equal(
        untrained_model(ModelConfig(kind="gru", hidden_size=6), forget_bias=1.0).rnn.bias_ih_l0,
        untrained_model(ModelConfig(kind="gru", hidden_size=6)).rnn.bias_ih_l0,
    )


@pytest.mark.parametrize("kind", ("rnn", "lstm", "gru"))
@pytest.mark.parametrize("scale", (0.5, 1.0, 2.0))
def test_recurrent_scale_sets_every_gate_blocks_spectral_radius(kind, scale):
    model = untrained_model(ModelConfig(kind=kind, hidden_size=8, num_layers=2), recurrent_scale=scale)
    for name, w in model.rnn.named_parameters():
        if name.startswith("weight_hh"):
            for block in w.detach().numpy().reshape(-1, 8, 8):
                assert np.abs(np.linalg.eigvals(block.astype(np.float64))).max() == pytest.approx(scale, rel=1e-5)
    assert spectral_radius(torch.diag(torch.tensor([0.5, -3.0]))) == pytest.approx(3.0)


def test_untrained_model_is_reproducible_and_leaves_the_global_rng_alone():
    cfg = ModelConfig(kind="lstm", hidden_size=8)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a, b = untrained_model(cfg, seed=4), untrained_model(cfg, seed=4)
    assert torch.equal(torch.rand(3), expected)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters())) and not a.training
    torch.manual_seed(4)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), SequenceClassifier(cfg).parameters()))
    assert init_weights(a) is a  # nothing asked, nothing changed


def test_recurrent_scale_moves_a_tanh_rnn_from_vanishing_to_exploding():
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(32, T, 28, generator=g), torch.randint(0, 10, (32,), generator=g)
    ratio = {
        s: first_to_last_ratio(
            bptt_profile(untrained_model(ModelConfig(kind="rnn", hidden_size=64), recurrent_scale=s), x, y).dh[0, 0]
        )
        for s in (0.5, 3.0)
    }
    assert ratio[0.5] < 1e-4 and ratio[3.0] > 1e2


# ---- batches, quantiles, readings, clipping --------------------------------------------------------------------


def test_digit_batch_is_a_fixed_sample_without_replacement():
    images = rng.integers(0, 256, (50, 28, 28), dtype=np.uint8)
    digits = Digits(images, rng.integers(0, 10, 50))
    x, y = digit_batch(digits, 20, seed=3)
    x2, _ = digit_batch(digits, 20, seed=3)
    assert x.shape == (20, 28, 28) and y.shape == (20,) and torch.equal(x, x2)
    found = [int(np.flatnonzero((images == np.round(xi.numpy() * 255)).all(axis=(1, 2)))[0]) for xi in x]
    assert len(set(found)) == 20 and [digits.labels[i] for i in found] == y.tolist()
    assert not torch.equal(digit_batch(digits, 20, seed=4)[0], x)
    for bad in (0, 51):
        with pytest.raises(ValueError):
            digit_batch(digits, bad)


def test_quantiles_and_ratio_by_hand():
    norms = np.array([[1.0, 10.0], [3.0, 30.0], [2.0, 20.0], [4.0, 40.0], [5.0, 50.0]])
    q = batch_quantiles(norms, (0.0, 0.5, 1.0))
    np.testing.assert_array_equal(q, [[1, 10], [3, 30], [5, 50]])
    assert batch_quantiles(norms, (0.25,))[0, 0] == 2.0  # numpy's linear interpolation: 1 + 0.25 * 4 -> 2nd value
    assert first_to_last_ratio(norms) == pytest.approx(0.1)
    assert np.isnan(first_to_last_ratio(np.array([[1.0, 0.0]])))


def test_power_of_ten_and_decay_reading():
    assert [power_of_ten(v) for v in (3.2e-6, 1e-6, 0.05, 1.0, 250.0, 0.0)] == [
        "10⁻⁵",
        "10⁻⁶",
        "10⁻¹",
        "10⁰",
        "10²",
        "0",
    ]
    text = decay_reading({"rnn-128": 2e-6, "lstm-128": 0.08, "rnn" + UNTRAINED: 5e3, "cut": float("nan")}, T, "last")
    assert "rnn-128 10⁻⁶ (vanishing)" in text and "lstm-128 10⁻¹," in text
    assert "rnn (untrained) 10⁴ (exploding)" in text and "cut: no gradient at row 28" in text
    assert "‖∂L/∂h_1‖ / ‖∂L/∂h_28‖" in text and "every row" not in text
    every = decay_reading({"lstm-128": 0.08}, T, "every")
    assert "‖∂ℓ_28/∂h_1‖ / ‖∂ℓ_28/∂h_28‖" in every and "own row's loss" in every


@pytest.mark.parametrize("ratio", np.logspace(-9, 5, 141))
def test_verdict_agrees_with_the_rounding_shown(ratio):
    """The same displayed power of ten always gets the same verdict (once 10⁻² showed with and without one)."""
    shown = power_of_ten(ratio)
    exponent = int(shown[2:].translate(str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")))
    assert decay_verdict(ratio) == ("vanishing" if exponent <= -2 else "exploding" if exponent >= 2 else "")
    for near in (ratio * 0.999, ratio * 1.001):
        if power_of_ten(near) == shown:
            assert decay_verdict(near) == decay_verdict(ratio)


def test_clip_scale_matches_torch_clip_grad_norm():
    for norm_target, max_norm in ((5.0, 1.0), (0.3, 1.0), (2.0, 2.0), (1e4, 0.5)):
        p = torch.nn.Parameter(torch.zeros(10))
        p.grad = torch.randn(10)
        p.grad *= norm_target / p.grad.norm()
        before = p.grad.clone()
        total = torch.nn.utils.clip_grad_norm_([p], max_norm)
        assert clip_scale(float(total), max_norm) == pytest.approx(float(p.grad.norm() / before.norm()), rel=1e-6)
    assert clip_scale(123.0, None) == 1.0


def test_clipping_rows():
    prof = Profile(ModelConfig(), "last", T, 0.7, None, None, None, None, 4.0, None)
    (row,) = clipping_rows({"m": prof}, 1.0)
    assert row.pop("model") == "m"  # pytest.approx compares numbers only (pytest 9.2 refuses strings)
    assert row == pytest.approx(
        {"loss": 0.7, "norm before clipping": 4.0, "norm after clipping": 1.0, "factor": 0.25}, rel=1e-6
    )
    assert clipping_rows({"m": prof}, None)[0]["norm after clipping"] == 4.0


# ---- figures ---------------------------------------------------------------------------------------------------


def test_norms_figure_draws_batch_median_and_band_per_panel():
    a, b, c = rng.lognormal(size=(9, T)), rng.lognormal(size=(9, T)), rng.lognormal(size=T)
    fig = spec(norms_figure({"h": {"lstm": a, "lstm" + UNTRAINED: b}, "w": {"lstm": c}}))
    lines = [t for t in fig["data"] if not t["name"].endswith(" band")]
    bands = [t for t in fig["data"] if t["name"].endswith(" band")]
    assert [t["name"] for t in lines] == ["lstm", "lstm (untrained)", "lstm"]
    np.testing.assert_allclose(arr(lines[0]["y"]), [np.median(a[:, t]) for t in range(T)])
    np.testing.assert_allclose(arr(lines[2]["y"]), c)
    np.testing.assert_allclose(arr(lines[0]["x"]), np.arange(1, T + 1))
    hi, lo = np.percentile(a, 90, axis=0), np.percentile(a, 10, axis=0)
    np.testing.assert_allclose(arr(bands[0]["y"]), np.r_[hi, lo[::-1]])
    assert lines[0]["line"]["color"] == lines[1]["line"]["color"] and lines[1]["line"]["dash"] == "dot"
    assert fig["layout"]["yaxis"]["type"] == fig["layout"]["yaxis2"]["type"] == "log"
    assert [ann["text"] for ann in fig["layout"]["annotations"]] == ["h", "w"]
    assert [t["showlegend"] for t in lines] == [True, True, False]


def test_four_panels_make_a_two_by_two_grid():
    a = rng.lognormal(size=(5, T))
    fig = spec(norms_figure({name: {"m": a} for name in "abcd"}))
    x, y = fig["layout"]["xaxis"]["domain"], fig["layout"]["yaxis"]["domain"]
    x4, y4 = fig["layout"]["xaxis4"]["domain"], fig["layout"]["yaxis4"]["domain"]
    assert x[0] == 0 and x4[1] == pytest.approx(1) and y[0] > y4[1]  # a: top left, d: bottom right
    assert [t["xaxis"] for t in fig["data"] if t["name"] == "m"] == ["x", "x2", "x3", "x4"]


def test_saliency_digit_figure_tints_rows_relative_to_each_models_max():
    image = rng.random((28, 28))
    s1, s2 = rng.lognormal(size=T), rng.lognormal(size=T) * 1e-6
    fig = spec(saliency_digit_figure(image, {"rnn": s1, "lstm": s2}))
    tint = [t for t in fig["data"] if t["name"] != "digit"]
    digits = [t for t in fig["data"] if t["name"] == "digit"]
    assert len(tint) == len(digits) == 2
    for trace, s in zip(tint, (s1, s2)):
        z = arr(trace["z"])
        np.testing.assert_allclose(z[:, 0], np.log10(s / s.max()))
        assert np.all(z == z[:, :1]) and trace["zmax"] == 0
        np.testing.assert_allclose(arr(trace["customdata"])[:, 5], s)
    assert (
        tint[0]["zmin"]
        == tint[1]["zmin"]
        == pytest.approx(min(np.log10(s1 / s1.max()).min(), np.log10(s2 / s2.max()).min(), -1))
    )
    np.testing.assert_allclose(arr(digits[0]["z"]), image)


def test_rows_by_k_figure_leaves_exact_zeros_blank():
    values = np.array([[0.0] * 27 + [2.0], [0.0] * 24 + [1e-3, 1e-2, 1e-1, 1.0]])
    assert np.isnan(relative_log10(values)[0, :27]).all()
    np.testing.assert_allclose(relative_log10(values)[1, 24:], [-3, -2, -1, 0])
    figure = spec(rows_by_k_figure(["k = 1", "k = 4"], values, "t"))
    trace, spec_layout = figure["data"][0], figure["layout"]
    z = arr(trace["z"])
    assert np.isnan(z[0, :27]).all() and z[0, 27] == 0.0 and np.isnan(z[1, :24]).all()
    np.testing.assert_allclose(z[1, 24:], [-3, -2, -1, 0])
    np.testing.assert_array_equal(arr(trace["customdata"]), values)
    assert "text" not in trace and "texttemplate" not in trace  # no tiny repeated "0"s in the grey cells
    assert trace["hoverongaps"] is True and spec_layout["plot_bgcolor"] == "#e8e8e8"
    assert trace["y"] == ["k = 1", "k = 4"]


def test_accuracy_and_learning_curve_figures():
    fig = spec(accuracy_vs_k_figure({"LSTM, TBPTT(k, k)": {1: [0.5], 7: [0.8], None: [0.95]}}, T=28))
    assert len(fig["data"]) == 1 and fig["data"][0]["name"] == "LSTM, TBPTT(k, k)"
    np.testing.assert_allclose(arr(fig["data"][0]["y"]), [50, 80, 95])
    np.testing.assert_array_equal(arr(fig["data"][0]["x"]), [1, 7, 28])  # full BPTT drawn at k = T
    assert fig["layout"]["xaxis"]["type"] == "log" and fig["layout"]["xaxis"]["ticktext"][-1] == "28 (full)"
    assert not fig["data"][0]["error_y"]["visible"]
    hist = {"epoch": [1, 2], "test_accuracy": [0.4, 0.6], "loss": [2.0, 1.5]}
    fig = spec(learning_curves_figure({(1, 0): hist, (28, 0): hist | {"test_accuracy": [0.7, 0.9]}}, full_at=28))
    assert [t["name"] for t in fig["data"]] == ["k = 1", "k = 1", "full BPTT", "full BPTT"]
    np.testing.assert_allclose(arr(fig["data"][2]["y"]), [70, 90])
    np.testing.assert_allclose(arr(fig["data"][3]["y"]), [2.0, 1.5])


def test_several_seeds_show_each_point_and_the_mean_with_its_spread():
    arms = {
        "GRU, TBPTT(k, k)": {1: [0.5, 0.6, 0.55], None: [0.9, 0.92, 0.91]},
        "GRU, full BPTT, W_ih frozen": {None: [0.8, 0.7, 0.75]},
    }
    seeds, mean, _, frozen = spec(accuracy_vs_k_figure(arms, T=48))["data"]
    np.testing.assert_allclose(arr(seeds["y"]), [50, 60, 55, 90, 92, 91])
    np.testing.assert_array_equal(arr(seeds["x"]), [1, 1, 1, 48, 48, 48])
    np.testing.assert_allclose(arr(mean["y"]), [55, 91])
    np.testing.assert_allclose(
        arr(mean["error_y"]["array"]), [np.std([50, 60, 55], ddof=1), np.std([90, 92, 91], ddof=1)]
    )
    assert mean["mode"] == "lines+markers" and frozen["mode"] == "markers" and frozen["marker"]["symbol"] == "x"
    assert mean["line"]["color"] == frozen["marker"]["color"]  # one colour per cell
    hist = {"epoch": [1], "test_accuracy": [0.4], "loss": [2.0]}
    fig = spec(learning_curves_figure({(1, 0): hist, (1, 1): hist, (28, 0): hist}))
    assert [t["showlegend"] for t in fig["data"][::2]] == [True, False, True]


def test_norms_figure_leaves_exact_zeros_as_gaps_on_the_log_axis():
    dh = np.ones((4, T))
    dh[:, :20] = 0.0  # truncated: no gradient before row 21
    line = next(t for t in spec(norms_figure({"h": {"m": dh}}))["data"] if t["name"] == "m")
    y = arr(line["y"])
    assert np.isnan(y[:20]).all() and np.all(y[20:] == 1.0)


def test_norms_figure_log_axes_are_labelled_without_crowding():
    """Plotly labels every digit 1-9 over a decade or two, crammed in a short chart: such panels get 1, 2, 5;
    a few decades get each power of ten."""
    rows = np.arange(1, T + 1, dtype=float)
    short = {"m": np.r_[0.0, 0.004 * rows[1:] ** 0.9], "n": 0.01 + 0.001 * rows}  # 0.008 .. 0.08, a zero at row 1
    middle = {"m": 10.0 ** (-rows / 4)}  # 6.75 decades: each power of ten
    wide = {"m": 10.0**-rows / 4}  # 27 decades: plotly's own choice
    layout = spec(norms_figure({"short": short, "middle": middle, "wide": wide}))["layout"]
    assert [layout[f"yaxis{n}"]["type"] for n in ("", "2", "3")] == ["log"] * 3
    assert layout["yaxis"]["dtick"] == "D2" and layout["yaxis2"]["dtick"] == 1 and "dtick" not in layout["yaxis3"]


def test_chain_and_forget_product_figures():
    from explorer.analysis.chain import Chain

    T = 5
    nan_row = np.full((1, 2), np.nan)
    singular = np.vstack([nan_row, np.array([[2.0, 1.0]] * (T - 1))])
    chain = Chain(
        "rnn",
        0,
        singular,
        singular[:, 0],
        np.linspace(0.1, 1, T),
        2.0 ** np.arange(T)[::-1],
        np.arange(1.0, T + 1),
        np.arange(1.0, T + 1),
        None,
        3.0,
        1.0,
        np.vstack([np.ones(T), np.arange(1.0, T + 1)]),
    )
    fig = spec(chain_figure(chain))
    names = [t["name"] for t in fig["data"]]
    assert names[:2] == ["σ_2", "σ₁ (the norm ‖J_t‖₂)"] and "‖δ_t‖ of layer 2" in names
    np.testing.assert_allclose(arr(fig["data"][1]["y"])[1:], 2.0)
    lines = [s["y0"] for s in fig["layout"]["shapes"]]
    assert 3.0 in lines and 1.0 in lines  # σ_max(W_hh) and Pascanu's 1/γ
    product = np.array([[0.5, 1.0], [1e-3, 1.0], [0.9, 1.0], [0.0, 1.0]])
    heat = spec(forget_product_figure(product, layers=2))
    np.testing.assert_allclose(arr(heat["data"][0]["z"])[:3, 0], np.log10([0.5, 1e-3, 0.9]))
    assert arr(heat["data"][0]["z"])[3, 0] == -12  # an exact 0 is clipped, not -inf
    assert heat["data"][0]["text"][2][0] == "layer 2, unit 0" and len(heat["layout"]["shapes"]) == 1
    assert heat["data"][0]["colorbar"]["title"]["text"] == "log₁₀ ∏ f"
    keep = spec(forget_product_figure(product, share="(1 − z)"))["data"][0]
    assert keep["colorbar"]["title"]["text"] == "log₁₀ ∏ (1 − z)" and "∏ (1 − z) = " in keep["hovertemplate"]
