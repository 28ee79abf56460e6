"""Command line: train a model on the bundled sample (or full MNIST) and save a checkpoint.

python -m explorer.train --kind lstm --hidden 128 --epochs 60 --out checkpoints/lstm-128.safetensors
"""

import argparse
import shlex
import sys

from .checkpoints import CheckpointError, save_checkpoint
from .data import DATA_SOURCES, DataError, Digits, download_mnist, load_digits, provenance
from .losses import LOSS_AT
from .models import KINDS, ModelConfig
from .training import OPTIMIZERS, SCHEDULES, DivergedError, TrainConfig, train


def parser() -> argparse.ArgumentParser:
    """The CLI's flags, each with its help text."""
    d = TrainConfig()
    p = argparse.ArgumentParser(prog="python -m explorer.train", description=__doc__.splitlines()[0])
    p.add_argument("--kind", choices=KINDS, default="lstm", help="recurrent cell (default: %(default)s)")
    p.add_argument("--hidden", type=int, default=128, help="hidden units per direction (default: %(default)s)")
    p.add_argument("--layers", type=int, default=1, help="stacked recurrent layers (default: %(default)s)")
    p.add_argument("--bidirectional", action="store_true", help="add a backward direction (BiLSTM etc.)")
    p.add_argument("--dropout", type=float, default=0.0, help="dropout between layers (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=d.epochs, help="passes over the training set (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="digits per step (default: %(default)s)")
    p.add_argument(
        "--optimizer", choices=OPTIMIZERS, default=d.optimizer, help="default: %(default)s; SGD uses momentum 0.9"
    )
    p.add_argument("--lr", type=float, default=d.lr, help="peak learning rate (default: %(default)s)")
    p.add_argument(
        "--schedule", choices=SCHEDULES, default=d.schedule, help="learning-rate schedule (default: %(default)s)"
    )
    p.add_argument(
        "--clip", type=float, default=d.clip, help="max gradient norm; 0 disables clipping (default: %(default)s)"
    )
    p.add_argument(
        "--k", type=int, default=d.k, help="truncated BPTT length in rows, 1..28; 28 = full BPTT (default: %(default)s)"
    )
    p.add_argument(
        "--loss-at",
        choices=LOSS_AT,
        default=d.loss_at,
        help="loss on the last row only or on every row (default: %(default)s)",
    )
    p.add_argument("--no-augment", action="store_true", help="train without random shift/rotation/scale")
    p.add_argument(
        "--seed", type=int, default=d.seed, help="random seed; same seed, same result on CPU (default: %(default)s)"
    )
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=d.device, help="default: %(default)s")
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
    model_cfg = ModelConfig(
        kind=args.kind,
        hidden_size=args.hidden,
        num_layers=args.layers,
        bidirectional=args.bidirectional,
        dropout=args.dropout,
    )
    cfg = TrainConfig(
        epochs=1 if args.dry_run else args.epochs,
        batch_size=args.batch_size,
        optimizer=args.optimizer,
        lr=args.lr,
        schedule=args.schedule,
        clip=args.clip or None,
        k=args.k,
        loss_at=args.loss_at,
        augment=not args.no_augment,
        seed=args.seed,
        device=args.device,
    )
    return model_cfg, cfg


def command_line(model_cfg: ModelConfig, cfg: TrainConfig, data: str = "sample", out: str | None = None) -> str:
    """The `python -m explorer.train` command that trains this model this way (flags at their default left out)."""
    m, d = ModelConfig(), TrainConfig()
    valued = [
        ("--layers", model_cfg.num_layers, m.num_layers),
        ("--dropout", model_cfg.dropout, m.dropout),
        ("--epochs", cfg.epochs, d.epochs),
        ("--batch-size", cfg.batch_size, d.batch_size),
        ("--optimizer", cfg.optimizer, d.optimizer),
        ("--lr", cfg.lr, d.lr),
        ("--schedule", cfg.schedule, d.schedule),
        ("--clip", cfg.clip or 0, d.clip),
        ("--k", cfg.k, d.k),
        ("--loss-at", cfg.loss_at, d.loss_at),
        ("--seed", cfg.seed, d.seed),
        ("--device", cfg.device, d.device),
        ("--data", data, "sample"),
    ]
    switches = [
        ("--bidirectional", model_cfg.bidirectional),
        ("--no-augment", not cfg.augment),
        ("--download", data == "mnist"),
    ]
    # --kind and --hidden always: they name the model
    words = ["python", "-m", "explorer.train", "--kind", model_cfg.kind, "--hidden", str(model_cfg.hidden_size)]
    words += [word for flag, value, default in valued if value != default for word in (flag, str(value))]
    words += [flag for flag, on in switches if on] + (["--out", str(out)] if out else [])
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
            )
        except CheckpointError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        print(f"saved {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
