"""Watch it read: a model reads a digit row by row; gates, cell state, hidden state and prediction, animated."""

import zlib

import numpy as np
import streamlit as st

from explorer import ui
from explorer.analysis.counterfactual import agreement, erase, keep_only
from explorer.analysis.explain import explain, input_labels, top_terms
from explorer.analysis.units import ORDERINGS, SIGMOID_GATES, order_units
from explorer.data.digits import checked_digit
from explorer.data.sequences import digit_sequence
from explorer.figures.counterfactual import contributions_figure, edited_figure, occlusion_figure
from explorer.figures.panels import NAMES
from explorer.figures.replay import replay_figure
from explorer.figures.units import prediction_figure, saturation_figure
from explorer.model import network
from explorer.model.snapshots import points
from explorer.model.unroll import DIRECTIONS, state_names
from explorer.readings.formulas import equations, step_lines
from explorer.readings.models import point_note
from explorer.readings.watch import (
    PRESENT_KEYS,
    edit_caption,
    explain_caption,
    gate_reading,
    occlusion_reading,
    replay_caption,
    saturation_caption,
    scan_reading,
    unit_caption,
)
from explorer.serving.budget import digits_for
from explorer.ui import present
from explorer.ui.browser_view import EXPORT_DIGITS, offline_html, view_blob, view_options, watch_view

ORDER_LABELS = {"index": "unit number", "activity": "mean activity |h|", "cluster": "similarity (clusters)"}
DEFAULT_MODEL = "lstm-128"  # the classic: four gates and a cell state to watch
SPEEDS = ("normal", "slow", "fast")
EDIT_MODES = {"erase": "erase these rows", "keep": "keep only these rows"}
DRAWING = "watch_drawing"  # session key: the drawing the view sent for a closer look (28x28 float32)


def next_model() -> None:
    """Presentation key M: the next model in the picker's list (ui.visible_models)."""
    names = [i.name for i in ui.visible_models()]
    if names:
        now = ui.remembered("model", DEFAULT_MODEL)
        ui.remember("model", names[(names.index(now) + 1) % len(names)] if now in names else names[0])
        st.session_state.pop("_widget_model", None)  # the picker then starts from the remembered model


def take_inspected(sent) -> None:
    """Keep the digit the view sent with "Look closer below": a test digit's number, or a drawing's 28x28
    pixels (validated: untrusted)."""
    if not isinstance(sent, dict):
        return
    if "index" in sent:
        try:
            index = int(sent["index"])
        except (TypeError, ValueError):
            return
        ui.remember("digit_source", "index")
        ui.remember("digit", min(max(index, 0), len(ui.sample()[1]) - 1))
    elif "drawing" in sent:
        try:
            st.session_state[DRAWING] = checked_digit(sent["drawing"])
        except ValueError:
            return
        ui.remember("digit_source", "draw")


def closer_digit() -> ui.Digit:
    """The digit the tabs under the view look at: the drawing or the test digit last sent, else the URL's (one
    outside the test set is replaced by the nearest, and the page says so)."""
    if ui.remembered("digit_source", "index") == "draw" and st.session_state.get(DRAWING) is not None:
        return ui.Digit(st.session_state[DRAWING], None, None)
    test = ui.sample()[1]
    asked = ui.remembered("digit", 0)
    try:
        index = int(asked)
    except (TypeError, ValueError):
        index = -1
    if not 0 <= index < len(test):
        index = min(max(index, 0), len(test) - 1)
        st.info(
            f"There is no test digit {ui.plain(str(asked)[:20])}: the test digits are numbered 0 to "
            f"{len(test) - 1}. Showing #{index}."
        )
    if str(st.session_state.get("digit")) != str(index) or st.query_params.get("digit") != str(index):
        ui.remember("digit", index)  # the link names the digit
    return ui.Digit(test.images[index].astype(np.float32) / 255.0, int(test.labels[index]), index)


screen = present.presenting()
if screen:
    st.html(present.CSS)
else:
    st.title("Watch it read")
    st.caption(
        "The network reads the digit one row at a time, top to bottom, updating its gates and memory at every "
        "row. It runs in your browser: press **▶ Play** beside the digit, step with ← →, draw your own digit "
        "and watch the gates change while you draw, or click any cell of a heatmap to see its equation with "
        "the numbers."
    )

with st.sidebar:
    screen = present.presentation_toggle()
    info = ui.model_picker(default=DEFAULT_MODEL)
    loaded = ui.loaded_model(info) if info else None
if loaded is None:
    st.stop()
checkpoint, key = loaded
cfg, task = checkpoint.config, ui.recorded_meta(info).task
history = points(checkpoint.snapshots, checkpoint.meta.get("metrics"), checkpoint.meta.get("history"))
original = (checkpoint, key)  # the final weights, whatever point of training is shown
if len(history) > 1:
    with st.sidebar:
        at = st.select_slider(
            "Training progress",
            options=list(range(len(history))),
            value=len(history) - 1,
            format_func=lambda i: history[i].label,
            key=f"progress_{zlib.crc32(key.encode()):08x}",  # per file version, no path: keys reach the DOM
            help="Replay: this model's weights as they were at a snapshot taken during training. Every view on "
            "the page uses them.",
        )
        st.caption(point_note(history[at]))
    checkpoint, key = ui.at_snapshot(checkpoint, key, history[at].index)
with st.sidebar:
    st.caption("Where the view starts and what the tabs under it show; the view has its own switches too.")
    layer = ui.choice("Layer", range(cfg.num_layers), "layer", lambda n: f"layer {n + 1}") if cfg.num_layers > 1 else 0
    direction = (
        ui.choice(
            "Direction",
            (0, 1),
            "direction",
            DIRECTIONS.__getitem__,
            help="The backward pass reads the digit bottom to top.",
        )
        if cfg.bidirectional
        else 0
    )
    order_by = ui.choice(
        "Order units by",
        ORDERINGS,
        "order",
        ORDER_LABELS.get,
        help="Heatmap rows: units by number, most active first, or similar units together.",
    )
    speed = ui.choice("Animation speed", SPEEDS, "speed", str.capitalize)
    compare = ui.url_toggle("Compare with a second model", "compare_on", str(ui.remembered("compare_on", "0")) == "1")
    # Beside an LSTM a plain RNN, beside anything else the LSTM: two different cells to tell apart.
    other_default = "rnn-128" if info.config.kind == "lstm" else "lstm-128"
    other_info = ui.model_picker("Second model", key="compare", default=other_default) if compare else None
    if other_info is not None and other_info.name == info.name:
        st.info("The second model is the first one again: pick another to compare two.")
        other_info = None

blobs = [ui.model_blob(checkpoint, key, task, info.name, info.label)]
other = ui.loaded_model(other_info) if other_info else None
if other is not None:
    other_task = ui.recorded_meta(other_info).task
    if other_task != task:
        st.warning(
            f"{ui.plain(other_info.stem)} was trained on {other_task.name}, not {task.name}: compare models "
            "of the same task."
        )
    else:
        blobs.append(ui.model_blob(*other, other_task, other_info.name, other_info.label))
digit = closer_digit()
view = view_options(
    present=screen or 0,
    digit=digit.index or 0,
    source="draw" if digit.index is None else "test",
    layer=layer,
    direction=direction,
    order=order_by,
    speed=speed,
    inspect=not screen,
    keys=PRESENT_KEYS if screen else "",
)
result = watch_view(view_blob(blobs, view), key="watch_view")
if result is not None and result.get("key") == "m":
    next_model()
    st.rerun()
if result is not None and result.get("inspect") is not None:
    take_inspected(result.get("inspect"))
    ui.remember("closer", "1")  # the view's "Look closer below" also opens the closer look
    digit = closer_digit()
if screen:
    present.leave_button()
    st.stop()  # the rest of the page is for a closer look, not for the projector

st.subheader(f"A closer look at {digit.caption}", divider="gray")
# Off until asked for: the view above runs in the browser, and this part is the server's work per digit (a trace
# and a figure, most of a page open's CPU), which a class opening the page together would otherwise queue for.
if not ui.url_toggle(
    "Show the closer look: unit inspector, explain a number, what if, replay, saturation, export",
    "closer",
    str(ui.remembered("closer", "0")) == "1",
    help="Computed on the server for the digit the view last sent with **Look closer below ↓**.",
):
    st.stop()
sequence = digit_sequence(task, digit.image, -1 if digit.index is None else digit.index)  # (T, 28)
tr = ui.trace_digit(checkpoint, key, sequence)
st.caption("Press **Look closer below ↓** in the view to bring the digit shown there to these tabs.")
if not tr.finite:
    st.error(
        f"{ui.plain(info.stem)} computes numbers that are not finite (infinity or NaN) on this digit: its "
        "weights are so large that float32 overflows. Its gates, states and predictions would mean nothing, "
        "so none are shown; pick another model."
    )
    st.stop()
probs = tr.probs[0]  # (T, 10): after each row
guess = int(probs[-1].argmax())
order = order_units(tr.get(layer, direction, "h")[0], order_by)
with st.expander("What am I looking at?", icon=":material/help:"):
    st.markdown(
        scan_reading(sequence, probs, cfg.bidirectional, cfg.num_layers)
        + "\n\n"
        + gate_reading(cfg.kind, cfg.bidirectional, tr.get(layer, direction, "h")[0])
    )

inspector, explain_tab, whatif, replay, saturation, settling, export = st.tabs(
    [
        "Unit inspector",
        "Explain a number",
        "What if",
        "Replay training",
        "Gate saturation",
        "How the prediction settles",
        "Export",
    ],
    key="watch_tab",
    on_change="rerun",
)
if inspector.open:
    pick, plot = inspector.columns([1, 3])
    with pick:
        unit = ui.choice(
            "Unit",
            order.tolist(),
            "unit",
            lambda u: f"unit {u}",
            help="Listed in the order of the heatmap rows (top first).",
        )
        st.caption(unit_caption(cfg.kind))
    plot.plotly_chart(ui.unit_view(tr, key, sequence, layer, direction, unit), theme=None)
if explain_tab.open:
    with explain_tab:
        c1, c2, c3 = st.columns(3)
        units = order.tolist()
        start = int(st.session_state.get("unit", units[0]))
        unit = c1.selectbox(
            "Unit",
            units,
            index=units.index(start) if start in units else 0,
            key="explain_unit",
            format_func=lambda u: f"unit {u}",
            help="In the order of the heatmap rows (top first).",
        )
        row = c2.slider("Row", 1, task.T, task.T, key="explain_row", help="The image row t (1 = top).")
        e = explain(checkpoint.model, tr, sequence, layer, direction, unit, row - 1)
        gate = c3.selectbox(
            "What pushes it",
            list(e.terms),
            key="explain_gate",
            format_func=lambda g: f"{g}: {NAMES[g]}",
            help="The bars show the largest terms of this gate's two sums.",
        )
        st.caption(explain_caption(e))
        for line in step_lines(e):
            st.latex(line)
        term = e.terms[gate]
        labels = input_labels(layer, cfg.bidirectional, cfg.hidden_size)
        prev = "t-1" if direction == 0 else "t+1"
        sums = [(f"W_ih · x_t: the inputs at row {row}", [(labels[m], v) for m, v in top_terms(term.input_terms)])]
        if term.recurrent_terms is not None:  # minGRU and minLSTM have no W_hh: their gates read the row alone
            sums.append(
                (
                    f"W_hh · h_{prev}: the state read before row {row}",
                    [(f"h[{m}]", v) for m, v in top_terms(term.recurrent_terms)],
                )
            )
        st.plotly_chart(contributions_figure(sums), theme=None, key="contributions")
        computes = "explorer.model.mincells computes" if cfg.kind in network.MIN_KINDS else "PyTorch computes"
        with st.expander(f"The {network.NAMES[cfg.kind]} equations, as {computes} them"):
            for line in equations(cfg.kind):
                st.latex(line)


@st.fragment
def edit_digit(target: int) -> None:
    """Erase or keep rows and see the answer change; a fragment: an edit reruns this part only."""
    st.markdown("**Edit the digit yourself**")
    e1, e2 = st.columns([3, 2])
    edit_rows = e1.multiselect(
        "Rows", list(range(1, task.T + 1)), key="whatif_rows", help="Pick single rows or a run of them."
    )
    mode = e2.radio("Do", ("erase", "keep"), horizontal=True, key="whatif_mode", format_func=EDIT_MODES.get)
    if edit_rows:
        chosen = [r - 1 for r in edit_rows]
        edited = erase(sequence, chosen) if mode == "erase" else keep_only(sequence, chosen)
        after = ui.trace_digit(checkpoint, key, edited).probs[0]
        st.plotly_chart(edited_figure(edited, probs[-1], after[-1]), theme=None, key="edited")
        st.caption(edit_caption(probs, after, target))
        st.plotly_chart(prediction_figure(after, digit.label), theme=None, key="edited_curve")


if whatif.open:
    with whatif:
        target = guess if digit.label is None else digit.label
        occ, saliency = ui.occlusion_map(checkpoint, key, sequence, target)
        st.markdown(
            f"**Which rows does the answer need?** Each row erased in turn (its pixels set to 0), the model re-run: "
            f"the change in P({target}) after the last row"
            + (" (a drawing has no label: the class tracked is the model's own guess)." if digit.label is None else ".")
        )
        st.plotly_chart(occlusion_figure(sequence, occ, saliency), theme=None, key="occlusion")
        st.caption(occlusion_reading(occ, agreement(occ, saliency)))
        edit_digit(target)
if replay.open:
    with replay:
        if len(history) == 1:
            st.info(
                "This model has no snapshots of its training to replay. The shipped models have them, and so "
                "does any model trained on the Train page with **Keep snapshots for replay** on."
            )
        else:
            shown = ui.choice("State", state_names(cfg.kind), "replay_state", lambda n: f"{n}: {NAMES[n]}")
            models = [ui.at_snapshot(*original, p.index) for p in history]
            traces = [ui.trace_digit(*m, sequence) for m in models]
            st.plotly_chart(
                replay_figure(
                    traces, [p.label for p in history], [point_note(p) for p in history], layer, direction, shown
                ),
                theme=None,
                key="replay",
            )
            st.caption(replay_caption(history, traces, digit.label))
            gates = SIGMOID_GATES[cfg.kind]
            if gates:
                gate = ui.choice("Gate saturation over training", gates, "replay_gate", lambda g: f"{g}: {NAMES[g]}")
                picks = sorted({0, len(history) // 3, 2 * len(history) // 3, len(history) - 1})
                digits = digits_for("saturation", cfg, len(ui.sample()[1]))
                stats = {
                    history[i].label: ui.saturation(*models[i], digits, task)[layer, direction][gate] for i in picks
                }
                st.plotly_chart(saturation_figure(stats, titles={k: k for k in stats}), theme=None, key="replay_sat")
                st.caption(saturation_caption(digits))
if saturation.open:
    with saturation:
        if not SIGMOID_GATES[cfg.kind]:
            st.info("A plain RNN has no gates: nothing saturates but the tanh of its hidden state.")
        else:
            digits = digits_for("saturation", cfg, len(ui.sample()[1]))
            st.caption(saturation_caption(digits))
            stats = ui.saturation(checkpoint, key, digits, task)[layer, direction]
            st.plotly_chart(saturation_figure(stats, int(st.session_state.get("unit", order[0]))), theme=None)
if settling.open:
    with settling:
        st.plotly_chart(prediction_figure(probs, digit.label), theme=None)
if export.open:
    with export:
        name = f"{info.name}-" + ("drawing" if digit.index is None else f"digit{digit.index}")
        st.download_button(
            "Download this explorer (one HTML file that runs offline)",
            lambda: offline_html(
                view_blob(
                    [ui.model_blob(checkpoint, key, task, info.name, info.label, EXPORT_DIGITS)],
                    view_options(digit=min(digit.index or 0, EXPORT_DIGITS - 1), layer=layer, direction=direction),
                ),
                f"RNN Explorer: {info.label}",
            ),
            f"{info.name}-explorer.html",
            "text/html",
            icon=":material/offline_bolt:",
            on_click="ignore",
            help=f"The model's weights, {EXPORT_DIGITS} test digits and the explorer's code in one file: open it "
            "in a browser, with no server and no network, to draw, play, step and click to explain.",
        )
        st.download_button(
            "Trace as .npz (gates, c, h, probabilities, image)",
            lambda: ui.npz_bytes(tr.to_arrays() | {"image": digit.image, "sequence": sequence}),
            f"{name}.npz",
            "application/octet-stream",
            icon=":material/download:",
            on_click="ignore",
        )
