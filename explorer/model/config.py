"""A model's architecture, as a checkpoint records it, and the names of its cells, gates and directions.

Plain data without torch: the pages that only list or show models (Watch it read, whose model runs in the
browser) read it without loading torch, a second of a cold server's first page.
"""

from dataclasses import asdict, dataclass, field
from typing import Literal, get_args

Kind = Literal["rnn", "lstm", "gru", "mingru", "minlstm"]
KINDS: tuple[str, ...] = get_args(Kind)
INPUT_SIZE = 28  # one image row per timestep
NUM_CLASSES = 10
GATES = {
    "rnn": (),
    "lstm": ("i", "f", "g", "o"),
    "gru": ("r", "z", "n"),
    "mingru": ("z", "n"),
    "minlstm": ("f", "i", "g"),
}
MIN_KINDS = ("mingru", "minlstm")  # gates from x_t alone, no W_hh: explorer.mincells
NAMES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU", "mingru": "minGRU", "minlstm": "minLSTM"}
DIRECTIONS = ("forward", "backward")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of a SequenceClassifier; saved inside every checkpoint."""

    kind: Kind = field(default="lstm", metadata={"help": "recurrent cell"})
    hidden_size: int = field(default=128, metadata={"help": "hidden units per direction", "flag": "--hidden"})
    num_layers: int = field(default=1, metadata={"help": "stacked recurrent layers", "flag": "--layers"})
    bidirectional: bool = field(default=False, metadata={"help": "add a backward direction (BiLSTM etc.)"})
    dropout: float = field(default=0.0, metadata={"help": "dropout between layers"})

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if not 1 <= self.hidden_size <= 1024:
            raise ValueError(f"hidden_size must be in 1..1024, got {self.hidden_size}")
        if not 1 <= self.num_layers <= 4:
            raise ValueError(f"num_layers must be in 1..4, got {self.num_layers}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def label(self) -> str:
        """Short human name, e.g. 'BiLSTM-128' or 'LSTM-2x128'."""
        name = ("Bi-" if self.kind in MIN_KINDS else "Bi") * self.bidirectional + NAMES[self.kind]
        layers = f"{self.num_layers}x" if self.num_layers > 1 else ""
        return f"{name}-{layers}{self.hidden_size}"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def parameter_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Every tensor of SequenceClassifier(config)'s state_dict (all float32), in its order, with its shape: per
    layer and direction W_ih, W_hh, b_ih, b_hh as nn.RNN names them (W_ih and b_ih alone for minGRU and minLSTM,
    whose gates read x_t only), then the readout head. What a checkpoint's header is checked against."""
    H, D = config.hidden_size, config.num_directions
    rows = max(len(GATES[config.kind]), 1) * H  # the gates' blocks stacked (a plain RNN has one)
    shapes: dict[str, tuple[int, ...]] = {}
    for layer in range(config.num_layers):
        fan_in = INPUT_SIZE if layer == 0 else H * D
        for d in range(D):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            shapes[f"rnn.weight_ih{sfx}"] = (rows, fan_in)
            if config.kind not in MIN_KINDS:
                shapes[f"rnn.weight_hh{sfx}"] = (rows, H)
            shapes[f"rnn.bias_ih{sfx}"] = (rows,)
            if config.kind not in MIN_KINDS:
                shapes[f"rnn.bias_hh{sfx}"] = (rows,)
    return shapes | {"head.weight": (NUM_CLASSES, H * D), "head.bias": (NUM_CLASSES,)}
