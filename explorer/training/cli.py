"""Command line: train a model on the bundled sample (or full MNIST) and save a checkpoint.

python -m explorer train --kind lstm --hidden 128 --epochs 60 --out checkpoints/lstm-128.safetensors
"""

import argparse
import shlex
import sys
from pathlib import Path

from ..data.digits import DATA_SOURCES, DataError, Digits, download_mnist, load_digits, provenance
from ..model.checkpoints import save_checkpoint
from ..model.config import ModelConfig
from ..model.header import CheckpointError
from .loop import DivergedError, TrainConfig, train
from .options import add_flags, from_args, to_words

COMMAND = ("python", "-m", "explorer", "train")  # how README spells it; metadata also reads `-m explorer.train`


def parser() -> argparse.ArgumentParser:
    """The CLI's flags, each with its help text: one per ModelConfig and TrainConfig field (training.options)."""
    p = argparse.ArgumentParser(prog=" ".join(COMMAND), description=__doc__.splitlines()[0])
    add_flags(p, ModelConfig)
    add_flags(p, TrainConfig)
    p.add_argument(
        "--data",
        choices=DATA_SOURCES,
        default="sample",
        help="bundled 5,000-digit sample, or full MNIST from the cache (run with --download first)",
    )
    p.add_argument("--download", action="store_true", help="download full MNIST into the cache if missing")
    p.add_argument("--out", help="where to write the .safetensors checkpoint")
    p.add_argument("--dry-run", action="store_true", help="a quick smoke run: 1 epoch on 256 digits, nothing saved")
    return p


def parse_args(argv=None) -> argparse.Namespace:
    return parser().parse_args(argv)


def configs(args: argparse.Namespace) -> tuple[ModelConfig, TrainConfig]:
    """The model and training configs the parsed flags ask for."""
    return from_args(ModelConfig, args), from_args(TrainConfig, args, **({"epochs": 1} if args.dry_run else {}))


def command_line(model_cfg: ModelConfig, cfg: TrainConfig, data: str = "sample", out: str | None = None) -> str:
    """The `python -m explorer train` command that trains this model this way (flags at their default left out)."""
    words = [*COMMAND, *to_words(model_cfg, always=("kind", "hidden_size")), *to_words(cfg)]
    words += (["--data", data, "--download"] if data != "sample" else []) + (["--out", str(out)] if out else [])
    return shlex.join(words)


def shown_command(command: str) -> str:
    """A recorded command with its --out path cut to the file's name: where the server saved it is nobody's
    business, and the name is what runs on another machine."""
    try:
        words = shlex.split(command)
    except ValueError:
        return command
    for i, word in enumerate(words[:-1]):
        if word == "--out":
            words[i + 1] = Path(words[i + 1]).name
    return shlex.join(words)


def load_data(args) -> tuple[Digits, Digits]:
    if args.data == "mnist" and args.download:
        download_mnist(
            on_progress=lambda name, done, total: print(f"\r{name}: {done >> 10} KiB", end="", file=sys.stderr)
        )
        print(file=sys.stderr)
    return load_digits(args.data)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        model_cfg, cfg = configs(args)
    except ValueError as e:  # a flag value out of range, e.g. --hidden 0 or --k 40
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        train_set, test_set = load_data(args)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.dry_run:
        train_set, test_set = (Digits(d.images[:256], d.labels[:256]) for d in (train_set, test_set))
    print(f"training {model_cfg.label} on {len(train_set)} digits, testing on {len(test_set)}", file=sys.stderr)

    def report(h):
        print(
            f"epoch {h.epoch[-1]:3d}  loss {h.loss[-1]:.4f}  train {h.train_accuracy[-1]:.4f}  "
            f"test {h.test_accuracy[-1]:.4f}  {h.seconds[-1]:.1f}s",
            file=sys.stderr,
        )

    try:
        result = train(model_cfg, cfg, train_set, test_set, on_epoch=report)
    except DivergedError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"test accuracy {result.metrics['test_accuracy']:.4f} on {len(test_set)} digits", file=sys.stderr)
    if args.out and not args.dry_run:
        try:
            path = save_checkpoint(
                args.out,
                result.model,
                metrics=result.metrics,
                history=result.history.to_dict(),
                command=command_line(model_cfg, cfg, args.data, args.out),
                train_config=cfg.to_dict(),
                data=provenance(args.data, train_set, test_set, cfg.augment),
                snapshots=result.snapshots,
            )
        except CheckpointError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        print(f"saved {path}", file=sys.stderr)
    return 0
