"""Figure builders: the numbers in each Plotly spec are the engine's numbers, and the animation is well formed."""

import importlib.util
import json
import re

import numpy as np
import plotly.colors
import plotly.io as pio
import pytest
import torch
from plotly_spec import array, bar_heights, frame, heatmaps

from explorer.figures.panels import cell_colour_range
from explorer.figures.scan import compare_figure, figure_html, scan_figure
from explorer.figures.style import ACCENT
from explorer.figures.training import smooth
from explorer.figures.units import prediction_figure, saturation_figure, unit_figure
from explorer.model.network import ModelConfig, SequenceClassifier
from explorer.model.unroll import state_names, trace

DIGIT = np.random.default_rng(0).random((28, 28)).astype(np.float32)


def traced(kind, layers=1, bidir=False, hidden=6, seed=0):
    torch.manual_seed(seed)
    model = SequenceClassifier(ModelConfig(kind=kind, hidden_size=hidden, num_layers=layers, bidirectional=bidir))
    return trace(model.eval(), torch.from_numpy(DIGIT)[None])


def spec_of(fig) -> dict:
    return json.loads(pio.to_json(fig, validate=False))  # what st.plotly_chart sends to the browser


@pytest.mark.parametrize(
    "kind,layers,bidir,layer,direction,narrow",
    [
        ("lstm", 1, False, 0, 0, False),
        ("gru", 1, False, 0, 0, False),
        ("rnn", 1, False, 0, 0, False),
        ("lstm", 2, True, 1, 1, False),
        ("gru", 1, True, 0, 0, True),
        ("lstm", 1, False, 0, 0, True),
        ("rnn", 1, False, 0, 0, True),
    ],
)
def test_scan_figure_holds_the_trace(kind, layers, bidir, layer, direction, narrow):
    tr = traced(kind, layers, bidir)
    order = np.random.default_rng(1).permutation(6)
    spec = spec_of(scan_figure(tr, DIGIT, layer, direction, order, title="t", narrow=narrow))
    maps = heatmaps(spec)
    assert set(maps) == set(state_names(kind)) | {"digit"}
    np.testing.assert_array_equal(array(maps["digit"]["z"]), DIGIT)
    for name in state_names(kind):
        values = tr.get(layer, direction, name)[0]  # (T, H) by image row
        z = array(maps[name]["z"])  # (H, T): units (in display order) x image rows
        np.testing.assert_array_equal(z, values[:, order].T)
        np.testing.assert_array_equal(array(maps[name]["customdata"])[:, 0], order)  # hover shows the real unit
        np.testing.assert_array_equal(array(maps[name]["x"]), np.arange(1, 29))
    assert [f["name"] for f in spec["frames"]] == [str(t) for t in range(1, 29)]
    assert all(set(f) == {"name", "layout"} for f in spec["frames"])  # frames never resend a heatmap
    titles = [a["text"] for a in spec["layout"]["annotations"] if "name" not in a]  # subplot titles
    assert len(titles) == len(state_names(kind)) + 2 and titles[0].startswith("the digit")
    assert ("P(class)" in titles[1]) == narrow  # narrow: P(class) beside the digit, heatmaps below


def test_scan_frames_move_the_scan_line_curtains_and_bars():
    tr = traced("lstm")
    spec = spec_of(scan_figure(tr, DIGIT))
    for t in (1, 9, 28):
        f = frame(spec, t)
        shapes = f["shapes"]
        assert (shapes["scan forward"]["y0"], shapes["scan forward"]["y1"]) == (t - 0.5, t + 0.5)
        assert shapes["unread"]["y0"] == t + 0.5  # the veil covers rows t+1..28
        for name in state_names("lstm"):
            assert shapes[f"curtain {name}"]["x0"] == t + 0.5  # columns 1..t revealed
        np.testing.assert_allclose(bar_heights(shapes, "P"), tr.probs[0, t - 1], rtol=1e-6)
        top = int(tr.probs[0, t - 1].argmax())
        assert shapes[f"P {top}"]["fillcolor"] == ACCENT
        assert f["annotations"]["P label"]["x"] == top
    # The figure as first drawn is the last frame: the whole digit read.
    assert spec["layout"]["shapes"] == spec["frames"][-1]["layout"]["shapes"]
    assert spec["layout"]["sliders"][0]["active"] == 27


def test_backward_direction_reveals_from_the_bottom_row_up():
    tr = traced("lstm", bidir=True)
    spec = spec_of(scan_figure(tr, DIGIT, direction=1))
    shapes = frame(spec, 5)["shapes"]
    assert shapes["curtain h"]["x1"] == 28 - 5 + 0.5  # rows 24..28 revealed
    assert (shapes["scan backward"]["y0"], shapes["scan backward"]["y1"]) == (23.5, 24.5)
    assert "unread" not in shapes  # both directions read: no single veil
    # Bidirectional bars are the prefix re-run of the trace, not the head on h_t.
    np.testing.assert_allclose(bar_heights(shapes, "P"), tr.probs[0, 4], rtol=1e-6)


def test_play_pause_and_slider_animate_without_redrawing():
    spec = spec_of(scan_figure(traced("gru"), DIGIT, frame_ms=123))
    play, pause, resume = spec["layout"]["updatemenus"][0]["buttons"]
    assert play["args"][0] is None and play["args"][1]["frame"] == {"duration": 123, "redraw": False}
    assert play["args"][1]["fromcurrent"] is False and resume["args"][1]["fromcurrent"] is True
    assert pause["args"][0] == [None]
    steps = spec["layout"]["sliders"][0]["steps"]
    assert [s["args"][0] for s in steps] == [[str(t)] for t in range(1, 29)]


def test_colour_scales_sequential_for_gates_diverging_for_the_rest():
    tr = traced("lstm")
    spec = spec_of(scan_figure(tr, DIGIT))
    maps, layout = heatmaps(spec), spec["layout"]
    scale = {name: layout[maps[name]["coloraxis"]] for name in state_names("lstm")}
    for gate in "ifo":
        assert (scale[gate]["cmin"], scale[gate]["cmax"]) == (0, 1)
    for name in "gh":
        assert (scale[name]["cmin"], scale[name]["cmax"]) == (-1, 1)
    r = cell_colour_range(tr.get(0, 0, "c")[0])
    assert r == pytest.approx(max(np.percentile(np.abs(tr.get(0, 0, "c")[0]), 99), 0.1))
    assert (scale["c"]["cmin"], scale["c"]["cmax"]) == (pytest.approx(-r), pytest.approx(r))
    # plotly.js draws only scales it knows: explicit [position, colour] lists, as plotly.py's names resolve to
    names = {"i": "Viridis", "g": "RdBu_r", "c": "PiYG_r"}
    for name, scale_name in names.items():
        assert scale[name]["colorscale"] == [list(p) for p in plotly.colors.get_colorscale(scale_name)]


def test_compare_figure_runs_both_models_in_sync():
    lstm, rnn = traced("lstm", seed=1), traced("rnn", layers=2, seed=2)
    spec = spec_of(compare_figure(DIGIT, [("A", lstm), ("B", rnn)]))
    hs = [d for d in spec["data"] if d.get("name") == "h"]
    np.testing.assert_array_equal(array(hs[0]["z"]), lstm.get(0, 0, "h")[0].T)
    np.testing.assert_array_equal(array(hs[1]["z"]), rnn.get(1, 0, "h")[0].T)  # the last layer
    shapes = frame(spec, 12)["shapes"]
    np.testing.assert_allclose(bar_heights(shapes, "A"), lstm.probs[0, 11], rtol=1e-6)
    np.testing.assert_allclose(bar_heights(shapes, "B"), rnn.probs[0, 11], rtol=1e-6)
    assert shapes["curtain A"]["x0"] == shapes["curtain B"]["x0"] == 12.5
    assert len(spec["frames"]) == 28


def test_unit_saturation_and_prediction_figures_plot_their_inputs():
    tr = traced("lstm")
    spec = spec_of(unit_figure(tr, 0, 0, unit=4))
    lines = {d["name"].split(" ")[0]: array(d["y"]) for d in spec["data"]}
    assert set(lines) == set("ifgoch")
    for name, y in lines.items():
        np.testing.assert_array_equal(y, tr.get(0, 0, name)[0, :, 4])

    rng = np.random.default_rng(2)
    stats = {g: (rng.random(6), rng.random(6)) for g in "ifo"}
    spec = spec_of(saturation_figure(stats, highlight=3))
    dots = [d for d in spec["data"] if d["mode"] == "markers" and "customdata" in d]
    for d, g in zip(dots, "ifo"):
        np.testing.assert_allclose(array(d["x"]), stats[g][1])  # right-saturated (> 0.9) across
        np.testing.assert_allclose(array(d["y"]), stats[g][0])  # left-saturated (< 0.1) up

    spec = spec_of(prediction_figure(tr.probs[0], label=3))
    for c, d in enumerate(spec["data"]):
        np.testing.assert_allclose(array(d["y"]), tr.probs[0, :, c], rtol=1e-6)


@pytest.mark.parametrize("engine", ["json", "orjson"])
def test_figure_html_is_standalone_and_animated(engine, monkeypatch):
    """Plotly escapes non-ASCII (\\u25b6) with the stdlib JSON engine and writes it raw with orjson, when that
    optional package is there: the page is the same to a browser, so compare the decoded text."""
    if engine == "orjson" and importlib.util.find_spec("orjson") is None:
        pytest.skip("orjson is an optional plotly speed-up, not a dependency; the json engine runs everywhere")
    monkeypatch.setattr(pio.json.config, "default_engine", engine)
    fig = scan_figure(traced("lstm", hidden=128), DIGIT)
    assert len(pio.to_json(fig, validate=False)) < 600_000  # 28 frames, 6 heatmaps of 128 units: still small
    html = figure_html(fig)
    assert "<script src=" not in html and len(html) > 3_000_000  # plotly.js inlined: works offline, in slides
    text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m[1], 16)), html)
    assert "Plotly.addFrames" in text and '"name":"28"' in text and "\u25b6 Play" in text


@pytest.mark.parametrize("weight", [0.0, 0.5, 0.9, 0.999])
def test_smooth_matches_the_step_by_step_moving_average(weight):
    values = np.random.default_rng(1).lognormal(size=777)
    avg, expected = 0.0, []
    for n, v in enumerate(values, start=1):
        avg = weight * avg + (1 - weight) * v
        expected.append(avg / (1 - weight**n))
    np.testing.assert_allclose(smooth(values, weight), expected, rtol=1e-12)
