"""Model configuration and the sequence classifier that reads a digit row by row."""
from dataclasses import asdict, dataclass

import torch
from torch import nn

KINDS = ("rnn", "lstm", "gru")
INPUT_SIZE = 28  # one image row per timestep
NUM_CLASSES = 10
GATES = {"rnn": (), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}
MODULES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of a SequenceClassifier; saved inside every checkpoint."""

    kind: str = "lstm"
    hidden_size: int = 128
    num_layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0

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
        name = ("Bi" if self.bidirectional else "") + self.kind.upper()
        layers = f"{self.num_layers}x" if self.num_layers > 1 else ""
        return f"{name}-{layers}{self.hidden_size}"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


class SequenceClassifier(nn.Module):
    """A fused nn.RNN/LSTM/GRU over the 28 rows, then a linear head on the final state of each direction."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.rnn = MODULES[config.kind](
            input_size=INPUT_SIZE,
            hidden_size=config.hidden_size,
            num_layers=config.num_layers,
            bidirectional=config.bidirectional,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            batch_first=True,
        )
        self.head = nn.Linear(config.hidden_size * config.num_directions, NUM_CLASSES)

    def readout(self, h_n: torch.Tensor) -> torch.Tensor:
        """Logits from nn.RNN-style final states h_n (layers*dirs, B, H): last layer, every direction."""
        last = h_n[-self.config.num_directions:]  # (D, B, H): forward h_T, backward h_1
        return self.head(torch.cat(list(last), dim=-1))  # (B, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, T, 28) in [0, 1] -> logits (B, 10)."""
        _, state = self.rnn(x)
        h_n = state[0] if self.config.kind == "lstm" else state  # (layers*dirs, B, H)
        return self.readout(h_n)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def spectral_radius(w: torch.Tensor) -> float:
    """Largest |eigenvalue| of a square matrix."""
    return float(torch.linalg.eigvals(w.detach().double()).abs().max())


@torch.no_grad()
def init_weights(model: SequenceClassifier, forget_bias: float | None = None,
                 recurrent_scale: float | None = None) -> SequenceClassifier:
    """Re-set initial weights in place and return the model; None leaves PyTorch's default init.

    forget_bias (LSTM only, ignored for other kinds): the forget gate's total bias b_if + b_hf, as the
    source tutorials' `forget_bias=1.0`; b_if is set to it and b_hf to 0.
    recurrent_scale: every H x H gate block of every W_hh is rescaled to this spectral radius (a tanh RNN's
    gradient vanishes below about 1 and explodes above; PyTorch's default init gives about 0.58).
    """
    cfg = model.config
    H = cfg.hidden_size
    for layer in range(cfg.num_layers):
        for d in range(cfg.num_directions):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            if forget_bias is not None and cfg.kind == "lstm":
                getattr(model.rnn, "bias_ih" + sfx)[H:2 * H] = forget_bias  # gate order i, f, g, o
                getattr(model.rnn, "bias_hh" + sfx)[H:2 * H] = 0.0
            if recurrent_scale is not None:
                w_hh = getattr(model.rnn, "weight_hh" + sfx)
                for block in w_hh.split(H):  # views: one (H, H) block per gate
                    block.mul_(recurrent_scale / spectral_radius(block))
    return model


def untrained_model(config: ModelConfig, seed: int = 0, forget_bias: float | None = None,
                    recurrent_scale: float | None = None) -> SequenceClassifier:
    """A freshly initialised model (eval mode): the same seed gives the same weights."""
    with torch.random.fork_rng(devices=[]):  # leave the caller's global RNG as it was
        torch.manual_seed(seed)
        return init_weights(SequenceClassifier(config), forget_bias, recurrent_scale).eval()
