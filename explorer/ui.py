"""Shared Streamlit widgets and cached loaders; the only engine-side module besides app.py that imports Streamlit."""

import hashlib
import io
import json
import os
import re
import secrets
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from .checkpoints import (
    LOCAL,
    SUFFIX,
    Checkpoint,
    CheckpointError,
    CheckpointInfo,
    list_checkpoints,
    read_checkpoint,
    shipped_dir,
    user_dir,
)
from .data import Digits, EmptyDrawingError, TooSmallDrawingError, drawing_to_digit, load_sample
from .gradcheck import GradCheck, gradient_check
from .gradients import Profile, StateJacobian, bptt_profile, digit_batch, state_jacobian
from .internals import Trace, trace
from .jobs import JobManager
from .losses import LOSS_AT
from .metadata import Recorded, recorded
from .models import ModelConfig, SequenceClassifier, count_parameters, untrained_model
from .predictions import misclassified, predict
from .units import gate_saturation

NO_MODELS = "No models found. Train one on the Train page or check the `checkpoints/` folder."
LOSS_AT_LABELS = {"last": "the last row", "every": "every row"}


@st.cache_resource(show_spinner=False)
def sample() -> tuple[Digits, Digits]:
    """The bundled 4,000/1,000 MNIST sample (train, test): one copy shared by every session, never modified."""
    return load_sample()


def _checkpoint_files() -> tuple:
    """(path, inode, mtime_ns, size) of every checkpoint file: a cheap listing that changes whenever a file does."""
    files, folders = [], [shipped_dir(), user_dir()]
    while folders:
        try:
            entries = list(os.scandir(folders.pop()))
        except (FileNotFoundError, NotADirectoryError):  # no user folder before the first save
            continue
        for entry in entries:
            try:
                if entry.name.endswith(SUFFIX):
                    stat = entry.stat()
                    files.append((entry.path, entry.inode(), stat.st_mtime_ns, stat.st_size))
                elif entry.is_dir() and os.path.dirname(entry.path) == str(user_dir()):  # visitors' folders
                    folders.append(entry.path)
            except FileNotFoundError:  # deleted while we looked
                pass
    return tuple(sorted(files))


@st.cache_resource(show_spinner=False, max_entries=8)
def _list_checkpoints(files: tuple) -> tuple[list[CheckpointInfo], list[tuple[str, str]]]:
    """list_checkpoints() and the files it skipped, cached per state of the folders (`files` is the cache key)."""
    skipped = []
    infos = list_checkpoints(on_error=lambda path, error: skipped.append((path.name, str(error))))
    return infos, skipped


def available_models() -> list[CheckpointInfo]:
    """Shipped and user checkpoints; their headers are read again only when a file was added, removed or changed."""
    return _list_checkpoints(_checkpoint_files())[0]


def skipped_checkpoints() -> list[tuple[str, str]]:
    """(file name, why) of checkpoint files in the user folders that cannot be read."""
    return _list_checkpoints(_checkpoint_files())[1]


@st.cache_resource(show_spinner="Loading model…", max_entries=16)
def _load(_path: Path, key: str) -> Checkpoint:
    return read_checkpoint(_path)


def load_model(info: CheckpointInfo) -> tuple[Checkpoint, str]:
    """The checkpoint (cached per file version) and its model_key; OSError or CheckpointError if it cannot be read."""
    key = model_key(info)
    return _load(info.path, key), key


@st.cache_data(show_spinner=False, max_entries=256)
def trace_digit(_checkpoint: Checkpoint, model_key: str, image: np.ndarray) -> Trace:
    """Trace of one digit (28, 28) in [0, 1]; cached by model key and the pixels."""
    return trace(_checkpoint.model, torch.from_numpy(np.asarray(image, np.float32))[None])


def model_key(info: CheckpointInfo) -> str:
    """Cache key that changes when the file changes; OSError if the file is gone."""
    return f"{info.path}:{info.path.stat().st_mtime_ns}"


MAX_PARAM = 200  # longer URL parameters are ignored: nothing here needs more


def remembered(key: str, default=None):
    """A choice that survives page switches and reloads: session state, else the URL query string."""
    if key not in st.session_state:
        value = st.query_params.get(key, default)
        st.session_state[key] = value if not isinstance(value, str) or len(value) <= MAX_PARAM else default
    return st.session_state[key]


# ---- who is this visitor ---------------------------------------------------------------------------

OWNER_COOKIE = "rnn_explorer_owner"
TOKEN = re.compile(r"[A-Za-z0-9_-]{32,86}")


def owner_id() -> str:
    """This browser's owner id: a hash of a random token the browser keeps in a cookie, so a reload is the same
    visitor. A new browser gets a new token (stored by keep_owner_cookie)."""
    if "_owner" not in st.session_state:
        try:
            token = st.context.cookies.get(OWNER_COOKIE)
        except Exception:  # no browser behind this session (AppTest, bare mode)
            token = None
        if not (isinstance(token, str) and TOKEN.fullmatch(token)):
            token = secrets.token_urlsafe(32)
            st.session_state["_owner_cookie"] = token
        st.session_state["_owner"] = hashlib.sha256(token.encode()).hexdigest()[:16]
    return st.session_state["_owner"]


def keep_owner_cookie() -> None:
    """Store a new visitor's token in their browser, once (a first-party cookie for this server, one year)."""
    owner_id()
    token = st.session_state.pop("_owner_cookie", None)
    if token:  # only our own [A-Za-z0-9_-] token goes into the script
        st.html(
            f"<script>document.cookie = '{OWNER_COOKIE}={token}; path=/; max-age=31536000; SameSite=Strict';</script>",
            unsafe_allow_javascript=True,
        )


def owner_tag(owner: str) -> str:
    """How another visitor is named on screen: the first 4 digits of their owner id."""
    return f"visitor {owner[:4]}"


@st.cache_resource(show_spinner=False)
def job_manager() -> JobManager:
    """The server's one job manager: every session of this process sees the same jobs."""
    return JobManager()


# ---- untrusted text --------------------------------------------------------------------------------

_MARKUP = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&=\"'@^%;,?/])")
_WJ = "\u2060"  # word joiner: invisible, and breaks GitHub-style autolinks (www., http://, a@b)


def plain(text) -> str:
    """Any text made safe to put inside Markdown: every markup character escaped, autolinks broken, one line.

    For whatever a visitor supplied (names, file names, URL parameters, error messages that quote a file).
    """
    text = re.sub(r"(?i)(www)(\.)", "\\1" + _WJ + "\\2", str(text)[:500])
    text = text.replace(":", _WJ + ":").replace("@", _WJ + "@")
    return _MARKUP.sub(r"\\\1", text).replace("\n", " ").replace("\r", " ")


def remember(key: str, value) -> None:
    """Store a choice in session state and in the URL (so a view can be shared by link)."""
    st.session_state[key] = value
    st.query_params[key] = str(value)


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


def loaded_model(info: CheckpointInfo) -> tuple[Checkpoint, str] | None:
    """load_model, or None after a friendly error (a bad file, or one deleted while the page was open)."""
    try:
        return load_model(info)
    except FileNotFoundError:
        st.error(f"{plain(info.stem)} is gone: its file was deleted (in another tab?). Pick another model.")
    except (CheckpointError, OSError) as e:
        st.error(f"Could not load {plain(info.stem)}: {plain(e)}")
    return None


@st.cache_data(show_spinner=False, max_entries=256)
def _recorded(meta_json: str) -> Recorded:
    return recorded(json.loads(meta_json))


def recorded_meta(info: CheckpointInfo) -> Recorded:
    """The checkpoint's displayable metadata, validated (cached per metadata)."""
    return _recorded(json.dumps(info.meta, sort_keys=True))


def loss_at_picker(key: str | None = None, **kwargs) -> str:
    """Radio: the loss on the prediction after the last row, or averaged over the predictions after every row."""
    return st.radio(
        "Loss at",
        LOSS_AT,
        key=key,
        horizontal=True,
        format_func=LOSS_AT_LABELS.get,
        help=(
            "Where the cross-entropy is taken: on the answer after the last row (a classifier), or on the answer "
            "after every row, averaged (then early rows get gradient of their own)."
        ),
        **kwargs,
    )


# ---- more shared choices -----------------------------------------------------------------------


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


@st.cache_data(show_spinner=False)
def parameter_count(config: dict) -> int:
    """Number of trainable parameters of a model with this config (a ModelConfig dict)."""
    with torch.device("meta"):  # shapes only: no memory, and no draws from the global RNG
        return count_parameters(SequenceClassifier(ModelConfig.from_dict(config)))


# ---- digits --------------------------------------------------------------------------------------

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


@st.cache_data(show_spinner="Classifying the test digits…", max_entries=16)
def test_predictions(_checkpoint: Checkpoint, model_key: str) -> np.ndarray:
    """The model's predicted class for each bundled test digit."""
    return predict(_checkpoint.model, sample()[1])


def _set_digit(key: str, index: int) -> None:
    remember(key, int(index))


def _source_changed(key: str, checkpoint: Checkpoint, model_key: str) -> None:
    source = st.session_state[f"_widget_{key}_source"]
    remember(f"{key}_source", source)
    test = sample()[1]
    if source == "random":
        _set_digit(key, np.random.default_rng().integers(len(test)))
    elif source == "wrong":
        wrong = misclassified(test, test_predictions(checkpoint, model_key))
        if len(wrong) and int(remembered(key, 0)) not in wrong:
            _set_digit(key, wrong[0])


def _synced(widget_key: str, value) -> str:
    """Show `value` in the widget with this key (set before the widget is drawn, so user changes go via on_change)."""
    st.session_state[widget_key] = value
    return widget_key


def _test_index_ui(key: str, index: int, test: Digits) -> None:
    wk = _synced(f"_widget_{key}_index", index)
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
    ck = _synced(f"_widget_{key}_class", label)
    left.selectbox(
        "Class",
        range(10),
        key=ck,
        on_change=lambda: _set_digit(key, np.flatnonzero(test.labels == st.session_state[ck])[0]),
    )
    ek = _synced(f"_widget_{key}_example", int(np.searchsorted(members, index)) + 1)
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
    wk = _synced(f"_widget_{key}_wrong", index)
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


def digit_picker(checkpoint: Checkpoint, model_key: str, key: str = "digit") -> Digit | None:
    """Pick a test digit (by number, class, at random, among the model's mistakes) or draw one; None if none yet.

    The test digit's number is remembered across pages and in the URL; a drawing lives in
    st.session_state[f"{key}_drawing"] as the canvas's RGBA array.
    """
    test = sample()[1]
    source = str(remembered(f"{key}_source", "index"))
    source = source if source in SOURCES else "index"
    sk = _synced(f"_widget_{key}_source", source)
    st.segmented_control(
        "Digit",
        list(SOURCES),
        key=sk,
        format_func=SOURCES.get,
        required=True,
        on_change=lambda: _source_changed(key, checkpoint, model_key),
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
        index = _wrong_ui(key, index, test, test_predictions(checkpoint, model_key))
        if index is None:
            return None
    if str(st.session_state.get(key)) != str(index) or st.query_params.get(key) != str(index):
        remember(key, index)
    return Digit(test.images[index].astype(np.float32) / 255.0, int(test.labels[index]), index)


# ---- cached engine calls for the scan views --------------------------------------------------------


@st.cache_data(show_spinner="Measuring gate saturation over the test digits…", max_entries=16)
def saturation(_checkpoint: Checkpoint, model_key: str, digits: int) -> dict:
    """Gate saturation of every layer/direction over the first `digits` bundled test digits (see explorer.units)."""
    images, _ = sample()[1].tensors()
    return gate_saturation(_checkpoint.model, images[:digits])


def npz_bytes(arrays: dict) -> bytes:
    """A compressed .npz file of named arrays, for a download button."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


# ---- cached engine calls for the gradient views ------------------------------------------------------

JACOBIAN_DIGITS = 32  # ||dh_T/dh_t|| costs one gradient pass per hidden unit: a sub-batch keeps it fast


@st.cache_resource(max_entries=32, show_spinner=False)
def _untrained(config: str, forget_bias: float | None, scale: float | None) -> SequenceClassifier:
    return untrained_model(ModelConfig.from_dict(json.loads(config)), 0, forget_bias, scale)


def untrained_copy(
    config: ModelConfig, forget_bias: float | None, scale: float | None
) -> tuple[SequenceClassifier, str]:
    """A freshly initialised (seed 0) model of this architecture with the init knobs, and its cache key."""
    text = json.dumps(config.to_dict(), sort_keys=True)
    return _untrained(text, forget_bias, scale), f"untrained:{text}:{forget_bias}:{scale}"


@st.cache_resource(max_entries=64, show_spinner=False)
def test_batch(size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`size` bundled test digits drawn with this seed (gradients.digit_batch): shared, never modified."""
    return digit_batch(sample()[1], size, seed)


@st.cache_data(max_entries=64, show_spinner=False)
def gradient_profile(_model: SequenceClassifier, model_key: str, size: int, seed: int, loss_at: str) -> Profile:
    """BPTT profile of the model on test_batch(size, seed)."""
    return bptt_profile(_model, *test_batch(size, seed), loss_at)


@st.cache_data(max_entries=64, show_spinner=False)
def final_state_jacobian(
    _model: SequenceClassifier, model_key: str, size: int, seed: int, digits: int
) -> StateJacobian:
    """||dh_T/ds_t|| on the first `digits` digits of test_batch(size, seed)."""
    return state_jacobian(_model, test_batch(size, seed)[0][:digits])


@st.cache_data(max_entries=16, show_spinner=False)
def gradient_check_result(
    _model: SequenceClassifier,
    model_key: str,
    size: int,
    seed: int,
    loss_at: str,
    layer: int,
    direction: int,
    digits: int = 4,
) -> GradCheck:
    """explorer.gradcheck on the batch's first `digits` digits, for one layer and direction."""
    x, y = test_batch(size, seed)
    return gradient_check(_model, x[:digits], y[:digits], loss_at, layer=layer, direction=direction)
