"""Watch it read's closer look under the view: the unit inspector, explain a number, what if, replay, gate
saturation, how the prediction settles and export, for one digit; computed on the server (the view above runs in
the browser). A module rather than page code: Streamlit recompiles a page's source for every new session, not an
imported module's."""

import numpy as np
import streamlit as st

from explorer import ui
from explorer.analysis.counterfactual import agreement, erase, keep_only
from explorer.analysis.explain import explain, input_labels, top_terms
from explorer.analysis.units import SIGMOID_GATES, order_units
from explorer.data.sequences import SequenceTask, digit_sequence
from explorer.figures.counterfactual import contributions_figure, edited_figure, occlusion_figure
from explorer.figures.panels import NAMES
from explorer.figures.replay import replay_figure
from explorer.figures.units import prediction_figure, saturation_figure
from explorer.model.checkpoint_file import Checkpoint
from explorer.model.checkpoints import CheckpointInfo
from explorer.model.config import MIN_KINDS
from explorer.model.config import NAMES as CELL_NAMES
from explorer.model.unroll import state_names
from explorer.readings.formulas import equations, step_lines
from explorer.readings.models import point_note
from explorer.readings.watch import (
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
from explorer.ui.browser_view import EXPORT_DIGITS, offline_html, view_blob, view_options

EDIT_MODES = {"erase": "erase these rows", "keep": "keep only these rows"}


def closer_look(
    info: CheckpointInfo,
    checkpoint: Checkpoint,
    key: str,
    original: tuple,
    history: list,
    task: SequenceTask,
    digit: "ui.Digit",
    layer: int,
    direction: int,
    order_by: str,
) -> None:
    """The tabs for `digit` read by `checkpoint` (the weights at the replay point shown; `original` the final
    ones, `history` the replay points), at this layer, direction and unit order."""
    cfg = checkpoint.config
    sequence = digit_sequence(task, digit.image, -1 if digit.index is None else digit.index)  # (T, 28)
    tr = ui.trace_digit(checkpoint, key, sequence)
    st.caption("Press **Look closer below ↓** in the view to bring the digit shown there to these tabs.")
    if not tr.finite:
        st.error(
            f"{ui.plain(info.stem)} computes numbers that are not finite (infinity or NaN) on this digit: its "
            "weights are so large that float32 overflows. Its gates, states and predictions would mean nothing, "
            "so none are shown; pick another model."
        )
        return
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
            computes = "explorer.model.mincells computes" if cfg.kind in MIN_KINDS else "PyTorch computes"
            with st.expander(f"The {CELL_NAMES[cfg.kind]} equations, as {computes} them"):
                for line in equations(cfg.kind):
                    st.latex(line)

    if whatif.open:
        with whatif:
            target = guess if digit.label is None else digit.label
            occ, saliency = ui.occlusion_map(checkpoint, key, sequence, target)
            st.markdown(
                "**Which rows does the answer need?** Each row erased in turn (its pixels set to 0), the model "
                f"re-run: the change in P({target}) after the last row"
                + (
                    " (a drawing has no label: the class tracked is the model's own guess)."
                    if digit.label is None
                    else "."
                )
            )
            st.plotly_chart(occlusion_figure(sequence, occ, saliency), theme=None, key="occlusion")
            st.caption(occlusion_reading(occ, agreement(occ, saliency)))
            edit_digit(target, checkpoint, key, sequence, probs, digit.label)
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
                    gate = ui.choice(
                        "Gate saturation over training", gates, "replay_gate", lambda g: f"{g}: {NAMES[g]}"
                    )
                    picks = sorted({0, len(history) // 3, 2 * len(history) // 3, len(history) - 1})
                    digits = digits_for("saturation", cfg, len(ui.sample()[1]))
                    stats = {
                        history[i].label: ui.saturation(*models[i], digits, task)[layer, direction][gate] for i in picks
                    }
                    st.plotly_chart(
                        saturation_figure(stats, titles={k: k for k in stats}), theme=None, key="replay_sat"
                    )
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


@st.fragment
def edit_digit(target: int, checkpoint: Checkpoint, key: str, sequence: np.ndarray, probs: np.ndarray, label) -> None:
    """Erase or keep rows and see the answer change; a fragment: an edit reruns this part only."""
    T = len(sequence)
    st.markdown("**Edit the digit yourself**")
    e1, e2 = st.columns([3, 2])
    edit_rows = e1.multiselect(
        "Rows", list(range(1, T + 1)), key="whatif_rows", help="Pick single rows or a run of them."
    )
    mode = e2.radio("Do", ("erase", "keep"), horizontal=True, key="whatif_mode", format_func=EDIT_MODES.get)
    if edit_rows:
        chosen = [r - 1 for r in edit_rows]
        edited = erase(sequence, chosen) if mode == "erase" else keep_only(sequence, chosen)
        after = ui.trace_digit(checkpoint, key, edited).probs[0]
        st.plotly_chart(edited_figure(edited, probs[-1], after[-1]), theme=None, key="edited")
        st.caption(edit_caption(probs, after, target))
        st.plotly_chart(prediction_figure(after, label), theme=None, key="edited_curve")
