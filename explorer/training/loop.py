"""Training loop with progress callbacks, a stop request, truncated BPTT and a NaN guard."""

import contextlib
import copy
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Literal, get_args

import torch

from ..data.digits import Digits, augment
from ..data.sequences import ROW_MNIST, DelayAt, SequenceTask, TaskKind
from ..model import snapshots
from ..model.config import ModelConfig
from ..model.network import SequenceClassifier, init_weights, seeded, seeded_model
from ..model.predictions import predict
from . import resume as resume_file
from .losses import LOSS_AT, LossAt
from .resume import ResumePoint
from .truncation import Align, Scheme, Truncation, chunk_losses, truncated_loss

Optimizer = Literal["adam", "sgd"]
Update = Literal["sequence", "chunk"]
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
    task: TaskKind = field(
        default="rows",
        metadata={"help": "the sequence a digit becomes: its 28 rows; then `delay` blank rows; or `delay` noise rows"},
    )
    delay: int = field(default=0, metadata={"help": "rows of delay for the blank and noise tasks, 1..100"})
    delay_at: DelayAt = field(default="after", metadata={"help": "the delay rows go after or before the digit"})
    k: int | None = field(
        default=None,
        metadata={
            "help": "truncated BPTT: how many rows a gradient flows back (k2 of TBPTT(k1, k2), or ARTBP's mean); "
            "0 = full BPTT"
        },
    )
    k1: int | None = field(
        default=None,
        metadata={"help": "TBPTT(k1, k2): rows between updates, 1..k; 1 = a sliding window of k rows; 0 = k (chunks)"},
    )
    align: Align = field(
        default="end",
        metadata={"help": "TBPTT's updates every k1 rows counted back from the last row (end) or from row 1 (start)"},
    )
    scheme: Scheme = field(
        default="tbptt",
        metadata={
            "help": "tbptt (Williams & Peng), or artbp: random truncation lengths with compensation, unbiased "
            "(Tallec & Ollivier 2017)"
        },
    )
    update: Update = field(
        default="sequence",
        metadata={"help": "one optimizer step per batch of sequences, or one per chunk (online TBPTT, chunks only)"},
    )
    loss_at: LossAt = field(default="last", metadata={"help": "loss on the last row only or on every row"})
    augment: bool = field(default=True, metadata={"help": "train without random shift/rotation/scale"})
    forget_bias: float | None = field(
        default=None,
        metadata={"help": "LSTM forget-gate bias at init (the source tutorials use 1.0); 0 = PyTorch's init"},
    )
    chrono: bool = field(
        default=False,
        metadata={
            "help": "chrono initialisation of the forget-like gate's bias, log U[1, T-1] with T the task's rows "
            "(Tallec & Ollivier 2018); LSTM, GRU, minGRU, minLSTM"
        },
    )
    freeze_input: bool = field(
        default=False,
        metadata={"help": "keep the input weights W_ih at their initial values (a control: random input features)"},
    )
    snapshots: bool = field(
        default=True, metadata={"help": "keep about 10 float16 snapshots of the weights during training, for replay"}
    )
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
            (self.k is None or self.k >= 1, f"k must be >= 1 (or 0 for full BPTT), got {self.k}"),
            (self.loss_at in LOSS_AT, f"loss_at must be one of {LOSS_AT}, got {self.loss_at!r}"),
            (self.device in get_args(Device), f"device must be auto, cpu or cuda, got {self.device!r}"),
            (not (self.chrono and self.forget_bias is not None), "chrono initialisation sets the forget bias itself"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        T = self.sequence_task.T  # raises on a bad task or delay
        if self.k is not None and self.k > T:
            raise ValueError(f"k must be in 1..{T} (the sequence's rows; 0 = full BPTT), got {self.k}")
        self.truncation  # noqa: B018  (raises on a bad scheme)
        if self.update == "chunk" and not (self.scheme == "tbptt" and (self.k1 is None or self.k1 == self.k)):
            raise ValueError("an update per chunk needs TBPTT chunks (k1 = k)")

    @property
    def sequence_task(self) -> SequenceTask:
        return SequenceTask(self.task, self.delay, self.delay_at)

    @property
    def truncation(self) -> Truncation:
        return Truncation(self.k, self.k1, self.align, self.scheme)

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
    snapshots: list = field(default_factory=list)  # explorer.model.snapshots.Snapshot, during training (not the end)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was requested but no CUDA GPU is available")
    return torch.device(name)


def accuracy(
    model: SequenceClassifier, digits: Digits, batch_size: int = 1000, task: SequenceTask = ROW_MNIST
) -> float:
    """Fraction of digits whose readout argmax equals the label, each read as a sequence of `task`."""
    correct = int((predict(model, digits, batch_size, task) == digits.labels).sum())
    return correct / max(len(digits), 1)


def accuracy_within(
    model: SequenceClassifier, digits: Digits, seconds: float, batch_size: int = 100, task: SequenceTask = ROW_MNIST
) -> tuple[float, int]:
    """(accuracy, digits tested) over as many batches of digits as fit in `seconds` (at least one batch)."""
    deadline, correct, tested = time.perf_counter() + seconds, 0, 0
    while tested < len(digits) and (tested == 0 or time.perf_counter() < deadline):
        got = predict(model, digits, batch_size, task, start=tested, stop=tested + batch_size)
        correct += int((got == digits.labels[tested : tested + len(got)]).sum())
        tested += len(got)
    return correct / max(tested, 1), tested


def make_optimizer(model: SequenceClassifier, cfg: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9)


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
        """One batch: sequences, loss, backward, clipping, the NaN guard, the update (one per chunk with
        cfg.update == "chunk"); returns (loss, gradient norm) (of the batch's last update)."""
        cfg, model = self.cfg, self.model
        x = augment(self.x[idx], self.gen) if cfg.augment else self.x[idx]
        x, y = cfg.sequence_task.apply(x, self.gen).to(self.device), self.y[idx].to(self.device)
        # Dropout masks come from torch's global RNG, which page threads share: seed it per (seed, step), locked.
        with seeded(cfg.seed * 1_000_003 + self.step) if self.dropout else contextlib.nullcontext():
            if cfg.update == "chunk":
                total = 0.0
                for part in chunk_losses(model, x, y, cfg.loss_at, cfg.truncation):
                    loss, norm = self._update(part.mean(), epoch)
                    total += loss
                loss = total
            else:
                loss, norm = self._update(
                    truncated_loss(model, x, y, cfg.loss_at, cfg.truncation, self.gen).mean(), epoch
                )
        self.sched.step()
        self.step += 1
        self.seen += len(idx)
        return loss, norm

    def _update(self, loss: torch.Tensor, epoch: int) -> tuple[float, float]:
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        params = [p for p in self.model.parameters() if p.requires_grad]
        norm = torch.nn.utils.clip_grad_norm_(params, self.cfg.clip or float("inf"))
        if not (torch.isfinite(loss) and torch.isfinite(norm)):
            what = "loss" if not torch.isfinite(loss) else "gradient norm"
            raise FloatingPointError(
                f"Training diverged at epoch {epoch}, step {self.step + 1}: the {what} became "
                f"{(loss if what == 'loss' else norm).item()}. Lower the learning rate (now {self.cfg.lr:g}) "
                "or enable gradient clipping."
            )
        self.opt.step()
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
    on_weights: Callable[[SequenceClassifier, int], None] | None = None,
    resume: ResumePoint | None = None,
    on_resume_point: Callable[[ResumePoint], None] | None = None,
) -> TrainResult:
    """Train a SequenceClassifier (a new one from cfg.seed unless given); returns its weights and the history.

    A stop request is honoured between steps: the result holds the best epoch end so far (by clean training
    accuracy; its test accuracy was measured then), or, during the first epoch, the weights of the moment,
    tested on as many test digits as STOP_EVALUATION_SECONDS allow. Either way the stop costs at most a few
    seconds whatever the model. A non-finite loss or gradient raises DivergedError with the last good weights.
    on_weights(model, epoch) sees the model after each epoch (to look inside it, not to change it).
    on_resume_point receives a ResumePoint after each epoch; train(..., resume=point) goes on from it and ends
    with the same weights and history as the run that was never interrupted.
    """
    device = pick_device(cfg.device)
    if model is None:
        chrono = cfg.sequence_task.T if cfg.chrono else None
        model = init_weights(seeded_model(model_cfg, cfg.seed), cfg.forget_bias, chrono=chrono, seed=cfg.seed)
    model = model.to(device).train()
    if cfg.freeze_input:
        for name, p in model.rnn.named_parameters():
            p.requires_grad_(not name.startswith("weight_ih"))
    run = _Run(model, cfg, train_set, device)
    hist, best = History(), BestWeights()
    early, epoch_ends = snapshots.plan(run.steps_per_epoch, cfg.epochs) if cfg.snapshots else (set(), set())
    taken = []  # evaluation only: no draws from the run's generator, so the weights are the same with or without
    if resume is not None:
        hist, best, taken = _resumed(run, resume)
    elif cfg.snapshots:
        taken.append(snapshots.capture(model, 0, 0.0, None, accuracy(model, test_set, task=cfg.sequence_task)))
    # Per-epoch train accuracy on a fixed slice: a full clean pass would cost a third of an epoch.
    probe = Digits(train_set.images[:TRAIN_PROBE], train_set.labels[:TRAIN_PROBE])
    partial = False
    for epoch in range(1 if resume is None else resume.epoch + 1, cfg.epochs + 1):
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
            if run.step in early:
                acc = accuracy(model, test_set, task=cfg.sequence_task)
                taken.append(snapshots.capture(model, run.step, run.step / run.steps_per_epoch, loss, acc))
            if on_step:
                on_step(Step(epoch, cfg.epochs, run.step, run.total, loss, norm, run.samples_per_s()))
        if hist.stopped:
            break
        hist.epoch.append(epoch)
        hist.loss.append(sum(losses) / len(losses))
        hist.train_accuracy.append(accuracy(model, probe, task=cfg.sequence_task))
        hist.test_accuracy.append(accuracy(model, test_set, task=cfg.sequence_task))
        hist.grad_norm_mean.append(sum(norms) / len(norms))
        hist.grad_norm_max.append(max(norms))
        hist.lr.append(run.opt.param_groups[0]["lr"])
        hist.seconds.append(time.perf_counter() - run.start)
        if should_stop is not None:  # only a run that can be stopped needs a copy of its best weights
            best.offer(epoch, hist.train_accuracy[-1], hist.test_accuracy[-1], model)
        if epoch in epoch_ends:
            taken.append(snapshots.capture(model, run.step, float(epoch), hist.loss[-1], hist.test_accuracy[-1]))
        if on_weights:
            on_weights(model, epoch)
        if on_epoch:
            on_epoch(hist)
        if on_resume_point:
            on_resume_point(_resume_point(run, epoch, hist, best, taken))
    result = _finish(model.cpu().eval(), hist, best, partial, test_set, run)
    # Snapshots before the weights the result holds (after a stop those are the best epoch end's, maybe earlier).
    final_step = best.epoch * run.steps_per_epoch if hist.stopped and best.state is not None else run.step
    result.snapshots = [snap for snap in taken if snap.step < final_step]
    return result


def _resume_point(run: _Run, epoch: int, hist: History, best: BestWeights, taken: list) -> ResumePoint:
    copied = copy.deepcopy  # the run goes on changing these
    return ResumePoint(
        epoch, copied(run.model.state_dict()), copied(run.opt.state_dict()), run.sched.state_dict(),
        run.gen.get_state(), run.step, run.seen, time.perf_counter() - run.start, copied(hist.to_dict()),
        copied(asdict(best)), resume_file.snapshot_dicts(taken),
    )  # fmt: skip


def _resumed(run: _Run, point: ResumePoint) -> tuple[History, BestWeights, list]:
    """Put the run back where the point left it; its history, best epoch and snapshots."""
    run.model.load_state_dict(point.model)
    run.opt.load_state_dict(point.optimizer)
    run.sched.load_state_dict(point.schedule)
    run.gen.set_state(point.generator)
    run.step, run.seen, run.start = point.step, point.seen, time.perf_counter() - point.elapsed
    return History(**point.history), BestWeights(**point.best), resume_file.snapshots_of(point.snapshots)


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
        acc, tested = accuracy_within(model, test_set, STOP_EVALUATION_SECONDS, task=run.cfg.sequence_task)
        metrics |= {"test_accuracy": acc, "epoch": 0, "partial_epoch": partial}
        if tested < len(test_set):
            metrics["test_evaluated"] = tested
    return TrainResult(model, hist, metrics)
