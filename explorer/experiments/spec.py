"""What a truncation or memory experiment trains: one model per (cell, scheme, k, seed) on a sequence task.

Every cell kind is also trained with full BPTT (the reference each truncated run is compared with, seed by
seed); `control` adds full BPTT with the input weights W_ih frozen at their initial values. Runs are
independent: experiments.runner trains them inline, on a local process pool or on a Ray cluster, and
experiments.storage saves each as it finishes, so a stopped sweep resumes where it stopped.
"""

from dataclasses import dataclass, field

from ..data.sequences import DelayAt, SequenceTask, TaskKind
from ..model.config import KINDS, NAMES, Kind, ModelConfig
from ..training.loop import TrainConfig
from ..training.losses import LossAt, check_loss_at
from ..training.truncation import FAMILIES, Family, family_truncation
from ..training.truncation import FULL as FULL_BPTT

FULL = "full"  # the scheme of a full-BPTT run


class SweepError(Exception):
    """A sweep folder could not be read or written; the message is shown to the user as is."""


@dataclass(frozen=True, order=True)
class RunSpec:
    """One model of a sweep: its cell, how it was truncated (k = None for full BPTT), its seed."""

    kind: str
    scheme: str  # a truncation family, or FULL
    k: int | None
    seed: int
    frozen: bool = False  # W_ih kept at its initial values (the control)
    k1: int | None = None  # rows between updates, for the general TBPTT(k1, k) family only

    @property
    def id(self) -> str:
        family = f"tbptt{self.k1:02d}" if self.scheme == "tbptt" else self.scheme
        what = "full" if self.scheme == FULL else f"{family}-k{self.k:02d}"
        return f"{self.kind}-{what}-s{self.seed}" + ("-frozen" if self.frozen else "")

    @property
    def arm(self) -> tuple[str, str, bool]:
        """What is compared across ks: (kind, scheme, frozen)."""
        return self.kind, self.scheme, self.frozen


@dataclass(frozen=True)
class SweepConfig:
    """What a sweep trains (see the module docstring); everything not listed is shared by all runs.

    Each field is a flag of `python -m explorer sweep` (training.options), with its help text here."""

    kinds: tuple[Kind, ...] = field(default=("lstm",), metadata={"help": "cells"})
    hidden_size: int = field(default=64, metadata={"help": "hidden units", "flag": "--hidden"})
    forget_bias: float | None = field(
        default=None,
        metadata={"help": "LSTM forget-gate bias at init (the source tutorials use 1.0); 0 = PyTorch's init"},
    )
    chrono: bool = field(
        default=False,
        metadata={"help": "chrono initialisation of every gated cell's forget-like bias (Tallec & Ollivier 2018)"},
    )
    task: TaskKind = field(
        default="rows", metadata={"help": "rows: the digit's 28 rows; blank/noise: then `delay` blank or noise rows"}
    )
    delay: int = field(default=0, metadata={"help": "rows of delay for the blank and noise tasks"})
    delay_at: DelayAt = field(default="after", metadata={"help": "the delay rows go after or before the digit"})
    schemes: tuple[Family, ...] = field(
        default=("chunks",),
        metadata={
            "help": "chunks: TBPTT(k, k); window: TBPTT(1, k), each loss term reaches back k rows; "
            "tbptt: TBPTT(k1, k) with --k1; artbp: random lengths of mean k, unbiased"
        },
    )
    ks: tuple[int, ...] = field(
        default=(1, 2, 4, 7, 14),
        metadata={"help": "truncation lengths k (k2 of TBPTT), each below T; full BPTT is always trained too"},
    )
    k1: int | None = field(
        default=None, metadata={"help": "rows between updates of the tbptt scheme, TBPTT(k1, k), 1..the smallest k"}
    )
    seeds: tuple[int, ...] = field(
        default=(0,),
        metadata={
            "help": "one model per seed for every k; with 2 or more, comparisons are paired t-tests across seeds, "
            "with one, McNemar's test on the same test digits"
        },
    )
    control: bool = field(
        default=False,
        metadata={"help": "also train full BPTT with the input weights W_ih frozen at init: random input features"},
    )
    epochs: int = field(default=20, metadata={"help": "epochs per run"})
    loss_at: LossAt = field(default="last", metadata={"help": "loss on the last row only or on every row"})
    batch_size: int = field(default=64, metadata={"help": "digits per step"})
    lr: float = field(default=3e-3, metadata={"help": "peak Adam learning rate, cosine schedule"})
    # off by default: the sweep compares k, and augmentation would slow it for little gain
    augment: bool = field(default=False, metadata={"help": "train with random shift/rotation/scale"})
    train_size: int | None = field(
        default=None, metadata={"help": "train on the first N of the 4,000 bundled training digits; 0 = all"}
    )
    profile_size: int = field(default=256, metadata={"help": "test digits the per-row profiles are measured on"})

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
        if "tbptt" in self.schemes and not (self.k1 and self.ks and 1 <= self.k1 <= min(self.ks)):
            raise ValueError(f"the tbptt scheme needs k1 in 1..{min(self.ks, default=1)} (the smallest k)")
        check_loss_at(self.loss_at)
        if self.epochs < 1 or (self.train_size is not None and self.train_size < 1) or self.profile_size < 1:
            raise ValueError("epochs, train_size and profile_size must be >= 1")
        if not self.seeds or any(s < 0 for s in self.seeds):
            raise ValueError(f"seeds must be one or more numbers >= 0, got {list(self.seeds)}")
        if self.chrono and self.forget_bias is not None:
            raise ValueError("chrono initialisation sets the forget bias itself: choose one of the two")

    @property
    def sequence_task(self) -> SequenceTask:
        return SequenceTask(self.task, self.delay, self.delay_at)

    @property
    def T(self) -> int:
        return self.sequence_task.T

    def model_config(self, kind: str) -> ModelConfig:
        return ModelConfig(kind=kind, hidden_size=self.hidden_size)

    def train_config(self, spec: RunSpec) -> TrainConfig:
        trunc = FULL_BPTT if spec.scheme == FULL else family_truncation(spec.scheme, spec.k, spec.k1)
        family = {"k": trunc.k, "k1": trunc.every, "scheme": trunc.scheme}
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
            chrono=self.chrono and spec.kind != "rnn",
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
                runs += [
                    RunSpec(kind, s, k, seed, k1=self.k1 if s == "tbptt" else None)
                    for s in self.schemes
                    for k in self.ks
                ]
        return runs

    @property
    def label(self) -> str:
        kinds = "/".join(NAMES[k] for k in self.kinds)
        bias = f" (forget bias {self.forget_bias:g})" if self.forget_bias is not None and "lstm" in self.kinds else ""
        bias += " (chrono init)" if self.chrono else ""
        where = "the last row" if self.loss_at == "last" else "every row"
        return f"{kinds}-{self.hidden_size}{bias} on {self.sequence_task.name}, loss at {where}"


def run_label(spec: RunSpec, T: int) -> str:
    """e.g. 'LSTM, full BPTT', 'GRU, TBPTT(16, 16)', 'LSTM, full BPTT, W_ih frozen'."""
    kind = NAMES[spec.kind]
    if spec.scheme == FULL:
        return f"{kind}, full BPTT" + (", W_ih frozen" if spec.frozen else "")
    return f"{kind}, {family_truncation(spec.scheme, spec.k, spec.k1).label(T)}"
