"""Cached engine calls that need no torch: the bundled digits, the model listing, what a model's header says.

Listing the models and everything Watch it read sends the browser (its model is linked, not loaded: ui.
browser_view) comes from here; the computations on a model's weights are in ui.computed, imported when a page
first asks for one (a second of torch's import saved on a cold server's Watch page)."""

import io
import os
from pathlib import Path

import numpy as np
import streamlit as st

from ..data.digits import Digits, load_sample
from ..data.sequences import SequenceTask, trained_task
from ..model.checkpoints import SUFFIX, CheckpointInfo, list_checkpoints, shipped_dir, user_dir
from ..model.portable import pack_file
from ..model.snapshots import Point, recorded_points


@st.cache_resource(show_spinner=False)
def sample() -> tuple[Digits, Digits]:
    """The bundled 4,000/1,000 MNIST sample (train, test): one copy shared by every session, never modified."""
    return load_sample()


def _checkpoint_files() -> tuple:
    """(path, inode, mtime_ns, size) of every checkpoint file: a cheap listing that changes whenever a file does."""
    users = user_dir()
    files, folders, visitors = [], [shipped_dir(), users], str(users)
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
                elif entry.is_dir() and os.path.dirname(entry.path) == visitors:  # visitors' folders
                    folders.append(entry.path)
            except FileNotFoundError:  # deleted while we looked
                pass
    return tuple(sorted(files))


@st.cache_resource(show_spinner=False, max_entries=8)
def _list_checkpoints(files: str) -> tuple[list[CheckpointInfo], list[tuple[str, str]]]:
    """list_checkpoints() and the files it skipped, cached per state of the folders (`files`, the repr of
    _checkpoint_files(), is the cache key: a string hashes in microseconds, a tuple of tuples element by element)."""
    skipped = []
    infos = list_checkpoints(on_error=lambda path, error: skipped.append((path.name, str(error))))
    return infos, skipped


def available_models() -> list[CheckpointInfo]:
    """Shipped and user checkpoints; their headers are read again only when a file was added, removed or changed."""
    return _list_checkpoints(repr(_checkpoint_files()))[0]


def skipped_checkpoints() -> list[tuple[str, str]]:
    """(file name, why) of checkpoint files in the user folders that cannot be read."""
    return _list_checkpoints(repr(_checkpoint_files()))[1]


def model_key(info: CheckpointInfo) -> str:
    """Cache key that changes when the file changes; OSError if the file is gone."""
    return f"{info.path}:{info.path.stat().st_mtime_ns}"


def npz_bytes(arrays: dict) -> bytes:
    """A compressed .npz file of named arrays, for a download button."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def model_task(info: CheckpointInfo) -> SequenceTask:
    """The sequence task the checkpoint records it was trained on (data.sequences.trained_task), from its header."""
    return trained_task(info.meta.get("train_config"))


def model_points(info: CheckpointInfo) -> list[Point]:
    """The points of training the checkpoint can replay (its snapshots, then its final weights), from its header."""
    return recorded_points(info.meta)


@st.cache_resource(show_spinner=False, max_entries=32)
def packed_model(
    path: Path, version: str | None, task: SequenceTask, name: str, label: str, snapshot: int | None
) -> bytes:
    """The model as the browser runs it (model.portable.pack_file: weights, config, task, test digits and the
    model's predicted class of each, made in NumPy without torch), once per file `version` (None: gone or
    unreadable) and shared by every visitor; CheckpointError where the file cannot be read. Read-only bytes."""
    return pack_file(path, task, sample()[1], name, label, snapshot)
