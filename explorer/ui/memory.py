"""Cached engine calls of the Memory page: the experiment read once per state of its folders, and the gradient
norms across time of its seed-0 models once per experiment."""

import contextlib
from pathlib import Path

import numpy as np
import streamlit as st

from ..experiments.memory import Arm, MemoryExperiment, load_memory, profiles
from ..experiments.storage import SUMMARY
from .loaders import sample


def folder_stamp(folder: Path) -> tuple:
    """(name, mtime_ns) of every sweep summary under folder: changes whenever a run finishes."""
    stamps = []
    for summary in sorted(Path(folder).glob(f"*/{SUMMARY}")):
        with contextlib.suppress(FileNotFoundError):  # replaced while we looked
            stamps.append((summary.parent.name, summary.stat().st_mtime_ns))
    return tuple(stamps)


@st.cache_resource(max_entries=4, show_spinner="Loading the memory experiment…")
def _experiment(folder: str, stamp: tuple) -> MemoryExperiment:
    return load_memory(folder)


def memory_experiment(folder: Path) -> tuple[MemoryExperiment, str]:
    """The experiment in folder (shared by every session, never modified) and its cache key."""
    stamp = folder_stamp(folder)
    return _experiment(str(folder), stamp), f"{folder}:{stamp}"


@st.cache_data(max_entries=4, show_spinner="Measuring ‖∂L/∂h_t‖ across time for every cell…")
def memory_profiles(_exp: MemoryExperiment, key: str) -> tuple[dict[tuple[Arm, int], np.ndarray], int]:
    """experiments.memory.profiles on the bundled test digits (and how many), cached per experiment key."""
    return profiles(_exp, sample()[1])
