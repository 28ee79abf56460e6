"""Truncation experiments: one model per (cell, scheme, k, seed) on a sequence task, their results, saved and loaded.

    python -m explorer.sweep --kinds rnn gru lstm --task blank --delay 20 --ks 8 16 24 32 --seeds 0 1 2 \\
        --control --backend process --out my-sweep

Every cell kind is also trained with full BPTT (the reference each truncated run is compared with, seed by
seed); `--control` adds full BPTT with the input weights W_ih frozen at their initial values. Runs are
independent: explorer.runner trains them inline, on a local process pool or on a Ray cluster, and saves
each as it finishes, so a stopped sweep resumes where it stopped.
"""

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal, get_args

import numpy as np

from . import stats
from .checkpoints import OWNER_PATTERN, check_owner, read_checkpoint, save_checkpoint, user_dir
from .data import Digits
from .gradients import digit_batch
from .losses import check_loss_at
from .models import KINDS, ModelConfig, SequenceClassifier
from .predictions import predict
from .sequences import SequenceTask
from .training import History, TrainConfig
from .truncation import windows

FORMAT = "rnn-explorer-sweep/2"
SUMMARY = "sweep.json"
Family = Literal["chunks", "window", "artbp"]
FAMILIES: tuple[str, ...] = get_args(Family)
FULL = "full"  # the scheme of a full-BPTT run


class SweepError(Exception):
    """A sweep folder could not be read or written; the message is shown to the user as is."""


@dataclass(frozen=True, order=True)
class RunSpec:
    """One model of a sweep: its cell, how it was truncated (k = None for full BPTT), its seed."""

    kind: str
    scheme: str  # a Family, or FULL
    k: int | None
    seed: int
    frozen: bool = False  # W_ih kept at its initial values (the control)

    @property
    def id(self) -> str:
        what = "full" if self.scheme == FULL else f"{self.scheme}-k{self.k:02d}"
        return f"{self.kind}-{what}-s{self.seed}" + ("-frozen" if self.frozen else "")

    @property
    def arm(self) -> tuple[str, str, bool]:
        """What is compared across ks: (kind, scheme, frozen)."""
        return self.kind, self.scheme, self.frozen


@dataclass(frozen=True)
class SweepConfig:
    """What a sweep trains (see the module docstring); everything not listed is shared by all runs."""

    kinds: tuple = ("lstm",)
    hidden_size: int = 64
    forget_bias: float | None = None  # LSTM only
    task: str = "rows"
    delay: int = 0
    delay_at: str = "after"
    schemes: tuple = ("chunks",)
    ks: tuple = (1, 2, 4, 7, 14)  # truncation lengths; full BPTT is always trained too
    seeds: tuple = (0,)
    control: bool = False
    epochs: int = 20
    loss_at: str = "last"
    batch_size: int = 64
    lr: float = 3e-3
    augment: bool = False  # off: the sweep compares k, and augmentation would slow it for little gain
    train_size: int | None = None  # first N training digits; None = all
    profile_size: int = 256  # test digits the per-row profiles are measured on

    def __post_init__(self):
        for name in ("kinds", "schemes", "ks", "seeds"):
            object.__setattr__(self, name, tuple(sorted(set(getattr(self, name)), key=str)))
        object.__setattr__(self, "ks", tuple(sorted(int(k) for k in self.ks)))
        object.__setattr__(self, "seeds", tuple(sorted(int(s) for s in self.seeds)))
        if not self.kinds or any(k not in KINDS for k in self.kinds):
            raise ValueError(f"kinds must be some of {KINDS}, got {list(self.kinds)}")
        ModelConfig(hidden_size=self.hidden_size)  # raises on a bad size
        T = self.sequence_task.T
        if any(not 1 <= k < T for k in self.ks):
            raise ValueError(
                f"ks must be truncation lengths in 1..{T - 1} (full BPTT is always run), got {list(self.ks)}"
            )
        if any(s not in FAMILIES for s in self.schemes) or (self.ks and not self.schemes):
            raise ValueError(f"schemes must be some of {FAMILIES}, got {list(self.schemes)}")
        check_loss_at(self.loss_at)
        if self.epochs < 1 or (self.train_size is not None and self.train_size < 1) or self.profile_size < 1:
            raise ValueError("epochs, train_size and profile_size must be >= 1")
        if not self.seeds or any(s < 0 for s in self.seeds):
            raise ValueError(f"seeds must be one or more numbers >= 0, got {list(self.seeds)}")

    @property
    def sequence_task(self) -> SequenceTask:
        return SequenceTask(self.task, self.delay, self.delay_at)

    @property
    def T(self) -> int:
        return self.sequence_task.T

    def model_config(self, kind: str) -> ModelConfig:
        return ModelConfig(kind=kind, hidden_size=self.hidden_size)

    def train_config(self, spec: RunSpec) -> TrainConfig:
        family = {
            FULL: {},
            "chunks": {"k": spec.k},
            "window": {"k": spec.k, "k1": 1},
            "artbp": {"k": spec.k, "scheme": "artbp"},
        }[spec.scheme]
        return TrainConfig(
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            loss_at=self.loss_at,
            augment=self.augment,
            seed=spec.seed,
            task=self.task,
            delay=self.delay,
            delay_at=self.delay_at,
            forget_bias=self.forget_bias if spec.kind == "lstm" else None,
            freeze_input=spec.frozen,
            device="cpu",
            snapshots=False,  # a sweep compares end points; its folder stays lean
            **family,
        )  # CPU: same seed, same weights

    def plan(self) -> list[RunSpec]:
        """Every run, seeds outermost (a stop leaves whole seeds), full BPTT first within each."""
        runs = []
        for seed in self.seeds:
            for kind in self.kinds:
                runs.append(RunSpec(kind, FULL, None, seed))
                if self.control:
                    runs.append(RunSpec(kind, FULL, None, seed, frozen=True))
                runs += [RunSpec(kind, s, k, seed) for s in self.schemes for k in self.ks]
        return runs

    @property
    def label(self) -> str:
        kinds = "/".join(k.upper() for k in self.kinds)
        bias = f" (forget bias {self.forget_bias:g})" if self.forget_bias is not None and "lstm" in self.kinds else ""
        where = "the last row" if self.loss_at == "last" else "every row"
        return f"{kinds}-{self.hidden_size}{bias} on {self.sequence_task.name}, loss at {where}"


@dataclass
class SweepRun:
    """One trained model of a sweep and what it measured."""

    spec: RunSpec
    metrics: dict  # test_accuracy, train_accuracy, train_seconds, ... as train() reports them
    history: History
    trained: np.ndarray  # (T,) batch median of ||dL/dx_t|| under the run's own truncation: where its gradient went
    saliency: np.ndarray  # (T,) the same under full BPTT: which rows the trained model's loss depends on
    correct: np.ndarray  # (N,) bool: which test digits it gets right (for paired tests)
    model: SequenceClassifier | None = None  # kept in the folder for the first seed only (the rest: results)
    file: str | None = None  # the model's checkpoint in the sweep's folder, if kept

    @property
    def accuracy(self) -> float:
        return self.metrics["test_accuracy"]


@dataclass
class Sweep:
    """A finished, stopped or partly failed sweep."""

    config: SweepConfig
    runs: list = field(default_factory=list)
    stopped: bool = False
    failed: dict = field(default_factory=dict)  # run id -> why it failed
    test_size: int = 0
    seconds: float = 0.0
    command: str = ""

    @property
    def seeds(self) -> list[int]:
        return sorted({r.spec.seed for r in self.runs})

    @property
    def done(self) -> set[str]:
        return {r.spec.id for r in self.runs}

    def arms(self) -> list[tuple[str, str, bool]]:
        """(kind, scheme, frozen) with at least one finished run, in the config's order."""
        order = {k: i for i, k in enumerate(self.config.kinds)}
        return sorted({r.spec.arm for r in self.runs}, key=lambda a: (order.get(a[0], 9), a[1] != FULL, a[2], a[1]))

    def runs_of(self, kind: str, scheme: str, k: int | None, frozen: bool = False) -> list[SweepRun]:
        """The finished runs of one arm and k, by seed."""
        return sorted(
            (r for r in self.runs if r.spec.arm == (kind, scheme, frozen) and r.spec.k == k), key=lambda r: r.spec.seed
        )

    def ks_of(self, kind: str, scheme: str) -> list[int]:
        return sorted({r.spec.k for r in self.runs if r.spec.arm == (kind, scheme, False) and r.spec.k is not None})


def correct_answers(model: SequenceClassifier, digits: Digits, task: SequenceTask) -> np.ndarray:
    """Which digits the model gets right, (N,) bool."""
    return predict(model, digits, task=task) == digits.labels


def profile_batch(cfg: SweepConfig, test_set: Digits):
    """The test digits the per-row profiles are measured on, as sequences of the sweep's task, and labels."""
    x, y = digit_batch(test_set, min(cfg.profile_size, len(test_set)))
    return cfg.sequence_task.apply(x), y


# ---- comparing runs ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """How one group of runs compares with another, seed by seed (or digit by digit with one seed)."""

    label: str  # e.g. "LSTM, TBPTT(16, 16)"
    versus: str  # e.g. "LSTM, full BPTT"
    accuracies: np.ndarray  # per seed, of `label`
    reference: np.ndarray  # per seed, of `versus`
    above_chance: int  # seeds whose `label` model is significantly above chance
    p: float  # two-sided: McNemar's exact test (one seed) or a paired t-test across seeds; nan if not testable
    p_holm: float  # adjusted for every comparison of the sweep (Holm-Bonferroni)
    test: str
    role: str = "truncation"  # truncation (vs its cell's full BPTT), cells, control (vs full), blind (vs control)
    spec: RunSpec | None = None  # of the runs of `label` (their first seed's)

    @property
    def difference(self) -> float:
        return float((self.accuracies - self.reference).mean())

    @property
    def lower_in(self) -> int:
        return int((self.accuracies < self.reference).sum())

    @property
    def mean(self) -> float:
        return float(self.accuracies.mean())

    @property
    def spread(self) -> float:
        return float(self.accuracies.std(ddof=1)) if len(self.accuracies) > 1 else float("nan")


def run_label(spec: RunSpec, T: int) -> str:
    """e.g. 'LSTM, full BPTT', 'GRU, TBPTT(16, 16)', 'LSTM, full BPTT, W_ih frozen'."""
    kind = spec.kind.upper()
    if spec.scheme == FULL:
        return f"{kind}, full BPTT" + (", W_ih frozen" if spec.frozen else "")
    what = {"chunks": f"TBPTT({spec.k}, {spec.k})", "window": f"TBPTT(1, {spec.k})", "artbp": f"ARTBP(mean {spec.k})"}[
        spec.scheme
    ]
    return f"{kind}, {what}"


def _paired(a: list[SweepRun], b: list[SweepRun]) -> tuple[np.ndarray, np.ndarray, float, str]:
    by_seed = {r.spec.seed: r for r in b}
    pairs = [(r, by_seed[r.spec.seed]) for r in a if r.spec.seed in by_seed]
    if not pairs:
        return np.array([]), np.array([]), float("nan"), ""
    mine, theirs = np.array([x.accuracy for x, _ in pairs]), np.array([y.accuracy for _, y in pairs])
    if len(pairs) == 1:
        return mine, theirs, stats.mcnemar(pairs[0][0].correct, pairs[0][1].correct).p, "McNemar"
    return mine, theirs, stats.paired_across_seeds(mine, theirs).p, "paired t-test"


def reaches_ink(cfg: SweepConfig, spec: RunSpec) -> bool | None:
    """Whether a run's training gradient reaches any row of the digit (None for ARTBP: its lengths are random)."""
    if spec.scheme == "artbp":
        return None
    task, trunc = cfg.sequence_task, cfg.train_config(spec).truncation
    ink = task.digit_rows
    return any(w.start < ink.stop and max(w.losses) >= ink.start for w in windows(task.T, trunc, cfg.loss_at))


def compare(sweep: Sweep, chance: float = 0.1) -> list[Comparison]:
    """Every truncated run group against its cell's full BPTT; the control against full BPTT, and every
    truncation that never reaches the ink against the control; every pair of cells' full BPTT.
    Paired by seed; Holm-adjusted over all of them."""
    T = sweep.config.T
    groups = []  # (runs, reference runs, role)
    fulls = {kind: sweep.runs_of(kind, FULL, None) for kind in sweep.config.kinds}
    fulls = {k: v for k, v in fulls.items() if v}
    controls = {kind: sweep.runs_of(kind, FULL, None, True) for kind in sweep.config.kinds}
    ranked = sorted(fulls, key=lambda k: -np.mean([r.accuracy for r in fulls[k]]))
    for i, better in enumerate(ranked):  # every pair of cells, the weaker one against the stronger
        groups += [(fulls[worse], fulls[better], "cells") for worse in ranked[i + 1 :]]
    for kind, scheme, frozen in sweep.arms():
        if scheme == FULL:
            if frozen and kind in fulls:
                groups.append((sweep.runs_of(kind, FULL, None, True), fulls[kind], "control"))
            continue
        for k in sweep.ks_of(kind, scheme):
            runs = sweep.runs_of(kind, scheme, k)
            if kind in fulls:
                groups.append((runs, fulls[kind], "truncation"))
            if controls[kind] and reaches_ink(sweep.config, runs[0].spec) is False:
                groups.append((runs, controls[kind], "blind"))
    rows, raw = [], []
    for runs, ref, role in groups:
        mine, theirs, p, test = _paired(runs, ref)
        above = sum(stats.above_chance(r.correct, chance) < stats.ALPHA for r in runs)
        rows.append((runs[0].spec, ref[0].spec, mine, theirs, above, p, test, role))
        raw.append(p)
    adjusted = stats.holm(raw)
    return [
        Comparison(run_label(a, T), run_label(b, T), m, t, above, p, ph, test, role, a)
        for (a, b, m, t, above, p, test, role), ph in zip(rows, adjusted)
    ]


def accuracy_by_k(sweep: Sweep) -> dict[str, dict]:
    """What the accuracy chart draws: per line ("LSTM, TBPTT(k, k)"), k -> each seed's accuracy, k = None for the
    cell's full BPTT (every scheme's line ends there); the control and cells with full BPTT only as lines of one."""
    families = {"chunks": "TBPTT(k, k)", "window": "TBPTT(1, k)", "artbp": "ARTBP"}
    lines = {}
    for kind, scheme, frozen in sweep.arms():
        full = [r.accuracy for r in sweep.runs_of(kind, FULL, None, frozen)]
        if scheme == FULL:
            if frozen or not any(s != FULL and k == kind for k, s, _ in sweep.arms()):
                lines[run_label(RunSpec(kind, FULL, None, 0, frozen), sweep.config.T)] = {None: full}
            continue
        by_k = {k: [r.accuracy for r in sweep.runs_of(kind, scheme, k)] for k in sweep.ks_of(kind, scheme)}
        lines[f"{kind.upper()}, {families[scheme]}"] = by_k | ({None: full} if full else {})
    return lines


def above_chance(sweep: Sweep, chance: float = 0.1) -> int:
    """How many of the sweep's models are significantly above chance."""
    return sum(stats.above_chance(r.correct, chance) < stats.ALPHA for r in sweep.runs)


# ---- saving and loading ---------------------------------------------------------------------------------------


def user_sweeps_dir() -> Path:
    """Where the app saves the visitors' sweeps: next to the user checkpoints, never in the repo."""
    return user_dir().parent / "sweeps"


def shipped_sweep_dir() -> Path:
    """The precomputed experiment shipped in the repo (not a model folder: list_checkpoints does not look inside)."""
    return Path(__file__).resolve().parent.parent / "checkpoints" / "sweep"


def _bits(correct: np.ndarray) -> str:
    return "".join("1" if c else "0" for c in correct)


def _entry(run: SweepRun, file: str | None) -> dict:
    return {
        "spec": asdict(run.spec),
        "file": file,
        "metrics": run.metrics,
        "history": run.history.to_dict(),
        "trained": run.trained.tolist(),
        "saliency": run.saliency.tolist(),
        "test_correct": _bits(run.correct),
    }


def save_run(folder: Path, sweep: Sweep, run: SweepRun, keep_model: bool) -> None:
    """Add one finished run to the sweep in folder (its model too if keep_model), and rewrite the summary."""
    file = None
    if keep_model and run.model is not None:
        file = f"{run.spec.id}.safetensors"
        data = {
            "name": "sample",
            "test": sweep.test_size,
            "augment": sweep.config.augment,
            "task": sweep.config.sequence_task.name,
        }
        save_checkpoint(
            folder / file,
            run.model,
            metrics=run.metrics,
            history=run.history.to_dict(),
            data=data,
            command=sweep.command,
            train_config=sweep.config.train_config(run.spec),
        )
    run.file = file
    sweep.runs = sorted([r for r in sweep.runs if r.spec.id != run.spec.id] + [run], key=lambda r: r.spec)
    write_summary(folder, sweep)


def write_summary(folder: Path, sweep: Sweep) -> Path:
    """The sweep's JSON summary, written atomically (readers never see half of it)."""
    folder = Path(folder)
    summary = {
        "format": FORMAT,
        "config": asdict(sweep.config),
        "runs": [_entry(r, r.file) for r in sweep.runs],
        "stopped": sweep.stopped,
        "failed": sweep.failed,
        "test_size": sweep.test_size,
        "seconds": sweep.seconds,
        "command": sweep.command,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    tmp = folder / (SUMMARY + ".tmp")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(summary, indent=1))
        tmp.replace(folder / SUMMARY)
    except OSError as e:
        raise SweepError(f"could not save the sweep summary in {folder}: {e.strerror or e}") from None
    return folder


def _config_from(raw: dict) -> SweepConfig:
    return SweepConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})


def load_sweep(folder: str | Path, models: bool = True) -> Sweep:
    """Read a sweep written by save_run/write_summary; raises SweepError with a readable message."""
    folder = Path(folder)
    try:
        summary = json.loads((folder / SUMMARY).read_text())
    except FileNotFoundError:
        raise SweepError(f"no sweep in {folder} ({SUMMARY} is missing)") from None
    except (OSError, ValueError, RecursionError) as e:  # RecursionError: absurdly nested JSON
        raise SweepError(f"could not read {folder / SUMMARY}: {e or type(e).__name__}") from None
    if not isinstance(summary, dict) or summary.get("format") != FORMAT:
        raise SweepError(f"{folder / SUMMARY} is not an RNN Explorer sweep of this version (format {FORMAT!r})")
    try:
        cfg = _config_from(summary["config"])
        test_size = int(summary["test_size"])
        runs = []
        for r in summary["runs"]:
            spec = RunSpec(**r["spec"])
            correct = np.array([c == "1" for c in r["test_correct"]], bool)
            if len(correct) != test_size or set(r["test_correct"]) - {"0", "1"}:
                raise ValueError(f"test_correct of {spec.id} is not {test_size} digits of 0/1")
            model = read_checkpoint(folder / r["file"]).model if models and r.get("file") else None
            runs.append(
                SweepRun(
                    spec,
                    r["metrics"],
                    History(**r["history"]),
                    np.asarray(r["trained"], np.float64),
                    np.asarray(r["saliency"], np.float64),
                    correct,
                    model,
                    r.get("file"),
                )
            )
        failed = summary.get("failed") or {}
        return Sweep(
            cfg,
            runs,
            bool(summary["stopped"]),
            dict(failed),
            test_size,
            float(summary["seconds"]),
            str(summary.get("command", "")),
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
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")  # microseconds: two sweeps never share a folder
    kinds = "-".join(cfg.kinds)
    return user_sweeps_dir() / check_owner(owner) / f"{stamp}-{kinds}-{cfg.hidden_size}-{cfg.loss_at}"


# ---- command line ---------------------------------------------------------------------------------------------


def parser():
    import argparse

    d = SweepConfig()
    p = argparse.ArgumentParser(prog="python -m explorer.sweep", description=__doc__.splitlines()[0])
    p.add_argument("--kinds", nargs="+", choices=KINDS, default=list(d.kinds), help="cells (default: %(default)s)")
    p.add_argument("--hidden", type=int, default=d.hidden_size, help="hidden units (default: %(default)s)")
    p.add_argument(
        "--forget-bias",
        type=float,
        default=None,
        help="LSTM forget-gate bias at init (the source tutorials use 1.0); 0 or unset: PyTorch's init",
    )
    p.add_argument(
        "--task",
        choices=("rows", "blank", "noise"),
        default=d.task,
        help="rows: the digit's 28 rows; blank/noise: then --delay blank or noise rows (default: %(default)s)",
    )
    p.add_argument("--delay", type=int, default=d.delay, help="rows of delay for blank/noise (default: %(default)s)")
    p.add_argument(
        "--delay-at",
        choices=("after", "before"),
        default=d.delay_at,
        help="the delay rows go after or before the digit (default: %(default)s)",
    )
    p.add_argument(
        "--schemes",
        nargs="+",
        choices=FAMILIES,
        default=list(d.schemes),
        help="chunks: TBPTT(k, k); window: TBPTT(1, k), each loss term reaches back k rows; artbp: random "
        "lengths of mean k, unbiased (default: %(default)s)",
    )
    p.add_argument(
        "--ks",
        type=int,
        nargs="+",
        default=list(d.ks),
        help="truncation lengths, each below T (full BPTT is always trained too) (default: %(default)s)",
    )
    p.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=list(d.seeds),
        help="one model per seed for every k; with 2 or more, comparisons are paired t-tests across seeds, "
        "with one, McNemar's test on the same test digits (default: %(default)s)",
    )
    p.add_argument(
        "--control",
        action="store_true",
        help="also train full BPTT with the input weights W_ih frozen at init: random input features",
    )
    p.add_argument("--epochs", type=int, default=d.epochs, help="epochs per run (default: %(default)s)")
    p.add_argument(
        "--loss-at",
        choices=("last", "every"),
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
        help="test digits the per-row profiles are measured on (default: %(default)s)",
    )
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


def main(argv=None) -> int:
    import shlex
    import sys
    import tempfile

    # The runner and the readings import this module: imported here, the CLI adds no import cycle.
    from .readings import sweep_reading
    from .runner import run_sweep

    args = parse_args(argv)
    try:
        cfg = SweepConfig(
            kinds=tuple(args.kinds),
            hidden_size=args.hidden,
            forget_bias=args.forget_bias or None,  # 0 = PyTorch's init, as in explorer.train
            task=args.task,
            delay=args.delay,
            delay_at=args.delay_at,
            schemes=tuple(args.schemes),
            ks=tuple(args.ks),
            seeds=tuple(args.seeds),
            control=args.control,
            loss_at=args.loss_at,
            epochs=1 if args.dry_run else args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            augment=args.augment,
            train_size=256 if args.dry_run else args.train_size,
            profile_size=args.profile_size,
        )
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    def report(p) -> None:
        if p.step == p.total_steps:
            print(f"{p.run} ({p.index + 1}/{p.count}) done", file=sys.stderr)

    command = "python -m explorer.sweep " + shlex.join(sys.argv[1:] if argv is None else argv)
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
    print(sweep_reading(sweep), file=sys.stderr)
    if args.out and not args.dry_run:
        print(f"saved {folder}", file=sys.stderr)
    return 1 if sweep.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
