"""Checkpoints: safetensors weights plus JSON metadata; save, validate, read, list, delete.

A checkpoint is one `.safetensors` file. Its tensors are the model's state_dict; its
string metadata holds one JSON value per key: "format", "config" (ModelConfig.to_dict),
"metrics", "history", "data", "command", "versions", "created", "train_config".
Nothing is ever unpickled: files are framed and checked by hand before safetensors
parses them, so a bad upload gives a CheckpointError with a message fit for the user.

Names: a checkpoint's name is its file stem. Shipped checkpoints (repo `checkpoints/`)
are read-only and listed first; user checkpoints live in `user_dir()`. Names are unique
in a listing: a user file with the same stem as a shipped one is listed as "stem (user)",
and `user_path` refuses shipped names so the app never creates such a clash itself.
"""
import dataclasses
import json
import logging
import os
import platform
import re
import struct
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Callable

import numpy
import safetensors
from safetensors.torch import load as parse_safetensors  # a plain tensor format: never pickle
from safetensors.torch import save as serialize_safetensors
import torch

from .models import ModelConfig, SequenceClassifier

FORMAT = "rnn-explorer/1"
MAX_BYTES = 50 * 2**20
SUFFIX = ".safetensors"
META_TYPES = {  # optional metadata fields and their JSON type; missing or null reads as empty
    "metrics": dict,
    "history": dict,
    "data": dict,
    "command": str,
    "versions": dict,
    "created": str,
    "train_config": dict,
}
CONFIG_TYPES = {"kind": str, "hidden_size": int, "num_layers": int, "bidirectional": bool, "dropout": (int, float)}
DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16"}
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")

log = logging.getLogger(__name__)


class CheckpointError(Exception):
    """A checkpoint could not be saved, read or deleted; the message is shown to the user as is."""


@dataclass
class Checkpoint:
    """A loaded checkpoint: its config, the rebuilt model (eval mode, CPU) and decoded metadata."""

    config: ModelConfig
    model: SequenceClassifier
    meta: dict

    @property
    def accuracy(self) -> float | None:
        return test_accuracy(self.meta)


@dataclass(frozen=True)
class CheckpointInfo:
    """A checkpoint found on disk, known from its header only (no tensors loaded)."""

    name: str
    path: Path
    shipped: bool
    config: ModelConfig
    meta: dict

    @property
    def label(self) -> str:
        return self.config.label

    @property
    def accuracy(self) -> float | None:
        return test_accuracy(self.meta)


def test_accuracy(meta: dict) -> float | None:
    """The recorded test accuracy if it is a number in [0, 1]; None for anything else an upload may hold."""
    metrics = meta.get("metrics")
    value = metrics.get("test_accuracy") if isinstance(metrics, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:  # NaN fails too
        return None
    return float(value)


test_accuracy.__test__ = False  # not a pytest test, whatever its name


# ---- where checkpoints live ----------------------------------------------------------


def shipped_dir() -> Path:
    """The repo's read-only `checkpoints/` folder."""
    return Path(__file__).resolve().parent.parent / "checkpoints"


def user_dir() -> Path:
    """$RNN_EXPLORER_HOME/checkpoints, or ~/.rnn-explorer/checkpoints; never inside shipped_dir()."""
    home = os.environ.get("RNN_EXPLORER_HOME")
    base = Path(home).expanduser() if home else Path.home() / ".rnn-explorer"
    folder = base / "checkpoints"
    if folder.resolve().is_relative_to(shipped_dir().resolve()):
        raise CheckpointError(
            f"the user checkpoint folder {folder} is inside the shipped checkpoints folder; "
            "set RNN_EXPLORER_HOME somewhere else"
        )
    return folder


def user_path(name: str) -> Path:
    """Where a user checkpoint called `name` is saved; refuses unsafe names and shipped names."""
    if not NAME_PATTERN.fullmatch(name):
        raise CheckpointError(
            f"invalid checkpoint name {name!r}: use up to 100 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    if (shipped_dir() / (name + SUFFIX)).exists():
        raise CheckpointError(f"the name {name!r} belongs to a shipped checkpoint; choose another")
    return user_dir() / (name + SUFFIX)


# ---- saving --------------------------------------------------------------------------


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


def _write_atomically(path: Path, blob: bytes) -> None:
    """Write blob to path via a temp file + os.replace, so readers never see a half-written file."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            delete=False, dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        ) as f:
            tmp = Path(f.name)
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # NamedTemporaryFile creates 0600
        os.replace(tmp, path)
    except OSError as e:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise CheckpointError(f"could not save {path.name}: {e.strerror or e}") from e


def save_checkpoint(
    path: str | Path,
    model: SequenceClassifier,
    *,
    metrics: dict | None = None,
    history: dict | None = None,
    data: dict | None = None,
    command: str = "",
    train_config=None,
) -> Path:
    """Write model weights and metadata to path atomically (parent dirs created); return the path."""
    path = Path(path)
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
    }
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    blob = serialize_safetensors(tensors, metadata={k: _to_json(v) for k, v in fields.items()})
    _write_atomically(path, blob)
    return path


def import_checkpoint(blob: bytes, name: str) -> CheckpointInfo:
    """Validate uploaded bytes and store them as the user checkpoint `name` (overwrites)."""
    read_checkpoint(blob)
    path = user_path(name)
    _write_atomically(path, bytes(blob))
    return _info(path, shipped=False, name=name)


# ---- validating ----------------------------------------------------------------------


def _size_text(n: int) -> str:
    if n < 2**10:
        return f"{n} bytes"
    if n < 2**20:
        return f"{n / 2**10:.0f} KB"
    return f"{n / 2**20:.0f} MB" if n >= 10 * 2**20 else f"{n / 2**20:.1f} MB"


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
        raise CheckpointError(f"file is {_size_text(size)}, larger than the {_size_text(MAX_BYTES)} limit")
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


def _read_header(size: int, read: Callable[[int, int], bytes]) -> tuple[dict, dict]:
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
        start, end = _check_entry(name, entry)
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


def _decode_metadata(metadata: dict) -> tuple[ModelConfig, dict]:
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
            raise CheckpointError(f"metadata {key!r} should be a JSON {'object' if kind is dict else 'string'}")
        meta[key] = value
    return config, meta


def _shape_text(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _check_tensors(entries: dict, config: ModelConfig) -> None:
    """Compare the file's tensor names, shapes and dtypes with what SequenceClassifier(config) expects."""
    with torch.device("meta"):  # shapes only, no memory
        expected = SequenceClassifier(config).state_dict()
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


# ---- reading -------------------------------------------------------------------------


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
    entries, metadata = _read_header(len(blob), lambda offset, n: blob[offset:offset + n])
    config, meta = _decode_metadata(metadata)
    _check_tensors(entries, config)
    try:
        tensors = parse_safetensors(blob)
    except Exception as e:  # safetensors raises its own error types for malformed data
        raise CheckpointError(f"not a valid safetensors file: {e}") from None
    for key, tensor in tensors.items():
        if not torch.isfinite(tensor).all():
            raise CheckpointError(f"tensor {key} has non-finite values (NaN or inf)")
    with torch.device("meta"):  # no random init: it would draw from the global RNG, which seeded_model guards
        model = SequenceClassifier(config)
    try:
        model.load_state_dict(tensors, strict=True, assign=True)
    except RuntimeError as e:
        raise CheckpointError(f"weights do not fit the model: {e}") from None
    return Checkpoint(config=config, model=model.eval(), meta=meta)


def _info(path: Path, shipped: bool, name: str | None = None) -> CheckpointInfo:
    """Header-only view of a checkpoint file: framing, metadata and tensor shapes checked, no tensors read."""
    try:
        with path.open("rb") as f:
            def read(offset: int, n: int) -> bytes:
                f.seek(offset)
                return f.read(n)
            entries, metadata = _read_header(path.stat().st_size, read)
    except OSError as e:
        raise CheckpointError(f"could not read {path.name}: {e.strerror or e}") from None
    config, meta = _decode_metadata(metadata)
    _check_tensors(entries, config)
    return CheckpointInfo(name=name or path.stem, path=path, shipped=shipped, config=config, meta=meta)


def _log_skipped(path: Path, error: CheckpointError) -> None:
    log.warning("skipping checkpoint %s: %s", path, error)


def list_checkpoints(
    include_user: bool = True,
    on_error: Callable[[Path, CheckpointError], None] = _log_skipped,
) -> list[CheckpointInfo]:
    """Shipped checkpoints by name, then user ones by name; broken user files go to on_error and are skipped.

    A broken shipped file raises CheckpointError (naming the file): it is a bug in the repo.
    A user file whose stem matches a shipped checkpoint is listed as "stem (user)".
    """
    infos = []
    for path in sorted(shipped_dir().glob("*" + SUFFIX)):
        try:
            infos.append(_info(path, shipped=True))
        except CheckpointError as e:
            raise CheckpointError(f"shipped checkpoint {path.name}: {e}") from None
    if not include_user:
        return infos
    taken = {info.name for info in infos}
    for path in sorted(user_dir().glob("*" + SUFFIX)):
        name = f"{path.stem} (user)" if path.stem in taken else path.stem
        try:
            infos.append(_info(path, shipped=False, name=name))
        except CheckpointError as e:
            on_error(path, e)
    return infos


def find_checkpoint(name: str) -> CheckpointInfo:
    """The listed checkpoint called name (see list_checkpoints for how names are made unique)."""
    for info in list_checkpoints(on_error=lambda path, error: None):
        if info.name == name:
            return info
    raise CheckpointError(f"no checkpoint named {name!r}")


def delete_checkpoint(info: CheckpointInfo) -> None:
    """Delete a user checkpoint; shipped checkpoints are read-only."""
    path = info.path.resolve()
    if info.shipped or path.is_relative_to(shipped_dir().resolve()):
        raise CheckpointError("shipped checkpoints are read-only")
    if path.parent != user_dir().resolve():
        raise CheckpointError(f"only checkpoints in {user_dir()} can be deleted")
    try:
        path.unlink(missing_ok=True)
    except OSError as e:
        raise CheckpointError(f"could not delete {info.name}: {e.strerror or e}") from None
