"""The Memory page's figures hold the engine's numbers: each arm's mean, t-interval and seeds per delay, and each
arm's gradient norms across time on a log axis; one colour per cell kind."""

import json

import numpy as np
import plotly.colors
import scipy.stats
from plotly_spec import array

from explorer.experiments.memory import Arm, ArmResult
from explorer.experiments.results import SweepRun
from explorer.experiments.spec import FULL, RunSpec, SweepConfig
from explorer.figures.memory import accuracy_figure, arm_color, profile_figure
from explorer.training.loop import History

D3 = plotly.colors.qualitative.D3


def result(arm: Arm, delay: int, accs: list[float]) -> ArmResult:
    runs = [
        SweepRun(
            RunSpec(arm.kind, FULL, None, s), {"test_accuracy": a}, History(), np.zeros(1), np.zeros(1), np.ones(4)
        )
        for s, a in enumerate(accs)
    ]
    return ArmResult(arm, delay, SweepConfig(kinds=(arm.kind,), ks=(), task="blank", delay=delay), runs)


RESULTS = [
    result(Arm("gru"), 20, [0.9, 0.92, 0.95]),
    result(Arm("lstm", 1.0), 20, [0.85, 0.8, 0.88]),
    result(Arm("lstm", chrono=True), 20, [0.9, 0.86, 0.87]),
    result(Arm("minlstm"), 20, [0.3]),
    result(Arm("gru"), 40, [0.6, 0.7, 0.5]),
]


def test_accuracy_figure_holds_each_mean_interval_and_seed():
    spec = json.loads(accuracy_figure(RESULTS).to_json())
    means = [t for t in spec["data"] if t.get("name")]
    seeds = [t for t in spec["data"] if not t.get("name")]
    assert [(t["name"], t["xaxis"]) for t in means] == [
        ("GRU", "x"), ("LSTM, forget bias 1", "x"), ("LSTM, chrono init", "x"), ("minLSTM", "x"), ("GRU", "x2"),
    ]  # fmt: skip
    for t, s, r in zip(means, seeds, RESULTS):
        accs = 100 * np.array([run.accuracy for run in r.runs])
        np.testing.assert_allclose(array(s["y"]), accs)
        np.testing.assert_allclose(array(t["y"]), [accs.mean()])
        if len(accs) > 1:
            lo, hi = scipy.stats.t.interval(0.95, len(accs) - 1, accs.mean(), scipy.stats.sem(accs))
            below, above = array(t["error_y"]["arrayminus"])[0], array(t["error_y"]["array"])[0]
            np.testing.assert_allclose([below, above], [accs.mean() - lo, hi - accs.mean()])
        else:
            assert t["error_y"]["visible"] is False
        assert (
            t["marker"]["color"]
            == s["marker"]["color"]
            == D3[["rnn", "lstm", "gru", "mingru", "minlstm"].index(r.arm.kind)]
        )
    assert spec["layout"]["showlegend"] is False  # the x axes name the arms
    assert [array(t["x"])[0] for t in means] == [r.arm.name for r in RESULTS]
    lstm_symbols = {t["marker"]["symbol"] for t in means if t["name"].startswith("LSTM")}
    assert len(lstm_symbols) == 2 and arm_color(Arm("lstm", 1.0)) == arm_color(Arm("lstm", chrono=True))


def test_profile_figure_holds_the_norms_on_a_log_axis():
    profiles = {
        (Arm("lstm"), 20): np.geomspace(1e-6, 1.0, 48),
        (Arm("rnn"), 20): np.geomspace(1e-9, 1.0, 48),
        (Arm("rnn"), 40): np.geomspace(1e-12, 1.0, 68),
    }
    spec = json.loads(profile_figure(profiles, range(28)).to_json())
    got = {(t["name"], t["xaxis"]): t for t in spec["data"]}
    assert set(got) == {("RNN", "x"), ("LSTM, forget bias ≈ 0 (PyTorch's init)", "x"), ("RNN", "x2")}
    for (arm, delay), norms in profiles.items():
        t = got[arm.name, "x" if delay == 20 else "x2"]
        np.testing.assert_allclose(array(t["y"]), norms)
        np.testing.assert_array_equal(array(t["x"]), np.arange(1, len(norms) + 1))
        assert t["line"]["color"] == arm_color(arm)
    assert spec["layout"]["yaxis"]["type"] == "log" and spec["layout"]["yaxis2"]["type"] == "log"
    assert [s["x0"] for s in spec["layout"]["shapes"]] == [0.5, 0.5] and spec["layout"]["shapes"][0]["x1"] == 28.5
    assert sum(t["showlegend"] for t in spec["data"]) == 2  # one legend entry per arm
