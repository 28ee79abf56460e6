"""Untrusted checkpoint metadata: every shown value is validated, and free text never reaches the screen as is."""

from datetime import datetime, timezone

import pytest

from explorer.model.config import KINDS, ModelConfig
from explorer.readings.models import accuracy_text, created_text, data_text, how_it_ended
from explorer.training.loop import TrainConfig
from explorer.training.metadata import canonical_command, described_config, recorded, recorded_train_config

MARKUP = "[Click here](http://evil.example) ![i](http://127.0.0.1:9/x.png) <img src=x onerror=alert(1)> $x^2$ :red[r]"


def meta(**fields) -> dict:
    base = {"metrics": {}, "history": {}, "data": {}, "command": "", "versions": {}, "created": "", "train_config": {}}
    return base | fields


def test_a_well_formed_checkpoints_metadata_reads_back():
    rec = recorded(
        meta(
            metrics={
                "test_accuracy": 0.985,
                "train_accuracy": 0.99,
                "stopped": False,
                "epoch": 100,
                "partial_epoch": False,
            },
            data={"name": "sample", "train": 4000, "test": 1000, "augment": True},
            created="2026-11-20T10:11:12+00:00",
            command="python -m explorer.train --kind lstm --hidden 128 --out checkpoints/lstm-128.safetensors",
        )
    )
    assert (rec.test_accuracy, rec.train_accuracy, rec.data_source, rec.train_digits, rec.test_digits) == (
        0.985,
        0.99,
        "sample",
        4000,
        1000,
    )
    assert rec.created == datetime(2026, 11, 20, 10, 11, 12, tzinfo=timezone.utc) and rec.stopped is False
    assert rec.command == "python -m explorer train --kind lstm --hidden 128 --out checkpoints/lstm-128.safetensors"
    assert accuracy_text(rec) == "98.5%" and created_text(rec) == "2026-11-20 10:11 UTC"
    assert data_text(rec) == "4,000 training digits from the bundled MNIST sample, augmented; tested on 1,000"
    assert how_it_ended(rec) == "finished"


@pytest.mark.parametrize(
    "field,value",
    [
        ("created", MARKUP),
        ("created", "1970-01-01T00:00:00"),
        ("created", "9999-12-31T00:00:00"),
        ("created", 12),
        ("command", MARKUP),
        ("command", "rm -rf ~ # <script>alert(1)</script>"),
        ("command", "python -m explorer.train --kind lstm --evil yes"),  # a flag the CLI does not know
        ("command", "python -m explorer.train --kind lstm --hidden 100000"),  # a value the CLI refuses
        ("command", "python -m explorer.train --kind lstm --hidden 16 --dry-run"),
        ("command", "python -m explorer.train 'unterminated"),
    ],
)
def test_free_text_fields_read_as_unknown(field, value):
    rec = recorded(meta(**{field: value}))
    assert getattr(rec, field) is None


@pytest.mark.parametrize(
    "data",
    [
        {"name": MARKUP, "train": 10**30, "test": -5, "augment": "yes"},
        {"name": ["sample"], "train": 4000.5, "test": True, "augment": 1},
        {"name": "mnist", "train": "4000", "test": float("nan")},
    ],
)
def test_absurd_data_reads_as_unknown(data):
    rec = recorded(meta(data=data))
    assert rec.train_digits is None and rec.test_digits is None and rec.augmented is None
    assert rec.data_source in (None, "mnist")
    text = data_text(rec)
    assert "10,000,000" not in text and "Click" not in text and "nan" not in text


@pytest.mark.parametrize(
    "metrics",
    [
        {"test_accuracy": MARKUP, "train_accuracy": 10**400, "stopped": "true", "epoch": 10**30, "partial_epoch": 0},
        {"test_accuracy": float("inf"), "train_accuracy": -1, "stopped": None, "epoch": -3},
    ],
)
def test_absurd_metrics_read_as_unknown(metrics):
    rec = recorded(meta(metrics=metrics))
    assert (rec.test_accuracy, rec.train_accuracy, rec.stopped, rec.epoch, rec.partial_epoch) == (None,) * 5
    assert accuracy_text(rec) == "—" and how_it_ended(rec) == "finished"


def test_the_command_shown_is_re_rendered_from_its_parse():
    # Unusual but valid spellings come back in the CLI's own canonical form, flags at their defaults left out.
    assert (
        canonical_command("python3 -m explorer.train --hidden=64 --kind gru --lr 0.003 --epochs 100")
        == "python -m explorer train --kind gru --hidden 64"
    )
    # A path that could do harm if pasted is dropped rather than shown.
    assert (
        canonical_command('python -m explorer.train --kind gru --hidden 16 --out "$(rm -rf ~)"')
        == "python -m explorer train --kind gru --hidden 16"
    )
    assert (
        canonical_command("python -m explorer.train --kind rnn --hidden 16 --data mnist")
        == "python -m explorer train --kind rnn --hidden 16 --data mnist --download"
    )


def test_how_a_stopped_run_reads():
    assert (
        how_it_ended(recorded(meta(metrics={"stopped": True, "epoch": 3})))
        == "stopped early; the best weights so far, from epoch 3"
    )
    early = recorded(meta(metrics={"stopped": True, "epoch": 0, "partial_epoch": True}))
    assert how_it_ended(early) == "stopped during epoch 1; the weights as they were at the stop"
    assert how_it_ended(early, 400).endswith("and tested on the first 400 test digits there was time for")


def test_described_config():
    assert (
        described_config(ModelConfig("lstm", 128, 2, True))
        == "Long short-term memory (LSTM), bidirectional · 2 layers · 128 units per direction"
    )
    assert described_config(ModelConfig("rnn", 16)) == "Vanilla (tanh) RNN · 1 layer · 16 units"
    assert described_config(ModelConfig("minlstm", 128)).startswith("Minimal LSTM (minLSTM: gates from the row alone")
    assert all(described_config(ModelConfig(kind, 8)) for kind in KINDS)  # every cell the engine offers


def test_recorded_train_config_reads_old_and_new_files():
    old = {"epochs": 100, "k": 28, "loss_at": "last", "augment": True, "seed": 0}  # before truncation had fields
    assert recorded_train_config(old) == TrainConfig(epochs=100)  # k = T meant full BPTT
    assert recorded_train_config(old | {"k": 7}).k == 7
    new = TrainConfig(task="blank", delay=20, k=28, k1=1)  # k = 28 of T = 48 stays a truncation
    assert recorded_train_config(new.to_dict()) == new
    assert recorded_train_config(new.to_dict() | {"unknown": 1}) == new


@pytest.mark.parametrize("bad", [None, "k=3", {"k": 99}, {"epochs": "ten"}, {"lr": -1}, {"task": "<b>x</b>"}])
def test_a_train_config_that_does_not_parse_reads_as_unknown(bad):
    assert recorded_train_config(bad) is None
