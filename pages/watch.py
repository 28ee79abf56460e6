"""Watch it read: a model reads a digit row by row; gates, cell state, hidden state and prediction, animated."""

import zlib

import numpy as np
import streamlit as st

from explorer import ui
from explorer.analysis.units import ORDERINGS
from explorer.data.digits import checked_digit
from explorer.model.config import DIRECTIONS
from explorer.readings.models import point_note
from explorer.ui import present
from explorer.ui.browser_view import view_data, view_options, watch_view, watched_model

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
if info is None:
    st.stop()
# The view runs the model in the browser: the page needs only what the model's header says, and a link to its
# weights (browser_view.watched_model), so a page open loads no weights and imports no torch.
try:
    version = ui.model_key(info)
except OSError as e:  # deleted since it was listed
    ui.unreadable(info, e)
    st.stop()
cfg, task = info.config, ui.model_task(info)
history = ui.model_points(info)
at = len(history) - 1  # the final weights, unless the replay slider picks a snapshot
if len(history) > 1:
    with st.sidebar:
        at = st.select_slider(
            "Training progress",
            options=list(range(len(history))),
            value=len(history) - 1,
            format_func=lambda i: history[i].label,
            key=f"progress_{zlib.crc32(version.encode()):08x}",  # per file version, no path: keys reach the DOM
            help="Replay: this model's weights as they were at a snapshot taken during training. Every view on "
            "the page uses them.",
        )
        st.caption(point_note(history[at]))
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

models = [watched_model(info, task, history[at].index)]
if other_info is not None:
    other_task = ui.model_task(other_info)
    if other_task != task:
        st.warning(
            f"{ui.plain(other_info.stem)} was trained on {other_task.name}, not {task.name}: compare models "
            "of the same task."
        )
    else:
        models.append(watched_model(other_info, other_task))
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
    keys=present.PRESENT_KEYS if screen else "",
)
result = watch_view(view_data(models, view), key="watch_view")
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
from explorer.ui.closer import closer_look  # noqa: E402 (torch: only when the closer look is open)

loaded = ui.loaded_model(info)
if loaded is None:
    st.stop()
checkpoint, key = ui.at_snapshot(*loaded, history[at].index)
closer_look(info, checkpoint, key, loaded, history, task, digit, layer, direction, order_by)
