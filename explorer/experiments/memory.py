"""The memory experiment (issue 22): every cell on the digit followed by D blank rows, read from the sweep folders
scripts/train_memory.sh writes (checkpoints/memory/d<D>-<what>), as arms x delays.

An arm is a cell with its initialisation ("LSTM, forget bias 1", "LSTM, chrono init", "minLSTM"). Per arm and
delay: each seed's test accuracy, their mean with a 95% t-interval over seeds; paired comparisons across seeds
(a seed fixes the data order and the test digits for every arm), Holm-adjusted over all the comparisons made; and
the gradient norm across time ||dL/dh_t|| of each arm's seed-0 model on a fixed batch of test digits.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..analysis import stats
from ..analysis.gradients import bptt_gradients, digit_batch
from ..data.digits import Digits
from ..data.sequences import SequenceTask
from ..model.config import NAMES
from ..model.header import CheckpointError
from ..model.network import SequenceClassifier, evaluating
from .results import Sweep, SweepRun
from .spec import FULL, RunSpec, SweepConfig, SweepError
from .storage import load_sweep

DELAYS = (20, 40)
# The folders scripts/train_memory.sh writes, one per delay and LSTM initialisation (a sweep has one of each).
FOLDERS = tuple(f"d{d}-{what}" for d in DELAYS for what in ("cells", "lstm-bias0", "lstm-bias2", "lstm-chrono"))
CONFIDENCE = 0.95  # of every interval the experiment reports
CHANCE = 0.1  # ten classes
PROFILE_DIGITS = 256  # test digits the gradient norms across time are measured on (the same for every arm)


def memory_dir() -> Path:
    """The shipped memory experiment: one sweep folder per delay and LSTM initialisation."""
    return Path(__file__).resolve().parents[2] / "checkpoints" / "memory"


@dataclass(frozen=True)
class Arm:
    """A cell and its initialisation; forget_bias is the LSTM's (None: PyTorch's init, about 0)."""

    kind: str
    forget_bias: float | None = None
    chrono: bool = False

    @property
    def name(self) -> str:
        """e.g. 'LSTM, forget bias 1', 'LSTM, chrono init', 'minLSTM'."""
        name = NAMES[self.kind]
        if self.chrono:
            return f"{name}, chrono init"
        if self.kind != "lstm":
            return name
        if self.forget_bias is None:
            return f"{name}, forget bias ≈ 0 (PyTorch's init)"
        return f"{name}, forget bias {self.forget_bias:g}"

    @property
    def order(self) -> tuple:
        """RNN, GRU, minGRU, the LSTMs (bias ≈ 0, 1, 2, chrono), minLSTM."""
        kinds = ("rnn", "gru", "mingru", "lstm", "minlstm")
        bias = -1.0 if self.forget_bias is None else self.forget_bias
        return kinds.index(self.kind) if self.kind in kinds else len(kinds), self.chrono, bias


def arm_of(config: SweepConfig, kind: str) -> Arm:
    """The arm a sweep's runs of one cell belong to (the sweep's forget bias is the LSTM's only, chrono a gated
    cell's only, as SweepConfig.train_config applies them)."""
    chrono = config.chrono and kind != "rnn"
    return Arm(kind, config.forget_bias if kind == "lstm" and not chrono else None, chrono)


# What the page compares, each (arm, reference): a change of init, a cell against the one it simplifies.
PAIRS = (
    (Arm("lstm", chrono=True), Arm("lstm", 1.0)),
    (Arm("minlstm"), Arm("lstm", 1.0)),
    (Arm("mingru"), Arm("gru")),
    (Arm("lstm", 1.0), Arm("lstm")),
)


def t_interval(values: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The experiment's interval of a mean over seeds (analysis.stats.t_interval at CONFIDENCE)."""
    return stats.t_interval(values, confidence)


@dataclass
class ArmResult:
    """One arm at one delay: its finished runs, by seed."""

    arm: Arm
    delay: int
    config: SweepConfig  # of the sweep the runs come from
    runs: list[SweepRun]

    @property
    def seeds(self) -> list[int]:
        return [r.spec.seed for r in self.runs]

    @property
    def accuracies(self) -> np.ndarray:
        return np.array([r.accuracy for r in self.runs], float)

    @property
    def mean(self) -> float:
        return float(self.accuracies.mean())

    @property
    def interval(self) -> tuple[float, float]:
        return t_interval(self.accuracies)

    @property
    def planned(self) -> int:
        """Seeds the sweep was asked for."""
        return len(self.config.seeds)

    def above_chance(self, chance: float = CHANCE) -> int:
        """Seeds whose model is significantly above chance on the test digits (one-sided exact binomial test)."""
        return sum(stats.above_chance(r.correct, chance) < stats.ALPHA for r in self.runs)

    @property
    def model(self) -> SequenceClassifier | None:
        """The seed-0 model, if it was kept and loaded."""
        return next((r.model for r in self.runs if r.spec.seed == 0), None)


@dataclass(frozen=True)
class PairedComparison:
    """An arm against a reference at one delay, seed by seed (only seeds both finished)."""

    arm: Arm
    versus: Arm
    delay: int
    seeds: tuple[int, ...]
    accuracies: np.ndarray  # of `arm`, per seed
    reference: np.ndarray  # of `versus`, per seed
    p: float  # two-sided paired t-test (nan with fewer than 2 seeds or the same difference in every seed)
    p_holm: float  # Holm-adjusted over every comparison of the experiment

    @property
    def differences(self) -> np.ndarray:
        return self.accuracies - self.reference

    @property
    def difference(self) -> float:
        return float(self.differences.mean())

    @property
    def interval(self) -> tuple[float, float]:
        """The t-interval of the mean difference over seeds."""
        return t_interval(self.differences)


@dataclass
class MemoryExperiment:
    """The experiment as far as it has run: arms x delays, comparisons, and what is missing."""

    folder: Path
    sweeps: dict[str, Sweep]  # folder name -> its sweep
    results: list[ArmResult]  # in arm order, then by delay
    comparisons: list[PairedComparison]
    missing: list[str] = field(default_factory=list)  # expected folders with no sweep yet
    unreadable: dict[str, str] = field(default_factory=dict)  # folder name -> why it could not be read

    @property
    def arms(self) -> list[Arm]:
        return sorted({r.arm for r in self.results}, key=lambda a: a.order)

    @property
    def delays(self) -> list[int]:
        return sorted({r.delay for r in self.results})

    def result(self, arm: Arm, delay: int) -> ArmResult | None:
        return next((r for r in self.results if r.arm == arm and r.delay == delay), None)

    @property
    def runs(self) -> int:
        return sum(len(r.runs) for r in self.results)

    @property
    def planned(self) -> int:
        """Runs the found sweeps were asked for."""
        return sum(len(s.config.plan()) for s in self.sweeps.values())


def arm_results(sweeps: dict[str, Sweep]) -> list[ArmResult]:
    """Every (arm, delay) with a finished full-BPTT run, its runs by seed (a seed found twice counts once)."""
    found: dict[tuple[Arm, int], ArmResult] = {}
    for sweep in sweeps.values():
        for kind in sweep.config.kinds:
            runs = sweep.runs_of(kind, FULL, None)
            if not runs:
                continue
            key = (arm_of(sweep.config, kind), sweep.config.delay)
            result = found.setdefault(key, ArmResult(*key, sweep.config, []))
            seen = set(result.seeds)
            result.runs = sorted(result.runs + [r for r in runs if r.spec.seed not in seen], key=lambda r: r.spec.seed)
    return sorted(found.values(), key=lambda r: (r.arm.order, r.delay))


def compare_arms(results: list[ArmResult], pairs=PAIRS) -> list[PairedComparison]:
    """Each pair at each delay where both arms have runs, paired by seed; Holm-adjusted over all of them."""
    by_key = {(r.arm, r.delay): r for r in results}
    rows = []
    for arm, versus in pairs:
        for delay in sorted({r.delay for r in results}):
            a, b = by_key.get((arm, delay)), by_key.get((versus, delay))
            if a is None or b is None:
                continue
            ref = {r.spec.seed: r.accuracy for r in b.runs}
            seeds = tuple(s for s in a.seeds if s in ref)
            if not seeds:
                continue
            mine = np.array([r.accuracy for r in a.runs if r.spec.seed in ref], float)
            theirs = np.array([ref[s] for s in seeds], float)
            rows.append((arm, versus, delay, seeds, mine, theirs, stats.paired_across_seeds(mine, theirs).p))
    adjusted = stats.holm([row[-1] for row in rows])
    return [PairedComparison(*row, p_holm) for row, p_holm in zip(rows, adjusted)]


def memory_experiment(sweeps: dict[str, Sweep], folder: Path, unreadable: dict | None = None) -> MemoryExperiment:
    """The experiment from sweeps already read (folder name -> sweep)."""
    results = arm_results(sweeps)
    missing = [name for name in FOLDERS if name not in sweeps and name not in (unreadable or {})]
    return MemoryExperiment(Path(folder), sweeps, results, compare_arms(results), missing, dict(unreadable or {}))


def load_memory(folder: str | Path | None = None, models: bool = True) -> MemoryExperiment:
    """Read every sweep folder of the experiment that exists (the expected ones and any other d<D>-* folder); a
    missing or unreadable folder is listed, never raised."""
    folder = Path(folder) if folder is not None else memory_dir()
    names = list(FOLDERS)
    if folder.is_dir():
        names += sorted(p.name for p in folder.glob("d*-*") if p.is_dir() and p.name not in FOLDERS)
    sweeps, unreadable = {}, {}
    for name in names:
        if not (folder / name).is_dir():
            continue
        try:
            sweeps[name] = load_sweep(folder / name, models)
        except (SweepError, CheckpointError, OSError) as e:  # e.g. a kept model caught while it is written
            unreadable[name] = str(e)
    return memory_experiment(sweeps, folder, unreadable)


def settings(exp: MemoryExperiment) -> dict[str, list]:
    """What the training of every run found had in common, each setting's distinct values (more than one: the
    folders differ): from each sweep's config and the TrainConfig it gives its runs."""
    values: dict[str, set] = {}
    for sweep in exp.sweeps.values():
        cfg = sweep.config
        for kind in cfg.kinds:
            train = cfg.train_config(RunSpec(kind, FULL, None, cfg.seeds[0]))
            for name, value in {
                "epochs": train.epochs,
                "hidden": cfg.hidden_size,
                "seeds": cfg.seeds,
                "optimizer": train.optimizer,
                "lr": train.lr,
                "schedule": train.schedule,
                "batch": train.batch_size,
                "clip": train.clip,
                "train_size": cfg.train_size,
                "loss_at": cfg.loss_at,
                "task": cfg.task,
                "delay_at": cfg.delay_at,
            }.items():
                values.setdefault(name, set()).add(value)
    return {name: _sorted(v) for name, v in values.items()}


def _sorted(values: set) -> list:
    try:
        return sorted(values)
    except TypeError:  # None beside numbers (train_size)
        return sorted(values, key=str)


def gradient_norms(model: SequenceClassifier, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """||dL/dh_t|| (B, T) of the first layer's forward direction, each digit's own loss at the last row, through the
    explicit unroll (analysis.gradients.bptt_gradients; for an LSTM, dL/dh_t with c_t held fixed)."""
    with evaluating(model):
        g = bptt_gradients(model, x, y, "last")
    return torch.stack([h.norm(dim=-1) for h in g.runs[0][0].h], dim=1).numpy()


def profile_digits(test_set: Digits, task: SequenceTask, size: int = PROFILE_DIGITS):
    """A fixed batch of test digits (`size` drawn with seed 0), read as sequences of the task, and their labels."""
    x, y = digit_batch(test_set, min(size, len(test_set)), 0)
    return task.apply(x, indices=torch.arange(len(x))), y


def profiles(
    exp: MemoryExperiment, test_set: Digits, size: int = PROFILE_DIGITS
) -> tuple[dict[tuple[Arm, int], np.ndarray], int]:
    """(arm, delay) -> the batch median of ||dL/dh_t|| per row (T,) of the arm's seed-0 model, on the same digits
    for every arm at a delay (arms without a kept seed-0 model are left out); and how many digits that is."""
    out, digits = {}, min(size, len(test_set))
    for r in exp.results:
        if r.model is not None:
            x, y = profile_digits(test_set, r.config.sequence_task, digits)
            out[r.arm, r.delay] = np.median(gradient_norms(r.model, x, y), axis=0)
    return out, digits
