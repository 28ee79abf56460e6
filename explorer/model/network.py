"""Model configuration and the sequence classifier that reads a digit row by row."""

import threading
from contextlib import contextmanager
from functools import partial

import torch
from torch import nn

from .config import INPUT_SIZE, MIN_KINDS, NUM_CLASSES, ModelConfig
from .mincells import MinRNN

MODULES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def recurrent_module(kind: str):
    """The class (nn.RNN's constructor signature) that runs a stack of this cell: torch's fused module, or MinRNN."""
    return partial(MinRNN, kind) if kind in MIN_KINDS else MODULES[kind]


class SequenceClassifier(nn.Module):
    """A fused nn.RNN/LSTM/GRU over the 28 rows, then a linear head on the final state of each direction."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.rnn = recurrent_module(config.kind)(
            input_size=INPUT_SIZE,
            hidden_size=config.hidden_size,
            num_layers=config.num_layers,
            bidirectional=config.bidirectional,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            batch_first=True,
        )
        self.head = nn.Linear(config.hidden_size * config.num_directions, NUM_CLASSES)

    def features(self, h_n: torch.Tensor) -> torch.Tensor:
        """The head's input from nn.RNN-style final states h_n (layers*dirs, B, H): last layer, every direction."""
        last = h_n[-self.config.num_directions :]  # (D, B, H): forward h_T, backward h_1
        return torch.cat(list(last), dim=-1)  # (B, D*H)

    def readout(self, h_n: torch.Tensor) -> torch.Tensor:
        """Logits (B, 10) from final states h_n (layers*dirs, B, H)."""
        return self.head(self.features(h_n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, T, 28) in [0, 1] -> logits (B, 10)."""
        _, state = self.rnn(x)
        return self.readout(final_hidden(self, state))


def final_hidden(config_or_model: "ModelConfig | SequenceClassifier", state) -> torch.Tensor:
    """h_n (layers*dirs, B, H) from the state the fused module returns: h_n, or (h_n, c_n) for LSTM."""
    config = getattr(config_or_model, "config", config_or_model)
    return state[0] if config.kind == "lstm" else state


def layer_weights(model: SequenceClassifier, layer: int, direction: int) -> tuple:
    """(W_ih, b_ih, W_hh, b_hh) of one layer and direction (0 forward, 1 backward); W_hh and b_hh are None for
    minGRU and minLSTM, whose gates read x_t only."""
    sfx = f"_l{layer}" + ("_reverse" if direction else "")
    return tuple(getattr(model.rnn, f"{n}{sfx}", None) for n in ("weight_ih", "bias_ih", "weight_hh", "bias_hh"))


@contextmanager
def evaluating(model: nn.Module):
    """Eval mode inside the block; the model's own mode is restored after it, even on error."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


# torch's global RNG is one per process: pages and training jobs run in threads, so whoever seeds it holds this.
_RNG_LOCK = threading.Lock()


@contextmanager
def seeded(seed: int):
    """Run the block on the global CPU RNG seeded with seed, one thread at a time; the RNG is put back after."""
    with _RNG_LOCK, torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        yield


def seeded_model(config: ModelConfig, seed: int) -> SequenceClassifier:
    """A new SequenceClassifier (train mode) whose initial weights depend on seed only."""
    with seeded(seed):
        return SequenceClassifier(config)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def spectral_radius(w: torch.Tensor) -> float:
    """Largest |eigenvalue| of a square matrix."""
    return float(torch.linalg.eigvals(w.detach().double()).abs().max())


# Where each gated cell's forget-like bias sits (a slice of b_ih, in units of H) and its sign: +1 when the gate's
# value is the share of the old state kept (LSTM f, GRU z, minLSTM f), -1 when it is the share replaced (minGRU z).
# The paired input gate (LSTM i, minLSTM i) gets minus the forget bias; GRU and minGRU have none of their own.
CHRONO_SLOTS = {"lstm": (1, 1, 0), "gru": (1, 1, None), "minlstm": (0, 1, 1), "mingru": (0, -1, None)}


def chrono_biases(hidden_size: int, t_max: int, seed: int) -> torch.Tensor:
    """Chrono initialisation (Tallec & Ollivier 2018): forget biases log(U[1, t_max − 1]), (H,), from seed."""
    if t_max < 3:
        raise ValueError(f"chrono initialisation needs a longest time scale of 3 or more rows, got {t_max}")
    u = torch.rand(hidden_size, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return torch.log(1 + u * (t_max - 2)).float()


@torch.no_grad()
def init_weights(
    model: SequenceClassifier,
    forget_bias: float | None = None,
    recurrent_scale: float | None = None,
    chrono: int | None = None,
    seed: int = 0,
) -> SequenceClassifier:
    """Re-set the LSTM forget bias, the spectral radius of W_hh, or (chrono = T_max, the task's length) the
    forget-like gates' biases by chrono initialisation drawn from seed, in place; None leaves torch's init."""
    cfg = model.config
    H = cfg.hidden_size
    if chrono is not None and cfg.kind not in CHRONO_SLOTS:
        raise ValueError("chrono initialisation needs a gated cell (LSTM, GRU, minGRU or minLSTM)")
    for layer in range(cfg.num_layers):
        for d in range(cfg.num_directions):
            _, b_ih, w_hh, b_hh = layer_weights(model, layer, d)
            if forget_bias is not None and cfg.kind == "lstm":
                # The forget gate's total bias b_if + b_hf, as the tutorials' `forget_bias=1.0`; gates i, f, g, o.
                b_ih[H : 2 * H] = forget_bias
                b_hh[H : 2 * H] = 0.0
            if chrono is not None:
                forget, sign, paired = CHRONO_SLOTS[cfg.kind]
                b_f = chrono_biases(H, chrono, seed + 1000 * layer + 100 * d)  # its own draw per layer/direction
                for slot, value in ((forget, sign * b_f), (paired, -b_f)):
                    if slot is not None:
                        b_ih[slot * H : (slot + 1) * H] = value  # the total bias: b_hh's share set to 0
                        if b_hh is not None:
                            b_hh[slot * H : (slot + 1) * H] = 0.0
            if recurrent_scale is not None and w_hh is not None:
                # A tanh RNN's gradient vanishes below a radius of about 1 and explodes above; torch gives ~0.58.
                for block in w_hh.split(H):  # views: one (H, H) block per gate
                    block.mul_(recurrent_scale / spectral_radius(block))
    return model


def untrained_model(
    config: ModelConfig,
    seed: int = 0,
    forget_bias: float | None = None,
    recurrent_scale: float | None = None,
    chrono: int | None = None,
) -> SequenceClassifier:
    """A freshly initialised model (eval mode): the same seed gives the same weights."""
    return init_weights(seeded_model(config, seed), forget_bias, recurrent_scale, chrono, seed).eval()
