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
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path

import numpy
import safetensors
import torch
from safetensors.torch import save as serialize_safetensors

from .arrays import parsed  # a plain tensor format: never pickle
from .config import ModelConfig
from .header import FORMAT, MAX_BYTES, CheckpointError, read_file, recorded_accuracy, size_text
from .network import SequenceClassifier, count_parameters
from .snapshots import Snapshot


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


def read_checkpoint(source: str | Path | bytes) -> Checkpoint:
    """Validate and load a checkpoint from a path or the raw bytes of an upload."""
    blob = bytes(source) if isinstance(source, (bytes, bytearray, memoryview)) else read_file(Path(source))
    config, meta, values = parsed(blob)
    tensors = {key: torch.from_numpy(value.copy()) for key, value in values.items()}  # copies: views of `blob`
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
