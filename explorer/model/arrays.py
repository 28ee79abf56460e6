"""A checkpoint's weights as NumPy arrays, and the model's answers computed from them in NumPy, without torch.

Watch it read runs its model in the browser; the server only packs the model (model.portable): the weights and
the class the model predicts for each test digit it sends ("Next mistake"). Done here with NumPy, a server's
first Watch page needs no torch (a second of its time), and a restarted one not even this (ui.browser_view keeps
the packed file per checkpoint version). The forward pass is the one torch's modules compute (nn.RNN, nn.LSTM,
nn.GRU and model.mincells' recurrences, stacked, either direction, then the readout on each direction's final
state), step by step in float32; the tests hold its logits to torch's and its classes to model.predictions'.
Only a noise task's sequences need torch: the engine draws their rows from torch's generator.
"""

from pathlib import Path

import numpy as np
from safetensors.numpy import load as parse_arrays  # a plain tensor format: never pickle

from ..data.digits import Digits
from ..data.sequences import ROWS, SequenceTask
from .config import MIN_KINDS, ModelConfig, parameter_shapes
from .header import CheckpointError, checked, read_file


def parsed(blob: bytes) -> tuple[ModelConfig, dict, dict[str, np.ndarray]]:
    """(config, meta, every tensor as a read-only array) of a whole checkpoint file, checked as header.checked
    checks it and every value finite; CheckpointError otherwise. checkpoint_file.read_checkpoint reads through it."""
    config, meta = checked(blob)
    try:
        values = parse_arrays(blob)
    except Exception as e:  # safetensors raises its own error types for malformed data
        raise CheckpointError(f"not a valid safetensors file: {e}") from None
    for key, value in values.items():
        if not np.isfinite(value).all():
            raise CheckpointError(f"tensor {key} has non-finite values (NaN or inf)")
    return config, meta, values


def read_weights(path: Path, snapshot: int | None = None) -> tuple[ModelConfig, dict[str, np.ndarray]]:
    """(config, state_dict-named float32 arrays) of the checkpoint at path: its own weights, or snapshot
    `snapshot`'s (float16, upcast as checkpoint_file.Checkpoint.snapshot_model does); checked as read_checkpoint
    checks a file (CheckpointError with the same messages)."""
    config, meta, values = parsed(read_file(Path(path)))
    names = parameter_shapes(config)
    if snapshot is None:
        return config, {name: values[name] for name in names}
    if not 0 <= snapshot < len(meta["snapshots"]):
        raise CheckpointError(f"the checkpoint holds no snapshot {snapshot}")
    return config, {name: values[f"snapshot.{snapshot:02d}.{name}"].astype(np.float32) for name in names}


def sigmoid(v: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * v))  # the logistic function, without exp overflowing


def positive(v: np.ndarray) -> np.ndarray:
    """mincells.positive: v + 0.5 for v >= 0, sigmoid(v) below."""
    return np.where(v >= 0, v + 0.5, sigmoid(v))


def _step(kind: str, xp: np.ndarray, h: np.ndarray, c: np.ndarray, w_hh, b_hh) -> tuple[np.ndarray, np.ndarray]:
    """One step of one cell: (h_t, c_t) from xp = W_ih x_t + b_ih (B, G*H) and h_{t-1}, c_{t-1} (B, H)."""
    if kind in MIN_KINDS:
        if kind == "mingru":
            z, n = np.split(xp, 2, axis=-1)
            z = sigmoid(z)
            return (1 - z) * h + z * positive(n), c
        f, i, g = np.split(xp, 3, axis=-1)
        f, i = sigmoid(f), sigmoid(i)
        return f / (f + i) * h + i / (f + i) * positive(g), c
    hp = h @ w_hh.T + b_hh  # W_hh h_{t-1} + b_hh
    if kind == "rnn":
        return np.tanh(xp + hp), c
    if kind == "lstm":
        i, f, g, o = np.split(xp + hp, 4, axis=-1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        return sigmoid(o) * np.tanh(c), c
    xr, xz, xn = np.split(xp, 3, axis=-1)  # GRU, as torch.nn.GRU: n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
    hr, hz, hn = np.split(hp, 3, axis=-1)
    r, z = sigmoid(xr + hr), sigmoid(xz + hz)
    n = np.tanh(xn + r * hn)
    return (1 - z) * n + z * h, c


def logits(config: ModelConfig, weights: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """The model's logits (B, 10) for sequences x (B, T, 28) in [0, 1], computed in float32."""
    H = config.hidden_size
    inputs = np.asarray(x, np.float32)
    for layer in range(config.num_layers):
        outputs = []
        for d in range(config.num_directions):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            w_ih, b_ih = weights[f"rnn.weight_ih{sfx}"], weights[f"rnn.bias_ih{sfx}"]
            w_hh, b_hh = weights.get(f"rnn.weight_hh{sfx}"), weights.get(f"rnn.bias_hh{sfx}")
            read = inputs[:, ::-1] if d else inputs  # the backward direction reads the rows bottom to top
            xp = read @ w_ih.T + b_ih  # (B, T, G*H): every step's input projection at once
            h = np.zeros((len(x), H), np.float32)
            c = np.zeros_like(h)
            states = []
            for t in range(xp.shape[1]):
                h, c = _step(config.kind, xp[:, t], h, c, w_hh, b_hh)
                states.append(h)
            out = np.stack(states, axis=1)
            outputs.append(out[:, ::-1] if d else out)  # back in the rows' order
        inputs = np.concatenate(outputs, axis=-1)
    # The head reads each direction's final state: the forward one after the last row, the backward after the first.
    final = (
        inputs[:, -1, :H] if config.num_directions == 1 else np.concatenate([inputs[:, -1, :H], inputs[:, 0, H:]], -1)
    )
    return final @ weights["head.weight"].T + weights["head.bias"]


def sequences(task: SequenceTask, images: np.ndarray, start: int = 0) -> np.ndarray:
    """Images (N, 28, 28) in [0, 1] as the sequences (N, T, 28) of `task`, digit numbers start.. fixing a noise
    task's rows (SequenceTask.apply's, which torch draws: imported only for a noise task)."""
    images = np.asarray(images, np.float32)
    if task.kind == "rows":
        return images
    if task.kind == "noise":
        import torch

        indices = torch.arange(start, start + len(images))
        return task.apply(torch.from_numpy(images), indices=indices).numpy()
    pad = np.zeros((len(images), task.delay, ROWS), np.float32)
    return np.concatenate([images, pad] if task.at == "after" else [pad, images], axis=1)


def predict(
    config: ModelConfig,
    weights: dict[str, np.ndarray],
    digits: Digits,
    task: SequenceTask,
    count: int,
    batch: int = 250,
) -> np.ndarray:
    """The predicted class of the first `count` digits, each read as a sequence of `task` (model.predictions'
    numbers, in NumPy), (count,) int64."""
    out = []
    for start in range(0, count, batch):
        images = digits.images[start : min(start + batch, count)].astype(np.float32) / 255.0
        out.append(logits(config, weights, sequences(task, images, start)).argmax(-1))
    return np.concatenate(out).astype(np.int64) if out else np.zeros(0, np.int64)
