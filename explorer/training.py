"""Training loop with progress callbacks, a stop request, truncated BPTT and a NaN guard."""

import contextlib
import copy
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Literal, get_args

import torch

from .data import Digits, augment
from .losses import LOSS_AT, LossAt, loss_logits, per_sample_loss
from .models import ModelConfig, SequenceClassifier, seeded, seeded_model
from .predictions import predict

Optimizer = Literal["adam", "sgd"]
Schedule = Literal["none", "cosine"]
Device = Literal["auto", "cpu", "cuda"]
OPTIMIZERS: tuple[str, ...] = get_args(Optimizer)
TRAIN_PROBE = 1000  # training digits behind the per-epoch train accuracy
SCHEDULES: tuple[str, ...] = get_args(Schedule)


class DivergedError(Exception):
    """The loss or the gradient became NaN/inf; `result` holds the last good weights and the history."""

    def __init__(self, message: str, result: "TrainResult"):
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class TrainConfig:
    """How to train; saved in the checkpoint next to the ModelConfig."""

    epochs: int = field(default=100, metadata={"help": "passes over the training set"})
    batch_size: int = field(default=64, metadata={"help": "digits per step"})
    optimizer: Optimizer = field(default="adam", metadata={"help": "Adam, or SGD with momentum 0.9"})
    lr: float = field(default=3e-3, metadata={"help": "peak learning rate"})
    schedule: Schedule = field(default="cosine", metadata={"help": "learning-rate schedule"})
    clip: float | None = field(default=1.0, metadata={"help": "max global gradient norm; 0 disables clipping"})
    k: int = field(default=28, metadata={"help": "truncated BPTT length in rows, 1..28; 28 = full BPTT"})
    loss_at: LossAt = field(default="last", metadata={"help": "loss on the last row only or on every row"})
    augment: bool = field(default=True, metadata={"help": "train without random shift/rotation/scale"})
    seed: int = field(default=0, metadata={"help": "random seed; same seed, same weights on CPU (same threads)"})
    device: Device = field(default="auto", metadata={"help": "where to train; auto = cuda if there is a GPU"})

    def __post_init__(self):
        checks = [
            (self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}"),
            (self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}"),
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}"),
            (self.lr > 0, f"lr must be > 0, got {self.lr}"),
            (self.schedule in SCHEDULES, f"schedule must be one of {SCHEDULES}, got {self.schedule!r}"),
            (self.clip is None or self.clip > 0, f"clip must be > 0 or None, got {self.clip}"),
            (1 <= self.k <= 28, f"k must be in 1..28, got {self.k}"),
            (self.loss_at in LOSS_AT, f"loss_at must be one of {LOSS_AT}, got {self.loss_at!r}"),
            (self.device in get_args(Device), f"device must be auto, cpu or cuda, got {self.device!r}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Step:
    """What on_step receives after every optimizer step."""

    epoch: int
    total_epochs: int
    step: int  # global step, from 1
    total_steps: int
    loss: float
    grad_norm: float  # before clipping
    samples_per_s: float

    @property
    def fraction(self) -> float:
        """Share of the run done, in [0, 1]."""
        return self.step / self.total_steps


@dataclass
class History:
    """Per-epoch metrics (lists aligned by epoch) and per-step losses."""

    epoch: list = field(default_factory=list)
    loss: list = field(default_factory=list)  # mean training loss over the epoch
    train_accuracy: list = field(default_factory=list)  # on the first TRAIN_PROBE un-augmented training digits
    test_accuracy: list = field(default_factory=list)
    grad_norm_mean: list = field(default_factory=list)
    grad_norm_max: list = field(default_factory=list)
    lr: list = field(default_factory=list)
    seconds: list = field(default_factory=list)  # wall time at the end of the epoch
    step_loss: list = field(default_factory=list)
    stopped: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainResult:
    model: SequenceClassifier  # final weights (or, after a stop, the best so far); eval mode, on CPU
    history: History
    # test_accuracy, train_accuracy, epoch, partial_epoch, epochs_run, steps, stopped, samples_per_s, train_seconds
    # (and test_evaluated when a stop in the first epoch left time to test only some digits)
    metrics: dict


def pick_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was requested but no CUDA GPU is available")
    return torch.device(name)


def accuracy(model: SequenceClassifier, digits: Digits, batch_size: int = 1000) -> float:
    """Fraction of digits whose readout argmax equals the label."""
    correct = int((predict(model, digits, batch_size) == digits.labels).sum())
    return correct / max(len(digits), 1)


def accuracy_within(
    model: SequenceClassifier, digits: Digits, seconds: float, batch_size: int = 100
) -> tuple[float, int]:
    """(accuracy, digits tested) over as many batches of digits as fit in `seconds` (at least one batch)."""
    deadline, correct, tested = time.perf_counter() + seconds, 0, 0
    while tested < len(digits) and (tested == 0 or time.perf_counter() < deadline):
        part = Digits(digits.images[tested : tested + batch_size], digits.labels[tested : tested + batch_size])
        correct += int((predict(model, part) == part.labels).sum())
        tested += len(part)
    return correct / max(tested, 1), tested


def make_optimizer(model: SequenceClassifier, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=cfg.lr)
    return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9)


def make_schedule(opt: torch.optim.Optimizer, cfg: TrainConfig, total_steps: int):
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / total_steps)))
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)


@dataclass
class BestWeights:
    """The epoch end with the best clean training accuracy so far, and its weights (the test set only reports)."""

    epoch: int = 0  # 0: no epoch has ended yet
    train_accuracy: float = -1.0
    test_accuracy: float | None = None
    state: dict | None = None

    def offer(self, epoch: int, train_acc: float, test_acc: float, model: SequenceClassifier) -> None:
        if train_acc > self.train_accuracy:
            self.epoch, self.train_accuracy, self.test_accuracy = epoch, train_acc, test_acc
            self.state = copy.deepcopy(model.state_dict())


STOP_EVALUATION_SECONDS = 3.0  # a stop in the first epoch tests the weights on as many digits as fit in this


class _Run:
    """One training run's moving parts; train() drives it epoch by epoch."""

    def __init__(self, model: SequenceClassifier, cfg: TrainConfig, train_set: Digits, device: torch.device):
        self.model, self.cfg, self.device = model, cfg, device
        self.gen = torch.Generator().manual_seed(cfg.seed)
        self.x, self.y = train_set.tensors()
        self.steps_per_epoch = math.ceil(len(self.y) / cfg.batch_size)
        self.total = self.steps_per_epoch * cfg.epochs
        self.opt = make_optimizer(model, cfg)
        self.sched = make_schedule(self.opt, cfg, self.total)
        self.dropout = model.rnn.dropout > 0
        self.step = self.seen = 0
        self.start = time.perf_counter()

    def optimizer_step(self, idx: torch.Tensor, epoch: int) -> tuple[float, float]:
        """One batch: loss, backward, clipping, the NaN guard, the update; returns (loss, gradient norm)."""
        cfg, model = self.cfg, self.model
        x = augment(self.x[idx], self.gen) if cfg.augment else self.x[idx]
        x, y = x.to(self.device), self.y[idx].to(self.device)
        # Dropout masks come from torch's global RNG, which page threads share: seed it per (seed, step), locked.
        with seeded(cfg.seed * 1_000_003 + self.step) if self.dropout else contextlib.nullcontext():
            loss = per_sample_loss(loss_logits(model, x, cfg.loss_at, cfg.k), y).mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip or float("inf"))
        if not (torch.isfinite(loss) and torch.isfinite(norm)):
            what = "loss" if not torch.isfinite(loss) else "gradient norm"
            raise FloatingPointError(
                f"Training diverged at epoch {epoch}, step {self.step + 1}: the {what} became "
                f"{(loss if what == 'loss' else norm).item()}. Lower the learning rate (now {cfg.lr:g}) "
                "or enable gradient clipping."
            )
        self.opt.step()
        self.sched.step()
        self.step += 1
        self.seen += len(idx)
        return loss.item(), norm.item()

    def samples_per_s(self) -> float:
        return self.seen / max(time.perf_counter() - self.start, 1e-9)


def train(
    model_cfg: ModelConfig,
    cfg: TrainConfig,
    train_set: Digits,
    test_set: Digits,
    on_step: Callable[[Step], None] | None = None,
    on_epoch: Callable[[History], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    model: SequenceClassifier | None = None,
) -> TrainResult:
    """Train a SequenceClassifier (a new one from cfg.seed unless given); returns its weights and the history.

    A stop request is honoured between steps: the result holds the best epoch end so far (by clean training
    accuracy; its test accuracy was measured then), or, during the first epoch, the weights of the moment,
    tested on as many test digits as STOP_EVALUATION_SECONDS allow. Either way the stop costs at most a few
    seconds whatever the model. A non-finite loss or gradient raises DivergedError with the last good weights.
    """
    device = pick_device(cfg.device)
    model = (seeded_model(model_cfg, cfg.seed) if model is None else model).to(device).train()
    run = _Run(model, cfg, train_set, device)
    hist, best = History(), BestWeights()
    # Per-epoch train accuracy on a fixed slice: a full clean pass would cost a third of an epoch.
    probe = Digits(train_set.images[:TRAIN_PROBE], train_set.labels[:TRAIN_PROBE])
    partial = False
    for epoch in range(1, cfg.epochs + 1):
        order = torch.randperm(len(run.y), generator=run.gen)
        losses, norms = [], []
        for b in range(run.steps_per_epoch):
            if should_stop and should_stop():
                hist.stopped, partial = True, b > 0
                break
            try:
                loss, norm = run.optimizer_step(order[b * cfg.batch_size : (b + 1) * cfg.batch_size], epoch)
            except FloatingPointError as e:  # weights are untouched since the last finite step
                raise DivergedError(str(e), TrainResult(model.cpu().eval(), hist, {})) from None
            losses.append(loss)
            norms.append(norm)
            hist.step_loss.append(loss)
            if on_step:
                on_step(Step(epoch, cfg.epochs, run.step, run.total, loss, norm, run.samples_per_s()))
        if hist.stopped:
            break
        hist.epoch.append(epoch)
        hist.loss.append(sum(losses) / len(losses))
        hist.train_accuracy.append(accuracy(model, probe))
        hist.test_accuracy.append(accuracy(model, test_set))
        hist.grad_norm_mean.append(sum(norms) / len(norms))
        hist.grad_norm_max.append(max(norms))
        hist.lr.append(run.opt.param_groups[0]["lr"])
        hist.seconds.append(time.perf_counter() - run.start)
        if should_stop is not None:  # only a run that can be stopped needs a copy of its best weights
            best.offer(epoch, hist.train_accuracy[-1], hist.test_accuracy[-1], model)
        if on_epoch:
            on_epoch(hist)
    return _finish(model.cpu().eval(), hist, best, partial, test_set, run)


def _finish(
    model: SequenceClassifier, hist: History, best: BestWeights, partial: bool, test_set: Digits, run: _Run
) -> TrainResult:
    """The result and its metrics, from numbers already measured where possible (a stop must be prompt)."""
    metrics = {
        "epochs_run": len(hist.epoch),
        "steps": run.step,
        "stopped": hist.stopped,
        "samples_per_s": run.samples_per_s(),
        "train_seconds": time.perf_counter() - run.start,
    }
    if not hist.stopped:  # the last epoch end measured these weights
        metrics |= {
            "test_accuracy": hist.test_accuracy[-1],
            "train_accuracy": hist.train_accuracy[-1],
            "epoch": len(hist.epoch),
            "partial_epoch": False,
        }
    elif best.state is not None:
        model.load_state_dict(best.state)
        metrics |= {
            "test_accuracy": best.test_accuracy,
            "train_accuracy": best.train_accuracy,
            "epoch": best.epoch,
            "partial_epoch": False,
        }
    else:  # stopped during the first epoch: the weights of the moment, tested within a time budget
        acc, tested = accuracy_within(model, test_set, STOP_EVALUATION_SECONDS)
        metrics |= {"test_accuracy": acc, "epoch": 0, "partial_epoch": partial}
        if tested < len(test_set):
            metrics["test_evaluated"] = tested
    return TrainResult(model, hist, metrics)
