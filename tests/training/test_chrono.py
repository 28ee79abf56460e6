"""Chrono initialisation (Tallec & Ollivier 2018): the drawn biases, the gate slots and signs of every gated cell,
its exclusion with the forget-gate bias, and the CLIs that offer it and the min cells."""

import math
import subprocess
import sys

import numpy as np
import pytest
import torch

import explorer.model.network as network
import explorer.training.loop as training
from explorer.data.digits import Digits, load_sample
from explorer.experiments.spec import SweepConfig
from explorer.model.config import ModelConfig
from explorer.model.network import chrono_biases, layer_weights, untrained_model
from explorer.training.cli import command_line, configs, parse_args
from explorer.training.loop import TrainConfig, train

GATED = ("lstm", "gru", "mingru", "minlstm")
GATES = {"lstm": "ifgo", "gru": "rzn", "mingru": "zn", "minlstm": "fig"}  # torch's stacking order of b_ih


@pytest.mark.parametrize("t_max", [3, 28, 48, 128])
def test_the_drawn_biases_lie_in_zero_to_log_t_max_minus_one_and_follow_the_seed(t_max):
    top = math.log(t_max - 1)
    b = chrono_biases(2000, t_max, seed=4).double()
    assert b.min() >= 0 and b.max() <= top + 1e-6
    assert b.min() < 0.05 * top + 1e-3 and b.max() > 0.95 * top  # spread over the whole range, not a constant
    # log U[1, T − 1]: u = exp(b) is uniform on [1, T − 1], so its mean is T / 2
    assert float(b.exp().mean()) == pytest.approx(t_max / 2, rel=0.05)
    assert torch.equal(b, chrono_biases(2000, t_max, seed=4).double())
    assert not torch.equal(b, chrono_biases(2000, t_max, seed=5).double())
    with pytest.raises(ValueError, match="3 or more"):
        chrono_biases(8, 2, 0)


def total_biases(model, layer: int, d: int) -> dict:
    """Each gate's total bias b_ih + b_hh (b_ih alone for a min cell), (H,) by gate letter."""
    _, b_ih, _, b_hh = layer_weights(model, layer, d)
    total = b_ih.detach() + (0 if b_hh is None else b_hh.detach())
    return dict(zip(GATES[model.config.kind], total.double().chunk(len(GATES[model.config.kind]))))


def kept_at_rest(kind: str, bias: dict) -> torch.Tensor:
    """The share of the old state a unit keeps at a step with zero input and zero state, written out per cell:
    LSTM f (the cell's), GRU z, minGRU 1 − z, minLSTM f / (f + i)."""
    s = torch.sigmoid
    if kind == "mingru":
        return 1 - s(bias["z"])
    if kind == "minlstm":
        return s(bias["f"]) / (s(bias["f"]) + s(bias["i"]))
    return s(bias["f" if kind == "lstm" else "z"])


def check_chrono(kind: str, layers: int, bidirectional: bool, t_max: int) -> None:
    """Every layer and direction: the forget-like bias b_f in [0, log(T − 1)] with the sign its gate needs, the
    paired input gate at −b_f, every other bias untouched, so each unit remembers over 1 / (1 − kept) ∈ [2, T] rows."""
    cfg = ModelConfig(kind, 32, layers, bidirectional)
    plain, chrono = untrained_model(cfg, 7), untrained_model(cfg, 7, chrono=t_max)
    top = math.log(t_max - 1) + 1e-6
    draws = []
    for layer in range(layers):
        for d in range(cfg.num_directions):
            before, after = total_biases(plain, layer, d), total_biases(chrono, layer, d)
            forget = {"lstm": "f", "gru": "z", "mingru": "z", "minlstm": "f"}[kind]
            b_f = -after[forget] if kind == "mingru" else after[forget]  # minGRU keeps 1 − z: its z bias is −b_f
            assert b_f.min() >= 0 and b_f.max() <= top, (kind, layer, d)
            if kind in ("lstm", "minlstm"):
                torch.testing.assert_close(after["i"], -b_f)
            paired = {forget, "i"} if kind in ("lstm", "minlstm") else {forget}
            for gate in set(GATES[kind]) - paired:
                torch.testing.assert_close(after[gate], before[gate])
            memory = 1 / (1 - kept_at_rest(kind, after))
            assert memory.min() >= 2 - 1e-9 and memory.max() <= t_max + 1e-6
            draws.append(b_f)
    assert all(not torch.equal(a, b) for a, b in zip(draws, draws[1:]))  # each layer and direction its own draw


@pytest.mark.parametrize("kind", GATED)
@pytest.mark.parametrize("layers,bidirectional", [(1, False), (2, True)])
def test_chrono_sets_each_cells_forget_like_bias_and_its_pair(kind, layers, bidirectional):
    check_chrono(kind, layers, bidirectional, 48)


def test_the_check_catches_a_min_gru_given_the_lstms_sign(monkeypatch):
    """minGRU keeps 1 − z: were its z bias +b_f, units would start out forgetting, and the check says so."""
    check_chrono("mingru", 1, False, 28)
    monkeypatch.setitem(network.CHRONO_SLOTS, "mingru", (0, 1, None))
    with pytest.raises(AssertionError):
        check_chrono("mingru", 1, False, 28)


def test_chrono_is_for_gated_cells_and_never_with_a_forget_bias():
    with pytest.raises(ValueError, match="gated cell"):
        untrained_model(ModelConfig("rnn", 8), 0, chrono=28)
    with pytest.raises(ValueError, match="chrono initialisation sets the forget bias itself"):
        TrainConfig(chrono=True, forget_bias=1.0)
    with pytest.raises(ValueError, match="chrono initialisation sets the forget bias itself"):
        SweepConfig(kinds=("lstm", "mingru"), chrono=True, forget_bias=1.0)
    sweep = SweepConfig(kinds=("rnn", "gru", "minlstm"), chrono=True)
    chrono = {spec.kind: sweep.train_config(spec).chrono for spec in sweep.plan()}
    assert chrono == {"rnn": False, "gru": True, "minlstm": True}  # the RNN of a chrono sweep keeps torch's init


def test_training_draws_chrono_over_the_tasks_own_length(monkeypatch):
    """T_max is the task's rows: 48 for the digit and 20 blank rows after it; the seed is the run's."""
    seen = []
    real = training.init_weights
    monkeypatch.setattr(training, "init_weights", lambda *a, **kw: seen.append(kw) or real(*a, **kw))
    tr, te = load_sample()
    small = Digits(tr.images[:64], tr.labels[:64]), Digits(te.images[:20], te.labels[:20])
    cfg = TrainConfig(epochs=1, batch_size=64, task="blank", delay=20, chrono=True, seed=3, snapshots=False)
    train(ModelConfig("minlstm", 8), cfg, *small)
    assert seen == [{"chrono": 48, "seed": 3}]


def test_the_command_line_carries_chrono_and_the_min_cells():
    model_cfg, cfg = configs(parse_args(["--kind", "mingru", "--hidden", "64", "--chrono"]))
    assert model_cfg.kind == "mingru" and cfg.chrono
    assert "--kind mingru" in command_line(model_cfg, cfg) and "--chrono" in command_line(model_cfg, cfg)
    assert "--chrono" not in command_line(model_cfg, TrainConfig())


@pytest.mark.parametrize("command", ["train", "sweep"])
def test_the_cli_help_offers_the_min_cells_and_chrono(command):
    out = subprocess.run(
        [sys.executable, "-m", "explorer", command, "--help"], capture_output=True, text=True, check=True
    ).stdout
    flat = " ".join(out.split())  # argparse wraps its lines
    assert "mingru" in flat and "minlstm" in flat and "--chrono" in flat
    assert "Tallec & Ollivier" in flat


def test_chrono_biases_match_their_definition():
    """log(1 + u (T − 2)) for u uniform on [0, 1): log U[1, T − 1], by an independent NumPy draw's range."""
    b = chrono_biases(100_000, 10, 0).double().numpy()
    hist, _ = np.histogram(np.exp(b), bins=8, range=(1, 9))  # u = exp(b) spread evenly over [1, 9]
    assert hist.min() > 0.9 * hist.mean() and hist.max() < 1.1 * hist.mean()
