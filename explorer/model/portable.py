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
import struct

import numpy as np
import torch

from ..data.digits import Digits
from ..data.sequences import ROWS, SequenceTask
from .config import GATES
from .network import SequenceClassifier, layer_weights

MAGIC = b"RNNX"
FORMAT = 1
BUDGET = 1_500_000  # bytes per model view, at most
MAX_DIGITS = 1000  # the bundled test split
RECURRENT = ("weight_ih", "bias_ih", "weight_hh", "bias_hh")  # layer_weights' order, nn.LSTM's names
DRAWING = -1  # the digit number a drawing's noise rows are drawn for (digit_sequence's default)


def tensor_names(model: SequenceClassifier) -> list[str]:
    """The tensors a browser needs, in the order they are written: per layer and direction W_ih, b_ih, W_hh,
    b_hh (named as nn.LSTM names them; W_ih and b_ih only for minGRU and minLSTM), then the readout head."""
    cfg = model.config
    names = []
    for layer in range(cfg.num_layers):
        for d in range(cfg.num_directions):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            names += [f"{n}{sfx}" for n in RECURRENT if hasattr(model.rnn, f"{n}{sfx}")]
    return names + ["head.weight", "head.bias"]


def _tensors(model: SequenceClassifier) -> list[np.ndarray]:
    cfg = model.config
    out = []
    for layer in range(cfg.num_layers):
        for d in range(cfg.num_directions):
            out += [t.detach().to(torch.float32).numpy() for t in layer_weights(model, layer, d) if t is not None]
    return out + [model.head.weight.detach().float().numpy(), model.head.bias.detach().float().numpy()]


def digits_to_send(task: SequenceTask, weight_bytes: int, available: int, header_bytes: int = 8192) -> int:
    """How many test digits fit the budget beside the weights: each costs 784 bytes, plus its noise rows."""
    per_digit = ROWS * ROWS + (4 * task.delay * ROWS if task.kind == "noise" else 0)
    noise_for_drawing = 4 * task.delay * ROWS if task.kind == "noise" else 0
    room = BUDGET - weight_bytes - header_bytes - noise_for_drawing
    return max(0, min(available, MAX_DIGITS, room // per_digit))


def noise_rows(task: SequenceTask, indices: list[int]) -> np.ndarray:
    """The fixed evaluation noise rows (len(indices), delay, 28) float32 the engine gives these digit numbers."""
    blank = torch.zeros(len(indices), ROWS, ROWS)
    seqs = task.apply(blank, indices=torch.tensor(indices)).numpy()
    return seqs[:, : task.delay] if task.at == "before" else seqs[:, ROWS:]


def pack(
    model: SequenceClassifier,
    task: SequenceTask,
    test: Digits,
    name: str,
    label: str,
    max_digits: int = MAX_DIGITS,
    predicted: np.ndarray | None = None,
) -> bytes:
    """The blob for one model view, with at most max_digits test digits and, if given, the model's predicted
    class of each (for "next mistake"). `name` and `label` are shown in the browser as text, never as markup."""
    cfg = model.config
    tensors = _tensors(model)
    weight_bytes = 4 * sum(t.size for t in tensors)
    count = min(digits_to_send(task, weight_bytes, len(test)), max_digits)
    layout, offset = [], 0
    for tname, t in zip(tensor_names(model), tensors):
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
            "kind": cfg.kind,
            "hidden": cfg.hidden_size,
            "layers": cfg.num_layers,
            "directions": cfg.num_directions,
            "gates": list(GATES[cfg.kind]),
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
