"""Training loop: learning, determinism, truncation, stop requests and the NaN guard."""
import numpy as np
import pytest
import torch

import explorer.training as training
from explorer.data import Digits, load_sample
from explorer.gradients import loss_logits, per_sample_loss
from explorer.models import ModelConfig, SequenceClassifier
from explorer.training import DivergedError, TrainConfig, train

SMALL = ModelConfig(kind="lstm", hidden_size=16)


@pytest.fixture(scope="module")
def digits():
    tr, te = load_sample()
    return Digits(tr.images[:512], tr.labels[:512]), Digits(te.images[:200], te.labels[:200])


def test_short_training_learns_and_reports(digits):
    steps, epochs = [], []
    result = train(SMALL, TrainConfig(epochs=3, batch_size=32, lr=1e-2, augment=False), *digits,
                   on_step=steps.append, on_epoch=lambda h: epochs.append(h.epoch[-1]))
    h = result.history
    assert len(steps) == 3 * 16 and steps[-1].step == steps[-1].total_steps == 48
    assert epochs == [1, 2, 3] and h.epoch == [1, 2, 3]
    assert h.loss[-1] < 0.97 * h.loss[0] and h.test_accuracy[-1] > 0.18  # above chance (0.1)
    assert result.metrics["test_accuracy"] == h.test_accuracy[-1]
    assert not result.model.training and all(s.grad_norm > 0 and s.samples_per_s > 0 for s in steps)


@pytest.mark.parametrize("kind,k", [("lstm", 28), ("gru", 7), ("rnn", 28)])
def test_same_seed_same_result(digits, kind, k):
    cfg = TrainConfig(epochs=1, batch_size=64, k=k, seed=3)
    a = train(ModelConfig(kind=kind, hidden_size=8), cfg, *digits).model.state_dict()
    b = train(ModelConfig(kind=kind, hidden_size=8), cfg, *digits).model.state_dict()
    assert all(torch.equal(a[n], b[n]) for n in a)


def test_truncation_really_detaches():
    torch.manual_seed(0)
    model = SequenceClassifier(SMALL)
    x = torch.rand(4, 28, 28, requires_grad=True)
    y = torch.randint(0, 10, (4,))
    (g,) = torch.autograd.grad(per_sample_loss(loss_logits(model, x, "last", k=5), y).sum(), [x])
    assert torch.all(g[:, :23] == 0) and torch.all(g[:, 23:].abs().sum(-1) > 0)


def test_full_bptt_uses_the_fused_module(digits, monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("k = T must not unroll step by step")

    monkeypatch.setattr("explorer.gradients.unroll", boom)
    train(SMALL, TrainConfig(epochs=1, k=28), *digits)
    with pytest.raises(AssertionError, match="unroll"):
        train(SMALL, TrainConfig(epochs=1, k=27), *digits)


def test_stop_request_between_steps_keeps_a_working_model(digits):
    calls = []
    result = train(SMALL, TrainConfig(epochs=5, batch_size=32), *digits,
                   on_step=calls.append, should_stop=lambda: len(calls) >= 20)
    assert len(calls) == 20 and result.history.stopped
    assert result.metrics["stopped"] and result.metrics["epochs_run"] == 1
    assert 0.0 <= result.metrics["test_accuracy"] <= 1.0


def test_nan_loss_stops_with_last_good_weights(digits):
    # Saturating cells survive absurd learning rates; only steps near float32 max overflow the weights.
    with pytest.raises(DivergedError, match="Lower the learning rate") as err:
        train(ModelConfig(kind="rnn", hidden_size=16), TrainConfig(epochs=2, optimizer="sgd", lr=1e38, clip=None),
              *digits)
    model = err.value.result.model
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_config_validation():
    with pytest.raises(ValueError, match="k must be"):
        TrainConfig(k=0)
    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig(optimizer="rmsprop")
    with pytest.raises(ValueError, match="cuda"):
        training.pick_device("cuda") if not torch.cuda.is_available() else (_ for _ in ()).throw(ValueError("cuda"))


def test_cli_dry_run_and_help(capsys):
    from explorer.train import main

    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    assert "--k" in capsys.readouterr().out
    assert main(["--dry-run", "--hidden", "8"]) == 0
    assert "test accuracy" in capsys.readouterr().err
