"""Training loop with progress callbacks, a stop request, truncated BPTT and a NaN guard; and the job that
runs it in the background for the Train page."""
import contextlib
import copy
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch

from .checkpoints import save_checkpoint
from .data import MNIST_FILES, Digits, augment, default_cache_dir, load_mnist, load_sample
from .losses import LOSS_AT, loss_logits, per_sample_loss
from .jobs import Job
from .models import ModelConfig, SequenceClassifier, seeded, seeded_model
from .predictions import predict

OPTIMIZERS = ("adam", "sgd")
TRAIN_PROBE = 1000  # training digits behind the per-epoch train accuracy
SCHEDULES = ("none", "cosine")
DATA_SOURCES = ("sample", "mnist")


class DivergedError(Exception):
    """The loss or the gradient became NaN/inf; `result` holds the last good weights and the history."""

    def __init__(self, message: str, result: "TrainResult"):
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class TrainConfig:
    """How to train; saved in the checkpoint next to the ModelConfig."""

    epochs: int = 100
    batch_size: int = 64
    optimizer: str = "adam"
    lr: float = 3e-3
    schedule: str = "cosine"
    clip: float | None = 1.0  # max global gradient norm; None = no clipping
    k: int = 28  # truncated BPTT length; 28 = full BPTT
    loss_at: str = "last"
    augment: bool = True
    seed: int = 0
    device: str = "auto"

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
            (self.device in ("auto", "cpu", "cuda"), f"device must be auto, cpu or cuda, got {self.device!r}"),
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


def make_optimizer(model: SequenceClassifier, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=cfg.lr)
    return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9)


def make_schedule(opt: torch.optim.Optimizer, cfg: TrainConfig, total_steps: int):
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / total_steps)))
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)


def train(model_cfg: ModelConfig, cfg: TrainConfig, train_set: Digits, test_set: Digits,
          on_step: Callable[[Step], None] | None = None,
          on_epoch: Callable[[History], None] | None = None,
          should_stop: Callable[[], bool] | None = None,
          model: SequenceClassifier | None = None) -> TrainResult:
    """Train a SequenceClassifier (a new one from cfg.seed unless given); returns its weights and the history."""
    # A stop request is honoured between steps; the result then holds the better of the current weights and
    # the best epoch end, judged by clean training accuracy (the test set only reports). A non-finite loss or
    # gradient raises DivergedError carrying the last good weights.
    gen = torch.Generator().manual_seed(cfg.seed)
    device = pick_device(cfg.device)
    model = (seeded_model(model_cfg, cfg.seed) if model is None else model).to(device).train()
    dropout = model.rnn.dropout > 0
    x_all, y_all = train_set.tensors()
    n = len(y_all)
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    opt = make_optimizer(model, cfg)
    sched = make_schedule(opt, cfg, total)
    hist = History()
    # Per-epoch train accuracy on a fixed slice: a full clean pass would cost a third of an epoch.
    probe = Digits(train_set.images[:TRAIN_PROBE], train_set.labels[:TRAIN_PROBE])
    best = (-1.0, None, 0)  # (probe accuracy, weights, epoch) of the best epoch end
    start, step, seen = time.perf_counter(), 0, 0

    def finish(partial_epoch: bool = False) -> TrainResult:
        """partial_epoch: the weights are from the middle of epoch len(hist.epoch) + 1."""
        elapsed = time.perf_counter() - start
        model.cpu().eval()
        epoch = len(hist.epoch)
        if hist.stopped and best[1] is not None and best[0] > accuracy(model, probe):
            model.load_state_dict(best[1])
            epoch, partial_epoch = best[2], False
        train_acc = accuracy(model, train_set)
        # epoch: epochs completed by the returned weights (0 = stopped during epoch 1)
        metrics = {"test_accuracy": accuracy(model, test_set), "train_accuracy": train_acc, "epoch": epoch,
                   "partial_epoch": partial_epoch, "epochs_run": len(hist.epoch), "steps": step,
                   "stopped": hist.stopped, "samples_per_s": seen / max(elapsed, 1e-9), "train_seconds": elapsed}
        return TrainResult(model, hist, metrics)

    for epoch in range(1, cfg.epochs + 1):
        order = torch.randperm(n, generator=gen)
        losses, norms = [], []
        for b in range(steps_per_epoch):
            if should_stop and should_stop():
                hist.stopped = True
                return finish(partial_epoch=b > 0)
            idx = order[b * cfg.batch_size:(b + 1) * cfg.batch_size]
            x = augment(x_all[idx], gen) if cfg.augment else x_all[idx]
            x, y = x.to(device), y_all[idx].to(device)
            # Dropout masks come from torch's global RNG, which page threads share: seed it per (seed, step), locked.
            with seeded(cfg.seed * 1_000_003 + step) if dropout else contextlib.nullcontext():
                loss = per_sample_loss(loss_logits(model, x, cfg.loss_at, cfg.k), y).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip or float("inf"))
            if not (torch.isfinite(loss) and torch.isfinite(norm)):
                # Weights are untouched since the last finite step: those are the ones we hand back.
                model.cpu().eval()
                what = "loss" if not torch.isfinite(loss) else "gradient norm"
                raise DivergedError(
                    f"Training diverged at epoch {epoch}, step {step + 1}: the {what} became "
                    f"{(loss if what == 'loss' else norm).item()}. Lower the learning rate (now {cfg.lr:g}) "
                    "or enable gradient clipping.", TrainResult(model, hist, {}))
            opt.step()
            sched.step()
            step += 1
            seen += len(idx)
            losses.append(loss.item())
            norms.append(norm.item())
            hist.step_loss.append(losses[-1])
            if on_step:
                on_step(Step(epoch, cfg.epochs, step, total, losses[-1], norms[-1],
                             seen / (time.perf_counter() - start)))
        test_acc = accuracy(model, test_set)
        hist.epoch.append(epoch)
        hist.loss.append(sum(losses) / len(losses))
        hist.train_accuracy.append(accuracy(model, probe))
        hist.test_accuracy.append(test_acc)
        hist.grad_norm_mean.append(sum(norms) / len(norms))
        hist.grad_norm_max.append(max(norms))
        hist.lr.append(opt.param_groups[0]["lr"])
        hist.seconds.append(time.perf_counter() - start)
        if hist.train_accuracy[-1] > best[0]:
            best = (hist.train_accuracy[-1], copy.deepcopy(model.state_dict()), epoch)
        if on_epoch:
            on_epoch(hist)
    return finish()


# ---- training as a background job (the Train page) -------------------------------------------


@dataclass(frozen=True)
class EpochEnd:
    """What a training job reports after each epoch, next to a Step after every step."""

    epoch: int
    loss: float
    train_accuracy: float
    test_accuracy: float
    seconds: float


@dataclass(frozen=True)
class TrainOutcome:
    """A finished training job: the saved checkpoint, or (path None) why training diverged."""

    path: Path | None
    metrics: dict
    error: str | None = None


def mnist_downloaded() -> bool:
    """Whether the four full-MNIST files are in the cache (load_mnist checks their contents)."""
    return all((default_cache_dir() / name).exists() for name in MNIST_FILES)


def load_digits(source: str) -> tuple[Digits, Digits]:
    """(train, test) digits of a data source: "sample" (bundled) or "mnist" (downloaded)."""
    if source not in DATA_SOURCES:
        raise ValueError(f"data source must be one of {DATA_SOURCES}, got {source!r}")
    return load_sample() if source == "sample" else load_mnist()


def provenance(source: str, train_set: Digits, test_set: Digits, cfg: TrainConfig) -> dict:
    """The checkpoint's "data" metadata: which digits, how many, augmented or not."""
    return {"name": source, "train": len(train_set), "test": len(test_set), "augment": cfg.augment}


def run_training(job: Job, model_cfg: ModelConfig, cfg: TrainConfig, source: str, path: Path,
                 command: str) -> TrainOutcome:
    """A job's work: train on `source`, report Step/EpochEnd records, honour stops, save to `path`.

    A stopped run is saved too (metrics["stopped"] is True, the weights are the best so far). A run that
    diverges saves nothing and returns the engine's explanation as `error`.
    """
    train_set, test_set = load_digits(source)

    def epoch_end(h: History) -> None:
        job.report(EpochEnd(h.epoch[-1], h.loss[-1], h.train_accuracy[-1], h.test_accuracy[-1], h.seconds[-1]))

    try:
        result = train(model_cfg, cfg, train_set, test_set, on_step=job.report, on_epoch=epoch_end,
                       should_stop=job.should_stop)
    except DivergedError as e:
        return TrainOutcome(None, {}, str(e))
    save_checkpoint(path, result.model, metrics=result.metrics, history=result.history.to_dict(),
                    data=provenance(source, train_set, test_set, cfg), command=command, train_config=cfg)
    return TrainOutcome(path, result.metrics)
