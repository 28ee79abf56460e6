"""A checkpoint file's framing and metadata, checked without trusting them and without torch.

The safetensors header (tensor names, dtypes, shapes, offsets) and the string metadata (explorer.model.
checkpoint_file describes the fields) are read and validated here with the standard library alone: listing the
models, which every page does, needs no tensor library; nor does checking the tensors' names, shapes and dtypes
against the architecture (config.parameter_shapes). model.checkpoint_file loads the tensors.
"""

import json
import math
import re
import struct
from collections.abc import Callable
from pathlib import Path

from .config import ModelConfig, parameter_shapes
from .snapshots import MAX_SNAPSHOTS, check_meta

FORMAT = "rnn-explorer/1"


# One size limit for uploads, saves and listings. "50 MB" in Streamlit's units: the browser's uploader counts
# 1 MB = 10^6 bytes (server.maxUploadSize = 50 in .streamlit/config.toml says the same).
MAX_BYTES = 50_000_000


META_TYPES = {  # optional metadata fields and their JSON type; missing or null reads as empty
    "metrics": dict,
    "history": dict,
    "data": dict,
    "command": str,
    "versions": dict,
    "created": str,
    "train_config": dict,
    "snapshots": list,
}


CONFIG_TYPES = {"kind": str, "hidden_size": int, "num_layers": int, "bidirectional": bool, "dropout": (int, float)}


class CheckpointError(Exception):
    """A checkpoint could not be saved, read or deleted; the message is shown to the user as is."""


def fraction_or_none(value) -> float | None:
    """A number in [0, 1] as a float; None for anything else a file may hold (bools, strings, NaN, 1e400...)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1  # NaN fails too
    return float(value) if ok else None


def recorded_accuracy(meta: dict) -> float | None:
    """The recorded test accuracy if it is a number in [0, 1], else None."""
    metrics = meta.get("metrics")
    return fraction_or_none(metrics.get("test_accuracy")) if isinstance(metrics, dict) else None


def size_text(n: int) -> str:
    """A byte count in decimal units, as the uploader states its limit (1 MB = 10^6 bytes)."""
    if n < 1000:
        return f"{n} bytes"
    if n < 10**6:
        return f"{n / 1000:.0f} KB"
    return f"{n / 10**6:.1f} MB"


def _what_is_it(prefix: bytes) -> str:
    """Why a file with an impossible header length is not safetensors, naming common look-alikes."""
    pickled = len(prefix) > 1 and prefix[0] == 0x80 and 2 <= prefix[1] <= 5  # pickle PROTO opcode
    if pickled or prefix.startswith(b"PK\x03\x04"):  # torch.save writes a zip of pickles
        return "it looks like a PyTorch .pt/.pth (pickle) file, which is never loaded, for safety"
    if prefix.startswith(b"version https://git-lfs"):
        return "it is a Git LFS pointer; run `git lfs pull` to fetch the real file"
    return "the header length is impossible"


def check_size(size: int) -> None:
    if size > MAX_BYTES:
        raise CheckpointError(f"file is {size_text(size)}, larger than the {size_text(MAX_BYTES)} limit")
    if size == 0:
        raise CheckpointError("not a safetensors file: the file is empty")


def _is_count(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def _check_entry(name: str, entry) -> tuple[int, int]:
    """Check one tensor's header entry; return its data offsets."""
    ok = (
        isinstance(entry, dict)
        and isinstance(entry.get("dtype"), str)
        and isinstance(entry.get("shape"), list)
        and all(_is_count(d) for d in entry["shape"])
        and isinstance(entry.get("data_offsets"), list)
        and len(entry["data_offsets"]) == 2
        and all(_is_count(o) for o in entry["data_offsets"])
        and entry["data_offsets"][0] <= entry["data_offsets"][1]
    )
    if not ok:
        raise CheckpointError(f"not a safetensors file: malformed header entry for tensor {name}")
    return tuple(entry["data_offsets"])


def read_header(size: int, read: Callable[[int, int], bytes]) -> tuple[dict, dict]:
    """Check the safetensors framing via read(offset, n); return (tensor entries, string metadata)."""
    check_size(size)
    prefix = read(0, 32)
    if size < 8:
        raise CheckpointError(f"not a safetensors file: only {size} bytes long")
    (header_len,) = struct.unpack("<Q", prefix[:8])
    if header_len < 2 or header_len > size - 8:
        # A cut-off real file still starts its header with "{"; random bytes almost never do.
        if prefix[8:9] == b"{" and header_len <= MAX_BYTES:
            raise CheckpointError(f"file is truncated: the header needs {header_len} bytes, the file has {size - 8}")
        raise CheckpointError(f"not a safetensors file: {_what_is_it(prefix)}")
    try:
        header = json.loads(read(8, header_len).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: nested too deeply
        raise CheckpointError("not a safetensors file: the header is not valid JSON") from None
    if not isinstance(header, dict):
        raise CheckpointError("not a safetensors file: the header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise CheckpointError("not a safetensors file: the metadata is not a map of strings")
    data_len = size - 8 - header_len
    for name, entry in header.items():
        _start, end = _check_entry(name, entry)
        if end > data_len:
            raise CheckpointError(
                f"file is truncated: tensor {name} ends at byte {end} of the data, which has only {data_len} bytes"
            )
    return header, metadata


def _json_field(metadata: dict, key: str):
    try:
        return json.loads(metadata[key])
    except (ValueError, RecursionError):  # RecursionError: nested too deeply
        raise CheckpointError(f"metadata {key!r} is not valid JSON") from None


def decode_metadata(metadata: dict) -> tuple[ModelConfig, dict]:
    """Check the format tag and config; return (config, meta with every optional field present)."""
    if "format" not in metadata:
        raise CheckpointError("not an RNN Explorer checkpoint: metadata 'format' is missing")
    fmt = _json_field(metadata, "format")
    if fmt != FORMAT:
        raise CheckpointError(f"unsupported checkpoint format {fmt!r}, expected {FORMAT!r}")
    if "config" not in metadata:
        raise CheckpointError("metadata 'config' is missing")
    raw = _json_field(metadata, "config")
    if not isinstance(raw, dict):
        raise CheckpointError("metadata 'config' is not a JSON object")
    for key, expected in CONFIG_TYPES.items():
        value = raw.get(key)
        # bool is an int in Python, so True must not pass as a hidden size
        if key in raw and (isinstance(value, bool) != (expected is bool) or not isinstance(value, expected)):
            raise CheckpointError(f"invalid model config: {key} has the wrong type ({value!r})")
    try:
        config = ModelConfig.from_dict(raw)
    except ValueError as e:
        raise CheckpointError(f"invalid model config: {e}") from None
    meta = {}
    for key, kind in META_TYPES.items():
        value = _json_field(metadata, key) if key in metadata else None
        if value is None:
            value = kind()
        if not isinstance(value, kind):
            what = {dict: "object", str: "string", list: "array"}[kind]
            raise CheckpointError(f"metadata {key!r} should be a JSON {what}")
        meta[key] = value
    return config, meta


def snapshot_meta(meta: dict, count: int) -> None:
    """Validate the snapshot metadata in place against the number of snapshot tensor sets."""
    try:
        meta["snapshots"] = check_meta(meta["snapshots"], count)
    except ValueError as e:
        raise CheckpointError(f"invalid snapshots: {e}") from None


SNAPSHOT_TENSOR = re.compile(r"snapshot\.(\d{2})\.(.+)")  # snapshot.NN.<parameter>, float16


def _shape_text(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _check_snapshot_tensors(entries: dict, expected: dict[str, tuple[int, ...]]) -> int:
    """Check the snapshot tensors (complete float16 copies of the weights, numbered from 00); return how many."""
    sets: dict[int, dict] = {}
    for key, entry in entries.items():
        match = SNAPSHOT_TENSOR.fullmatch(key)
        if match is None or match.group(2) not in expected:
            raise CheckpointError(f"extra tensors: {key}")
        sets.setdefault(int(match.group(1)), {})[match.group(2)] = entry
    if len(sets) > MAX_SNAPSHOTS or sorted(sets) != list(range(len(sets))):
        raise CheckpointError(f"snapshots must be numbered 00 to at most {MAX_SNAPSHOTS - 1:02d} without gaps")
    for i, found in sets.items():
        if set(found) != set(expected):
            raise CheckpointError(f"snapshot {i:02d} lacks tensors: {', '.join(sorted(set(expected) - set(found)))}")
        for name, entry in found.items():
            shape = expected[name]
            start, end = entry["data_offsets"]
            if tuple(entry["shape"]) != shape or entry["dtype"] != "F16" or end - start != 2 * math.prod(shape):
                raise CheckpointError(f"snapshot {i:02d}: tensor {name} is not a float16 {_shape_text(shape)}")
    return len(sets)


def check_tensors(entries: dict, config: ModelConfig) -> int:
    """Compare the file's tensor names, shapes and dtypes with what SequenceClassifier(config) holds (float32
    tensors of config.parameter_shapes); check the snapshots; return how many snapshots there are."""
    expected = parameter_shapes(config)
    snapshots = _check_snapshot_tensors({k: v for k, v in entries.items() if k.startswith("snapshot.")}, expected)
    entries = {k: v for k, v in entries.items() if not k.startswith("snapshot.")}
    missing = [k for k in expected if k not in entries]
    if missing:
        raise CheckpointError(f"missing tensors: {', '.join(missing)}")
    extra = [k for k in entries if k not in expected]
    if extra:
        raise CheckpointError(f"extra tensors: {', '.join(extra)}")
    for key, shape in expected.items():
        entry = entries[key]
        if tuple(entry["shape"]) != shape:
            raise CheckpointError(
                f"tensor {key} has shape {_shape_text(entry['shape'])}, expected {_shape_text(shape)}"
            )
        if entry["dtype"] != "F32":
            raise CheckpointError(f"tensor {key} has dtype {entry['dtype']}, expected F32")
        start, end = entry["data_offsets"]
        if end - start != 4 * math.prod(shape):
            raise CheckpointError(f"tensor {key} has {end - start} bytes of data, expected {4 * math.prod(shape)}")
    return snapshots


def read_file(path: Path) -> bytes:
    """A checkpoint file's bytes, refused over MAX_BYTES before reading; CheckpointError if it cannot be read."""
    try:
        check_size(path.stat().st_size)
        return path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint file at {path}") from None
    except OSError as e:
        raise CheckpointError(f"could not read {path.name}: {e.strerror or e}") from None


def checked(blob: bytes) -> tuple[ModelConfig, dict]:
    """(config, meta with its snapshots validated) of a whole checkpoint file, its framing, metadata and tensor
    entries checked; the tensors' values are for the reader to parse (checkpoint_file: torch, arrays: NumPy)."""
    entries, metadata = read_header(len(blob), lambda offset, n: blob[offset : offset + n])
    config, meta = decode_metadata(metadata)
    snapshot_meta(meta, check_tensors(entries, config))
    return config, meta
