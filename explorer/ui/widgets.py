"""Widgets shared by the pages: model and digit pickers, the loss placement, remembered select boxes."""

import zlib
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from ..model.checkpoints import LOCAL, CheckpointInfo
from ..model.header import CheckpointError
from .loaders import available_models
from .state import kept, owner_id, owner_tag, plain, remember, remembered

if TYPE_CHECKING:
    from ..model.checkpoint_file import Checkpoint

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


SHOW_OTHERS = "show_others"  # the kept switch that lists other visitors' models in every picker


def _rank(info: CheckpointInfo, me: str) -> int:
    """Where a model is listed: 0 shipped, 1 the server's, 2 the visitor's own, 3 another visitor's."""
    if info.shipped:
        return 0
    if info.owner == LOCAL:
        return 1
    return 2 if info.owner == me else 3


def visible_models(linked: Collection[str] = ()) -> list[CheckpointInfo]:
    """The models a visitor is offered, in this order: shipped, the server's, their own; then other visitors'
    when the switch "Show other visitors' models" is on, or those named in `linked` (a shared link's choice)."""
    me, show = owner_id(), bool(st.session_state.get(SHOW_OTHERS))
    ranked = sorted(available_models(), key=lambda info: _rank(info, me))  # stable: each group keeps its order
    return [info for info in ranked if _rank(info, me) < 3 or show or info.name in linked]


def others_switch() -> bool:
    """The switch "Show other visitors' models" (app.py draws it in every page's sidebar); its help counts them."""
    me = owner_id()
    count = sum(_rank(info, me) == 3 for info in available_models())
    about = (
        f"Other visitors have trained or added {count} model{'s' if count != 1 else ''} on this server. On: the "
        "pickers list them after the shipped ones and yours. A link to one of them opens it either way."
        if count
        else "No other visitor has trained or added a model on this server yet."
    )
    return kept(st.toggle, "Show other visitors' models", SHOW_OTHERS, False, help=about)


def model_picker(
    label: str = "Model", key: str = "model", help: str | None = None, default: str | None = None
) -> CheckpointInfo | None:
    """Select box over visible_models(); the choice is remembered across pages and in the URL (a link to another
    visitor's model opens it, labelled as theirs)."""
    infos = visible_models()
    if not infos:
        st.error(NO_MODELS)
        return None
    fallback = default if any(i.name == default for i in infos) else infos[0].name
    current = remembered(key, fallback)
    infos = visible_models(linked=(current,))
    by_name = {i.name: i for i in infos}
    if current not in by_name:  # deleted since, or a stale or mistyped link
        st.warning(f"No model is named {plain(str(current)[:60])}; showing {plain(by_name[fallback].stem)} instead.")
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


def model_multiselect(label: str, key: str, default: list[str]) -> dict[str, CheckpointInfo]:
    """Several of visible_models() (and other visitors' that a link names), kept like every choice (remembered:
    session state, mirrored in the URL, comma-joined); models deleted since drop out. Returns name -> info of
    the chosen ones, in their order."""
    wanted = str(remembered(key, ",".join(default))).split(",")
    infos = {i.name: i for i in visible_models(linked=wanted)}
    kept_names = [n for n in wanted if n in infos]
    fallback = [n for n in default if n in infos] or list(infos)[:1]
    if unknown := [n for n in wanted if n and n not in infos]:  # deleted since, or a stale or mistyped link
        instead = ", ".join(infos[n].stem for n in fallback)
        st.warning(
            f"No model is named {plain(', '.join(unknown)[:80])}: "
            + ("left out." if kept_names else f"showing {plain(instead)} instead.")
        )
    kept_names = kept_names or fallback
    widget_key = f"_widget_{key}"
    if widget_key not in st.session_state or any(n not in infos for n in st.session_state[widget_key]):
        st.session_state[widget_key] = kept_names  # widget state is dropped on page switches; the choice is not
    names = st.multiselect(label, list(infos), key=widget_key, format_func=model_labels(infos.values()).get)
    if ",".join(names) != st.session_state.get(key):
        remember(key, ",".join(names))
    return {n: infos[n] for n in names}


def unreadable(info: CheckpointInfo, error: Exception) -> None:
    """Say why a model cannot be loaded (a bad file, or one deleted while the page was open) without ever naming
    the file's path on the server."""
    if not info.path.exists():  # deleted since it was listed
        st.error(f"{plain(info.stem)} is gone: its file was deleted (in another tab?). Pick another model.")
    elif isinstance(error, OSError):  # its text would name the path
        st.error(f"Could not load {plain(info.stem)}: {plain(error.strerror or 'the file cannot be read')}")
    else:
        st.error(f"Could not load {plain(info.stem)}: {plain(error)}")


def loaded_model(info: CheckpointInfo) -> "tuple[Checkpoint, str] | None":
    """load_model, or None after unreadable's message."""
    from .computed import load_model  # torch: imported by the first page that loads a model's weights

    try:
        return load_model(info)
    except (CheckpointError, OSError) as e:
        unreadable(info, e)
    return None


def loss_at_picker(key: str | None = None, default: str = "last") -> str:
    """Radio: the loss on the prediction after the last row, or averaged over the predictions after every row;
    with a key, the choice is kept across pages."""
    from ..training.losses import LOSS_AT  # torch: the pages with a loss load it anyway

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


@dataclass(frozen=True, eq=False)
class Digit:
    """The digit a page shows: a (28, 28) float32 image in [0, 1], its label, and its test-set index if any."""

    image: np.ndarray
    label: int | None
    index: int | None

    @property
    def caption(self) -> str:
        return "your drawing" if self.index is None else f"test digit #{self.index} (a {self.label})"
