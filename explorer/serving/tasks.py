"""The app's background work as jobs (explorer.serving.jobs): training, sweeps and the MNIST download.

Each task runs in a worker process (explorer.serving.worker) as task(job, **config), config being the JSON the
job was submitted with: it runs an engine function with the job's progress reporting and stop request, and
saves its result; the engine itself knows nothing of jobs or pages. A job here is anything with `id`,
`owner`, `report(record)`, `should_stop()` and `flush()` (store the records reported so far).
"""

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ..analysis.live import LIVE_DIGITS, LiveView, look_inside
from ..data import digits as data
from ..data.digits import MNIST_FILES, Digits, load_digits, load_sample, provenance
from ..experiments.runner import run_sweep
from ..experiments.spec import SweepConfig
from ..experiments.storage import new_sweep_dir, sweep_config_from, user_sweeps_dir
from ..model.checkpoints import home_dir, save_checkpoint, user_path
from ..model.config import ModelConfig
from ..training import resume
from ..training.loop import DivergedError, History, TrainConfig, train
from ..training.resume import ResumePoint

TRAIN = "explorer.serving.tasks:train_job"
SWEEP = "explorer.serving.tasks:sweep_job"
DOWNLOAD = "explorer.serving.tasks:download"
RESUME = "resume.pt"


@dataclass(frozen=True)
class EpochEnd:
    """What a training job reports after each epoch, next to a Step after every step."""

    epoch: int
    loss: float
    train_accuracy: float
    test_accuracy: float
    seconds: float
    view: LiveView | None = None  # inside the model after this epoch (explorer.analysis.live)


@dataclass(frozen=True)
class TrainOutcome:
    """A finished training job: the saved checkpoint, or (path None) why training diverged."""

    path: Path | None
    metrics: dict
    error: str | None = None


@dataclass(frozen=True)
class DownloadProgress:
    """What a download job reports: bytes of one file so far."""

    name: str
    done: int
    total: int | None

    @property
    def fraction(self) -> float:
        """Share of the four files done (a file of unknown size counts as half done)."""
        files = list(MNIST_FILES)
        part = self.done / self.total if self.total else 0.5
        return (files.index(self.name) + min(part, 1.0)) / len(files) if self.name in files else 0.0


def run_training(
    job,
    model_cfg: ModelConfig,
    cfg: TrainConfig,
    source: str,
    path: Path,
    command: str,
    point: ResumePoint | None = None,
    on_resume_point: Callable[[ResumePoint], None] | None = None,
) -> TrainOutcome:
    """Train on `source` (from a resume point, if given), report Step/EpochEnd records, honour stops, save to
    `path`.

    A stopped run is saved too (metrics["stopped"] is True, the weights are the best so far). A run that
    diverges saves nothing and returns the engine's explanation as `error`.
    """
    train_set, test_set = load_digits(source)
    images, labels = test_set.tensors()
    task = cfg.sequence_task
    digit = task.apply(images[:1], indices=torch.tensor([0]))[0]  # the first test digit, every epoch
    n = min(LIVE_DIGITS, len(labels))
    batch = task.apply(images[:n], indices=torch.arange(n)), labels[:n]
    views = {}

    def look(model, epoch: int) -> None:
        views[epoch] = look_inside(model, digit, *batch, epoch)

    def epoch_end(h: History) -> None:
        epoch = h.epoch[-1]
        view = views.pop(epoch, None)
        job.report(EpochEnd(epoch, h.loss[-1], h.train_accuracy[-1], h.test_accuracy[-1], h.seconds[-1], view))

    try:
        result = train(
            model_cfg,
            cfg,
            train_set,
            test_set,
            on_step=job.report,
            on_epoch=epoch_end,
            should_stop=job.should_stop,
            on_weights=look,
            resume=point,
            on_resume_point=on_resume_point,
        )
    except DivergedError as e:
        return TrainOutcome(None, {}, str(e))
    save_checkpoint(
        path,
        result.model,
        metrics=result.metrics,
        history=result.history.to_dict(),
        data=provenance(source, train_set, test_set, cfg.augment),
        command=command,
        train_config=cfg,
        snapshots=result.snapshots,
    )
    return TrainOutcome(path, result.metrics)


def resume_dir(job_id: str) -> Path:
    """Where a training job keeps its latest resume point while it runs (RNN_EXPLORER_HOME/jobs/<id>)."""
    if not job_id.isalnum():
        raise ValueError(f"not a job id: {job_id!r}")
    return home_dir() / "jobs" / job_id


def resume_epoch(job_id: str) -> int | None:
    """The epochs a job's saved resume point has done; None if it saved none (or it was cleared)."""
    folder = resume_dir(job_id)
    try:
        return int((folder / "epoch").read_text()) if (folder / RESUME).exists() else None
    except (OSError, ValueError):
        return None


def train_job(
    job, model: dict, train: dict, source: str, name: str, command: str, resume_from: str | None = None
) -> TrainOutcome:
    """run_training from a submitted config: the checkpoint goes to the job owner's folder, under `name`.

    After every epoch the run's resume point is saved in resume_dir(job.id), so that a run interrupted by a
    restart can go on exactly (resume_from: the interrupted job's id); a run that ends, however, clears it.
    """
    mine = resume_dir(job.id)

    def keep(point: ResumePoint) -> None:
        job.flush()  # the progress up to this epoch's end is stored before the point that continues it
        resume.save(point, mine / RESUME)
        (mine / "epoch").write_text(str(point.epoch))

    point = resume.load(resume_dir(resume_from) / RESUME) if resume_from else None
    try:
        outcome = run_training(
            job, ModelConfig.from_dict(model), TrainConfig(**train), source, user_path(name, job.owner), command,
            point, keep,
        )  # fmt: skip
    finally:
        shutil.rmtree(mine, ignore_errors=True)
    if resume_from:
        shutil.rmtree(resume_dir(resume_from), ignore_errors=True)
    return outcome


def sweep_job(job, sweep: dict, folder: str) -> str | None:
    """run_sweep_job on the bundled sample, from a submitted config, in the owner's sweep folder `folder` (a
    name): run again, it carries on where the sweep saved its last finished run."""
    if Path(folder).name != folder or folder in ("", ".", ".."):
        raise ValueError(f"a sweep folder is a plain name, not {folder!r}")
    return run_sweep_job(job, sweep_config_from(sweep), *load_sample(), user_sweeps_dir() / job.owner / folder)


def download_options() -> dict:
    """What a download job passes to download_mnist besides its progress: nothing (the public mirrors); the
    tests point it at a local server here."""
    return {}


def download(job, **options) -> Path:
    """download_mnist(**options), reporting a DownloadProgress for every chunk."""
    return data.download_mnist(
        on_progress=lambda name, done, total: job.report(DownloadProgress(name, done, total)), **options
    )


def run_sweep_job(job, cfg: SweepConfig, train_set: Digits, test_set: Digits, folder: Path | None = None) -> str | None:
    """Run the sweep in `folder` (a new sweep of the job's owner if None), saving each run as it finishes; its
    folder (None if no run finished). Inline: the job already has a worker process of its own."""
    folder = folder or new_sweep_dir(cfg, job.owner)
    sweep = run_sweep(
        cfg,
        folder,
        "inline",
        on_progress=job.report,
        should_stop=job.should_stop,
        command="Truncation lab page",
        train_set=train_set,
        test_set=test_set,
    )
    if not sweep.runs:
        shutil.rmtree(folder, ignore_errors=True)
        return None
    return str(folder)
