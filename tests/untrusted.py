"""A checkpoint whose every free metadata field holds markup: what an untrusted visitor could upload."""

import json
from pathlib import Path

from explorer.model.checkpoints import save_checkpoint
from explorer.model.config import ModelConfig
from explorer.model.network import SequenceClassifier

MARKUP = (
    "[Click here to fix your model](http://evil.example/fix) ![pic](http://127.0.0.1:9/x.png) "
    "<img src=x onerror=alert(1)> <b>bold</b> $x^2$ :red[red] **strong** www.evil.example a@evil.example"
)
EVIL_OWNER = "0123456789abcdef"


def evil_checkpoint(folder: Path, name: str = "evil", **overrides) -> Path:
    """A valid GRU-16 whose every free metadata field holds markup, and whose numbers are absurd."""
    model = SequenceClassifier(ModelConfig("gru", 16))
    path = save_checkpoint(
        folder / f"{name}.safetensors",
        model,
        metrics={"test_accuracy": MARKUP, "train_accuracy": 10**30, "stopped": MARKUP},
        history={"test_accuracy": [MARKUP]},
        data={"name": MARKUP, "train": 10**30, "test": 10**30, "augment": MARKUP},
        command="rm -rf ~ # <script>alert(1)</script> " + MARKUP,
        **overrides,
    )
    blob = path.read_bytes()  # and a created date that is markup too
    header_len = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8 : 8 + header_len])
    header["__metadata__"]["created"] = json.dumps(MARKUP)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(len(text).to_bytes(8, "little") + text + blob[8 + header_len :])
    return path
