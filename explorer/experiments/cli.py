"""Command line: train a truncation or memory sweep, save it, and print what it found.

    python -m explorer sweep --kinds rnn gru lstm --task blank --delay 20 --ks 8 16 24 32 --seeds 0 1 2 \\
        --control --backend process --out my-sweep

Every field of SweepConfig is a flag (training.options derives them); the rest say where and how to run.
"""

import argparse
import shlex
import sys
import tempfile
from collections.abc import Callable

from ..training.options import add_flags, from_args
from .results import Sweep
from .runner import run_sweep
from .spec import SweepConfig

COMMAND = ("python", "-m", "explorer", "sweep")


def parser() -> argparse.ArgumentParser:
    """One flag per SweepConfig field, then how to run it."""
    p = argparse.ArgumentParser(prog=" ".join(COMMAND), description=__doc__.splitlines()[0])
    add_flags(p, SweepConfig)
    p.add_argument(
        "--backend",
        choices=("inline", "process", "ray"),
        default="inline",
        help="inline: one run after another here; process: a local pool of --workers processes; ray: a "
        "Ray cluster (--ray-address, or a local one) (default: %(default)s)",
    )
    p.add_argument("--workers", type=int, default=None, help="processes of the local pool (default: all cores)")
    p.add_argument("--ray-address", default=None, help="address of a Ray cluster to run on (default: start one here)")
    p.add_argument(
        "--keep-models",
        choices=("first-seed", "all", "none"),
        default="first-seed",
        help="which trained models to save next to the results (default: %(default)s)",
    )
    p.add_argument(
        "--out",
        help="folder for the sweep (a JSON summary + the kept models); an existing sweep of the "
        "same configuration there is resumed",
    )
    p.add_argument("--dry-run", action="store_true", help="smoke run: 1 epoch on 256 digits per run, nothing kept")
    return p


def parse_args(argv=None):
    return parser().parse_args(argv)


def main(argv=None, describe: Callable[[Sweep], str] | None = None) -> int:
    """Run the sweep; `describe` (the readings layer's sweep_reading, given by explorer's entry point) says what
    it found."""
    args = parse_args(argv)
    try:
        cfg = from_args(SweepConfig, args, **({"epochs": 1, "train_size": 256} if args.dry_run else {}))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    def report(p) -> None:
        if p.step == p.total_steps:
            print(f"{p.run} ({p.index + 1}/{p.count}) done", file=sys.stderr)

    command = shlex.join([*COMMAND, *(sys.argv[1:] if argv is None else argv)])
    folder = args.out if args.out and not args.dry_run else tempfile.mkdtemp(prefix="sweep-dry-run-")
    sweep = run_sweep(
        cfg,
        folder,
        args.backend,
        args.workers,
        args.ray_address,
        on_progress=report,
        command=command,
        keep_models=args.keep_models,
    )
    for r in sweep.runs:
        print(f"{r.spec.id}: test accuracy {r.accuracy:.4f} ({r.metrics['train_seconds']:.1f}s)", file=sys.stderr)
    for run_id, why in sweep.failed.items():
        print(f"{run_id} failed: {why}", file=sys.stderr)
    print(f"sweep took {sweep.seconds:.1f}s", file=sys.stderr)
    if describe is not None:
        print(describe(sweep), file=sys.stderr)
    if args.out and not args.dry_run:
        print(f"saved {folder}", file=sys.stderr)
    return 1 if sweep.failed else 0
