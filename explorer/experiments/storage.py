"""Sweeps on disk: a JSON summary written atomically next to the kept models; listing, owners, new folders."""

import json
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..model.checkpoint_file import read_checkpoint
from ..model.checkpoints import OWNER_PATTERN, check_owner, home_dir, save_checkpoint
from ..training.loop import History
from .results import Sweep, SweepRun
from .spec import RunSpec, SweepConfig, SweepError

FORMAT = "rnn-explorer-sweep/2"


SUMMARY = "sweep.json"


def user_sweeps_dir() -> Path:
    """Where the app saves the visitors' sweeps: next to the user checkpoints, never in the repo."""
    return home_dir() / "sweeps"


def shipped_sweep_dir() -> Path:
    """The precomputed experiment shipped in the repo (not a model folder: list_checkpoints does not look inside)."""
    return Path(__file__).resolve().parents[2] / "checkpoints" / "sweep"


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


def sweep_config_from(raw: dict) -> SweepConfig:
    """The SweepConfig a summary (or a job) records as JSON."""
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
        cfg = sweep_config_from(summary["config"])
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
