"""Truncation sweep: train one model per truncated-BPTT length k, profile each, save and load the set.

    python -m explorer.sweep --kind lstm --hidden 64 --ks 1 2 4 7 14 28 --epochs 20 --out checkpoints/sweep
"""
import argparse
import json
import math
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np

from .checkpoints import read_checkpoint, save_checkpoint, user_dir
from .data import Digits, T, load_sample
from .gradients import LOSS_AT, bptt_profile, digit_batch
from .models import KINDS, ModelConfig, SequenceClassifier
from .training import History, Step, TrainConfig, train

FORMAT = "rnn-explorer-sweep/1"
SUMMARY = "sweep.json"


class SweepError(Exception):
    """A sweep folder could not be read or written; the message is shown to the user as is."""


@dataclass(frozen=True)
class SweepConfig:
    """What a sweep trains: one model of this architecture per k, all else equal."""

    kind: str = "lstm"
    hidden_size: int = 64
    ks: tuple = (1, 2, 4, 7, 14, 28)
    epochs: int = 20
    loss_at: str = "last"
    batch_size: int = 64
    lr: float = 3e-3
    augment: bool = False  # off: the sweep compares k, and augmentation would slow it for little gain
    train_size: int | None = None  # first N training digits; None = all
    profile_size: int = 256  # test digits the per-row gradient profiles are measured on
    seed: int = 0

    def __post_init__(self):
        ModelConfig(kind=self.kind, hidden_size=self.hidden_size)  # raises on a bad kind or size
        if not self.ks or any(not 1 <= k <= T for k in self.ks):
            raise ValueError(f"ks must be one or more lengths in 1..{T}, got {list(self.ks)}")
        if self.loss_at not in LOSS_AT:
            raise ValueError(f"loss_at must be one of {LOSS_AT}, got {self.loss_at!r}")
        if self.epochs < 1 or (self.train_size is not None and self.train_size < 1) or self.profile_size < 1:
            raise ValueError("epochs, train_size and profile_size must be >= 1")
        object.__setattr__(self, "ks", tuple(sorted(set(int(k) for k in self.ks))))

    def model_config(self) -> ModelConfig:
        return ModelConfig(kind=self.kind, hidden_size=self.hidden_size)

    def train_config(self, k: int) -> TrainConfig:
        return TrainConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, k=k, loss_at=self.loss_at,
                           augment=self.augment, seed=self.seed, device="cpu")  # CPU: same seed, same weights

    @property
    def label(self) -> str:
        return f"{self.model_config().label}, loss at {'the last row' if self.loss_at == 'last' else 'every row'}"


@dataclass
class SweepRun:
    """One trained model of a sweep and what it measured."""

    k: int
    model: SequenceClassifier
    metrics: dict  # test_accuracy, train_accuracy, train_seconds, ... as train() reports them
    history: History
    dh: np.ndarray  # (T,) batch median of ||dL/dh_t|| under the model's own truncation k (the training gradient)
    dx: np.ndarray  # (T,) batch median of ||dL/dx_t|| under full BPTT: which rows the trained model uses

    @property
    def accuracy(self) -> float:
        return self.metrics["test_accuracy"]


@dataclass
class Sweep:
    """A finished (or stopped) sweep: runs in increasing k."""

    config: SweepConfig
    runs: list = field(default_factory=list)
    stopped: bool = False
    test_size: int = 0
    seconds: float = 0.0
    command: str = ""

    @property
    def ks(self) -> list[int]:
        return [r.k for r in self.runs]

    @property
    def accuracies(self) -> list[float]:
        return [r.accuracy for r in self.runs]


@dataclass(frozen=True)
class SweepProgress:
    """What on_progress receives after every optimizer step."""

    k: int
    index: int  # position of k in the sweep, from 0
    count: int  # number of ks
    epoch: int
    epochs: int
    step: int  # within this k, from 1
    total_steps: int  # within this k
    loss: float

    @property
    def fraction(self) -> float:
        """Share of the whole sweep done, in [0, 1]."""
        return (self.index + self.step / self.total_steps) / self.count


def gradient_rows(model: SequenceClassifier, x, y, loss_at: str, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Batch medians per row: ||dL/dh_t|| (last layer, truncated to k) and ||dL/dx_t|| (full BPTT)."""
    truncated = bptt_profile(model, x, y, loss_at, k)
    full = truncated if k >= T else bptt_profile(model, x, y, loss_at)
    return np.median(truncated.dh[-1, 0], axis=0), np.median(full.dx, axis=0)


def run_sweep(cfg: SweepConfig, train_set: Digits, test_set: Digits,
              on_progress: Callable[[SweepProgress], None] | None = None,
              should_stop: Callable[[], bool] | None = None) -> Sweep:
    """Train one model per k in cfg.ks (ascending); a stop request ends the sweep with the ks finished so far."""
    if cfg.train_size is not None:
        train_set = Digits(train_set.images[:cfg.train_size], train_set.labels[:cfg.train_size])
    x, y = digit_batch(test_set, min(cfg.profile_size, len(test_set)))
    sweep = Sweep(cfg, test_size=len(test_set))
    start = time.perf_counter()
    for index, k in enumerate(cfg.ks):
        def step(s: Step, k=k, index=index) -> None:
            if on_progress:
                on_progress(SweepProgress(k, index, len(cfg.ks), s.epoch, cfg.epochs, s.step, s.total_steps, s.loss))
        result = train(cfg.model_config(), cfg.train_config(k), train_set, test_set, on_step=step,
                       should_stop=should_stop)
        if result.history.stopped:  # a half-trained model would not say what k does
            sweep.stopped = True
            break
        dh, dx = gradient_rows(result.model, x, y, cfg.loss_at, k)
        sweep.runs.append(SweepRun(k, result.model, result.metrics, result.history, dh, dx))
    sweep.seconds = time.perf_counter() - start
    return sweep


# ---- reading the result ---------------------------------------------------------------------------------------


def standard_error(accuracy: float, n: int) -> float:
    """Binomial standard error of an accuracy measured on n test digits."""
    return math.sqrt(accuracy * (1 - accuracy) / max(n, 1))


def sweep_reading(sweep: Sweep, chance: float = 0.1) -> str:
    """A few sentences about the sweep, every number computed from its results."""
    runs = sweep.runs
    if not runs:
        return "The sweep was stopped before any model finished; nothing to read yet."
    pct = lambda a: f"{100 * a:.1f}%"  # noqa: E731
    first, last = runs[0], runs[-1]
    best = max(runs, key=lambda r: r.accuracy)
    noise = 2 * standard_error(best.accuracy, sweep.test_size)
    out = [f"Test accuracy goes from {pct(first.accuracy)} at k = {first.k} to {pct(last.accuracy)} at k = {last.k}"
           + (" (full BPTT)." if last.k == T else ".")]
    if len(runs) > 1:
        enough = next(r for r in runs if r.accuracy >= best.accuracy - noise)
        out.append(f"The shortest truncation within {100 * noise:.1f} points (two standard errors on "
                   f"{sweep.test_size:,} test digits) of the best, {pct(best.accuracy)} at k = {best.k}, "
                   f"is k = {enough.k}.")
        drops = [(a, b) for a, b in zip(runs, runs[1:]) if b.accuracy < a.accuracy - noise]
        if drops:
            a, b = drops[0]
            out.append(f"Accuracy is not monotone in k: k = {b.k} scores {pct(b.accuracy)}, below k = {a.k}; "
                       "with one training run per k, read the trend rather than single points.")
    if sweep.config.loss_at == "last" and first.k < T:
        beats = first.accuracy - chance
        verdict = (f"still beats chance ({pct(chance)}) by {100 * beats:.0f} points: the forward pass carries "
                   f"rows 1–{T - first.k} into the state and the last "
                   f"{'step learns' if first.k == 1 else f'{first.k} steps learn'} to read it, but no gradient "
                   "teaches the earlier steps what to keep" if beats > noise
                   else f"is at chance ({pct(chance)})")
        rows = f"row {T}" if first.k == 1 else f"rows {T - first.k + 1}–{T}"
        out.append(f"With the loss on the last row, k = {first.k} sends gradient only to {rows}; "
                   f"that model {verdict}.")
    if sweep.stopped:
        out.append(f"The sweep was stopped: only k = {', '.join(str(k) for k in sweep.ks)} finished.")
    return " ".join(out)


# ---- saving and loading ---------------------------------------------------------------------------------------


def user_sweeps_dir() -> Path:
    """Where the app saves the user's own sweeps: next to the user checkpoints, never in the repo."""
    return user_dir().parent / "sweeps"


def shipped_sweep_dir() -> Path:
    """The precomputed sweep shipped in the repo (not a model folder: list_checkpoints does not look inside)."""
    return Path(__file__).resolve().parent.parent / "checkpoints" / "sweep"


def _run_file(k: int) -> str:
    return f"k{k:02d}.safetensors"


def save_sweep(sweep: Sweep, folder: str | Path) -> Path:
    """Write one checkpoint per k plus a JSON summary (config, accuracies, histories, profiles) into folder."""
    folder = Path(folder)
    data = {"name": "sample", "test": sweep.test_size, "augment": sweep.config.augment}
    runs = []
    for r in sweep.runs:
        save_checkpoint(folder / _run_file(r.k), r.model, metrics=r.metrics, history=r.history.to_dict(),
                        data=data, command=sweep.command, train_config=sweep.config.train_config(r.k))
        runs.append({"k": r.k, "file": _run_file(r.k), "metrics": r.metrics, "history": r.history.to_dict(),
                     "dh": r.dh.tolist(), "dx": r.dx.tolist()})
    summary = {"format": FORMAT, "config": asdict(sweep.config), "runs": runs, "stopped": sweep.stopped,
               "test_size": sweep.test_size, "seconds": sweep.seconds, "command": sweep.command,
               "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    keep = {_run_file(r.k) for r in sweep.runs}
    tmp = folder / (SUMMARY + ".tmp")
    try:
        for stale in folder.glob("k[0-9][0-9].safetensors"):  # from an earlier sweep saved in this folder
            if stale.name not in keep:
                stale.unlink()
        tmp.write_text(json.dumps(summary, indent=1))
        tmp.replace(folder / SUMMARY)  # readers never see a half-written summary
    except OSError as e:
        raise SweepError(f"could not save the sweep summary in {folder}: {e.strerror or e}") from None
    return folder


def load_sweep(folder: str | Path) -> Sweep:
    """Read a sweep written by save_sweep; raises SweepError with a readable message."""
    folder = Path(folder)
    try:
        summary = json.loads((folder / SUMMARY).read_text())
    except FileNotFoundError:
        raise SweepError(f"no sweep in {folder} ({SUMMARY} is missing)") from None
    except (OSError, ValueError, RecursionError) as e:  # RecursionError: absurdly nested JSON
        raise SweepError(f"could not read {folder / SUMMARY}: {e or type(e).__name__}") from None
    if not isinstance(summary, dict) or summary.get("format") != FORMAT:
        raise SweepError(f"{folder / SUMMARY} is not an RNN Explorer sweep (format {FORMAT!r} expected)")
    try:
        cfg = SweepConfig(**summary["config"])
        runs = []
        for r in summary["runs"]:
            model = read_checkpoint(folder / r["file"]).model  # CheckpointError names the file's problem
            history = History(**r["history"])
            runs.append(SweepRun(int(r["k"]), model, r["metrics"], history, np.asarray(r["dh"], np.float64),
                                 np.asarray(r["dx"], np.float64)))
        return Sweep(cfg, runs, bool(summary["stopped"]), int(summary["test_size"]), float(summary["seconds"]),
                     str(summary.get("command", "")))
    except (KeyError, TypeError, ValueError) as e:
        raise SweepError(f"{folder / SUMMARY} is malformed: {e}") from None


def list_sweeps() -> list[Path]:
    """The shipped sweep (if present), then the user's sweeps, newest first."""
    shipped = [shipped_sweep_dir()] if (shipped_sweep_dir() / SUMMARY).exists() else []
    mine = sorted((p.parent for p in user_sweeps_dir().glob(f"*/{SUMMARY}")), key=lambda p: p.name, reverse=True)
    return shipped + mine


def new_sweep_dir(cfg: SweepConfig) -> Path:
    """A fresh folder name for a user sweep, e.g. sweeps/20250101-120000-lstm-64-last."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return user_sweeps_dir() / f"{stamp}-{cfg.kind}-{cfg.hidden_size}-{cfg.loss_at}"


def run_sweep_job(job, cfg: SweepConfig, train_set: Digits, test_set: Digits) -> str | None:
    """A background job's work (explorer.jobs): run the sweep, save what finished as a new user sweep; its folder."""
    sweep = run_sweep(cfg, train_set, test_set, on_progress=job.report, should_stop=job.should_stop)
    sweep.command = "Truncation lab page"
    return str(save_sweep(sweep, new_sweep_dir(cfg))) if sweep.runs else None


# ---- command line ---------------------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    d = SweepConfig()
    p = argparse.ArgumentParser(prog="python -m explorer.sweep", description=__doc__.splitlines()[0])
    p.add_argument("--kind", choices=KINDS, default=d.kind, help="recurrent cell (default: %(default)s)")
    p.add_argument("--hidden", type=int, default=d.hidden_size, help="hidden units (default: %(default)s)")
    p.add_argument("--ks", type=int, nargs="+", default=list(d.ks),
                   help="truncation lengths to train, each in 1..28 (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=d.epochs, help="epochs per model (default: %(default)s)")
    p.add_argument("--loss-at", choices=LOSS_AT, default=d.loss_at,
                   help="loss on the last row only or on every row (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="digits per step (default: %(default)s)")
    p.add_argument("--lr", type=float, default=d.lr,
                   help="peak Adam learning rate, cosine schedule (default: %(default)s)")
    p.add_argument("--augment", action="store_true", help="train with random shift/rotation/scale (default: off)")
    p.add_argument("--train-size", type=int, default=None,
                   help="train on the first N of the 4,000 bundled training digits (default: all)")
    p.add_argument("--profile-size", type=int, default=d.profile_size,
                   help="test digits the per-row gradient profiles are measured on (default: %(default)s)")
    p.add_argument("--seed", type=int, default=d.seed, help="random seed, the same for every k (default: %(default)s)")
    p.add_argument("--out", help="folder to write the sweep into (a JSON summary + one checkpoint per k)")
    p.add_argument("--dry-run", action="store_true", help="smoke run: 1 epoch on 256 digits per k, nothing saved")
    return p


def parse_args(argv=None) -> argparse.Namespace:
    return parser().parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        cfg = SweepConfig(kind=args.kind, hidden_size=args.hidden, ks=tuple(args.ks), loss_at=args.loss_at,
                          epochs=1 if args.dry_run else args.epochs, batch_size=args.batch_size, lr=args.lr,
                          augment=args.augment, train_size=256 if args.dry_run else args.train_size,
                          profile_size=args.profile_size, seed=args.seed)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    train_set, test_set = load_sample()

    def report(p: SweepProgress) -> None:
        if p.step == p.total_steps or p.step % (p.total_steps // p.epochs) == 0:
            print(f"k = {p.k:2d} ({p.index + 1}/{p.count})  epoch {p.epoch:3d}/{p.epochs}  loss {p.loss:.4f}",
                  file=sys.stderr)

    sweep = run_sweep(cfg, train_set, test_set, on_progress=report)
    sweep.command = "python -m explorer.sweep " + shlex.join(sys.argv[1:] if argv is None else argv)
    for r in sweep.runs:
        print(f"k = {r.k:2d}: test accuracy {r.accuracy:.4f}  ({r.metrics['train_seconds']:.1f}s)", file=sys.stderr)
    print(f"sweep took {sweep.seconds:.1f}s", file=sys.stderr)
    print(sweep_reading(sweep), file=sys.stderr)
    if args.out and not args.dry_run:
        print(f"saved {save_sweep(sweep, args.out)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
