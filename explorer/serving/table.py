"""The durable job table: one SQLite file (WAL) under $RNN_EXPLORER_HOME that every server process and worker shares.

A job's life: queued -> running -> done | failed | stopped, or interrupted when its worker vanished while no
server watched it (a restart or a reboot), from where a visitor may resume or restart it. Progress records
live in `events`, so any server process can draw any job; `workers` has one row per worker process, with a
heartbeat its process renews every HEARTBEAT seconds.

Every write is one short transaction (BEGIN IMMEDIATE where a decision reads what it writes), so two server
processes and any number of workers can share the file.
"""

import json
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

STATES = ("queued", "running", "done", "failed", "stopped", "interrupted")
ACTIVE = ("queued", "running")
HEARTBEAT = 0.5  # seconds between a worker's heartbeats (and its reads of the stop flag)
STALE = 10.0  # a worker silent this long is gone ($RNN_EXPLORER_WORKER_STALE_S overrides it)


BOOT = 60.0  # a new worker's first heartbeat may come this late: starting Python and torch takes seconds


def stale_seconds() -> float:
    """How long a worker may be silent before its job counts as interrupted."""
    try:
        value = float(os.environ.get("RNN_EXPLORER_WORKER_STALE_S", STALE))
    except ValueError:
        return STALE
    return value if value > 4 * HEARTBEAT else STALE


SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, kind TEXT NOT NULL, description TEXT NOT NULL,
    task TEXT NOT NULL, config TEXT NOT NULL, state TEXT NOT NULL, created REAL NOT NULL,
    started REAL, finished REAL, worker TEXT, stop_requested REAL, result TEXT, error TEXT
);
CREATE INDEX IF NOT EXISTS jobs_by_owner ON jobs (owner, created);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, created);
CREATE TABLE IF NOT EXISTS events (job TEXT NOT NULL, seq INTEGER NOT NULL, record TEXT NOT NULL,
    PRIMARY KEY (job, seq));
CREATE TABLE IF NOT EXISTS workers (
    id TEXT PRIMARY KEY, backend TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER, started REAL NOT NULL,
    heartbeat REAL NOT NULL, job TEXT
);
"""


@dataclass(frozen=True)
class Row:
    """One job as the table holds it (config and result still JSON text)."""

    id: str
    owner: str
    kind: str
    description: str
    task: str
    config: str
    state: str
    created: float
    started: float | None
    finished: float | None
    worker: str | None
    stop_requested: float | None
    result: str | None
    error: str | None


COLUMNS = ", ".join(Row.__dataclass_fields__)


def new_id() -> str:
    return uuid.uuid4().hex[:12]


class JobTable:
    """The job table at `path` (created on first use)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()  # one connection per thread, opened once: pages read every second
        db = self._connect()
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA synchronous=NORMAL")
        return db

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One transaction that holds the write lock from its first read (BEGIN IMMEDIATE)."""
        db = self._connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        return self._connect().execute(sql, args).fetchall()

    # Jobs -----------------------------------------------------------------------------------------------------

    def insert(
        self,
        db: sqlite3.Connection,
        owner: str,
        kind: str,
        description: str,
        task: str,
        config: dict,
        events: list[str] = (),
    ) -> str:
        """A new queued job (with progress records carried over from a job it resumes), inside a transaction of
        the caller's (which checked the limits first)."""
        job_id = new_id()
        db.execute(
            "INSERT INTO jobs (id, owner, kind, description, task, config, state, created) "
            "VALUES (?, ?, ?, ?, ?, ?, 'queued', ?)",
            (job_id, owner, kind, description, task, json.dumps(config), time.time()),
        )
        db.executemany(
            "INSERT INTO events (job, seq, record) VALUES (?, ?, ?)", [(job_id, i, r) for i, r in enumerate(events)]
        )
        return job_id

    def get(self, job_id: str) -> Row | None:
        rows = self._read(f"SELECT {COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        return Row(*rows[0]) if rows else None

    def rows(self, where: str = "1", args: tuple = (), order: str = "created") -> list[Row]:
        return [Row(*r) for r in self._read(f"SELECT {COLUMNS} FROM jobs WHERE {where} ORDER BY {order}", args)]

    def request_stop(self, job_id: str) -> None:
        """Ask a running job's worker to stop; a queued job is taken out of the queue at once."""
        with self.transaction() as db:
            now = time.time()
            db.execute("UPDATE jobs SET stop_requested = ? WHERE id = ? AND stop_requested IS NULL", (now, job_id))
            db.execute(
                "UPDATE jobs SET state = 'stopped', finished = ? WHERE id = ? AND state IN ('queued', 'interrupted')",
                (now, job_id),
            )

    def claim(self, worker: str) -> Row | None:
        """The oldest queued job, now running on this worker; None when the queue is empty."""
        with self.transaction() as db:
            found = db.execute("SELECT id FROM jobs WHERE state = 'queued' ORDER BY created LIMIT 1").fetchone()
            if found is None:
                db.execute("UPDATE workers SET job = NULL WHERE id = ?", (worker,))
                return None
            db.execute(
                "UPDATE jobs SET state = 'running', started = ?, worker = ? WHERE id = ?",
                (time.time(), worker, found[0]),
            )
            db.execute("UPDATE workers SET job = ?, heartbeat = ? WHERE id = ?", (found[0], time.time(), worker))
        return self.get(found[0])

    def finish(self, job_id: str, state: str, result: str | None = None, error: str | None = None) -> None:
        """The job's end (result as JSON text), written once: a job that already ended keeps its end."""
        assert state in STATES and state not in ACTIVE
        with self.transaction() as db:
            db.execute(
                "UPDATE jobs SET state = ?, finished = ?, result = ?, error = ? WHERE id = ? AND state = 'running'",
                (state, time.time(), result, error, job_id),
            )

    # Progress -------------------------------------------------------------------------------------------------

    def append(self, job_id: str, records: list[str]) -> None:
        """Progress records (JSON text, explorer.serving.records) after those already stored."""
        if not records:
            return
        with self.transaction() as db:
            (last,) = db.execute("SELECT COALESCE(MAX(seq), -1) FROM events WHERE job = ?", (job_id,)).fetchone()
            db.executemany(
                "INSERT INTO events (job, seq, record) VALUES (?, ?, ?)",
                [(job_id, last + 1 + i, r) for i, r in enumerate(records)],
            )

    def events(self, job_id: str, after: int = -1) -> list[tuple[int, str]]:
        """(seq, record) of the job's progress records after `after`."""
        return self._read("SELECT seq, record FROM events WHERE job = ? AND seq > ? ORDER BY seq", (job_id, after))

    # Workers --------------------------------------------------------------------------------------------------

    def add_worker(self, backend: str, slots: int) -> str | None:
        """Register a new worker of this backend if fewer than `slots` live ones exist and a job waits; its id."""
        with self.transaction() as db:
            fresh = time.time() - stale_seconds()
            (live,) = db.execute(
                "SELECT COUNT(*) FROM workers WHERE backend = ? AND heartbeat > ?", (backend, fresh)
            ).fetchone()
            (queued,) = db.execute("SELECT COUNT(*) FROM jobs WHERE state = 'queued'").fetchone()
            (idle,) = db.execute(
                "SELECT COUNT(*) FROM workers WHERE backend = ? AND heartbeat > ? AND job IS NULL", (backend, fresh)
            ).fetchone()
            if live >= slots or queued <= idle:
                return None
            worker = new_id()
            now = time.time()
            db.execute(  # counted as live from now on, with BOOT seconds to send its first heartbeat
                "INSERT INTO workers (id, backend, host, started, heartbeat) VALUES (?, ?, ?, ?, ?)",
                (worker, backend, socket.gethostname(), now, now + BOOT - stale_seconds()),
            )
        return worker

    def worker_started(self, worker: str, pid: int) -> None:
        with self.transaction() as db:
            db.execute("UPDATE workers SET pid = ?, heartbeat = ? WHERE id = ?", (pid, time.time(), worker))

    def heartbeat(self, worker: str, job_id: str | None) -> bool:
        """Renew the worker's heartbeat; whether its job should stop: a stop was asked, or the job is no longer
        running (a worker that was silent too long finds its job interrupted and gives up)."""
        with self.transaction() as db:
            db.execute("UPDATE workers SET heartbeat = ? WHERE id = ?", (time.time(), worker))
            if job_id is None:
                return False
            row = db.execute("SELECT stop_requested, state FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return row is None or row[0] is not None or row[1] != "running"

    def worker_pids(self) -> list[int]:
        """The process ids of the workers registered now (any host)."""
        return [pid for (pid,) in self._read("SELECT pid FROM workers WHERE pid IS NOT NULL")]

    def remove_worker(self, worker: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM workers WHERE id = ?", (worker,))

    def worker_lost(self, worker: str, why: str) -> str | None:
        """A worker ended without finishing its job (its launcher saw it die): the job fails with `why`."""
        with self.transaction() as db:
            row = db.execute("SELECT job FROM workers WHERE id = ?", (worker,)).fetchone()
            db.execute("DELETE FROM workers WHERE id = ?", (worker,))
            job = row[0] if row else None
            if job is not None:
                db.execute(
                    "UPDATE jobs SET state = 'failed', finished = ?, error = ? WHERE id = ? AND state = 'running'",
                    (time.time(), why, job),
                )
        return job

    def reap(self, stale: float | None = None) -> list[str]:
        """Running jobs whose worker is silent for `stale` seconds and, on this machine, no longer a live process
        (nobody saw it end) become interrupted; their ids. A live local worker is never given up on, however
        long a loaded machine keeps its heartbeat waiting."""
        host = socket.gethostname()
        with self.transaction() as db:
            fresh = time.time() - (stale if stale is not None else stale_seconds())
            silent = db.execute(
                "SELECT j.id, w.id, w.host, w.pid FROM jobs j LEFT JOIN workers w ON j.worker = w.id "
                "WHERE j.state = 'running' AND (w.id IS NULL OR w.heartbeat <= ?)",
                (fresh,),
            ).fetchall()
            lost = [job for job, worker, on, pid in silent if not (on == host and pid and alive(pid))]
            for job in lost:
                db.execute(
                    "UPDATE jobs SET state = 'interrupted', finished = ?, error = ? WHERE id = ?",
                    (time.time(), "its worker process stopped while no server was watching it", job),
                )
            gone = db.execute("SELECT id, host, pid FROM workers WHERE heartbeat <= ?", (fresh,)).fetchall()
            for worker, on, pid in gone:
                if not (on == host and pid and alive(pid)):
                    db.execute("DELETE FROM workers WHERE id = ?", (worker,))
        return lost


def alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (a zombie counts as ended)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
