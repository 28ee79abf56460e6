"""Widgets shared by the pages: model and digit pickers, the loss placement, remembered select boxes."""

import zlib
from dataclasses import dataclass

import numpy as np
import streamlit as st

from ..data.digits import Digits, EmptyDrawingError, TooSmallDrawingError, drawing_to_digit
from ..data.sequences import ROW_MNIST
from ..model.checkpoint_file import Checkpoint, CheckpointError
from ..model.checkpoints import LOCAL, CheckpointInfo
from ..model.predictions import misclassified
from ..training.losses import LOSS_AT
from .loaders import available_models, load_model, predicted_classes, sample
from .state import kept, owner_id, owner_tag, plain, remember, remembered, synced

NO_MODELS = "No models found. Train one on the Train page or check the `checkpoints/` folder."


LOSS_AT_LABELS = {"last": "the last row", "every": "every row"}


def whose(info: CheckpointInfo) -> str:
    """'shipped', 'yours', 'the server's' or 'visitor a1b2's'."""
    if info.shipped:
        return "shipped"
    if info.owner == LOCAL:
        return "the server's"
    return "yours" if info.owner == owner_id() else owner_tag(info.owner) + "'s"


def model_option_label(info: CheckpointInfo) -> str:
    """How a model is listed in pickers (plain text), e.g. "LSTM-128 · lstm-128" or "LSTM-16 · mine (yours)"."""
    return f"{info.label} · {info.stem}" + ("" if info.shipped else f" ({whose(info)})")


def model_labels(infos) -> dict[str, str]:
    """name -> model_option_label, computed now (a picker's format_func must not depend on when it is called)."""
    return {info.name: model_option_label(info) for info in infos}


def model_picker(
    label: str = "Model", key: str = "model", help: str | None = None, default: str | None = None
) -> CheckpointInfo | None:
    """Select box over every checkpoint; the choice is remembered across pages and in the URL."""
    infos = available_models()
    if not infos:
        st.error(NO_MODELS)
        return None
    by_name = {i.name: i for i in infos}
    fallback = default if default in by_name else infos[0].name
    current = remembered(key, fallback)
    if current not in by_name:  # deleted since, or a stale link
        st.warning(
            f"There is no model {plain(str(current)[:60])} any more (was it deleted?); showing "
            f"{plain(by_name[fallback].stem)} instead."
        )
        current = fallback
    choice = st.selectbox(
        label,
        list(by_name),
        index=list(by_name).index(current),
        key=f"_widget_{key}",
        help=help,
        format_func=model_labels(infos).get,
    )
    if choice != st.session_state.get(key) or st.query_params.get(key) != choice:
        remember(key, choice)
    return by_name[choice]


def model_multiselect(label: str, key: str, default: list[str], infos: dict[str, CheckpointInfo]) -> list[str]:
    """Several models, kept like every choice (remembered: session state, mirrored in the URL, comma-joined);
    models deleted since drop out."""
    kept_names = [n for n in str(remembered(key, ",".join(default))).split(",") if n in infos]
    kept_names = kept_names or list(infos)[:1]
    widget_key = f"_widget_{key}"
    if widget_key not in st.session_state or any(n not in infos for n in st.session_state[widget_key]):
        st.session_state[widget_key] = kept_names  # widget state is dropped on page switches; the choice is not
    names = st.multiselect(label, list(infos), key=widget_key, format_func=model_labels(infos.values()).get)
    if ",".join(names) != st.session_state.get(key):
        remember(key, ",".join(names))
    return names


def loaded_model(info: CheckpointInfo) -> tuple[Checkpoint, str] | None:
    """load_model, or None after a friendly error (a bad file, or one deleted while the page was open)."""
    try:
        return load_model(info)
    except FileNotFoundError:
        st.error(f"{plain(info.stem)} is gone: its file was deleted (in another tab?). Pick another model.")
    except (CheckpointError, OSError) as e:
        st.error(f"Could not load {plain(info.stem)}: {plain(e)}")
    return None


def loss_at_picker(key: str | None = None, default: str = "last") -> str:
    """Radio: the loss on the prediction after the last row, or averaged over the predictions after every row;
    with a key, the choice is kept across pages."""
    options = dict(
        options=LOSS_AT,
        horizontal=True,
        format_func=LOSS_AT_LABELS.get,
        help=(
            "Where the cross-entropy is taken: on the answer after the last row (a classifier), or on the answer "
            "after every row, averaged (then early rows get gradient of their own)."
        ),
    )
    if key is None:
        return st.radio("Loss at", index=LOSS_AT.index(default), **options)
    return kept(st.radio, "Loss at", key, default, **options)


def choice(label: str, options, key: str, format_func=str, help: str | None = None, widget=None):
    """A select box (or `widget`, e.g. st.radio) whose choice is remembered across pages and in the URL."""
    options = list(options)
    names = [str(o) for o in options]
    current = str(remembered(key, names[0]))
    index = names.index(current) if current in names else 0
    # The option list is part of the widget key: a model with other layers gets a fresh widget, not a stale value.
    widget_key = f"_widget_{key}_{zlib.crc32('|'.join(names).encode()):08x}"
    picked = (widget or st.selectbox)(label, options, index=index, key=widget_key, format_func=format_func, help=help)
    if str(picked) != st.session_state.get(key) or st.query_params.get(key) != str(picked):
        remember(key, str(picked))
    return picked


SOURCES = {
    "index": "By number",
    "class": "By class",
    "random": "Random",
    "wrong": "Misclassified",
    "draw": "Draw your own",
}


@dataclass(frozen=True, eq=False)
class Digit:
    """The digit a page shows: a (28, 28) float32 image in [0, 1], its label, and its test-set index if any."""

    image: np.ndarray
    label: int | None
    index: int | None

    @property
    def caption(self) -> str:
        return "your drawing" if self.index is None else f"test digit #{self.index} (a {self.label})"


def _set_digit(key: str, index: int) -> None:
    remember(key, int(index))


def _source_changed(key: str, checkpoint: Checkpoint, model_key: str, task) -> None:
    source = st.session_state[f"_widget_{key}_source"]
    remember(f"{key}_source", source)
    test = sample()[1]
    if source == "random":
        _set_digit(key, np.random.default_rng().integers(len(test)))
    elif source == "wrong":
        wrong = misclassified(test, predicted_classes(checkpoint, model_key, task))
        if len(wrong) and int(remembered(key, 0)) not in wrong:
            _set_digit(key, wrong[0])


def _test_index_ui(key: str, index: int, test: Digits) -> None:
    wk = synced(f"_widget_{key}_index", index)
    st.number_input(
        "Test digit number",
        0,
        len(test) - 1,
        key=wk,
        step=1,
        help=f"One of the {len(test):,} bundled test digits.",
        on_change=lambda: _set_digit(key, st.session_state[wk]),
    )


def _class_ui(key: str, index: int, test: Digits) -> None:
    label = int(test.labels[index])
    members = np.flatnonzero(test.labels == label)
    left, right = st.columns(2)
    ck = synced(f"_widget_{key}_class", label)
    left.selectbox(
        "Class",
        range(10),
        key=ck,
        on_change=lambda: _set_digit(key, np.flatnonzero(test.labels == st.session_state[ck])[0]),
    )
    ek = synced(f"_widget_{key}_example", int(np.searchsorted(members, index)) + 1)
    right.number_input(
        f"Example (of {len(members)})",
        1,
        len(members),
        key=ek,
        step=1,
        on_change=lambda: _set_digit(key, members[st.session_state[ek] - 1]),
    )


def _wrong_ui(key: str, index: int, test: Digits, predicted: np.ndarray) -> int | None:
    wrong = misclassified(test, predicted)
    if len(wrong) == 0:
        st.success("This model gets every bundled test digit right: nothing to show here.")
        return None
    if index not in wrong:
        index = int(wrong[0])
        _set_digit(key, index)
    wk = synced(f"_widget_{key}_wrong", index)
    st.selectbox(
        f"Misclassified digits ({len(wrong)} of {len(test):,})",
        wrong.tolist(),
        key=wk,
        format_func=lambda i: f"#{i}: a {test.labels[i]}, read as {predicted[i]}",
        on_change=lambda: _set_digit(key, st.session_state[wk]),
    )
    return index


def drawn_digit(rgba: np.ndarray | None) -> np.ndarray | None:
    """The MNIST-style digit of a canvas drawing (H, W, 4), or None (with a friendly prompt) if there is no ink."""
    if rgba is None:
        st.info("Draw a digit on the canvas: the model reads it as soon as you lift the pen.", icon=":material/draw:")
        return None
    try:
        return drawing_to_digit(np.asarray(rgba))
    except EmptyDrawingError:
        st.info("The canvas is empty: draw a digit (0-9), big and centred, then lift the pen.", icon=":material/draw:")
        return None
    except TooSmallDrawingError as e:
        st.info(str(e), icon=":material/draw:")  # our own message, with only a number in it
        return None


def _draw_ui(key: str) -> np.ndarray | None:
    from streamlit_drawable_canvas import st_canvas  # registers its component: needs a running Streamlit app

    st.space("small")  # room for the canvas's own toolbar, which floats above it
    left, right = st.columns([3, 2], vertical_alignment="center")
    with left:
        result = st_canvas(
            stroke_width=18,
            stroke_color="#ffffff",
            background_color="#000000",
            height=224,
            width=224,
            drawing_mode="freedraw",
            return_image_data=True,
            key=f"_widget_{key}_canvas",
        )
    if result.image_data is not None:  # None until the canvas first reports; keep the last drawing meanwhile
        st.session_state[f"{key}_drawing"] = result.image_data
    with right:
        image = drawn_digit(st.session_state.get(f"{key}_drawing"))
        if image is not None:
            st.image(image, caption="what the model reads (28 x 28)", width=112, clamp=True)
    return image


def digit_picker(checkpoint: Checkpoint, model_key: str, key: str = "digit", task=ROW_MNIST) -> Digit | None:
    """Pick a test digit (by number, class, at random, among the model's mistakes) or draw one; None if none yet.

    The test digit's number is remembered across pages and in the URL; a drawing lives in
    st.session_state[f"{key}_drawing"] as the canvas's RGBA array.
    """
    test = sample()[1]
    source = str(remembered(f"{key}_source", "index"))
    source = source if source in SOURCES else "index"
    sk = synced(f"_widget_{key}_source", source)
    st.segmented_control(
        "Digit",
        list(SOURCES),
        wrap=True,  # onto a second row in a narrow window rather than cut off
        key=sk,
        format_func=SOURCES.get,
        required=True,
        on_change=lambda: _source_changed(key, checkpoint, model_key, task),
    )
    if source == "draw":
        image = _draw_ui(key)
        return None if image is None else Digit(image, None, None)
    try:
        index = int(remembered(key, 0))
    except ValueError:
        index = 0
    index = min(max(index, 0), len(test) - 1)
    if source == "index":
        _test_index_ui(key, index, test)
    elif source == "class":
        _class_ui(key, index, test)
    elif source == "random":
        st.button(
            "Another random digit",
            icon=":material/casino:",
            on_click=lambda: _set_digit(key, np.random.default_rng().integers(len(test))),
        )
    else:
        index = _wrong_ui(key, index, test, predicted_classes(checkpoint, model_key, task))
        if index is None:
            return None
    if str(st.session_state.get(key)) != str(index) or st.query_params.get(key) != str(index):
        remember(key, index)
    return Digit(test.images[index].astype(np.float32) / 255.0, int(test.labels[index]), index)
