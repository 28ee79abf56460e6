"""Cached engine calls on a model's weights: one copy of each model, trace and profile, shared by every session
of the server. They import torch; ui (its __getattr__) imports this module when a page first uses one."""

import json
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

from ..analysis.bias import gradient_bias
from ..analysis.chain import Chain, bptt_chain
from ..analysis.counterfactual import Occlusion, occlusion, row_saliency
from ..analysis.gradcheck import FirstPrinciples, GradCheck, first_principles, gradient_check
from ..analysis.gradients import Profile, StateJacobian, batch_indices, bptt_profile, state_jacobian
from ..analysis.units import gate_saturation
from ..data.sequences import ROW_MNIST, SequenceTask
from ..figures.units import unit_figure
from ..model.checkpoint_file import Checkpoint, read_checkpoint
from ..model.checkpoints import CheckpointInfo, home_dir
from ..model.config import ModelConfig
from ..model.network import SequenceClassifier, count_parameters, untrained_model
from ..model.portable import MAX_DIGITS, pack
from ..model.predictions import predict
from ..model.unroll import Trace, trace
from ..serving.jobs import JobManager
from ..training.metadata import Recorded, recorded
from .loaders import model_key, sample


@st.cache_resource(show_spinner="Loading model…", max_entries=16)
def _load(_path: Path, key: str) -> Checkpoint:
    return read_checkpoint(_path)


def load_model(info: CheckpointInfo) -> tuple[Checkpoint, str]:
    """The checkpoint (cached per file version) and its model_key; OSError or CheckpointError if it cannot be read."""
    key = model_key(info)
    return _load(info.path, key), key


@st.cache_data(show_spinner=False, max_entries=256)
def trace_digit(_checkpoint: Checkpoint, model_key: str, sequence: np.ndarray) -> Trace:
    """Trace of one sequence (T, 28) in [0, 1] (sequences.digit_sequence); cached by model key and the pixels."""
    return trace(_checkpoint.model, torch.from_numpy(np.asarray(sequence, np.float32))[None])


@st.cache_resource(show_spinner=False, max_entries=32)
def model_blob(
    _checkpoint: Checkpoint, model_key: str, task: SequenceTask, name: str, label: str, max_digits: int = MAX_DIGITS
) -> bytes:
    """The model as the browser runs it (model.portable: weights, config, task, test digits and the model's
    predicted class of each), built once per model and shared by every visitor. Read-only bytes."""
    predicted = predicted_classes(_checkpoint, model_key, task)
    return pack(_checkpoint.model, task, sample()[1], name, label, max_digits, predicted)


@st.cache_resource(show_spinner=False, max_entries=128)
def unit_view(_tr: Trace, model_key: str, sequence: np.ndarray, layer: int, direction: int, unit: int) -> go.Figure:
    """The unit inspector's figure, built once per model, digit and unit for every visitor (it is most of a
    page open's script time; a class opening the same link shares it). Read-only: Streamlit serialises it."""
    return unit_figure(_tr, layer, direction, unit)


@st.cache_resource(show_spinner=False, max_entries=64)
def _snapshot(_checkpoint: Checkpoint, model_key: str, index: int) -> Checkpoint:
    return Checkpoint(_checkpoint.config, _checkpoint.snapshot_model(index), _checkpoint.meta)


def at_snapshot(checkpoint: Checkpoint, model_key: str, index: int | None) -> tuple[Checkpoint, str]:
    """The checkpoint with snapshot `index`'s weights (None: its own), and a model key of its own, so that every
    cached view of it is cached apart from the final model's."""
    if index is None:
        return checkpoint, model_key
    return _snapshot(checkpoint, model_key, index), f"{model_key}#snapshot{index}"


def job_manager() -> JobManager:
    """The server's job manager, over the job table in RNN_EXPLORER_HOME: every session (and every server
    process sharing that folder) sees the same jobs."""
    return _job_manager(str(home_dir()))


@st.cache_resource(show_spinner=False)
def _job_manager(home: str) -> JobManager:
    return JobManager(Path(home))


@st.cache_data(show_spinner=False, max_entries=256)
def _recorded(version: str, _meta: dict) -> Recorded:
    return recorded(_meta)


def recorded_meta(info: CheckpointInfo) -> Recorded:
    """The checkpoint's displayable metadata, validated (cached per file version: keying it by the metadata's
    JSON, history and all, was a quarter of a Watch page open's CPU)."""
    try:
        version = model_key(info)
    except OSError:  # the file went away since it was listed: its metadata as read, uncached
        return recorded(info.meta)
    return _recorded(version, info.meta)


@st.cache_data(show_spinner=False)
def parameter_count(config: dict) -> int:
    """Number of trainable parameters of a model with this config (a ModelConfig dict)."""
    with torch.device("meta"):  # shapes only: no memory, and no draws from the global RNG
        return count_parameters(SequenceClassifier(ModelConfig.from_dict(config)))


@st.cache_data(show_spinner="Classifying the test digits…", max_entries=16)
def predicted_classes(_checkpoint: Checkpoint, model_key: str, task: SequenceTask) -> np.ndarray:
    """The model's predicted class for each bundled test digit, read as a sequence of its task."""
    return predict(_checkpoint.model, sample()[1], task=task)


@st.cache_data(show_spinner="Measuring gate saturation over the test digits…", max_entries=16)
def saturation(_checkpoint: Checkpoint, model_key: str, digits: int, task: SequenceTask) -> dict:
    """Gate saturation of every layer/direction over the first `digits` bundled test digits (analysis.units)."""
    images, _ = sample()[1].tensors()
    return gate_saturation(_checkpoint.model, task.apply(images[:digits], indices=torch.arange(digits)))


JACOBIAN_DIGITS = 32  # ||dh_T/dh_t|| costs one gradient pass per hidden unit: a sub-batch keeps it fast


@st.cache_resource(max_entries=32, show_spinner=False)
def _untrained(
    config: str, forget_bias: float | None, scale: float | None, chrono: int | None = None
) -> SequenceClassifier:
    return untrained_model(ModelConfig.from_dict(json.loads(config)), 0, forget_bias, scale, chrono)


def untrained_copy(
    config: ModelConfig, forget_bias: float | None, scale: float | None, chrono: int | None = None
) -> tuple[SequenceClassifier, str]:
    """A freshly initialised (seed 0) model of this architecture with the init knobs (chrono: T_max of chrono
    initialisation, for a gated cell), and its cache key."""
    text = json.dumps(config.to_dict(), sort_keys=True)
    return _untrained(text, forget_bias, scale, chrono), f"untrained:{text}:{forget_bias}:{scale}:{chrono}"


@st.cache_resource(max_entries=64, show_spinner=False)
def batch_of_test_digits(size: int, seed: int, task: SequenceTask = ROW_MNIST) -> tuple[torch.Tensor, torch.Tensor]:
    """`size` bundled test digits drawn with this seed, as sequences of `task`, and their labels: shared, never
    modified."""
    idx = batch_indices(len(sample()[1]), size, seed)
    images, labels = sample()[1].tensors()
    return task.apply(images[idx], indices=torch.from_numpy(idx)), labels[idx]


@st.cache_data(max_entries=64, show_spinner=False)
def gradient_profile(
    _model: SequenceClassifier, model_key: str, size: int, seed: int, loss_at: str, task: SequenceTask = ROW_MNIST
) -> Profile:
    """BPTT profile of the model on batch_of_test_digits(size, seed, task)."""
    return bptt_profile(_model, *batch_of_test_digits(size, seed, task), loss_at)


@st.cache_data(max_entries=64, show_spinner=False)
def final_state_jacobian(
    _model: SequenceClassifier, model_key: str, size: int, seed: int, digits: int, task: SequenceTask = ROW_MNIST
) -> StateJacobian:
    """||dh_T/ds_t|| on the first `digits` digits of batch_of_test_digits(size, seed, task)."""
    return state_jacobian(_model, batch_of_test_digits(size, seed, task)[0][:digits])


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
    task: SequenceTask = ROW_MNIST,
) -> GradCheck:
    """explorer.analysis.gradcheck on the batch's first `digits` digits, for one layer and direction."""
    x, y = batch_of_test_digits(size, seed, task)
    return gradient_check(_model, x[:digits], y[:digits], loss_at, layer=layer, direction=direction)


@st.cache_data(max_entries=32, show_spinner="Measuring each scheme's gradient against full BPTT…")
def bias_rows(
    _checkpoint: Checkpoint, model_key: str, task: SequenceTask, ks: tuple, size: int, loss_at: str, draws: int
) -> list:
    """analysis.bias.gradient_bias of the model on the first `size` test digits, read as sequences of `task`."""
    images, labels = sample()[1].tensors()
    x = task.apply(images[:size], indices=torch.arange(size))
    return gradient_bias(_checkpoint.model, x, labels[:size], loss_at, [k for k in ks if k < task.T], draws=draws)


@st.cache_data(max_entries=32, show_spinner="Multiplying Jacobians…")
def digit_chain(
    _model: SequenceClassifier, model_key: str, size: int, seed: int, index: int, direction: int, task: SequenceTask
) -> Chain:
    """explorer.analysis.chain.bptt_chain of digit `index` of batch_of_test_digits(size, seed, task), last layer."""
    x, y = batch_of_test_digits(size, seed, task)
    return bptt_chain(_model, x[index], int(y[index]), direction)


@st.cache_data(max_entries=64, show_spinner=False)
def first_principles_result(
    _checkpoint: Checkpoint, model_key: str, index: int, loss_at: str, k: int | None, task: SequenceTask
) -> FirstPrinciples:
    """explorer.analysis.gradcheck.first_principles on test digit `index`, read as a sequence of `task`."""
    images, labels = sample()[1].tensors()
    x = task.apply(images[index : index + 1], indices=torch.tensor([index]))[0]
    return first_principles(_checkpoint.model, x, int(labels[index]), loss_at, k)


@st.cache_data(max_entries=64, show_spinner=False)
def occlusion_map(
    _checkpoint: Checkpoint, model_key: str, sequence: np.ndarray, target: int
) -> tuple[Occlusion, np.ndarray]:
    """explorer.analysis.counterfactual.occlusion and row_saliency of one sequence (T, 28) for class `target`."""
    return occlusion(_checkpoint.model, sequence, target), row_saliency(_checkpoint.model, sequence, target)
