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
