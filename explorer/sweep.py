"""Truncation sweep: train one model per truncated-BPTT length k, profile each, save and load the set.

python -m explorer.sweep --kind lstm --hidden 64 --ks 1 2 4 7 14 28 --epochs 20 --out checkpoints/sweep
"""

import argparse
import json
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from . import stats
from .checkpoints import OWNER_PATTERN, check_owner, read_checkpoint, save_checkpoint, user_dir
from .data import Digits, T, load_sample
from .gradients import bptt_profile, digit_batch
from .losses import LOSS_AT, check_loss_at
from .models import KINDS, ModelConfig, SequenceClassifier
from .predictions import predict
from .training import History, Step, TrainConfig, train

FORMAT = "rnn-explorer-sweep/1"
SUMMARY = "sweep.json"


class SweepError(Exception):
    """A sweep folder could not be read or written; the message is shown to the user as is."""


@dataclass(frozen=True)
class SweepConfig:
    """What a sweep trains: one model of this architecture per k and seed, all else equal."""

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
    seeds: tuple = (0,)  # one model per k and seed; seed s initialises and shuffles alike for every k

    def __post_init__(self):
        ModelConfig(kind=self.kind, hidden_size=self.hidden_size)  # raises on a bad kind or size
        if not self.ks or any(not 1 <= k <= T for k in self.ks):
            raise ValueError(f"ks must be one or more lengths in 1..{T}, got {list(self.ks)}")
        check_loss_at(self.loss_at)
        if self.epochs < 1 or (self.train_size is not None and self.train_size < 1) or self.profile_size < 1:
            raise ValueError("epochs, train_size and profile_size must be >= 1")
        if not self.seeds or any(s < 0 for s in self.seeds):
            raise ValueError(f"seeds must be one or more numbers >= 0, got {list(self.seeds)}")
        object.__setattr__(self, "ks", tuple(sorted(set(int(k) for k in self.ks))))
        object.__setattr__(self, "seeds", tuple(sorted(set(int(s) for s in self.seeds))))

    def model_config(self) -> ModelConfig:
        return ModelConfig(kind=self.kind, hidden_size=self.hidden_size)

    def train_config(self, k: int, seed: int | None = None) -> TrainConfig:
        seed = self.seeds[0] if seed is None else seed
        return TrainConfig(
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            k=k,
            loss_at=self.loss_at,
            augment=self.augment,
            seed=seed,
            device="cpu",
        )  # CPU: same seed, same weights

    @property
    def label(self) -> str:
        return f"{self.model_config().label}, loss at {'the last row' if self.loss_at == 'last' else 'every row'}"


@dataclass
class SweepRun:
    """One trained model of a sweep and what it measured."""

    k: int
    seed: int
    model: SequenceClassifier
    metrics: dict  # test_accuracy, train_accuracy, train_seconds, ... as train() reports them
    history: History
    dh: np.ndarray  # (T,) batch median of ||dL/dh_t|| under the model's own truncation k (the training gradient)
    dx: np.ndarray  # (T,) batch median of ||dL/dx_t|| under full BPTT: which rows the trained model uses
    correct: np.ndarray  # (N,) bool: which test digits it gets right (for paired tests between runs)

    @property
    def accuracy(self) -> float:
        return self.metrics["test_accuracy"]


@dataclass
class Sweep:
    """A finished (or stopped) sweep: runs in increasing k, then seed."""

    config: SweepConfig
    runs: list = field(default_factory=list)
    stopped: bool = False
    test_size: int = 0
    seconds: float = 0.0
    command: str = ""

    @property
    def ks(self) -> list[int]:
        """The ks with at least one finished run, ascending."""
        return sorted({r.k for r in self.runs})

    @property
    def seeds(self) -> list[int]:
        """The seeds with at least one finished run, ascending."""
        return sorted({r.seed for r in self.runs})

    def runs_of(self, k: int) -> list[SweepRun]:
        """The finished runs of one k, by seed."""
        return sorted((r for r in self.runs if r.k == k), key=lambda r: r.seed)

    @property
    def accuracies(self) -> list[float]:
        """Mean test accuracy over the seeds, per k in self.ks."""
        return [float(np.mean([r.accuracy for r in self.runs_of(k)])) for k in self.ks]


@dataclass(frozen=True)
class SweepProgress:
    """What on_progress receives after every optimizer step."""

    k: int
    seed: int
    index: int  # position of this run in the sweep, from 0
    count: int  # number of runs (ks x seeds)
    epoch: int
    epochs: int
    step: int  # within this run, from 1
    total_steps: int  # within this run
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


def correct_answers(model: SequenceClassifier, digits: Digits) -> np.ndarray:
    """Which digits the model gets right, (N,) bool."""
    return predict(model, digits) == digits.labels


def run_sweep(
    cfg: SweepConfig,
    train_set: Digits,
    test_set: Digits,
    on_progress: Callable[[SweepProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Sweep:
    """Train one model per (k, seed), seeds outermost; a stop request keeps the runs finished so far."""
    if cfg.train_size is not None:
        train_set = Digits(train_set.images[: cfg.train_size], train_set.labels[: cfg.train_size])
    x, y = digit_batch(test_set, min(cfg.profile_size, len(test_set)))
    sweep = Sweep(cfg, test_size=len(test_set))
    start = time.perf_counter()
    plan = [(k, seed) for seed in cfg.seeds for k in cfg.ks]  # every k of seed 0 first: a stop leaves a full row
    for index, (k, seed) in enumerate(plan):

        def step(s: Step, k=k, seed=seed, index=index) -> None:
            if on_progress:
                on_progress(
                    SweepProgress(k, seed, index, len(plan), s.epoch, cfg.epochs, s.step, s.total_steps, s.loss)
                )

        result = train(
            cfg.model_config(), cfg.train_config(k, seed), train_set, test_set, on_step=step, should_stop=should_stop
        )
        if result.history.stopped:  # a half-trained model would not say what k does
            sweep.stopped = True
            break
        dh, dx = gradient_rows(result.model, x, y, cfg.loss_at, k)
        sweep.runs.append(
            SweepRun(
                k, seed, result.model, result.metrics, result.history, dh, dx, correct_answers(result.model, test_set)
            )
        )
    sweep.runs.sort(key=lambda r: (r.k, r.seed))
    sweep.seconds = time.perf_counter() - start
    return sweep


# ---- comparing ks --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KResult:
    """One k of a sweep: its accuracy over seeds, above chance or not, and how it compares with the reference k."""

    k: int
    accuracies: np.ndarray  # per seed
    above_chance: int  # seeds whose model is significantly above chance (one-sided exact binomial test)
    reference: int  # the k it is compared with (full BPTT if the sweep has it, else its longest k)
    difference: float  # mean accuracy minus the reference's (0 for the reference itself)
    p: float  # two-sided: McNemar's exact test (one seed) or a paired t-test across seeds; nan for the reference
    p_holm: float  # p adjusted for comparing every k with the reference (Holm-Bonferroni)
    test: str  # "McNemar" or "paired t-test"
    lower_in: int  # seeds in which this k scores below the reference

    @property
    def mean(self) -> float:
        return float(self.accuracies.mean())

    @property
    def spread(self) -> float:
        """Sample standard deviation over seeds (nan with one seed)."""
        return float(self.accuracies.std(ddof=1)) if len(self.accuracies) > 1 else float("nan")


def compare_ks(sweep: Sweep, chance: float = 0.1) -> list[KResult]:
    """Per k: mean and spread over seeds, and a paired test against the reference k, on seeds both finished."""
    ks = sweep.ks
    if not ks:
        return []
    reference = T if T in ks else ks[-1]
    ref_runs = {r.seed: r for r in sweep.runs_of(reference)}
    rows, raw = [], []
    for k in ks:
        runs = sweep.runs_of(k)
        accuracies = np.array([r.accuracy for r in runs])
        above = sum(stats.above_chance(r.correct, chance) < stats.ALPHA for r in runs)
        pairs = [(r, ref_runs[r.seed]) for r in runs if r.seed in ref_runs]
        if k == reference or not pairs:
            rows.append([k, accuracies, above, reference, 0.0, float("nan"), "", 0])
            raw.append(float("nan"))
            continue
        mine, theirs = np.array([a.accuracy for a, _ in pairs]), np.array([b.accuracy for _, b in pairs])
        if len(pairs) == 1:
            p, test = stats.mcnemar(pairs[0][0].correct, pairs[0][1].correct).p, "McNemar"
        else:
            p, test = stats.paired_across_seeds(mine, theirs).p, "paired t-test"
        rows.append(
            [k, accuracies, above, reference, float((mine - theirs).mean()), p, test, int((mine < theirs).sum())]
        )
        raw.append(p)
    adjusted = stats.holm(raw)
    return [
        KResult(k, acc, above, ref, diff, p, p_holm, test, lower)
        for (k, acc, above, ref, diff, p, test, lower), p_holm in zip(rows, adjusted)
    ]


# ---- saving and loading ---------------------------------------------------------------------------------------


def user_sweeps_dir() -> Path:
    """Where the app saves the user's own sweeps: next to the user checkpoints, never in the repo."""
    return user_dir().parent / "sweeps"


def shipped_sweep_dir() -> Path:
    """The precomputed sweep shipped in the repo (not a model folder: list_checkpoints does not look inside)."""
    return Path(__file__).resolve().parent.parent / "checkpoints" / "sweep"


def _run_file(k: int, seed: int) -> str:
    return f"k{k:02d}" + (f"-s{seed}" if seed else "") + ".safetensors"


def _bits(correct: np.ndarray) -> str:
    return "".join("1" if c else "0" for c in correct)


def save_sweep(sweep: Sweep, folder: str | Path) -> Path:
    """Write one checkpoint per k plus a JSON summary (config, accuracies, histories, profiles) into folder."""
    folder = Path(folder)
    data = {"name": "sample", "test": sweep.test_size, "augment": sweep.config.augment}
    runs = []
    for r in sweep.runs:
        file = _run_file(r.k, r.seed)
        save_checkpoint(
            folder / file,
            r.model,
            metrics=r.metrics,
            history=r.history.to_dict(),
            data=data,
            command=sweep.command,
            train_config=sweep.config.train_config(r.k, r.seed),
        )
        runs.append(
            {
                "k": r.k,
                "seed": r.seed,
                "file": file,
                "metrics": r.metrics,
                "history": r.history.to_dict(),
                "dh": r.dh.tolist(),
                "dx": r.dx.tolist(),
                "test_correct": _bits(r.correct),
            }
        )
    summary = {
        "format": FORMAT,
        "config": asdict(sweep.config),
        "runs": runs,
        "stopped": sweep.stopped,
        "test_size": sweep.test_size,
        "seconds": sweep.seconds,
        "command": sweep.command,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    keep = {_run_file(r.k, r.seed) for r in sweep.runs}
    tmp = folder / (SUMMARY + ".tmp")
    try:
        for stale in folder.glob("k[0-9][0-9]*.safetensors"):  # from an earlier sweep saved in this folder
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
        raw = dict(summary["config"])
        if "seed" in raw:  # written before sweeps had several seeds
            raw["seeds"] = (raw.pop("seed"),)
        cfg = SweepConfig(**raw)
        test_size = int(summary["test_size"])
        runs = []
        for r in summary["runs"]:
            model = read_checkpoint(folder / r["file"]).model  # CheckpointError names the file's problem
            if "test_correct" in r:
                correct = np.array([c == "1" for c in r["test_correct"]], bool)
                if len(correct) != test_size or set(r["test_correct"]) - {"0", "1"}:
                    raise ValueError(f"test_correct of k = {r['k']} is not {test_size} digits of 0/1")
            else:  # saved before per-digit results were kept: every sweep tests on the bundled sample
                correct = correct_answers(model, load_sample()[1])
            runs.append(
                SweepRun(
                    int(r["k"]),
                    int(r.get("seed", 0)),
                    model,
                    r["metrics"],
                    History(**r["history"]),
                    np.asarray(r["dh"], np.float64),
                    np.asarray(r["dx"], np.float64),
                    correct,
                )
            )
        return Sweep(
            cfg, runs, bool(summary["stopped"]), test_size, float(summary["seconds"]), str(summary.get("command", ""))
        )
    except (KeyError, TypeError, ValueError) as e:
        raise SweepError(f"{folder / SUMMARY} is malformed: {e}") from None


def list_sweeps() -> list[Path]:
    """The shipped sweep (if present), then the visitors' sweeps (sweeps/<owner id>/<stamp>...), newest first."""
    shipped = [shipped_sweep_dir()] if (shipped_sweep_dir() / SUMMARY).exists() else []
    found = [
        p.parent for p in user_sweeps_dir().glob(f"*/*/{SUMMARY}") if OWNER_PATTERN.fullmatch(p.parent.parent.name)
    ]
    return shipped + sorted(found, key=lambda p: p.name, reverse=True)


def sweep_owner(folder: Path) -> str | None:
    """The owner id of a visitor's sweep folder; None for the shipped sweep or any other folder."""
    folder = Path(folder)
    return folder.parent.name if folder.parent.parent == user_sweeps_dir() else None


def new_sweep_dir(cfg: SweepConfig, owner: str) -> Path:
    """A fresh folder for a visitor's sweep, e.g. sweeps/<owner id>/20250101-120000-lstm-64-last."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return user_sweeps_dir() / check_owner(owner) / f"{stamp}-{cfg.kind}-{cfg.hidden_size}-{cfg.loss_at}"


# ---- command line ---------------------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    d = SweepConfig()
    p = argparse.ArgumentParser(prog="python -m explorer.sweep", description=__doc__.splitlines()[0])
    p.add_argument("--kind", choices=KINDS, default=d.kind, help="recurrent cell (default: %(default)s)")
    p.add_argument("--hidden", type=int, default=d.hidden_size, help="hidden units (default: %(default)s)")
    p.add_argument(
        "--ks",
        type=int,
        nargs="+",
        default=list(d.ks),
        help="truncation lengths to train, each in 1..28 (default: %(default)s)",
    )
    p.add_argument("--epochs", type=int, default=d.epochs, help="epochs per model (default: %(default)s)")
    p.add_argument(
        "--loss-at",
        choices=LOSS_AT,
        default=d.loss_at,
        help="loss on the last row only or on every row (default: %(default)s)",
    )
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="digits per step (default: %(default)s)")
    p.add_argument(
        "--lr", type=float, default=d.lr, help="peak Adam learning rate, cosine schedule (default: %(default)s)"
    )
    p.add_argument("--augment", action="store_true", help="train with random shift/rotation/scale (default: off)")
    p.add_argument(
        "--train-size",
        type=int,
        default=None,
        help="train on the first N of the 4,000 bundled training digits (default: all)",
    )
    p.add_argument(
        "--profile-size",
        type=int,
        default=d.profile_size,
        help="test digits the per-row gradient profiles are measured on (default: %(default)s)",
    )
    p.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=list(d.seeds),
        help="random seeds: one model per k and seed; with 2 or more the reading compares ks across "
        "seeds (paired t-test), with one it compares them on the same test digits (McNemar) "
        "(default: %(default)s)",
    )
    p.add_argument("--out", help="folder to write the sweep into (a JSON summary + one checkpoint per run)")
    p.add_argument("--dry-run", action="store_true", help="smoke run: 1 epoch on 256 digits per k, nothing saved")
    return p


def parse_args(argv=None) -> argparse.Namespace:
    return parser().parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        cfg = SweepConfig(
            kind=args.kind,
            hidden_size=args.hidden,
            ks=tuple(args.ks),
            loss_at=args.loss_at,
            epochs=1 if args.dry_run else args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            augment=args.augment,
            train_size=256 if args.dry_run else args.train_size,
            profile_size=args.profile_size,
            seeds=tuple(args.seeds),
        )
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    train_set, test_set = load_sample()

    def report(p: SweepProgress) -> None:
        if p.step == p.total_steps or p.step % (p.total_steps // p.epochs) == 0:
            print(
                f"k = {p.k:2d}, seed {p.seed} ({p.index + 1}/{p.count})  epoch {p.epoch:3d}/{p.epochs}  "
                f"loss {p.loss:.4f}",
                file=sys.stderr,
            )

    sweep = run_sweep(cfg, train_set, test_set, on_progress=report)
    sweep.command = "python -m explorer.sweep " + shlex.join(sys.argv[1:] if argv is None else argv)
    for r in sweep.runs:
        print(
            f"k = {r.k:2d}, seed {r.seed}: test accuracy {r.accuracy:.4f}  ({r.metrics['train_seconds']:.1f}s)",
            file=sys.stderr,
        )
    print(f"sweep took {sweep.seconds:.1f}s", file=sys.stderr)
    from .readings import sweep_reading  # readings import this module: a top-level import would be circular

    print(sweep_reading(sweep), file=sys.stderr)
    if args.out and not args.dry_run:
        print(f"saved {save_sweep(sweep, args.out)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
