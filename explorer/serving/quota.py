"""What a visitor and the server may still take: jobs at once, the queue, sweeps a day, checkpoints and disk.

Each check raises LimitReached with a message that says which limit, its number, and what to do; nothing is
started or written when one does. The numbers are explorer.serving.limits (environment variables).
"""

import shutil
import sqlite3
import time
from pathlib import Path

from ..experiments.storage import user_sweeps_dir
from ..model.checkpoints import SUFFIX, owner_dir
from . import limits

MB = 1e6
DAY = 86_400.0


class LimitReached(Exception):
    """A job or an upload was refused: the message says which limit and what to do."""


def folder_bytes(folder: Path) -> int:
    """Bytes of every file under folder (0 if it does not exist)."""
    if not folder.exists():
        return 0
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def visitor_bytes(owner: str) -> int:
    """Disk a visitor's checkpoints and sweeps use."""
    return folder_bytes(owner_dir(owner)) + folder_bytes(user_sweeps_dir() / owner)


def check_jobs(db: sqlite3.Connection, owner: str, kind: str, workers: int) -> None:
    """The visitor's jobs at once, the queue's bound and (for a sweep) the sweeps of the last 24 hours."""
    (mine,) = db.execute(
        "SELECT COUNT(*) FROM jobs WHERE owner = ? AND state IN ('queued', 'running')", (owner,)
    ).fetchone()
    if mine >= limits.max_jobs_per_visitor():
        raise LimitReached(
            f"You already have {mine} jobs queued or running, the most one visitor may have at once: stop one "
            "or wait for it to finish."
        )
    (queued,) = db.execute("SELECT COUNT(*) FROM jobs WHERE state = 'queued'").fetchone()
    (running,) = db.execute("SELECT COUNT(*) FROM jobs WHERE state = 'running'").fetchone()
    if queued >= limits.max_queue():
        raise LimitReached(
            f"The server's queue is full: {queued} jobs are waiting behind the {running} running on its "
            f"{workers} worker{'s' if workers != 1 else ''}, and yours would be number {queued + 1} in a queue that "
            f"holds {limits.max_queue()}. Nothing was started and your settings are kept: try again when a job "
            "has finished."
        )
    if kind == "sweep":
        (today,) = db.execute(
            "SELECT COUNT(*) FROM jobs WHERE owner = ? AND kind = 'sweep' AND created > ?", (owner, time.time() - DAY)
        ).fetchone()
        if today >= limits.max_sweeps_per_day():
            raise LimitReached(
                f"You have started {today} sweeps in the last 24 hours, the most one visitor may: the shipped "
                "experiment and your earlier sweeps stay open below."
            )


def check_disk(home: Path, owner: str, adding: int = 0, new_checkpoint: bool = False) -> None:
    """Room for `adding` more bytes of this visitor's (and one more checkpoint, if new_checkpoint)."""
    free = shutil.disk_usage(home if home.exists() else home.parent).free
    if free - adding < limits.free_megabytes_floor() * MB:
        raise LimitReached(
            f"The server's disk is nearly full ({free / MB:,.0f} MB free; it keeps {limits.free_megabytes_floor():,.0f}"
            " MB free): nothing new can be saved until its operator makes room."
        )
    used = folder_bytes(home)
    if used + adding > limits.server_megabytes() * MB:
        raise LimitReached(
            f"The server's models and sweeps use {used / MB:,.0f} MB of the {limits.server_megabytes():,.0f} MB it "
            "allows: nothing new can be saved until its operator makes room."
        )
    mine = visitor_bytes(owner)
    if mine + adding > limits.visitor_megabytes() * MB:
        raise LimitReached(
            f"Your checkpoints and sweeps use {mine / MB:,.1f} MB of the {limits.visitor_megabytes():,.0f} MB one "
            f"visitor may keep{f', and this would add about {adding / MB:,.1f} MB' if adding else ''}: delete some "
            "of your checkpoints on the Train page first."
        )
    if new_checkpoint:
        count = len(list(owner_dir(owner).glob("*" + SUFFIX))) if owner_dir(owner).exists() else 0
        if count >= limits.max_checkpoints_per_visitor():
            raise LimitReached(
                f"You have {count} checkpoints, the most one visitor may keep: delete one on the Train page, or "
                "save under the name of one of yours to replace it."
            )
