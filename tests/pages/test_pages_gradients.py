"""AppTest of the Gradients and Truncation pages: no exceptions, plotted values are the engine's, sweeps run, Stop."""

import base64
import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from explorer import ui
from explorer.analysis.bias import gradient_bias
from explorer.analysis.chain import bptt_chain
from explorer.analysis.gradcheck import gradient_check
from explorer.analysis.gradients import bptt_profile, clip_scale, digit_batch, first_to_last_ratio, state_jacobian
from explorer.data.digits import load_sample
from explorer.experiments.results import accuracy_by_k, profile_batch
from explorer.experiments.runner import saliency_rows
from explorer.experiments.spec import FULL
from explorer.experiments.storage import SUMMARY, load_sweep, shipped_sweep_dir
from explorer.model.checkpoint_file import read_checkpoint
from explorer.model.checkpoints import shipped_dir
from explorer.model.network import untrained_model
from explorer.model.snapshots import points
from explorer.readings.formulas import bptt_equations
from explorer.readings.gradients import (
    chain_reading,
    decay_reading,
    decay_verdict,
    forget_reading,
    no_chrono,
    no_recurrent_weights,
    training_decay_reading,
)
from explorer.readings.models import point_note
from explorer.readings.sweep import sweep_findings, sweep_headline, sweep_table
from explorer.serving.budget import digits_for

T = 28


def arr(value) -> np.ndarray:
    """A trace's data as an array: plain JSON lists, or Plotly's typed arrays {dtype, bdata, shape}."""
    if isinstance(value, dict):
        shape = [int(n) for n in str(value.get("shape", "-1")).split(",")]
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).reshape(shape)
    return np.array(value, dtype=float)


def open_page(name: str) -> AppTest:
    at = AppTest.from_file("../../explorer/app.py", default_timeout=60)
    at.run()
    at.switch_page(f"../pages/{name}.py")
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at


def charts(at) -> dict:
    """Plotly specs by the key the page gave each chart."""
    return {c.proto.id.rsplit("-", 1)[-1]: json.loads(c.proto.spec) for c in at.get("plotly_chart")}


def lines(spec: dict, panel: int = 1) -> dict:
    """Median lines (not bands) of one subplot panel, by model label."""
    axis = "x" if panel == 1 else f"x{panel}"
    return {t["name"]: arr(t["y"]) for t in spec["data"] if not t["name"].endswith(" band") and t["xaxis"] == axis}


@pytest.fixture(scope="module")
def test_digits():
    return load_sample()[1]


def shipped(name):
    return read_checkpoint(shipped_dir() / f"{name}.safetensors").model


# ---- Gradients through time -----------------------------------------------------------------------------------


def test_gradients_page_plots_the_engines_numbers(test_digits):
    at = open_page("gradients")
    at.select_slider[0].set_value(64)  # batch size: small keeps the test fast
    at.run()
    assert not at.exception
    x, y = digit_batch(test_digits, 64, 0)
    profs = {n: bptt_profile(shipped(n), x, y) for n in ("rnn-128", "lstm-128")}
    specs = charts(at)
    dh, dc, dx = (lines(specs["profile"], p) for p in (1, 2, 3))
    assert set(dh) == {"rnn-128", "lstm-128"} and set(dc) == {"lstm-128"}
    for name, p in profs.items():
        np.testing.assert_allclose(dh[name], np.median(p.dh[-1, 0], axis=0), rtol=1e-5)
        np.testing.assert_allclose(dx[name], np.median(p.dx, axis=0), rtol=1e-5)
        dw = p.dw_hh[-1, 0]
        assert dw[0] == 0.0 and np.isnan(lines(specs["dw_hh"])[name][0])  # row 1 reads h_0 = 0: a gap, not a point
        np.testing.assert_allclose(lines(specs["dw_hh"])[name][1:], dw[1:], rtol=1e-5)
    np.testing.assert_allclose(dc["lstm-128"], np.median(profs["lstm-128"].dc[-1, 0], axis=0), rtol=1e-5)
    for name in profs:  # the whole state: (h_t, c_t) for the LSTM, on as many digits as the budget allows
        n = digits_for("jacobian", shipped(name).config, ui.JACOBIAN_DIGITS)
        jac = state_jacobian(shipped(name), x[:n]).full[0]
        np.testing.assert_allclose(lines(specs["jacobian"])[name], np.median(jac, axis=0), rtol=1e-4)
    reading = decay_reading({n: first_to_last_ratio(p.dh[-1, 0]) for n, p in profs.items()}, T, "last")
    assert any(reading in m.value for m in at.markdown)
    assert any("(h_t, c_t)" in c.value for c in at.caption)
    table = at.dataframe[0].value
    assert list(table["model"]) == ["rnn-128", "lstm-128"]
    np.testing.assert_allclose(table["norm before clipping"], [profs[n].grad_norm for n in table["model"]], rtol=1e-5)


def untrained_copies_of(name: str):
    """The Gradients page on one model and 32 digits, with its untrained copy added."""
    at = open_page("gradients")
    at.multiselect[0].set_value([name])
    at.select_slider[0].set_value(32)
    at.toggle[0].set_value(True)
    return at.run()


def test_init_knobs_add_untrained_copies_and_clipping_reports_the_factor(test_digits):
    at = untrained_copies_of("rnn-128")
    at.select_slider[2].set_value(3.0)  # recurrent scale: a tanh RNN explodes
    at.number_input[1].set_value(1.0)
    at.run()
    assert not at.exception
    fresh = untrained_model(read_checkpoint(shipped_dir() / "rnn-128.safetensors").config, 0, None, 3.0)
    prof = bptt_profile(fresh, *digit_batch(test_digits, 32, 0))
    dh = lines(charts(at)["profile"])
    assert set(dh) == {"rnn-128", "rnn-128 (untrained)"}
    np.testing.assert_allclose(dh["rnn-128 (untrained)"], np.median(prof.dh[-1, 0], axis=0), rtol=1e-5)
    assert first_to_last_ratio(prof.dh[-1, 0]) > 1e2 and any("(exploding)" in m.value for m in at.markdown)
    row = at.dataframe[0].value.set_index("model").loc["rnn-128 (untrained)"]
    assert row["norm before clipping"] == pytest.approx(prof.grad_norm, rel=1e-5) and prof.grad_norm > 1
    assert row["factor"] == pytest.approx(clip_scale(prof.grad_norm, 1.0), rel=1e-5)
    assert row["norm after clipping"] == pytest.approx(1.0, rel=1e-5)


@pytest.mark.parametrize("loss_at", ("last", "every"))
@pytest.mark.parametrize("fresh", (False, True))
def test_the_reading_holds_for_both_loss_placements_trained_and_untrained(test_digits, loss_at, fresh):
    """Like for like: the last row's loss alone, so a confident trained model never reads as 'exploding' when
    every row carries its own loss; and the verdict always agrees with the power of ten shown."""
    at = open_page("gradients")
    at.multiselect[0].set_value(["rnn-128", "lstm-128", "bilstm-128"])
    at.select_slider[0].set_value(64)
    at.radio[0].set_value(loss_at)
    at.toggle[0].set_value(fresh)
    at.run()
    assert not at.exception
    x, y = digit_batch(test_digits, 64, 0)
    names = ["rnn-128", "lstm-128", "bilstm-128"]
    models = {n: shipped(n) for n in names} | (
        {n + " (untrained)": untrained_model(shipped(n).config, 0) for n in names} if fresh else {}
    )
    ratios = {}
    for label, model in models.items():
        last_only = bptt_profile(model, x, y, loss_at).dh_last_row[-1, 0]
        if loss_at == "last":
            np.testing.assert_array_equal(last_only, bptt_profile(model, x, y, "last").dh[-1, 0])
        elif model.config.bidirectional:  # the last row's output sees backward h after row 28 only
            assert not np.allclose(last_only, bptt_profile(model, x, y, "last").dh[-1, 0], rtol=1e-3)
        else:  # unidirectional: the loss after the last row is the classifier's loss
            np.testing.assert_allclose(last_only, bptt_profile(model, x, y, "last").dh[-1, 0], rtol=1e-4, atol=1e-12)
        ratios[label] = first_to_last_ratio(last_only)
    reading = next(m.value for m in at.markdown if m.value.startswith("**Reading:**"))
    assert decay_reading(ratios, T, loss_at) in reading
    assert "(exploding)" not in reading  # no model here explodes under either placement
    assert decay_verdict(ratios["rnn-128"]) == "vanishing" or ratios["rnn-128"] > 10**-1.5
    if loss_at == "every":
        assert "‖∂ℓ_28/∂h_t‖ (the loss after row 28 alone)" in [
            a["text"] for a in charts(at)["profile"]["layout"]["annotations"]
        ]
        every_total = {
            n: first_to_last_ratio(bptt_profile(m, x, y, "every").dh[-1, 0])
            for n, m in models.items()
            if n in ("rnn-128", "lstm-128")
        }
        assert max(every_total.values()) > 1e2  # what the old reading called "exploding"


def test_gradient_check_expander(test_digits):
    at = open_page("gradients")
    at.select_slider[0].set_value(16)
    at.run()
    at.toggle[1].set_value(True)
    at.run()
    assert not at.exception
    table = at.dataframe[1].value
    x, y = digit_batch(test_digits, 16, 0)
    expected = gradient_check(shipped("rnn-128"), x[:4], y[:4])
    np.testing.assert_allclose(table["analytic (BPTT)"], [c.analytic for c in expected.checks])
    assert len(table) == len(expected.checks) and table["relative error"].max() < 1e-6
    assert any(s.value.startswith("PASS: the largest relative error") for s in at.success)
    at.selectbox(key="check_model").set_value("lstm-128")  # another model's check: no backward direction
    at.run()
    assert not at.exception and at.selectbox(key="check_direction_lstm-128").disabled


def test_gradient_check_expander_on_a_bilstms_backward_direction(test_digits):
    at = open_page("gradients")
    at.multiselect[0].set_value(["bilstm-128", "lstm-2x128"])
    at.select_slider[0].set_value(16)
    at.run()
    at.selectbox(key="check_model").set_value("bilstm-128")
    at.run()
    at.selectbox(key="check_direction_bilstm-128").set_value(1)
    at.toggle[1].set_value(True)
    at.run()
    assert not at.exception and any(s.value.startswith("PASS") for s in at.success)
    assert all(w.endswith("backward") for w in at.dataframe[1].value["where"] if w.startswith("row") and "," in w)


def test_the_bptt_chain_section_draws_the_engines_chain(test_digits):
    at = open_page("gradients")
    at.select_slider[0].set_value(16)
    at.multiselect[0].set_value(["rnn-128", "bilstm-128", "lstm-2x128"])
    at.run()
    at.number_input(key="batch_digit").set_value(3)
    at.run()
    assert not at.exception
    x, y = digit_batch(test_digits, 16, 0)
    chain = bptt_chain(shipped("rnn-128"), x[3], int(y[3]))
    spec = charts(at)["chain"]
    by_name = {t["name"]: arr(t["y"]) for t in spec["data"]}
    np.testing.assert_allclose(by_name["‖δ_t‖ by autograd"], chain.delta, rtol=1e-9)
    np.testing.assert_allclose(by_name["‖(J_last ⋯ J_{t+1})ᵀ δ_last‖"], chain.delta_product, rtol=1e-9)
    np.testing.assert_allclose(by_name["‖J_last ⋯ J_{t+1}‖₂"], chain.product_norm, rtol=1e-9)
    assert any(m.value == "**Reading:** " + chain_reading(chain) for m in at.markdown)
    assert "Pascanu" in chain_reading(chain) and "forget_product" not in charts(at)
    assert [m.value.strip("$\n") for m in at.latex] == bptt_equations()[:3]
    at.selectbox(key="chain_model").set_value("bilstm-128")
    at.run()
    at.selectbox(key="chain_direction_bilstm-128").set_value(1)
    at.run()
    assert not at.exception
    chain = bptt_chain(shipped("bilstm-128"), x[3], int(y[3]), direction=1)
    forget = charts(at)["forget_product"]["data"][0]
    np.testing.assert_allclose(arr(forget["customdata"]), chain.forget_product, rtol=1e-9)
    assert forget_reading(chain.forget_product, 27) in [c.value for c in at.caption]
    at.selectbox(key="chain_model").set_value("lstm-2x128")  # both layers' state
    at.run()
    chain = bptt_chain(shipped("lstm-2x128"), x[3], int(y[3]))
    by_name = {t["name"]: arr(t["y"]) for t in charts(at)["chain"]["data"]}
    for layer in (0, 1):
        np.testing.assert_allclose(by_name[f"‖δ_t‖ of layer {layer + 1}"], chain.delta_layers[layer], rtol=1e-9)
    assert arr(charts(at)["forget_product"]["data"][0]["z"]).shape == (256, 28)


@pytest.mark.parametrize("name", ["lstm-128", "rnn-128"])
def test_over_training_draws_the_profile_of_every_snapshot(test_digits, name):
    at = open_page("gradients")
    at.select_slider[0].set_value(16)
    at.multiselect[0].set_value(["rnn-128", "lstm-128"])
    at.run()
    at.selectbox(key="training_model").set_value(name)
    at.run()
    assert not at.exception
    ckpt = read_checkpoint(shipped_dir() / f"{name}.safetensors")
    history = points(ckpt.snapshots, ckpt.meta["metrics"], ckpt.meta["history"])
    x, y = digit_batch(test_digits, 16, 0)
    spec = charts(at)["over_training"]["data"]
    drawn = {t["name"]: arr(t["y"]) for t in spec}
    assert list(drawn) == [p.label for p in history]
    assert all(point_note(p) in t["hovertemplate"] for p, t in zip(history, spec))  # what it scored then
    over = {}
    for p in history:
        net = ckpt.model if p.index is None else ckpt.snapshot_model(p.index)
        over[p.label] = norms = bptt_profile(net, x, y).dh_last_row[-1, 0]
        median = np.median(norms, axis=0)
        np.testing.assert_allclose(drawn[p.label], np.where(median > 0, median, np.nan), rtol=1e-5)
    assert any(m.value == "**Reading:** " + training_decay_reading(over, T) for m in at.markdown)


# ---- Truncation lab -------------------------------------------------------------------------------------------


def test_truncation_page_opens_on_the_shipped_sweep_with_exact_zeros(test_digits):
    at = open_page("truncation")
    sweep = load_sweep(shipped_sweep_dir())
    cfg, T_sweep = sweep.config, sweep.config.T
    specs = charts(at)
    means = {t["name"]: arr(t["y"]) for t in specs["accuracy"]["data"] if t.get("name")}
    for label, by_k in accuracy_by_k(sweep).items():  # every arm's mean over seeds, full BPTT at k = T
        ks = sorted(by_k, key=lambda k: T_sweep if k is None else k)
        np.testing.assert_allclose(means[label], [100 * np.mean(by_k[k]) for k in ks])
    kind, scheme = at.selectbox(key="look_inside").value
    runs = [sweep.runs_of(kind, scheme, k)[0] for k in sweep.ks_of(kind, scheme)]
    profile = specs["profile"]["data"][0]
    z, raw = arr(profile["z"]), arr(profile["customdata"])
    assert profile["y"] == [f"k = {r.spec.k}" for r in runs] + ["full"]
    x, y = profile_batch(cfg, test_digits)
    for i, run in enumerate(runs):  # loss on the last row, chunks: the gradient reaches the last k rows only
        start = T_sweep - run.spec.k
        assert np.all(raw[i, :start] == 0.0) and np.isnan(z[i, :start]).all()
        assert np.all(raw[i, start:] > 0) and np.isfinite(z[i, start:]).all()
        if run.model is not None:  # the shipped numbers are the engine's for the shipped model and batch
            trunc = cfg.train_config(run.spec).truncation
            np.testing.assert_allclose(
                raw[i], saliency_rows(run.model, x, y, cfg.loss_at, trunc), rtol=1e-4, atol=1e-12
            )
    assert all(r.model is not None for r in runs)  # the first seed's models are kept, so all were checked
    assert np.all(raw[-1] > 0)  # full BPTT reaches every row
    curves = specs["curves"]["data"]
    assert len(curves) == 2 * len(sweep.seeds) * (len(runs) + 1)  # every seed of every k, and of full BPTT
    assert [t["name"] for t in curves if t["showlegend"]] == [f"k = {r.spec.k}" for r in runs] + ["full BPTT"]
    headline = sweep_headline(sweep)  # leads the page, above the picture; the statistics are in an expander below
    assert any(m.value.endswith(headline) for m in at.main.children[1].markdown)
    assert (
        headline.startswith("On row-MNIST + 20 blank rows after (T = 48), full BPTT reaches GRU")
        and "points" in headline
    )
    statistics = next(e for e in at.expander if e.label.startswith("The full statistics"))
    findings = next(m.value for m in statistics.markdown if m.value.startswith("- On row-MNIST"))
    assert findings == "\n".join(f"- {f}" for f in sweep_findings(sweep))
    assert "never backpropagates into a row of the digit" in findings
    table = at.dataframe[0].value
    assert list(table["runs"]) == [r["runs"] for r in sweep_table(sweep)]
    order = list(at.dataframe[0].proto.column_order)  # the verdict next to its difference, in view at 1280 px
    assert sorted(order) == sorted(table.columns) and order[3:5] == ["difference (points)", "verdict"]


def test_the_bias_meter_draws_the_engines_cosines_and_errors(test_digits):
    at = open_page("truncation")
    at.select_slider(key="bias_batch").set_value(16)
    at.select_slider(key="bias_draws").set_value(4)
    at.multiselect(key="bias_ks").set_value([2, 8, 40])  # 40 >= T = 28: left out, it would be full BPTT
    at.run()
    assert not at.exception
    images, labels = test_digits.tensors()  # the first 16 test digits, as row-MNIST sequences
    x, y = images[:16], labels[:16]
    rows = gradient_bias(shipped("rnn-128"), x, y, "last", [2, 8], draws=4)
    traces = {(t["name"], t["xaxis"]): t for t in charts(at)["bias"]["data"]}
    for family, name in (("chunks", "TBPTT(k, k)"), ("window", "TBPTT(1, k)"), ("artbp", "ARTBP, one draw")):
        mine = [r for r in rows if r.family == family]
        np.testing.assert_array_equal(arr(traces[name, "x"]["x"]), [2, 8])
        np.testing.assert_allclose(arr(traces[name, "x"]["y"]), [r.cosine for r in mine], rtol=1e-6)
        np.testing.assert_allclose(arr(traces[name, "x2"]["y"]), [r.relative_error for r in mine], rtol=1e-6)
    mean = [r.cosine_of_mean for r in rows if r.family == "artbp"]
    np.testing.assert_allclose(arr(traces["ARTBP, mean of 4 draws", "x"]["y"]), mean, rtol=1e-6)
    assert any("ks at or above T = 28 are left out" in c.value for c in at.caption)


def run_sweep_from_page(at, epochs: int, ks: list, size: int, **settings):
    at.select_slider(key="sw_hidden").set_value(8)
    at.number_input(key="sw_epochs").set_value(epochs)
    at.multiselect(key="sw_ks").set_value(ks)
    at.select_slider(key="sw_size").set_value(size)
    for key, value in settings.items():
        widget = next(w for w in at.main if getattr(w, "key", None) == key)
        widget.set_value(value)
    next(b for b in at.button if b.label == "Run sweep").click()
    at.run()
    assert not at.exception and not at.warning, [w.value for w in at.warning]
    job = ui.job_manager().latest(at.session_state["_owner"])
    assert job is not None and job.description.startswith("Truncation sweep")
    return job


@pytest.mark.slow
def test_the_form_runs_general_tbptt_with_its_k1():
    at = open_page("truncation")
    at.multiselect(key="sw_schemes").set_value(["tbptt"])
    at.number_input(key="sw_k1").set_value(3)
    at.multiselect(key="sw_ks").set_value([2, 4])
    next(b for b in at.button if b.label == "Run sweep").click()
    at.run()
    assert any("needs k1 in 1..2 (the smallest k)" in e.value.replace("\\", "") for e in at.error)  # Markdown-escaped
    job = ui.job_manager().wait(run_sweep_from_page(at, 1, [2, 4], 250, sw_k1=2), timeout=120)
    assert job.status == "done", job.error
    mine = load_sweep(job.result)
    assert (mine.config.schemes, mine.config.k1) == (("tbptt",), 2)
    assert sorted(r.spec.id for r in mine.runs) == ["lstm-full-s0", "lstm-tbptt02-k02-s0", "lstm-tbptt02-k04-s0"]


@pytest.mark.slow
def test_a_tiny_sweep_completes_and_replaces_only_the_users_results(user_home):
    shipped_mtime = (shipped_sweep_dir() / SUMMARY).stat().st_mtime_ns
    at = open_page("truncation")
    job = ui.job_manager().wait(run_sweep_from_page(at, 1, [2, 4], 250, sw_task="blank", sw_delay=3), timeout=120)
    assert job.status == "done", job.error
    at.run()  # the progress fragment notices the end and reruns the page on the new sweep
    at.run()
    assert not at.exception and not at.error
    mine = load_sweep(job.result)
    assert mine.config.ks == (2, 4) and mine.config.T == 31 and str(user_home) in job.result
    assert at.selectbox(key="sweep_results").value == job.result
    curve = next(t for t in charts(at)["accuracy"]["data"] if t.get("name") == "LSTM, TBPTT(k, k)")
    np.testing.assert_allclose(
        arr(curve["y"]),
        [
            100 * sweep_run.accuracy
            for sweep_run in mine.runs_of("lstm", "chunks", 2)
            + mine.runs_of("lstm", "chunks", 4)
            + mine.runs_of("lstm", FULL, None)
        ],
    )
    assert any("is saved and selected below" in s.value for s in at.success)
    assert (shipped_sweep_dir() / SUMMARY).stat().st_mtime_ns == shipped_mtime
    at.selectbox(key="sweep_results").set_value(str(shipped_sweep_dir()))
    at.run()
    assert not at.exception and any("GRU/LSTM/RNN-64" in m.value for m in at.markdown)
    other = open_page("truncation")  # another visitor opens on the shipped sweep and sees whose this one is
    assert other.selectbox(key="sweep_results").value == str(shipped_sweep_dir())
    assert any(
        o.startswith(f"Visitor {at.session_state['_owner'][:4]}'s: ")
        for o in other.selectbox(key="sweep_results").options
    )


@pytest.mark.slow
def test_stop_leaves_the_page_working():
    at = open_page("truncation")
    job = run_sweep_from_page(at, 50, [1, 2], 4000)  # long enough to be stopped midway
    assert job.running and at.button(key="stop_sweep")
    at.button(key="stop_sweep").click()
    at.run()
    assert not at.exception and job.stop_requested
    assert ui.job_manager().wait(job, timeout=30).status == "stopped"
    at.run()
    at.run()
    assert not at.exception and not at.error
    assert any("stopped before any model finished" in i.value for i in at.info)
    assert {"accuracy", "profile", "saliency", "curves"} <= set(charts(at))  # the shipped results are still there


def test_forget_bias_knob_rescues_an_untrained_lstms_gradient(test_digits):
    at = untrained_copies_of("lstm-128")
    ratios = {}
    for bias in ("default", 1.0):
        at.select_slider[1].set_value(bias)
        at.run()
        assert not at.exception
        ratios[bias] = first_to_last_ratio(lines(charts(at)["profile"])["lstm-128 (untrained)"][None])
        expected = untrained_model(shipped("lstm-128").config, 0, None if bias == "default" else bias)
        prof = bptt_profile(expected, *digit_batch(test_digits, 32, 0))
        np.testing.assert_allclose(
            lines(charts(at)["profile"])["lstm-128 (untrained)"], np.median(prof.dh[-1, 0], axis=0), rtol=1e-5
        )
    assert ratios[1.0] > 100 * ratios["default"]


def test_min_cells_plot_their_gradients_leave_out_w_hh_and_draw_their_keep_share_product(test_digits):
    """minGRU and minLSTM have no W_hh: their profile and chain are the engine's, the per-row ∂L/∂W_hh chart and
    the recurrent weight scale say why they are left out, and the gradient check passes."""
    names = ["mingru-128", "minlstm-128"]
    at = open_page("gradients")
    at.multiselect[0].set_value(names)
    at.select_slider[0].set_value(16)
    at.run()
    assert not at.exception and not at.error
    x, y = digit_batch(test_digits, 16, 0)
    specs = charts(at)
    for name in names:
        prof = bptt_profile(shipped(name), x, y)
        np.testing.assert_allclose(lines(specs["profile"])[name], np.median(prof.dh[-1, 0], axis=0), rtol=1e-5)
        assert prof.dw_hh is None
    assert "dw_hh" not in specs
    assert ui.plain(no_recurrent_weights(names, "contributions")) in [c.value for c in at.caption]
    chain = bptt_chain(shipped("mingru-128"), x[0], int(y[0]))
    product = charts(at)["forget_product"]["data"][0]
    np.testing.assert_allclose(arr(product["customdata"]), chain.forget_product, rtol=1e-9)
    assert product["colorbar"]["title"]["text"] == "log₁₀ ∏ (1 − z)"
    assert forget_reading(chain.forget_product, 0, "mingru") in [c.value for c in at.caption]
    assert any(m.value == "**Reading:** " + chain_reading(chain) for m in at.markdown)
    at.selectbox(key="check_model").set_value("minlstm-128")
    at.toggle[1].set_value(True)
    at.run()
    assert not at.exception and any(s.value.startswith("PASS") for s in at.success)
    assert any("forward-mode derivatives of the minLSTM's parallel scan" in s.value for s in at.success)
    expected = gradient_check(shipped("minlstm-128"), x[:4], y[:4])
    np.testing.assert_allclose(at.dataframe[1].value["analytic (BPTT)"], [c.analytic for c in expected.checks])
    at.toggle[0].set_value(True)  # untrained copies, with a recurrent scale they have no W_hh for
    at.run()
    at.select_slider[2].set_value(3.0)
    at.run()
    assert not at.exception
    unscaled = [n + " (untrained)" for n in names]
    assert ui.plain(no_recurrent_weights(unscaled, "scale")) in [c.value for c in at.caption]
    fresh = untrained_model(shipped("minlstm-128").config, 0)  # the scale left its init alone
    np.testing.assert_allclose(
        lines(charts(at)["profile"])["minlstm-128 (untrained)"],
        np.median(bptt_profile(fresh, x, y).dh[-1, 0], axis=0),
        rtol=1e-5,
    )


@pytest.mark.slow
def test_the_form_sweeps_min_cells_with_chrono_initialisation(user_home):
    """The form offers minGRU and minLSTM by name and chrono initialisation, which refuses a forget-gate bias."""
    at = open_page("truncation")
    assert {"minGRU", "minLSTM"} <= set(at.multiselect(key="sw_kinds").options)
    at.multiselect(key="sw_kinds").set_value(["mingru", "minlstm"])
    at.toggle(key="sw_chrono").set_value(True)
    at.select_slider(key="sw_bias").set_value(1.0)
    next(b for b in at.button if b.label == "Run sweep").click()
    at.run()
    assert any("chrono initialisation sets the forget bias itself" in e.value.replace("\\", "") for e in at.error)
    job = run_sweep_from_page(at, 1, [2], 250, sw_bias="default")
    submitted = json.loads(job.config)["sweep"]  # the JSON the worker builds its SweepConfig from
    assert submitted["chrono"] is True and submitted["kinds"] == ["mingru", "minlstm"]
    job = ui.job_manager().wait(job, timeout=180)
    assert job.status == "done", job.error
    mine = load_sweep(job.result)
    assert mine.config.chrono and sorted({r.spec.kind for r in mine.runs}) == ["mingru", "minlstm"]
    assert all(mine.config.train_config(r.spec).chrono for r in mine.runs)
    at.run()
    at.run()
    assert not at.exception and not at.error
    assert any(o.startswith("minGRU, ") for o in at.selectbox(key="look_inside").options)


def test_chrono_initialisation_of_the_untrained_copies(test_digits):
    """Chrono over each model's task rows for the gated copies; the plain RNN's copy keeps torch's init, said so."""
    names = ["rnn-128", "lstm-128", "mingru-128"]
    at = open_page("gradients")
    at.multiselect[0].set_value(names)
    at.select_slider[0].set_value(16)
    at.toggle[0].set_value(True)
    at.run()
    at.checkbox(key="grad_chrono").check()
    at.run()
    assert not at.exception and not at.error and at.select_slider[1].disabled  # no forget-gate bias beside it
    x, y = digit_batch(test_digits, 16, 0)
    dh = lines(charts(at)["profile"])
    for name in names:
        cfg = shipped(name).config
        fresh = untrained_model(cfg, 0, chrono=None if cfg.kind == "rnn" else T)
        expected = np.median(bptt_profile(fresh, x, y).dh[-1, 0], axis=0)
        np.testing.assert_allclose(dh[name + " (untrained)"], expected, rtol=1e-5)
    assert ui.plain(no_chrono(["rnn-128 (untrained)"])) in [c.value for c in at.caption]
    default = bptt_profile(untrained_model(shipped("lstm-128").config, 0), x, y).dh[-1, 0]
    chrono = bptt_profile(untrained_model(shipped("lstm-128").config, 0, chrono=T), x, y).dh[-1, 0]
    assert first_to_last_ratio(chrono) > 10 * first_to_last_ratio(default)  # the point of it: a longer memory at init
