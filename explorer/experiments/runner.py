"""Running a sweep's independent runs: inline, on a local process pool, or on a Ray cluster.

Every backend trains the same `train_run` and saves each run into the sweep's folder as it finishes (the
same format whatever ran it), so a sweep that is stopped, or whose worker dies, keeps what finished and
resumes by running only what is missing. The process pool starts fresh interpreters ("spawn": safe from a
multi-threaded server) with one torch thread each, so N workers use N cores without oversubscribing them.
Ray is optional (`pip install ray`): `ray.init(address=...)` joins a cluster, or starts a local one.
"""

import multiprocessing as mp
import os
import queue as queue_module
import time
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from ..data.digits import Digits, load_sample
from ..model.network import evaluating
from ..training.loop import Step, train
from ..training.truncation import FULL, truncated_loss
from .results import Sweep, SweepRun, correct_answers, profile_batch
from .spec import RunSpec, SweepConfig, SweepError, run_label
from .storage import SUMMARY, load_sweep, save_run, write_summary

Backend = Literal["inline", "process", "ray"]


@dataclass(frozen=True)
class SweepProgress:
    """What on_progress receives: the run in training and how far it is."""

    run: str  # RunSpec.id
    index: int  # runs finished before this one in the whole sweep
    count: int  # runs in the sweep
    epoch: int
    epochs: int
    step: int
    total_steps: int
    loss: float
    label: str = ""  # e.g. "LSTM, TBPTT(8, 8), seed 0"

    @property
    def fraction(self) -> float:
        """Share of the whole sweep done, in [0, 1]."""
        return min(1.0, (self.index + self.step / max(self.total_steps, 1)) / max(self.count, 1))


def saliency_rows(model, x: torch.Tensor, y: torch.Tensor, loss_at: str, trunc) -> np.ndarray:
    """Batch median of ||dL/dx_t|| per row under a truncation scheme (T,): where the gradient reaches."""
    with evaluating(model):
        x = x.detach().clone().requires_grad_(True)
        (g,) = torch.autograd.grad(truncated_loss(model, x, y, loss_at, trunc).sum(), [x])
    return np.median(g.norm(dim=-1).numpy(), axis=0)


def train_run(
    cfg: SweepConfig,
    spec: RunSpec,
    train_set: Digits | None = None,
    test_set: Digits | None = None,
    on_step: Callable[[Step], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> SweepRun | None:
    """Train and measure one run (None if it was stopped: a half-trained model says nothing about k)."""
    if train_set is None or test_set is None:
        train_set, test_set = load_sample()
    if cfg.train_size is not None:
        train_set = Digits(train_set.images[: cfg.train_size], train_set.labels[: cfg.train_size])
    tcfg = cfg.train_config(spec)
    result = train(cfg.model_config(spec.kind), tcfg, train_set, test_set, on_step=on_step, should_stop=should_stop)
    if result.history.stopped:
        return None
    model = result.model
    x, y = profile_batch(cfg, test_set)
    trained = saliency_rows(model, x, y, cfg.loss_at, tcfg.truncation)
    saliency = saliency_rows(model, x, y, cfg.loss_at, FULL)
    return SweepRun(
        spec,
        result.metrics,
        result.history,
        trained,
        saliency,
        correct_answers(model, test_set, cfg.sequence_task),
        model,
    )


def _label(cfg: SweepConfig, spec: RunSpec) -> str:
    return f"{run_label(spec, cfg.T)}, seed {spec.seed}"


# ---- the process pool ------------------------------------------------------------------------------------------


_channel = {}  # in a pool worker: the parent's progress queue and stop event, inherited at its start


def _init_worker(threads: int, events, stop) -> None:
    torch.set_num_threads(threads)
    _channel.update(events=events, stop=stop)


def _pool_run(cfg: SweepConfig, spec: RunSpec, index: int, count: int) -> SweepRun | None:
    """A pool worker's job: train_run with progress sent to the parent and its stop request honoured."""
    events, stop = _channel["events"], _channel["stop"]
    last = [0.0]

    def report(s: Step) -> None:
        now = time.time()
        if now - last[0] > 0.5 or s.step == s.total_steps:  # throttled: a queue message per step would be too many
            last[0] = now
            events.put(
                SweepProgress(
                    spec.id, index, count, s.epoch, s.total_epochs, s.step, s.total_steps, s.loss, _label(cfg, spec)
                )
            )

    return train_run(cfg, spec, on_step=report, should_stop=stop.is_set)


# ---- running a sweep -------------------------------------------------------------------------------------------


def run_sweep(
    cfg: SweepConfig,
    folder: str | Path,
    backend: Backend = "inline",
    workers: int | None = None,
    address: str | None = None,
    on_progress: Callable[[SweepProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    command: str = "",
    keep_models: str = "first-seed",
    train_set: Digits | None = None,
    test_set: Digits | None = None,
) -> Sweep:
    """Train every run of cfg.plan() not already in `folder` (resuming a sweep saved there), saving each as it
    finishes; returns the sweep. keep_models: "first-seed" (the models of the first seed; results of all), "all"
    or "none". A failed run is recorded with its error and the rest go on."""
    folder = Path(folder)
    if (folder / SUMMARY).exists():
        sweep = load_sweep(folder, models=False)
        if sweep.config != cfg:
            raise SweepError(f"{folder} holds a sweep of another configuration; choose a new folder")
    else:
        sweep = Sweep(cfg, test_size=len(test_set if test_set is not None else load_sample()[1]), command=command)
    sweep.stopped, sweep.failed = False, {}
    todo = [s for s in cfg.plan() if s.id not in sweep.done]
    count = len(cfg.plan())
    start = time.perf_counter()

    def keep(spec: RunSpec) -> bool:
        return keep_models == "all" or (keep_models == "first-seed" and spec.seed == cfg.seeds[0])

    before = sweep.seconds  # the time of the runs finished earlier, if this resumes a sweep

    def finished(run: SweepRun | None, spec: RunSpec) -> None:
        if run is None:
            sweep.stopped = True
            return
        sweep.seconds = time.perf_counter() - start + before
        save_run(folder, sweep, run, keep(spec))

    if backend == "inline":
        _inline(cfg, todo, count, len(sweep.done), finished, on_progress, should_stop, sweep, train_set, test_set)
    elif backend == "process":
        _process(cfg, todo, count, len(sweep.done), finished, on_progress, should_stop, sweep, workers)
    elif backend == "ray":
        _ray(cfg, todo, count, len(sweep.done), finished, on_progress, should_stop, sweep, address)
    else:
        raise ValueError(f"backend must be inline, process or ray, got {backend!r}")
    sweep.seconds = time.perf_counter() - start + before
    write_summary(folder, sweep)
    return sweep


def _inline(cfg, todo, count, done, finished, on_progress, should_stop, sweep, train_set, test_set) -> None:
    for index, spec in enumerate(todo, start=done):
        if should_stop and should_stop():
            sweep.stopped = True
            return

        def step(s: Step, spec=spec, index=index) -> None:
            if on_progress:
                on_progress(
                    SweepProgress(
                        spec.id, index, count, s.epoch, s.total_epochs, s.step, s.total_steps, s.loss, _label(cfg, spec)
                    )
                )

        try:
            finished(train_run(cfg, spec, train_set, test_set, step, should_stop), spec)
        except Exception as e:  # one failed run (say, diverged) does not lose the others
            sweep.failed[spec.id] = str(e) or type(e).__name__
        if sweep.stopped:
            return


def _process(cfg, todo, count, done, finished, on_progress, should_stop, sweep, workers) -> None:
    workers = workers or os.cpu_count() or 1
    ctx = mp.get_context("spawn")
    events, stop = ctx.Queue(), ctx.Event()  # handed to each worker as it starts (no manager process to spawn)
    try:
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=ctx, initializer=_init_worker, initargs=(1, events, stop)
        ) as pool:
            futures = {pool.submit(_pool_run, cfg, spec, done + i, count): spec for i, spec in enumerate(todo)}
            pending = set(futures)
            while pending:
                finished_now, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                _drain(events, on_progress)
                if should_stop and should_stop() and not stop.is_set():
                    stop.set()
                    for f in pending:
                        f.cancel()
                for f in finished_now:
                    spec = futures[f]
                    if f.cancelled():
                        sweep.stopped = True
                        continue
                    try:
                        finished(f.result(), spec)
                    except BrokenProcessPool:
                        sweep.failed[spec.id] = "its worker process died"
                    except Exception as e:
                        sweep.failed[spec.id] = str(e) or type(e).__name__
            _drain(events, on_progress)
    finally:
        events.close()
        events.join_thread()
    if should_stop is not None and should_stop():
        sweep.stopped = True


def _drain(events, on_progress) -> None:
    while True:
        try:
            event = events.get_nowait()
        except (queue_module.Empty, EOFError, OSError):
            return
        if on_progress:
            on_progress(event)


def _ray(cfg, todo, count, done, finished, on_progress, should_stop, sweep, address) -> None:
    try:
        import ray  # optional: pip install ray
    except ImportError:
        raise SweepError("the Ray backend needs Ray: pip install 'ray>=2.40' (or use --backend process)") from None
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    remote = ray.remote(num_cpus=1)(_ray_run)
    refs = {remote.remote(cfg, spec): (spec, done + i) for i, spec in enumerate(todo)}
    pending = list(refs)
    while pending:
        ready, pending = ray.wait(pending, num_returns=1, timeout=0.5)
        if should_stop and should_stop():
            for ref in pending:
                ray.cancel(ref, force=True)
            sweep.stopped = True
            pending = []
        for ref in ready:
            spec, index = refs[ref]
            try:
                run = ray.get(ref)
                finished(run, spec)
                if on_progress and run is not None:
                    e = run.metrics
                    on_progress(
                        SweepProgress(
                            spec.id,
                            index,
                            count,
                            e["epochs_run"],
                            cfg.epochs,
                            e["steps"],
                            e["steps"],
                            float(run.history.loss[-1]),
                            _label(cfg, spec),
                        )
                    )
            except Exception as e:  # a task that failed or whose node died
                sweep.failed[spec.id] = (str(e) or type(e).__name__).splitlines()[0][:300]


def _ray_run(cfg: SweepConfig, spec: RunSpec) -> SweepRun | None:
    torch.set_num_threads(1)
    try:
        return train_run(cfg, spec)
    except Exception:
        traceback.print_exc()
        raise
