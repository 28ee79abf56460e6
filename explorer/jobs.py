"""Background jobs (training, sweeps) in threads: one per browser session, a small global limit, stoppable."""
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

MAX_JOBS = 2  # a 2-core machine stays responsive with two trainings at once


class JobBusy(Exception):
    """A new job was refused: this session already runs one, or the global limit is reached."""


@dataclass
class Job:
    """A background computation; the worker reports progress, the page reads it."""

    id: str
    owner: str
    description: str
    kind: str = ""  # what the work is, e.g. "train", "download" or "sweep"
    status: str = "running"  # running | done | stopped | failed
    result: Any = None
    error: str | None = None
    started: float = field(default_factory=time.time)
    finished: float | None = None
    events: list = field(default_factory=list)  # progress records, appended by the worker
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _stop_seen: bool = field(default=False, repr=False)  # the worker read the stop request (so it stopped)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def running(self) -> bool:
        return self.status == "running"

    def stop(self) -> None:
        """Ask the worker to stop at its next check."""
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


class JobManager:
    """Runs jobs in daemon threads, at most one running per owner and `limit` in all."""

    def __init__(self, limit: int = MAX_JOBS):
        self.limit = limit
        self._jobs: dict[str, Job] = {}  # owner -> latest job
        self._lock = threading.Lock()

    def running(self) -> list[Job]:
        with self._lock:
            return [j for j in self._jobs.values() if j.running]

    def latest(self, owner: str, *kinds: str) -> Job | None:
        """The owner's most recent job (running or finished), if it is of one of these kinds (any if none given)."""
        with self._lock:
            job = self._jobs.get(owner)
        return job if job is not None and (not kinds or job.kind in kinds) else None

    def start(self, owner: str, description: str, work: Callable[[Job], Any], kind: str = "") -> Job:
        """Start work(job) in the background; its return value becomes job.result."""
        with self._lock:
            mine = self._jobs.get(owner)
            if mine is not None and mine.running:
                raise JobBusy(f"You already have a job running ({mine.description}). Stop it or wait for it.")
            busy = sum(j.running for j in self._jobs.values())
            if busy >= self.limit:
                raise JobBusy(f"The server is busy: {busy} jobs are running (limit {self.limit}). "
                              "Try again in a minute.")
            job = Job(uuid.uuid4().hex[:8], owner, description, kind)
            self._jobs[owner] = job
        threading.Thread(target=self._run, args=(job, work), name=f"job-{job.id}", daemon=True).start()
        return job

    @staticmethod
    def _run(job: Job, work: Callable[[Job], Any]) -> None:
        try:
            job.result = work(job)
            # A Stop pressed after the worker's last check came too late to stop anything: the work finished.
            job.status = "stopped" if job._stop_seen else "done"
        except Exception as e:  # the page shows the message; the traceback goes to the server log
            traceback.print_exc()
            job.error = str(e) or type(e).__name__
            job.status = "failed"
        finally:
            job.finished = time.time()

    def wait(self, job: Job, timeout: float = 60.0) -> Job:
        """Block until the job finishes (tests and the CLI)."""
        deadline = time.time() + timeout
        while job.running and time.time() < deadline:
            time.sleep(0.02)
        return job


MANAGER = JobManager()
