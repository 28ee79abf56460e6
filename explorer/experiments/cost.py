"""How long a training run or a sweep will take on this machine, from a short timed probe of the real step."""

import math
import time
from dataclasses import dataclass

import torch

from ..model.config import ModelConfig
from ..model.network import evaluating, seeded_model
from ..training.loop import TRAIN_PROBE, TrainConfig, make_optimizer
from ..training.truncation import truncated_loss
from .spec import SweepConfig


@dataclass(frozen=True)
class Estimate:
    """Predicted wall time of a job, and what it is made of."""

    seconds: float
    steps: int  # optimizer steps in all
    step_seconds: float  # one optimizer step, as probed
    eval_seconds: float  # one epoch end's evaluation (test set + training probe)

    @property
    def minutes(self) -> float:
        return self.seconds / 60


def probe(model_cfg: ModelConfig, cfg: TrainConfig, steps: int = 3) -> tuple[float, float]:
    """(seconds per optimizer step, seconds per digit evaluated) of this model and config, timed here and now.

    The step is the real one (loss with truncation k, backward, clipping, update) on a random batch; one
    warm-up step first. A slow step is timed once: the probe itself must stay short.
    """
    model = seeded_model(model_cfg, 0).train()
    opt = make_optimizer(model, cfg)
    gen = torch.Generator().manual_seed(0)
    x = cfg.sequence_task.apply(torch.rand(cfg.batch_size, 28, 28, generator=gen), gen)
    y = torch.randint(0, 10, (cfg.batch_size,), generator=gen)

    def step() -> float:
        start = time.perf_counter()
        loss = truncated_loss(model, x, y, cfg.loss_at, cfg.truncation, gen).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip or float("inf"))
        opt.step()
        return time.perf_counter() - start

    warm = step()
    times = [step() for _ in range(steps if warm < 0.2 else 1)]
    with torch.no_grad(), evaluating(model):
        start = time.perf_counter()
        model(x[:64])
        per_digit = (time.perf_counter() - start) / min(64, len(x))
    return sorted(times)[len(times) // 2], per_digit


def training_estimate(model_cfg: ModelConfig, cfg: TrainConfig, n_train: int, n_test: int) -> Estimate:
    """Predicted wall time of train(model_cfg, cfg) on n_train digits, testing on n_test after every epoch."""
    step_s, digit_s = probe(model_cfg, cfg)
    steps = math.ceil(n_train / cfg.batch_size) * cfg.epochs
    eval_s = digit_s * (n_test + min(n_train, TRAIN_PROBE))
    return Estimate(steps * step_s + cfg.epochs * eval_s, steps, step_s, eval_s)


def total(estimates: list[Estimate]) -> Estimate:
    """Several jobs one after another (a sweep's runs)."""
    return Estimate(
        sum(e.seconds for e in estimates),
        sum(e.steps for e in estimates),
        max(e.step_seconds for e in estimates),
        max(e.eval_seconds for e in estimates),
    )


def sweep_estimate(cfg: SweepConfig, n_train: int, n_test: int, workers: int = 1) -> Estimate:
    """Predicted wall time of a sweep: each (cell, scheme) probed once (a truncated run's cost hardly depends on
    k), every run counted, spread over `workers`."""
    n_train = min(n_train, cfg.train_size or n_train)
    probed, runs = {}, []
    for spec in cfg.plan():
        key = (spec.kind, spec.scheme)
        if key not in probed:
            probed[key] = training_estimate(cfg.model_config(spec.kind), cfg.train_config(spec), n_train, n_test)
        runs.append(probed[key])
    whole = total(runs)
    return Estimate(
        whole.seconds / max(1, min(workers, len(runs))), whole.steps, whole.step_seconds, whole.eval_seconds
    )
