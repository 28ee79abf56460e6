"""What a checkpoint's metadata may show, validated field by field: a visitor's file can hold anything.

Every value a page shows from a checkpoint comes through `recorded()`: a number in its range, one of the
known words, a parsed date, or None ("unknown"). Free text is never shown as it is: the training command
is shown only when it parses as this project's own CLI, and then re-rendered from the parse.
"""

import argparse
import contextlib
import io
import re
import shlex
from dataclasses import dataclass, fields
from datetime import datetime, timezone

from ..data.digits import DATA_SOURCES
from ..data.sequences import ROW_MNIST, SequenceTask, trained_task
from ..model.config import ModelConfig
from ..model.header import fraction_or_none, recorded_accuracy
from .cli import command_line, configs, parser
from .loop import TrainConfig

MAX_DIGITS = 10_000_000  # more digits than any data set here holds: an absurd count reads as unknown
SAFE_PATH = re.compile(r"[A-Za-z0-9._/~-]{1,200}")


@dataclass(frozen=True)
class Recorded:
    """Displayable metadata of a checkpoint; None wherever the file holds something else."""

    test_accuracy: float | None  # fraction in [0, 1]
    train_accuracy: float | None
    data_source: str | None  # "sample" or "mnist"
    train_digits: int | None
    test_digits: int | None
    augmented: bool | None
    stopped: bool | None
    epoch: int | None  # epochs completed by the saved weights
    partial_epoch: bool | None
    created: datetime | None  # UTC
    command: str | None  # `python -m explorer train ...`, re-rendered from its parse
    task: SequenceTask = ROW_MNIST  # the sequences the model was trained on (row-MNIST if unrecorded or invalid)


def _count(value, high: int = MAX_DIGITS) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= high else None


def _flag(value) -> bool | None:
    return value if isinstance(value, bool) else None


def _created(value) -> datetime | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc) if 2000 <= when.year <= 2100 else None


def canonical_command(text) -> str | None:
    """The command re-rendered from its parse if it is our training command with valid flags, else None."""
    if not isinstance(text, str) or len(text) > 2000:
        return None
    try:
        words = shlex.split(text)
    except ValueError:
        return None
    if words[:1] not in (["python"], ["python3"]):
        return None
    if words[1:4] == ["-m", "explorer", "train"]:
        flags = words[4:]
    elif words[1:3] == ["-m", "explorer.train"]:  # checkpoints written before the command moved under explorer
        flags = words[3:]
    else:
        return None
    quiet = io.StringIO()
    try:
        with contextlib.redirect_stderr(quiet), contextlib.redirect_stdout(quiet):
            args, extra = parser().parse_known_args(flags)
        if extra or args.dry_run:
            return None
        model_cfg, cfg = configs(args)
    except (SystemExit, argparse.ArgumentError, ValueError, TypeError):
        return None
    out = args.out if args.out is not None and SAFE_PATH.fullmatch(args.out) else None
    return command_line(model_cfg, cfg, args.data, out)


def recorded(meta: dict) -> Recorded:
    """Validate the fields a page shows (meta as checkpoints decode it: every key present, of its JSON type)."""
    metrics = meta.get("metrics") if isinstance(meta.get("metrics"), dict) else {}
    data = meta.get("data") if isinstance(meta.get("data"), dict) else {}
    source = data.get("name") if data.get("name") in DATA_SOURCES else None
    return Recorded(
        test_accuracy=recorded_accuracy(meta),
        train_accuracy=fraction_or_none(metrics.get("train_accuracy")),
        data_source=source,
        train_digits=_count(data.get("train")),
        test_digits=_count(data.get("test")),
        augmented=_flag(data.get("augment")),
        stopped=_flag(metrics.get("stopped")),
        epoch=_count(metrics.get("epoch"), 100_000),
        partial_epoch=_flag(metrics.get("partial_epoch")),
        created=_created(meta.get("created")),
        command=canonical_command(meta.get("command")),
        task=trained_task(meta.get("train_config")),
    )


def recorded_train_config(train_config) -> TrainConfig | None:
    """The TrainConfig a checkpoint records, or None where it does not parse as one.

    Files written before truncation had its own fields recorded full BPTT as k = T (28); that reads as k = None
    now, and fields they lack take their defaults.
    """
    if not isinstance(train_config, dict):
        return None
    known = {f.name for f in fields(TrainConfig)}
    values = {name: value for name, value in train_config.items() if name in known}
    try:
        if values.get("k") is not None and values["k"] == trained_task(train_config).T and "task" not in values:
            values["k"] = None
        return TrainConfig(**values)
    except (ValueError, TypeError):
        return None


def described_config(config: ModelConfig) -> str:
    """e.g. 'Long short-term memory (LSTM), bidirectional · 2 layers · 128 units per direction'."""
    kinds = {
        "rnn": "Vanilla (tanh) RNN",
        "lstm": "Long short-term memory (LSTM)",
        "gru": "Gated recurrent unit (GRU)",
        "mingru": "Minimal GRU (minGRU: gates from the row alone, no W_hh)",
        "minlstm": "Minimal LSTM (minLSTM: gates from the row alone, no W_hh)",
    }
    size = f"{config.hidden_size} units" + (" per direction" if config.bidirectional else "")
    layers = f"{config.num_layers} layers" if config.num_layers > 1 else "1 layer"
    return f"{kinds[config.kind]}{', bidirectional' if config.bidirectional else ''} · {layers} · {size}"
