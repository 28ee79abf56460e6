"""Home and "Watch it read" as a user drives them (Streamlit AppTest): what they show is what the engine computes."""

import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch
from plotly_spec import array
from streamlit.testing.v1 import AppTest

from explorer import ui
from explorer.analysis.counterfactual import agreement, erase, final_probabilities, keep_only, occlusion, row_saliency
from explorer.analysis.explain import explain, top_terms
from explorer.analysis.units import gate_saturation
from explorer.data.digits import drawing_to_digit, load_sample
from explorer.model.checkpoint_file import read_checkpoint
from explorer.model.checkpoints import list_checkpoints, save_checkpoint, shipped_dir, user_dir
from explorer.model.config import NAMES, ModelConfig
from explorer.model.network import SequenceClassifier
from explorer.model.portable import tensor_names, unpack
from explorer.model.predictions import misclassified, predict
from explorer.model.snapshots import points
from explorer.model.unroll import trace
from explorer.readings.formulas import equations, step_lines
from explorer.readings.models import point_note
from explorer.readings.watch import (
    edit_caption,
    explain_caption,
    gate_reading,
    occlusion_reading,
    replay_caption,
    saturation_caption,
)
from explorer.serving.budget import digits_for
from explorer.ui.browser_view import sent_view

APP = str(Path(__file__).resolve().parents[2] / "explorer" / "app.py")


@cache
def model(name):
    return read_checkpoint(shipped_dir() / f"{name}.safetensors").model


@cache
def sample_test():
    return load_sample()[1]


def digit_image(index):
    return sample_test().images[index].astype(np.float32) / 255.0


def expected_trace(name, image):
    return trace(model(name), torch.from_numpy(image)[None])


def run_watch(query=None, state=None, closer: bool = True) -> AppTest:
    """Open Watch it read as a shared link would (query string) or with session state already set; with the
    closer look switched on (closer=1 in the link) unless closer is False."""
    at = AppTest.from_file(APP, default_timeout=60)
    for k, v in (({"closer": "1"} if closer else {}) | (query or {})).items():
        at.query_params[k] = v
    for k, v in (state or {}).items():
        at.session_state[k] = v
    at.switch_page("../pages/watch.py")
    return rerun(at)


def rerun(at) -> AppTest:
    at.run()
    assert not at.exception, at.exception
    return at


def view_of(at) -> tuple[dict, list]:
    """The options and the unpacked models (header, tensors, digits, noise) the page sent the browser view."""
    (element,) = at.get("bidi_component")
    assert element.proto.component_name == "rnn_explorer.watch"
    options, blobs = sent_view(element.proto)
    return options, [unpack(b) for b in blobs]


def widget(elements, label):
    (found,) = [e for e in elements if e.label == label]
    return found


def assert_weights(sent, net) -> None:
    """A model as the view got it holds exactly this network's weights."""
    header, tensors, digits, _ = sent
    state = {k.removeprefix("rnn."): v.numpy() for k, v in net.state_dict().items()}
    assert list(tensors) == tensor_names(net.config)
    for name in tensors:
        np.testing.assert_array_equal(tensors[name], state[name], err_msg=name)
    assert header["config"]["kind"] == net.config.kind and len(digits) == header["digits"]["count"] > 0
    np.testing.assert_array_equal(digits, sample_test().images[: len(digits)])


def assert_view_shows(at, name, digit=0, layer=0, direction=0, net=None) -> dict:
    """The browser view got this model's weights (the browser computes its trace from them; the Chromium tests
    hold that to the engine) and starts at this test digit (None: the drawing), layer and direction."""
    options, models = view_of(at)
    assert_weights(models[0], model(name) if net is None else net)
    assert models[0][0]["name"] == name
    if digit is None:
        assert options["source"] == "draw"
    else:
        assert (options["source"], options["digit"]) == ("test", digit)
    assert (options["layer"], options["direction"]) == (layer, direction)
    return options


# ---- Home ------------------------------------------------------------------------------------------


def test_home_cards_show_each_models_recorded_accuracy():
    at = rerun(AppTest.from_file(APP, default_timeout=60))
    infos = list_checkpoints()
    assert {"lstm-128", "bilstm-128", "lstm-2x128", "gru-128", "rnn-128"} <= {i.name for i in infos}
    shown = [m.value for m in at.metric if m.label == "Test accuracy"]
    assert shown == [f"{100 * i.meta['metrics']['test_accuracy']:.1f}%" for i in infos]
    assert "98.5%" in shown  # lstm-128, as trained
    params = [m.value for m in at.metric if m.label == "Parameters"]
    assert params == [f"{sum(p.numel() for p in model(i.name).parameters()):,}" for i in infos]
    assert any("4,000 training digits" in c.value for c in at.caption)


def test_home_card_leads_into_watch_it_read_with_that_model():
    at = rerun(AppTest.from_file(APP, default_timeout=60))
    at.button(key="watch_gru-128").click()
    rerun(at)
    assert at.session_state["model"] == "gru-128" and at.query_params["model"] == "gru-128"
    assert_view_shows(at, "gru-128")


# ---- Watch it read ---------------------------------------------------------------------------------


def test_watch_opens_on_lstm_and_sends_the_browser_its_model_once():
    at = run_watch()
    assert at.session_state["model"] == "lstm-128"
    options = assert_view_shows(at, "lstm-128")
    assert options["present"] == 0 and options["inspect"] and options["names"]["f"] == "forget gate"
    header = view_of(at)[1][0][0]
    assert header["task"]["T"] == 28 and header["digits"]["count"] == len(sample_test())
    assert header["digits"]["labels"] == sample_test().labels.tolist()
    assert at.subheader[0].value == f"A closer look at test digit #0 (a {sample_test().labels[0]})"


def test_the_view_carries_the_models_predictions_for_next_mistake():
    at = run_watch(query={"model": "rnn-128"})
    header = view_of(at)[1][0][0]
    predicted = predict(model("rnn-128"), sample_test())
    assert header["digits"]["predicted"] == predicted.tolist()
    wrong = misclassified(sample_test(), predicted)
    assert len(wrong) == round((1 - 0.971) * 1000)  # the accuracy recorded in the checkpoint


def test_switching_model_digit_and_ordering_reach_the_view_and_the_tabs():
    at = run_watch(query={"digit": "42"})
    assert_view_shows(at, "lstm-128", 42)
    at.selectbox(key="_widget_model").set_value("gru-128")
    rerun(at)
    assert_view_shows(at, "gru-128", 42)
    assert at.query_params["digit"] == "42"
    widget(at.selectbox, "Order units by").set_value("activity")
    rerun(at)
    assert view_of(at)[0]["order"] == "activity"
    h = expected_trace("gru-128", digit_image(42)).get(0, 0, "h")[0]
    units = at.selectbox(key=next(k for k in at.session_state if str(k).startswith("_widget_unit"))).options
    order = [int(u.split()[1]) for u in units]
    assert np.all(np.diff(np.abs(h[:, order]).mean(axis=0)) <= 0)  # the inspector lists the most active first


def test_layer_and_direction_pick_where_the_view_starts():
    at = run_watch(query={"model": "lstm-2x128", "digit": "3"})
    widget(at.selectbox, "Layer").set_value(1)
    rerun(at)
    assert_view_shows(at, "lstm-2x128", 3, layer=1)
    at.selectbox(key="_widget_model").set_value("bilstm-128")
    rerun(at)
    widget(at.selectbox, "Direction").set_value(1)
    rerun(at)
    assert_view_shows(at, "bilstm-128", 3, direction=1)


def test_model_and_digit_survive_a_trip_to_another_page():
    at = run_watch(query={"model": "gru-128", "digit": "42"})
    at.switch_page("../pages/home.py")
    rerun(at)
    at.switch_page("../pages/watch.py")
    rerun(at)
    assert at.query_params["model"] == "gru-128" and at.query_params["digit"] == "42"
    assert_view_shows(at, "gru-128", 42)


def test_shared_link_restores_the_view():
    at = run_watch(query={"model": "bilstm-128", "digit": "17", "direction": "1", "order": "cluster"})
    assert widget(at.selectbox, "Direction").value == 1
    assert assert_view_shows(at, "bilstm-128", 17, direction=1)["order"] == "cluster"


def test_a_drawing_sent_for_a_closer_look_is_what_the_tabs_read():
    image = drawing_to_digit(drawn_one())
    at = run_watch(state={"digit_source": "draw", "watch_drawing": image, "watch_tab": "How the prediction settles"})
    assert_view_shows(at, "lstm-128", None)
    assert at.subheader[0].value == "A closer look at your drawing"
    curve = json.loads(at.get("plotly_chart")[0].proto.spec)["data"]
    probs = expected_trace("lstm-128", image).probs[0]
    assert int(probs[-1].argmax()) == 1
    np.testing.assert_allclose(array(curve[1]["y"]), probs[:, 1], rtol=1e-6)


def test_the_closer_look_waits_until_asked_for_and_a_link_keeps_it():
    at = run_watch(query={"digit": "42"}, closer=False)
    assert_view_shows(at, "lstm-128", 42)
    assert not at.tabs and not at.get("plotly_chart")  # no server-side trace or figure on a plain page open
    switch = at.toggle(key="_widget_closer")
    assert not switch.value
    switch.set_value(True)
    rerun(at)
    assert at.query_params["closer"] == "1" and at.tabs and at.get("plotly_chart")
    assert run_watch(query={"digit": "42", "closer": "1"}, closer=False).tabs  # a copied link opens it too


def drawn_one() -> np.ndarray:
    """A canvas drawing of a '1': a white vertical stroke on the black 224x224 canvas (opaque RGBA)."""
    rgba = np.zeros((224, 224, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[40:190, 100:118, :3] = 255
    return rgba


@pytest.mark.parametrize("how", ["toggle", "link"])
def test_compare_mode_sends_both_models(how):
    if how == "toggle":
        at = run_watch(query={"digit": "9"})
        at.toggle(key="_widget_compare_on").set_value(True)
        rerun(at)
        assert at.query_params["compare_on"] == "1" and at.query_params["compare"] == "rnn-128"
    else:  # a copied link opens in compare mode
        at = run_watch(query={"digit": "9", "compare_on": "1", "compare": "rnn-128"})
    _, models = view_of(at)
    assert len(models) == 2
    assert_weights(models[0], model("lstm-128"))
    assert_weights(models[1], model("rnn-128"))


def test_tabs_inspector_saturation_and_export():
    at = run_watch(query={"digit": "4", "unit": "7"})
    inspector = json.loads(at.get("plotly_chart")[0].proto.spec)
    tr = expected_trace("lstm-128", digit_image(4))
    forget = next(d for d in inspector["data"] if d["name"].startswith("f "))
    np.testing.assert_array_equal(array(forget["y"]), tr.get(0, 0, "f")[0, :, 7])

    at.session_state["watch_tab"] = "Gate saturation"
    rerun(at)
    stats = gate_saturation(model("lstm-128"), sample_test().tensors()[0])[0, 0]
    dots = [d for d in json.loads(at.get("plotly_chart")[0].proto.spec)["data"] if "customdata" in d]
    np.testing.assert_allclose(array(dots[1]["x"]), stats["f"][1])  # forget gate: fraction of steps > 0.9
    np.testing.assert_allclose(array(dots[1]["y"]), stats["f"][0])

    at.session_state["watch_tab"] = "Export"
    rerun(at)
    assert [b.proto.label for b in at.get("download_button")] == [
        "Download this explorer (one HTML file that runs offline)",
        "Trace as .npz (gates, c, h, probabilities, image)",
    ]


@pytest.mark.parametrize("name", ["mingru-128", "minlstm-128"])
def test_the_min_cells_open_on_every_tab(name):
    """minGRU and minLSTM have no W_hh: the view gets only the tensors they have, and every tab opens on them; the
    saturation tab holds their sigmoid gates (z; f and i), not the positive candidates."""
    at = run_watch(query={"model": name, "digit": "4"})
    assert_view_shows(at, name, 4)
    assert not any(t["name"].startswith("weight_hh") for t in view_of(at)[1][0][0]["tensors"])
    assert gate_reading(model(name).config.kind, False, expected_trace(name, digit_image(4)).get(0, 0, "h")[0]) in [
        m.value.split("\n\n")[-1] for m in at.markdown
    ]
    for tab in ["Explain a number", "What if", "Replay training", "Gate saturation", "Export"]:
        at.session_state["watch_tab"] = tab
        rerun(at)
    at.session_state["watch_tab"] = "Gate saturation"
    rerun(at)
    stats = gate_saturation(model(name), sample_test().tensors()[0])[0, 0]
    assert set(stats) == ({"z"} if name == "mingru-128" else {"f", "i"})
    dots = [d for d in json.loads(at.get("plotly_chart")[0].proto.spec)["data"] if "customdata" in d]
    np.testing.assert_allclose(array(dots[0]["x"]), stats[("z" if name == "mingru-128" else "f")][1])


def test_trace_export_round_trips():
    import io

    tr = expected_trace("gru-128", digit_image(2))
    with np.load(io.BytesIO(ui.npz_bytes(tr.to_arrays() | {"image": digit_image(2)}))) as npz:
        np.testing.assert_array_equal(npz["l0_forward_z"], tr.get(0, 0, "z"))
        np.testing.assert_array_equal(npz["probs"], tr.probs)
        np.testing.assert_array_equal(npz["image"], digit_image(2))


def test_a_model_deleted_under_the_open_page_gives_a_message_not_a_traceback(monkeypatch):
    path = save_checkpoint(user_dir() / "doomed.safetensors", SequenceClassifier(ModelConfig(hidden_size=8)))
    at = run_watch(state={"model": "doomed"})
    assert at.selectbox(key="_widget_model").value == "doomed" and at.get("bidi_component")
    listed = ui.available_models()
    path.unlink()
    with monkeypatch.context() as patch:  # deleted between the listing and the loading
        patch.setattr("explorer.ui.widgets.available_models", lambda: listed)
        rerun(at)
    assert "doomed is gone" in at.error[0].value and not at.get("bidi_component")
    rerun(at)  # the next listing no longer has it: the page says so and falls back to its default model
    assert "No model is named doomed;" in at.warning[0].value and not at.error
    assert at.selectbox(key="_widget_model").value == "lstm-128"
    assert_view_shows(at, "lstm-128")


@pytest.mark.parametrize(
    "name,layer,direction",
    [
        ("lstm-2x128", 1, 0),
        ("bilstm-128", 0, 1),
        ("gru-128", 0, 0),
        ("rnn-128", 0, 0),
        ("mingru-128", 0, 0),
        ("minlstm-128", 0, 0),
    ],
)
def test_explain_a_number_shows_the_engines_equations_and_contributions(name, layer, direction):
    state = {"model": name, "watch_tab": "Explain a number"}
    if layer:
        state["layer"] = layer
    if direction:
        state["direction"] = direction
    at = run_watch(query={"digit": "4"}, state=state)
    at.selectbox(key="explain_unit").set_value(9)
    at.slider(key="explain_row").set_value(12)
    rerun(at)
    image = digit_image(4)
    e = explain(model(name), expected_trace(name, image), image, layer, direction, 9, 11)
    shown = [m.value.strip("$\n") for m in at.latex]
    assert shown[: len(step_lines(e))] == step_lines(e)
    kind = model(name).config.kind
    assert shown[len(step_lines(e)) :] == equations(kind)  # in the expander
    computes = "explorer.model.mincells" if kind.startswith("min") else "PyTorch"
    assert at.expander[-1].label == f"The {NAMES[kind]} equations, as {computes} computes them"
    assert explain_caption(e) in [c.value for c in at.caption]
    bars = json.loads(at.get("plotly_chart")[0].proto.spec)["data"]
    gate = at.selectbox(key="explain_gate").value
    inputs = top_terms(e.terms[gate].input_terms)
    np.testing.assert_allclose(array(bars[0]["x"]), [v for _, v in inputs])
    if kind.startswith("min"):  # no W_hh: the row's inputs are the gate's only sum
        assert len(bars) == 1 and e.terms[gate].recurrent_terms is None
        return
    recurrent = top_terms(e.terms[gate].recurrent_terms)
    np.testing.assert_allclose(array(bars[1]["x"]), [v for _, v in recurrent])
    assert bars[1]["y"] == [f"h[{m}]" for m, _ in recurrent]
    if layer:
        assert all(label.startswith("h^1[") for label in bars[0]["y"])
    else:
        assert all(label.startswith("pixel ") for label in bars[0]["y"])


@pytest.mark.parametrize("name", ["rnn-128", "gru-128", "bilstm-128", "lstm-2x128"])
def test_what_if_shows_the_re_run_of_every_edit(name):
    at = run_watch(query={"digit": "4"}, state={"model": name, "watch_tab": "What if"})
    image, label = digit_image(4), int(sample_test().labels[4])
    occ = occlusion(model(name), image, label)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    np.testing.assert_allclose(array(spec["data"][1]["x"]), occ.change, atol=1e-9)
    sal = row_saliency(model(name), image, label)
    assert occlusion_reading(occ, agreement(occ, sal)) in [c.value for c in at.caption]
    at.multiselect(key="whatif_rows").set_value([10, 11, 12])
    rerun(at)
    edited = erase(image, [9, 10, 11])
    bars = json.loads(at.get("plotly_chart")[1].proto.spec)["data"]
    after = final_probabilities(model(name), edited[None])[0]
    np.testing.assert_allclose(array(bars[-1]["y"]), after, atol=1e-5)
    before, later = expected_trace(name, image).probs[0], expected_trace(name, edited).probs[0]
    assert edit_caption(before, later, label) in [c.value for c in at.caption]
    at.radio(key="whatif_mode").set_value("keep")
    rerun(at)
    kept = keep_only(image, [9, 10, 11])
    bars = json.loads(at.get("plotly_chart")[1].proto.spec)["data"]
    np.testing.assert_allclose(array(bars[-1]["y"]), final_probabilities(model(name), kept[None])[0], atol=1e-5)


def test_what_if_on_a_drawing_tracks_the_models_own_guess():
    image = drawing_to_digit(drawn_one())
    at = run_watch(state={"digit_source": "draw", "watch_drawing": image, "watch_tab": "What if"})
    guess = int(expected_trace("lstm-128", image).probs[0, -1].argmax())
    occ = occlusion(model("lstm-128"), image, guess)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    np.testing.assert_allclose(array(spec["data"][1]["x"]), occ.change, atol=1e-9)
    assert any("the class tracked is the model's own guess" in m.value for m in at.markdown)


# ---- Replay over training ----------------------------------------------------------------------------


@cache
def snapshot_weights(name, index):
    """Snapshot `index` of a shipped checkpoint straight from the file's tensors, upcast to float32."""
    tensors = safetensors.torch.load_file(shipped_dir() / f"{name}.safetensors")
    prefix = f"snapshot.{index:02d}."
    state = {k[len(prefix) :]: v.float() for k, v in tensors.items() if k.startswith(prefix)}
    net = SequenceClassifier(model(name).config)
    net.load_state_dict(state)
    return net.eval()


def replay_points(name):
    ckpt = read_checkpoint(shipped_dir() / f"{name}.safetensors")
    return points(ckpt.snapshots, ckpt.meta["metrics"], ckpt.meta["history"])


@pytest.mark.parametrize("name", ["lstm-128", "gru-128", "rnn-128", "bilstm-128", "lstm-2x128"])
def test_the_progress_slider_shows_the_model_as_it_was_at_a_snapshot(name):
    history = replay_points(name)
    assert 10 <= len(history) <= 12 and history[0].label == "init" and history[-1].index is None
    at = run_watch(query={"digit": "3"}, state={"model": name})
    slider = widget(at.select_slider, "Training progress")
    assert slider.value == len(history) - 1  # the final weights unless asked
    slider.set_value(2)
    rerun(at)
    assert_view_shows(at, name, 3, net=snapshot_weights(name, history[2].index))
    assert point_note(history[2]) in [c.value for c in at.sidebar.caption]


@pytest.mark.parametrize(
    "name,layer,direction",
    [
        ("lstm-128", 0, 0),
        ("gru-128", 0, 0),
        ("bilstm-128", 0, 1),
        ("lstm-2x128", 1, 0),
        ("rnn-128", 0, 0),
        ("minlstm-128", 0, 0),
    ],
)
def test_replay_tab_holds_every_point_of_training(name, layer, direction):
    state = {"model": name, "watch_tab": "Replay training"}
    state |= ({"direction": direction} if direction else {}) | ({"layer": layer} if layer else {})
    at = run_watch(query={"digit": "5"}, state=state)
    history = replay_points(name)
    image = digit_image(5)
    nets = [snapshot_weights(name, p.index) if p.index is not None else model(name) for p in history]
    traces = [trace(net, torch.from_numpy(image)[None]) for net in nets]
    spec = json.loads(at.get_by_key("replay").proto.spec)
    shown = widget(at.selectbox, "State").value
    assert [f["name"] for f in spec["frames"]] == [p.label for p in history]
    for f, tr, p in zip(spec["frames"], traces, history):
        np.testing.assert_allclose(array(f["data"][0]["z"]), tr.get(layer, direction, shown)[0].T, atol=1e-6)
        for c in range(10):
            np.testing.assert_allclose(array(f["data"][1 + c]["y"]), tr.probs[0, :, c], rtol=1e-5, atol=1e-7)
        assert f["layout"]["title"]["text"] == f"{p.label}: {point_note(p)}"
    label = int(sample_test().labels[5])
    assert replay_caption(history, traces, label) in [c.value for c in at.caption]
    if name == "rnn-128":  # no gates to saturate
        assert not any(c.proto.id.endswith("replay_sat") for c in at.get("plotly_chart"))
        return
    gates = json.loads(at.get_by_key("replay_sat").proto.spec)
    gate = widget(at.selectbox, "Gate saturation over training").value
    picks = sorted({0, len(history) // 3, 2 * len(history) // 3, len(history) - 1})
    dots = [d for d in gates["data"] if "customdata" in d]
    assert len(dots) == len(picks)
    images = sample_test().tensors()[0]
    digits = digits_for("saturation", model(name).config, len(images))
    assert saturation_caption(digits) in [c.value for c in at.caption]
    for d, i in zip(dots, picks):
        low, high = gate_saturation(nets[i], images[:digits])[layer, direction][gate]
        np.testing.assert_allclose(array(d["x"]), high)
        np.testing.assert_allclose(array(d["y"]), low)


# ---- Presentation mode ----------------------------------------------------------------------------------


@pytest.mark.parametrize("screen,present", [(720, "1"), (1080, "1080")])
def test_presentation_mode_shows_the_view_alone_sized_for_the_screen(screen, present):
    at = run_watch(query={"digit": "8", "present": present})
    assert not at.title and not at.tabs and not at.expander and not at.subheader  # only the view
    assert at.toggle(key="_widget_present").value
    options = assert_view_shows(at, "lstm-128", 8)
    assert options["present"] == screen and not options["inspect"]
    next(b for b in at.button if b.label == "Exit").click()
    rerun(at)
    assert at.query_params["present"] == "0" and at.title[0].value == "Watch it read" and at.tabs
    assert view_of(at)[0]["present"] == 0
