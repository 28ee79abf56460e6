"""The Lesson page's parts: the lesson files (validated, cached per file version), the step in the URL, the keys that
turn the steps, and one function per kind of step view that draws it and returns its result sentences."""

import os

import numpy as np
import streamlit as st
import torch

from ..analysis.chain import bptt_chain
from ..analysis.lesson import delay_rows, delay_task, forget_gates, gradient_by_row, kept_fraction
from ..data.sequences import SequenceTask, digit_sequence
from ..experiments.spec import FULL
from ..experiments.storage import load_sweep, shipped_sweep_dir
from ..figures import lesson as figures
from ..model.config import NAMES, ModelConfig
from ..model.network import untrained_model
from ..model.predictions import settled_after
from ..readings import lesson as readings
from ..readings.lesson_file import Lesson, LessonError, Step, lesson_files, load_lesson, missing_models
from .browser_view import view_data, view_options, watch_view, watched_model
from .computed import load_model, predicted_classes, recorded_meta, trace_digit
from .loaders import available_models, sample
from .state import plain, remember, remembered, synced

BATCH = 64  # test digits behind a per-row gradient or forget-gate curve
KEYS_NOTE = "←/→ or PageUp/PageDown: step · Space play/pause"

# Arrows and PageUp/PageDown turn the steps (window capture phase: before the browser view's own arrow keys), on
# the Lesson page only (its Next button is there), never while a text field or a slider has the focus.
KEYS_JS = """<script>
if (!window.__rxLessonKeys) {
  window.__rxLessonKeys = true;
  window.addEventListener("keydown", (e) => {
    const next = e.key === "ArrowRight" || e.key === "PageDown", prev = e.key === "ArrowLeft" || e.key === "PageUp";
    const t = e.target;
    const busy = t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName) ||
      (t.getAttribute && t.getAttribute("role") === "slider"));
    if ((!next && !prev) || busy || e.ctrlKey || e.metaKey || e.altKey) return;
    const button = document.querySelector(next ? ".st-key-lesson_next button" : ".st-key-lesson_prev button");
    if (!button) return;
    e.preventDefault();
    e.stopImmediatePropagation();
    if (!button.disabled) button.click();
  }, true);
}
</script>"""


@st.cache_data(show_spinner=False, max_entries=8)
def _lessons(files: tuple) -> list:
    out = []
    for path, built_in, _ in files:
        try:
            out.append(load_lesson(path, built_in))
        except LessonError as e:
            out.append(e)
    return out


def lessons() -> list:
    """Every lesson file, loaded: a Lesson, or the LessonError that says what is wrong with it; read again when a
    file changes."""
    files = []
    for path, built_in in lesson_files():
        try:
            files.append((path, built_in, os.stat(path).st_mtime_ns))
        except OSError:
            continue
    return _lessons(tuple(files))


def lesson_problems(lesson: Lesson) -> list[LessonError]:
    """The lesson's steps that name a model this server does not have."""
    known = {i.name for i in available_models()}
    return missing_models(lesson, known, f"{lesson.name}.toml")


def current_step(count: int) -> int:
    """The step (1..count) from the URL or the session, kept in the URL so a reload or a link opens it."""
    try:
        n = int(remembered("step", 1))
    except (TypeError, ValueError):
        n = 1
    n = min(max(n, 1), count)
    if str(st.session_state.get("step")) != str(n) or st.query_params.get("step") != str(n):
        remember("step", n)
    return n


def step_buttons(n: int, count: int, presenting: bool = False) -> None:
    """Previous / Next (keys lesson_prev, lesson_next: the arrow keys press them), and Exit in presentation mode."""
    back, ahead, *leave = st.columns([2, 2, 1] if presenting else 2)
    if leave:  # the icon alone: a projector's narrow column has no room for a word
        leave[0].button(
            ":material/close_fullscreen:",
            key="lesson_exit",
            help="Leave presentation mode",
            on_click=lambda: remember("present", "0"),
            width="stretch",
        )
    back.button(
        "Previous",
        key="lesson_prev",
        icon=":material/arrow_back:",
        disabled=n <= 1,
        on_click=lambda: remember("step", n - 1),
        width="stretch",
    )
    ahead.button(
        "Next",
        key="lesson_next",
        icon=":material/arrow_forward:",
        disabled=n >= count,
        on_click=lambda: remember("step", n + 1),
        width="stretch",
        type="primary",
    )


def try_control(step: Step, key: str):
    """The step's try-it widget; returns its value (a digit number, a delay, a truncation length or a bias)."""
    t = step.tryit
    label = plain(t.label)  # widget labels are Markdown; the lesson file's text is not
    if t.control == "digit":
        return st.number_input(label, 0, len(sample()[1]) - 1, t.default, key=key)
    if t.control == "bias":
        return st.segmented_control(label, list(step.params["models"]), default=t.default, key=key) or t.default
    if step.view == "sweep":
        ks = sorted(_sweep_means()[1])
        nearest = min(ks, key=lambda k: abs(k - t.default))
        return st.select_slider(label, ks, value=nearest, key=key)
    if t.control == "truncation":
        T = _model_task(step.params["model"]).T
        return st.slider(label, 1, T - 1 if step.view == "chain" else T, min(t.default, T - 1), key=key)
    return st.slider(label, 0, 60, t.default, key=key)


def _info(name: str):
    return next(i for i in available_models() if i.name == name)


def _model(name: str):
    return load_model(_info(name))


def _model_task(name: str) -> SequenceTask:
    return recorded_meta(_info(name)).task


def _labels(names: list[str]) -> dict[str, str]:
    """A short label per model: its kind's name (RNN, LSTM, GRU, minGRU, minLSTM), or its name where two share a
    kind."""
    kinds = [NAMES[_info(n).config.kind] for n in names]
    return {n: k if kinds.count(k) == 1 else n for n, k in zip(names, kinds)}


def _test_digit(index: int) -> tuple[np.ndarray, int]:
    test = sample()[1]
    return test.images[index].astype(np.float32) / 255.0, int(test.labels[index])


def _accuracy(checkpoint, model_key: str, task: SequenceTask) -> float:
    """Share of the bundled test digits right, from the predictions the Watch view's blob caches as well."""
    return float(np.mean(predicted_classes(checkpoint, model_key, task) == sample()[1].labels))


def _batch(task: SequenceTask) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = sample()[1].tensors()
    return task.apply(images[:BATCH], indices=torch.arange(BATCH)), labels[:BATCH]


@st.cache_data(show_spinner="Backpropagating…", max_entries=64)
def _gradient(_checkpoint, model_key: str, task: SequenceTask, k: int | None) -> np.ndarray:
    return gradient_by_row(_checkpoint.model, *_batch(task), k)


@st.cache_data(show_spinner="Multiplying Jacobians…", max_entries=32)
def _chain(_checkpoint, model_key: str, task: SequenceTask, index: int, untrained: bool):
    image, label = _test_digit(index)
    model = _checkpoint.model
    if untrained:  # the same architecture and forget-gate bias, as training starts (seed 0)
        model = untrained_model(_checkpoint.config, 0, _checkpoint.meta.get("train_config", {}).get("forget_bias"))
    return bptt_chain(model, torch.from_numpy(digit_sequence(task, image, index)), label, 0)


@st.cache_data(show_spinner=False, max_entries=4)
def _sweep_means() -> tuple[dict, list, int]:
    """Mean test accuracy over seeds of the shipped sweep, [kind][k] (full BPTT under T), its ks and T."""
    sweep = load_sweep(shipped_sweep_dir(), models=False)
    T = sweep.config.sequence_task.T
    means = {}
    for kind in sweep.config.kinds:
        by_k = {k: [r.accuracy for r in sweep.runs_of(kind, "chunks", k)] for k in sweep.ks_of(kind, "chunks")}
        by_k[T] = [r.accuracy for r in sweep.runs_of(kind, FULL, None)]
        means[kind] = {k: float(np.mean(a)) for k, a in by_k.items() if a}
    return means, sorted({k for m in means.values() for k in m}), T


@st.cache_data(show_spinner=False, max_entries=16)
def _forget_rows(_checkpoint, model_key: str, task: SequenceTask) -> np.ndarray:
    return forget_gates(_checkpoint.model, _batch(task)[0]).mean(axis=(0, 2))


@st.cache_data(show_spinner=False, max_entries=16)
def _initial_keep(config: dict, bias: float | None, task: SequenceTask) -> float:
    model = untrained_model(ModelConfig.from_dict(config), 0, bias)
    return float(np.median(kept_fraction(forget_gates(model, _batch(task)[0]), delay_rows(task))))


def watch_step(step: Step, value, height: int, screen: int | None, key: str) -> list[str]:
    """The browser view of one model reading test digit `value`, and what it made of it."""
    name = step.params["model"]
    (checkpoint, mkey), info, task = _model(name), _info(name), _model_task(name)
    view = view_options(
        present=screen or 0, digit=int(value), source="test", inspect=False, keys=KEYS_NOTE if screen else ""
    )
    watch_view(view_data([watched_model(info, task)], view), key=f"{key}_{value}")
    image, label = _test_digit(int(value))
    sequence = digit_sequence(task, image, int(value))
    tr = trace_digit(checkpoint, mkey, sequence)
    probs, kind = tr.probs[0], NAMES[info.config.kind]
    out = [
        readings.prediction_reading(kind, probs, label, settled_after(probs)),
        readings.accuracy_reading(kind, _accuracy(checkpoint, mkey, task), task.name, len(sample()[1])),
    ]
    if info.config.kind == "lstm":
        last = info.config.num_layers - 1  # the layer forget_gates reads too
        f, c = tr.get(last, 0, "f")[0], tr.get(last, 0, "c")[0]
        out.append(readings.gate_reading(f, c))
        rows = delay_rows(task)
        if len(rows):
            out.append(readings.forget_reading(kept_fraction(f[None], rows)[0], len(rows)))
    return out


def memory_step(step: Step, value, height: int) -> list[str]:
    """P(right class) row by row for each model, the digit followed by a delay."""
    names = step.params["models"]
    labels = _labels(names)
    digit = int(value) if step.tryit.control == "digit" else 0
    delay = int(value) if step.tryit.control == "delay" else _model_task(names[0]).delay
    task = delay_task(step.params.get("rows", "noise"), delay)
    image, label = _test_digit(digit)
    sequence = digit_sequence(task, image, digit)
    curves = {}
    for name in names:
        checkpoint, mkey = _model(name)
        curves[labels[name]] = trace_digit(checkpoint, mkey, sequence).probs[0, :, label]
    st.plotly_chart(figures.memory_figure(curves, task.digit_rows, height), theme=None, key="lesson_memory")
    return [readings.memory_reading(curves, task.digit_rows.stop)]


def chain_step(step: Step, value, height: int) -> list[str]:
    name = step.params["model"]
    checkpoint, mkey = _model(name)
    task = _model_task(name)
    digit = int(value) if step.tryit.control == "digit" else 0
    untrained = step.params.get("weights") == "untrained"
    chain = _chain(checkpoint, mkey, task, digit, untrained)
    steps = int(value) if step.tryit.control == "truncation" else None
    fig = figures.chain_figure(chain.delta, chain.product_norm, chain.bound, task.digit_rows, height, steps)
    st.plotly_chart(fig, theme=None, key="lesson_chain")
    out = [readings.chain_reading(chain.delta, task.digit_rows.stop)]
    if steps:
        T = task.T
        out.append(
            readings.product_reading(
                chain.product_norm[T - 1 - steps], chain.bound[T - 1 - steps], steps, T, chain.step_norm[T - steps :]
            )
        )
    return out


def truncation_step(step: Step, value, height: int) -> list[str]:
    name = step.params["model"]
    checkpoint, mkey = _model(name)
    task = _model_task(name)
    k = int(value)
    grad, full = _gradient(checkpoint, mkey, task, k), _gradient(checkpoint, mkey, task, None)
    fig = figures.truncation_figure(grad, full, k, task.digit_rows, height)
    st.plotly_chart(fig, theme=None, key="lesson_truncation")
    return [readings.truncation_reading(grad, full, k, task.digit_rows)]


def sweep_step(step: Step, value, height: int) -> list[str]:
    means, _, T = _sweep_means()
    st.plotly_chart(figures.sweep_figure(means, int(value), T, height), theme=None, key="lesson_sweep")
    return [readings.sweep_reading(means, int(value), T)]


def forget_step(step: Step, value, height: int) -> list[str]:
    by_bias = step.params["models"]
    chosen = str(value)
    checkpoint, mkey = _model(by_bias[chosen])
    task = _model_task(by_bias[chosen])
    histories = {b: _model(n)[0].meta.get("history", {}).get("test_accuracy", []) for b, n in by_bias.items()}
    f_rows = _forget_rows(checkpoint, mkey, task)
    fig = figures.bias_figure(histories, chosen, f_rows, task.digit_rows, height)
    st.plotly_chart(fig, theme=None, key="lesson_forget")
    bias = checkpoint.meta.get("train_config", {}).get("forget_bias")  # None: PyTorch's own init
    keep = _initial_keep(checkpoint.config.to_dict(), bias, task)
    rows = len(delay_rows(task))
    return [readings.bias_reading(chosen, histories[chosen], checkpoint.accuracy, keep, rows, task.kind)]


def accuracy_step(step: Step, value, height: int) -> list[str]:
    names = step.params["models"]
    labels = _labels(names)
    task = delay_task(step.params.get("rows", "noise"), int(value))
    accs = {}
    for name in names:
        checkpoint, mkey = _model(name)
        accs[labels[name]] = _accuracy(checkpoint, mkey, task)
    st.plotly_chart(figures.accuracy_figure(accs, int(value), height), theme=None, key="lesson_accuracy")
    trained = {(_model_task(n).kind, _model_task(n).delay, _model_task(n).at) for n in names}
    (kind, delay, at), *others = trained
    same = not others and kind == task.kind and at == "after"  # every model trained on rows like these
    return [readings.accuracy_table_reading(accs, int(value), delay if same else None)]


def show_step(step: Step, value, height: int, screen: int | None, key: str) -> list[str]:
    """Draw the step's view for the try-it value; its result sentences."""
    if step.view == "watch":
        return watch_step(step, value, height, screen, key)
    draw = {
        "memory": memory_step,
        "chain": chain_step,
        "truncation": truncation_step,
        "sweep": sweep_step,
        "forget": forget_step,
        "accuracy": accuracy_step,
    }[step.view]
    return draw(step, value, height)


def step_picker(lesson: Lesson, n: int) -> None:
    """A list of the steps by title (the sidebar's way to jump); kept in the URL like the buttons."""
    widget = synced("_widget_step", n)
    st.selectbox(
        "Step",
        range(1, len(lesson.steps) + 1),
        key=widget,
        format_func=lambda i: f"{i}. {lesson.steps[i - 1].title}",
        on_change=lambda: remember("step", st.session_state[widget]),
    )
