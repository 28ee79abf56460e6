"""A model, its task and a set of test digits as one binary blob the browser reads to run the model itself.

Layout (little-endian): the magic b"RNNX", a uint32 header length, the header as UTF-8 JSON, zero padding to a
multiple of 4 bytes, then the float32 section (every weight tensor, then the fixed noise rows of a noise task),
then the digits as uint8 (784 bytes each, row-major, 0..255 as in MNIST). The header says where each tensor
starts (in float32 elements from the section's start) and its shape, so a reader needs nothing but this file.
Only tensors the model has are written: minGRU and minLSTM have no W_hh or b_hh (their gates read x_t alone), and
the header's kind and gates say so.

Weights travel as float32, the dtype the model computes in: no error added. The digits are the first ones of
the test split, as many as fit the byte budget (all of them, up to MAX_DIGITS, for a row task). A noise task's
sequences carry noise the engine draws from torch's generator per digit number (sequences.EVAL_NOISE_SEED):
the browser cannot draw the same numbers, so they travel too, one (delay, 28) block per digit sent plus one for
a drawing (digit number -1).
"""

import json
import math
import struct
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..data.digits import Digits
from ..data.sequences import ROWS, SequenceTask
from . import arrays
from .config import GATES, ModelConfig, parameter_shapes

if TYPE_CHECKING:  # packing reads arrays: a model's tensors become arrays in pack(), without importing torch
    from .network import SequenceClassifier

MAGIC = b"RNNX"
FORMAT = 1
BUDGET = 1_500_000  # bytes per model view, at most
MAX_DIGITS = 1000  # the bundled test split
RECURRENT = ("weight_ih", "bias_ih", "weight_hh", "bias_hh")  # layer_weights' order, nn.LSTM's names
DRAWING = -1  # the digit number a drawing's noise rows are drawn for (digit_sequence's default)


def tensor_names(config: ModelConfig) -> list[str]:
    """The tensors a browser needs, in the order they are written: per layer and direction W_ih, b_ih, W_hh,
    b_hh (named as nn.LSTM names them; W_ih and b_ih only for minGRU and minLSTM), then the readout head."""
    shapes = parameter_shapes(config)
    names = []
    for layer in range(config.num_layers):
        for d in range(config.num_directions):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            names += [f"{n}{sfx}" for n in RECURRENT if f"rnn.{n}{sfx}" in shapes]
    return names + ["head.weight", "head.bias"]


def digits_to_send(task: SequenceTask, weight_bytes: int, available: int, header_bytes: int = 8192) -> int:
    """How many test digits fit the budget beside the weights: each costs 784 bytes, plus its noise rows."""
    per_digit = ROWS * ROWS + (4 * task.delay * ROWS if task.kind == "noise" else 0)
    noise_for_drawing = 4 * task.delay * ROWS if task.kind == "noise" else 0
    room = BUDGET - weight_bytes - header_bytes - noise_for_drawing
    return max(0, min(available, MAX_DIGITS, room // per_digit))


def sent_digits(config: ModelConfig, task: SequenceTask, test: Digits, max_digits: int = MAX_DIGITS) -> int:
    """How many of the test digits a blob of this model carries (digits_to_send beside its float32 weights)."""
    weight_bytes = 4 * sum(math.prod(shape) for shape in parameter_shapes(config).values())
    return min(digits_to_send(task, weight_bytes, len(test)), max_digits)


def noise_rows(task: SequenceTask, indices: list[int]) -> np.ndarray:
    """The fixed evaluation noise rows (len(indices), delay, 28) float32 the engine gives these digit numbers."""
    import torch  # the engine draws them from torch's generator: only a noise task needs it

    blank = torch.zeros(len(indices), ROWS, ROWS)
    seqs = task.apply(blank, indices=torch.tensor(indices)).numpy()
    return seqs[:, : task.delay] if task.at == "before" else seqs[:, ROWS:]


def pack(
    model: "SequenceClassifier",
    task: SequenceTask,
    test: Digits,
    name: str,
    label: str,
    max_digits: int = MAX_DIGITS,
    predicted: np.ndarray | None = None,
) -> bytes:
    """The blob for one model view, with at most max_digits test digits and, if given, the model's predicted
    class of each (for "next mistake"). `name` and `label` are shown in the browser as text, never as markup."""
    weights = {k: v.detach().cpu().float().numpy() for k, v in model.state_dict().items()}
    return pack_arrays(model.config, weights, task, test, name, label, max_digits, predicted)


def pack_file(
    path: Path, task: SequenceTask, test: Digits, name: str, label: str, snapshot: int | None = None
) -> bytes:
    """The blob of the checkpoint at path (its snapshot `snapshot`'s weights, None: its own), with its predicted
    class of every digit sent: pack()'s bytes for the loaded model and model.predictions' classes, made in NumPy
    (model.arrays) without torch; CheckpointError where the file cannot be read."""
    config, weights = arrays.read_weights(path, snapshot)
    predicted = arrays.predict(config, weights, test, task, sent_digits(config, task, test))
    return pack_arrays(config, weights, task, test, name, label, MAX_DIGITS, predicted)


def pack_arrays(
    config: ModelConfig,
    weights: dict[str, np.ndarray],
    task: SequenceTask,
    test: Digits,
    name: str,
    label: str,
    max_digits: int = MAX_DIGITS,
    predicted: np.ndarray | None = None,
) -> bytes:
    """pack() from the weights as float32 arrays named as SequenceClassifier's state_dict names them."""
    names = tensor_names(config)
    tensors = [np.asarray(weights[n if n.startswith("head.") else f"rnn.{n}"], np.float32) for n in names]
    count = sent_digits(config, task, test, max_digits)
    layout, offset = [], 0
    for tname, t in zip(names, tensors):
        layout.append({"name": tname, "offset": offset, "shape": list(t.shape)})
        offset += t.size
    floats = [t.ravel() for t in tensors]
    noise = None
    if task.kind == "noise":
        block = noise_rows(task, [*range(count), DRAWING])  # the drawing's block last
        noise = {"offset": offset, "shape": list(block.shape), "drawing": count}
        floats.append(block.ravel())
        offset += block.size
    header = {
        "format": FORMAT,
        "name": name,
        "label": label,
        "config": {
            "kind": config.kind,
            "hidden": config.hidden_size,
            "layers": config.num_layers,
            "directions": config.num_directions,
            "gates": list(GATES[config.kind]),
        },
        "task": {"kind": task.kind, "delay": task.delay, "at": task.at, "T": task.T, "name": task.name},
        "tensors": layout,
        "noise": noise,
        "digits": {
            "count": count,
            "labels": test.labels[:count].tolist(),
            "predicted": None if predicted is None else np.asarray(predicted[:count]).tolist(),
        },
    }
    text = json.dumps(header, separators=(",", ":")).encode()
    head = MAGIC + struct.pack("<I", len(text)) + text
    head += b"\0" * (-len(head) % 4)
    body = np.concatenate(floats).astype("<f4").tobytes() if floats else b""
    return head + body + np.ascontiguousarray(test.images[:count], dtype=np.uint8).tobytes()


def unpack(blob: bytes) -> tuple[dict, dict[str, np.ndarray], np.ndarray, np.ndarray | None]:
    """(header, tensors by name, digits (N, 28, 28) uint8, noise rows or None) of a blob: the reader the tests
    hold the browser's decoder to."""
    if blob[:4] != MAGIC:
        raise ValueError("not an RNN Explorer model blob")
    (length,) = struct.unpack("<I", blob[4:8])
    header = json.loads(blob[8 : 8 + length])
    start = 8 + length + (-(8 + length) % 4)
    floats_n = sum(int(np.prod(t["shape"])) for t in header["tensors"])
    if header["noise"]:
        floats_n += int(np.prod(header["noise"]["shape"]))
    floats = np.frombuffer(blob, "<f4", floats_n, start)
    tensors = {
        t["name"]: floats[t["offset"] : t["offset"] + int(np.prod(t["shape"]))].reshape(t["shape"])
        for t in header["tensors"]
    }
    noise = None
    if header["noise"]:
        n = header["noise"]
        noise = floats[n["offset"] : n["offset"] + int(np.prod(n["shape"]))].reshape(n["shape"])
    count = header["digits"]["count"]
    digits = np.frombuffer(blob, np.uint8, count * ROWS * ROWS, start + 4 * floats_n).reshape(count, ROWS, ROWS)
    return header, tensors, digits, noise
