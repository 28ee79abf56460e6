"""Background jobs (training, sweeps, downloads) in threads: one per owner, a few at once, the rest queued.

The app keeps one JobManager per server process (explorer.ui holds it in st.cache_resource); jobs belong
to an owner id, so a visitor who reloads the page finds their job again.
"""

import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from .limits import MAX_RUNNING_JOBS

JobStatus = Literal["queued", "running", "done", "stopped", "failed"]
ACTIVE = ("queued", "running")


class JobBusy(Exception):
    """A new job was refused: this owner already has one running or queued."""


@dataclass
class Job:
    """A background computation; the worker reports progress, the page reads it."""

    id: str
    owner: str
    description: str
    kind: str = ""  # what the work is, e.g. "train", "download" or "sweep"
    status: JobStatus = "queued"
    result: Any = None
    error: str | None = None
    queued_at: float = field(default_factory=time.time)
    started: float | None = None  # when it began running
    finished: float | None = None
    events: list = field(default_factory=list)  # progress records, appended by the worker
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _stop_seen: bool = field(default=False, repr=False)  # the worker read the stop request (so it stopped)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def active(self) -> bool:
        """Queued or running."""
        return self.status in ACTIVE

    @property
    def running(self) -> bool:
        return self.status == "running"

    def stop(self) -> None:
        """Ask the worker to stop at its next check (a queued job is dropped before it starts)."""
        self._stop.set()

    def should_stop(self) -> bool:
        """Called by the worker between steps; a True answer it receives counts as the job stopping."""
        if self._stop.is_set():
            self._stop_seen = True
        return self._stop_seen

    @property
    def stop_requested(self) -> bool:
        """Stop was pressed (the worker may not have seen it yet); for pages, which must not call should_stop."""
        return self._stop.is_set()

    def report(self, record: Any) -> None:
        with self._lock:
            self.events.append(record)

    def snapshot(self) -> list:
        """A copy of the progress records so far (safe to read while the worker appends)."""
        with self._lock:
            return list(self.events)

    def fraction(self) -> float | None:
        """Share of the work done, from the last progress record that knows it (a `fraction` attribute)."""
        with self._lock:
            last = next((e for e in reversed(self.events) if hasattr(e, "fraction")), None)
        return None if last is None else float(last.fraction)

    def seconds_left(self, now: float | None = None) -> float | None:
        """Time to the end at the pace so far; None until there is progress to go by."""
        f = self.fraction()
        if not self.running or self.started is None or not f:
            return None
        elapsed = (now or time.time()) - self.started
        return elapsed * (1 - f) / f


class JobManager:
    """Runs jobs in daemon threads: at most `limit` at once and one active job per owner; the rest queue."""

    def __init__(self, limit: int = MAX_RUNNING_JOBS):
        self.limit = limit
        self._latest: dict[str, Job] = {}  # owner -> their latest job
        self._active: list[Job] = []  # queued and running, in the order they were started
        self._work: dict[str, Callable[[Job], Any]] = {}
        self._lock = threading.Lock()

    def active(self) -> list[Job]:
        """Every queued or running job on the server, oldest first."""
        with self._lock:
            return list(self._active)

    def latest(self, owner: str, *kinds: str) -> Job | None:
        """The owner's most recent job (active or finished), if it is of one of these kinds (any if none given)."""
        with self._lock:
            job = self._latest.get(owner)
        return job if job is not None and (not kinds or job.kind in kinds) else None

    def queue_position(self, job: Job) -> int | None:
        """1 for the next job to start, and so on; None unless the job is queued."""
        with self._lock:
            queued = [j for j in self._active if j.status == "queued"]
        return queued.index(job) + 1 if job in queued else None

    def start(self, owner: str, description: str, work: Callable[[Job], Any], kind: str = "") -> Job:
        """Run work(job) in the background now, or queue it while the server is full; its return value becomes
        job.result."""
        with self._lock:
            mine = self._latest.get(owner)
            if mine is not None and mine.active:
                raise JobBusy(f"You already have a job {mine.status} ({mine.description}). Stop it or wait for it.")
            job = Job(uuid.uuid4().hex[:8], owner, description, kind)
            self._latest[owner] = job
            self._active.append(job)
            self._work[job.id] = work
        self._start_queued()
        return job

    def stop(self, job: Job) -> None:
        """Stop a running job at its next step, or drop a queued one."""
        job.stop()
        with self._lock:
            if job.status == "queued":
                job.status, job.finished = "stopped", time.time()
                self._active.remove(job)
                self._work.pop(job.id, None)

    def _start_queued(self) -> None:
        with self._lock:
            starting = []
            for job in self._active:
                if sum(j.status == "running" for j in self._active) >= self.limit:
                    break
                if job.status == "queued":
                    job.status, job.started = "running", time.time()
                    starting.append((job, self._work.pop(job.id)))
        for job, work in starting:
            threading.Thread(target=self._run, args=(job, work), name=f"job-{job.id}", daemon=True).start()

    def _run(self, job: Job, work: Callable[[Job], Any]) -> None:
        status: JobStatus = "failed"
        try:
            job.result = work(job)
            # A Stop pressed after the worker's last check came too late to stop anything: the work finished.
            status = "stopped" if job._stop_seen else "done"
        except Exception as e:  # the page shows the message; the traceback goes to the server log
            traceback.print_exc()
            job.error = str(e) or type(e).__name__
        finally:
            job.finished = time.time()
            with self._lock:
                job.status = status
                self._active.remove(job)
            self._start_queued()

    def wait(self, job: Job, timeout: float = 60.0) -> Job:
        """Block until the job finishes (tests and the CLI)."""
        deadline = time.time() + timeout
        while job.active and time.time() < deadline:
            time.sleep(0.02)
        return job
