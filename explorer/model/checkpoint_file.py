"""The checkpoint file: safetensors weights plus JSON metadata, framed and checked without trusting it.

A checkpoint is one `.safetensors` file. Its tensors are the model's state_dict, and, optionally, float16
snapshots of it taken during training ("snapshot.NN.<parameter>", model.snapshots); its string metadata
holds one JSON value per key: "format", "config" (ModelConfig.to_dict), "metrics", "history", "data",
"command", "versions", "created", "train_config", "snapshots" (step, epoch, loss, accuracy of each).
Nothing is ever unpickled: files are framed and checked by hand before safetensors
parses them, so a bad upload gives a CheckpointError with a message fit for the user."""

import dataclasses
import json
import platform
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path

import numpy
import safetensors
import torch
from safetensors.torch import load as parse_safetensors  # a plain tensor format: never pickle
from safetensors.torch import save as serialize_safetensors

from .network import ModelConfig, SequenceClassifier, count_parameters
from .snapshots import MAX_SNAPSHOTS, Snapshot, check_meta

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


SNAPSHOT_TENSOR = re.compile(r"snapshot\.(\d{2})\.(.+)")  # snapshot.NN.<parameter>, float16


CONFIG_TYPES = {"kind": str, "hidden_size": int, "num_layers": int, "bidirectional": bool, "dropout": (int, float)}


DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16"}


class CheckpointError(Exception):
    """A checkpoint could not be saved, read or deleted; the message is shown to the user as is."""


@dataclass
class Checkpoint:
    """A loaded checkpoint: its config, the rebuilt model (eval mode, CPU) and decoded metadata."""

    config: ModelConfig
    model: SequenceClassifier
    meta: dict
    snapshots: list = dataclasses.field(default_factory=list)  # explorer.model.snapshots.Snapshot, in step order

    @property
    def accuracy(self) -> float | None:
        return recorded_accuracy(self.meta)

    def snapshot_model(self, index: int) -> SequenceClassifier:
        """The model with snapshot `index`'s weights, upcast to float32 (eval mode, CPU)."""
        with torch.device("meta"):
            model = SequenceClassifier(self.config)
        state = {k: v.to(torch.float32) for k, v in self.snapshots[index].state.items()}
        model.load_state_dict(state, strict=True, assign=True)
        return model.eval()


def fraction_or_none(value) -> float | None:
    """A number in [0, 1] as a float; None for anything else a file may hold (bools, strings, NaN, 1e400...)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1  # NaN fails too
    return float(value) if ok else None


def recorded_accuracy(meta: dict) -> float | None:
    """The recorded test accuracy if it is a number in [0, 1], else None."""
    metrics = meta.get("metrics")
    return fraction_or_none(metrics.get("test_accuracy")) if isinstance(metrics, dict) else None


def checkpoint_bytes(config: ModelConfig, steps: int = 0, snapshots: int = 0) -> int:
    """About how large a checkpoint of this model is, with the history of a run of `steps` optimizer steps and
    `snapshots` float16 snapshots."""
    with torch.device("meta"):
        params = count_parameters(SequenceClassifier(config))
    # float32 weights; float16 snapshots with their per-tensor headers; per-step losses as JSON; the rest
    return 4 * params + snapshots * (2 * params + 1500) + 24 * steps + 100_000


def library_versions() -> dict:
    """Versions of the libraries that matter for reproducing a checkpoint."""
    try:
        explorer_version = importlib_metadata.version("rnn-explorer")
    except importlib_metadata.PackageNotFoundError:
        explorer_version = "dev"
    return {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "safetensors": safetensors.__version__,
        "rnn-explorer": explorer_version,
    }


def _to_json(value) -> str:
    """JSON text; numpy and torch values (anything with .tolist()) become plain numbers and lists."""

    def plain(obj):
        if hasattr(obj, "tolist"):
            return obj.tolist()
        raise TypeError(f"{type(obj).__name__} is not JSON serializable")

    return json.dumps(value, default=plain)


def serialize(
    model: SequenceClassifier,
    *,
    metrics: dict | None = None,
    history: dict | None = None,
    data: dict | None = None,
    command: str = "",
    train_config=None,
    snapshots: list | None = None,
) -> bytes:
    """A checkpoint's bytes: model weights, float16 snapshots and the metadata fields; refused over MAX_BYTES."""
    if dataclasses.is_dataclass(train_config):
        train_config = dataclasses.asdict(train_config)
    fields = {
        "format": FORMAT,
        "config": model.config.to_dict(),
        "metrics": metrics or {},
        "history": history or {},
        "data": data or {},
        "command": command,
        "versions": library_versions(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "train_config": train_config or {},
        "snapshots": [snap.meta() for snap in snapshots or []],
    }
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    for i, snap in enumerate(snapshots or []):
        tensors |= {f"snapshot.{i:02d}.{k}": v.to(torch.float16).contiguous() for k, v in snap.state.items()}
    blob = serialize_safetensors(tensors, metadata={k: _to_json(v) for k, v in fields.items()})
    if len(blob) > MAX_BYTES:  # it could never be listed or uploaded again
        raise CheckpointError(f"the checkpoint would be {size_text(len(blob))}, over the {size_text(MAX_BYTES)} limit")
    return blob


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


def _check_size(size: int) -> None:
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
    _check_size(size)
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


def _shape_text(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _check_snapshot_tensors(entries: dict, expected: dict) -> int:
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
            want = expected[name]
            start, end = entry["data_offsets"]
            if tuple(entry["shape"]) != tuple(want.shape) or entry["dtype"] != "F16" or end - start != 2 * want.numel():
                raise CheckpointError(f"snapshot {i:02d}: tensor {name} is not a float16 {_shape_text(want.shape)}")
    return len(sets)


def check_tensors(entries: dict, config: ModelConfig) -> int:
    """Compare the file's tensor names, shapes and dtypes with what SequenceClassifier(config) expects; check
    the snapshots; return how many snapshots there are."""
    with torch.device("meta"):  # shapes only, no memory
        expected = SequenceClassifier(config).state_dict()
    snapshots = _check_snapshot_tensors({k: v for k, v in entries.items() if k.startswith("snapshot.")}, expected)
    entries = {k: v for k, v in entries.items() if not k.startswith("snapshot.")}
    missing = [k for k in expected if k not in entries]
    if missing:
        raise CheckpointError(f"missing tensors: {', '.join(missing)}")
    extra = [k for k in entries if k not in expected]
    if extra:
        raise CheckpointError(f"extra tensors: {', '.join(extra)}")
    for key, want in expected.items():
        entry = entries[key]
        if tuple(entry["shape"]) != tuple(want.shape):
            raise CheckpointError(
                f"tensor {key} has shape {_shape_text(entry['shape'])}, expected {_shape_text(want.shape)}"
            )
        if entry["dtype"] != DTYPES.get(want.dtype):
            raise CheckpointError(f"tensor {key} has dtype {entry['dtype']}, expected {DTYPES.get(want.dtype)}")
        start, end = entry["data_offsets"]
        nbytes = want.numel() * want.element_size()
        if end - start != nbytes:
            raise CheckpointError(f"tensor {key} has {end - start} bytes of data, expected {nbytes}")
    return snapshots


def snapshot_meta(meta: dict, count: int) -> None:
    """Validate the snapshot metadata in place against the number of snapshot tensor sets."""
    try:
        meta["snapshots"] = check_meta(meta["snapshots"], count)
    except ValueError as e:
        raise CheckpointError(f"invalid snapshots: {e}") from None


def _read_bytes(path: Path) -> bytes:
    try:
        _check_size(path.stat().st_size)
        return path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint file at {path}") from None
    except OSError as e:
        raise CheckpointError(f"could not read {path.name}: {e.strerror or e}") from None


def read_checkpoint(source: str | Path | bytes) -> Checkpoint:
    """Validate and load a checkpoint from a path or the raw bytes of an upload."""
    blob = bytes(source) if isinstance(source, (bytes, bytearray, memoryview)) else _read_bytes(Path(source))
    entries, metadata = read_header(len(blob), lambda offset, n: blob[offset : offset + n])
    config, meta = decode_metadata(metadata)
    snapshot_meta(meta, check_tensors(entries, config))
    try:
        tensors = parse_safetensors(blob)
    except Exception as e:  # safetensors raises its own error types for malformed data
        raise CheckpointError(f"not a valid safetensors file: {e}") from None
    for key, tensor in tensors.items():
        if not torch.isfinite(tensor).all():
            raise CheckpointError(f"tensor {key} has non-finite values (NaN or inf)")
    with torch.device("meta"):  # no random init: it would draw from the global RNG, which seeded_model guards
        model = SequenceClassifier(config)
    weights = {k: v for k, v in tensors.items() if not k.startswith("snapshot.")}
    try:
        model.load_state_dict(weights, strict=True, assign=True)
    except RuntimeError as e:
        raise CheckpointError(f"weights do not fit the model: {e}") from None
    snapshots = [
        Snapshot(
            m["step"], m["epoch"], m["loss"], m["test_accuracy"], {k: tensors[f"snapshot.{i:02d}.{k}"] for k in weights}
        )
        for i, m in enumerate(meta["snapshots"])
    ]
    return Checkpoint(config=config, model=model.eval(), meta=meta, snapshots=snapshots)
