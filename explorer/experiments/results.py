"""A sweep's trained runs and how they compare: paired by seed (or digit by digit with one seed), Holm-adjusted."""

from dataclasses import dataclass, field

import numpy as np

from ..analysis import stats
from ..analysis.gradients import digit_batch
from ..data.digits import Digits
from ..data.sequences import SequenceTask
from ..model.config import NAMES
from ..model.network import SequenceClassifier
from ..model.predictions import predict
from ..training.loop import History
from ..training.truncation import family_name, windows
from .spec import FULL, RunSpec, SweepConfig, run_label


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
    lines = {}
    for kind, scheme, frozen in sweep.arms():
        full = [r.accuracy for r in sweep.runs_of(kind, FULL, None, frozen)]
        if scheme == FULL:
            if frozen or not any(s != FULL and k == kind for k, s, _ in sweep.arms()):
                lines[run_label(RunSpec(kind, FULL, None, 0, frozen), sweep.config.T)] = {None: full}
            continue
        by_k = {k: [r.accuracy for r in sweep.runs_of(kind, scheme, k)] for k in sweep.ks_of(kind, scheme)}
        lines[f"{NAMES[kind]}, {family_name(scheme, sweep.config.k1)}"] = by_k | ({None: full} if full else {})
    return lines


def above_chance(sweep: Sweep, chance: float = 0.1) -> int:
    """How many of the sweep's models are significantly above chance."""
    return sum(stats.above_chance(r.correct, chance) < stats.ALPHA for r in sweep.runs)
