"""Background jobs (training, sweeps, downloads) that outlive the server: a durable table, worker processes.

A page submits a job (a task's name and its JSON config) to the job table under $RNN_EXPLORER_HOME, after
the limits of explorer.serving.quota; worker processes (explorer.serving.worker) run the queued jobs, on this
machine (at most limits.workers() at once) or on a Ray cluster when $RNN_EXPLORER_RAY_ADDRESS is set. The
Streamlit process only submits, reads progress and asks to stop, so any number of server processes sharing
the home folder show and stop the same jobs, and a job goes on through a restart of the server.

How a job can end besides done, failed and stopped: a worker that its launcher sees die (killed, crashed)
fails its job with the reason; a job whose worker went silent while no launcher watched it (the server and
its workers restarted together, the machine rebooted) is interrupted, and its owner may resume or restart it.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..model.checkpoints import check_owner, home_dir
from . import limits, quota, tasks
from .records import decode
from .table import ACTIVE, JobTable, Row

ROOT = Path(__file__).resolve().parents[2]
RAY_ADDRESS = "RNN_EXPLORER_RAY_ADDRESS"
REAP_EVERY = 1.0  # seconds between two looks for lost workers from one server process
KEEP_HANDLES = 256  # jobs whose progress records one server process keeps decoded


class Job:
    """A live view of one job in the table: every attribute reads the table, so it follows the worker."""

    def __init__(self, manager: "JobManager", row: Row):
        self._manager = manager
        self.id, self.owner, self.kind, self.description = row.id, row.owner, row.kind, row.description
        self.task, self.config = row.task, row.config
        self._events: list = []
        self._seen = -1
        self._lock = threading.Lock()

    def __eq__(self, other) -> bool:
        return isinstance(other, Job) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"Job({self.id}, {self.kind}, {self.status})"

    @property
    def row(self) -> Row:
        return self._manager.table.get(self.id)

    @property
    def status(self) -> str:
        return self.row.state

    @property
    def active(self) -> bool:
        """Queued or running."""
        return self.status in ACTIVE

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def started(self) -> float | None:
        return self.row.started

    @property
    def finished(self) -> float | None:
        return self.row.finished

    @property
    def error(self) -> str | None:
        return self.row.error

    @property
    def result(self):
        return decode(self.row.result)

    @property
    def stop_requested(self) -> bool:
        """Stop was pressed (the worker may not have seen it yet)."""
        return self.row.stop_requested is not None

    def stop(self) -> None:
        self._manager.stop(self)

    def snapshot(self) -> list:
        """The progress records so far, read from the table (only the new ones each time)."""
        with self._lock:
            fresh = self._manager.table.events(self.id, self._seen)
            self._events.extend(decode(text) for _, text in fresh)
            if fresh:
                self._seen = fresh[-1][0]
            return list(self._events)

    def fraction(self) -> float | None:
        """Share of the work done, from the last progress record that knows it (a `fraction` attribute)."""
        last = next((e for e in reversed(self.snapshot()) if hasattr(e, "fraction")), None)
        return None if last is None else float(last.fraction)

    def seconds_left(self, now: float | None = None) -> float | None:
        """Time to the end at the pace so far; None until there is progress to go by."""
        row = self.row
        f = self.fraction()
        if row.state != "running" or row.started is None or not f:
            return None
        return ((now or time.time()) - row.started) * (1 - f) / f


class JobManager:
    """Submits jobs to the table under `home` and keeps its workers going (local processes, or Ray)."""

    def __init__(self, home: Path | None = None, workers: int | None = None, ray_address: str | None = None):
        self.home = Path(home) if home is not None else home_dir()
        self.table = JobTable(self.home / "jobs.sqlite3")
        self._workers = workers
        self.ray_address = ray_address if ray_address is not None else os.environ.get(RAY_ADDRESS) or None
        self.backend = "ray" if self.ray_address else "local"
        self._handles: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._reaped = 0.0

    @property
    def limit(self) -> int:
        """Jobs that run at once here: the pool's size (limits.workers(), read each time, unless given)."""
        return self._workers or limits.workers()

    # Reading ---------------------------------------------------------------------------------------------------

    def job(self, job_id: str) -> Job | None:
        """The job with this id (one handle per job, so its progress records are read from the table once)."""
        with self._lock:
            if job_id not in self._handles:
                row = self.table.get(job_id)
                if row is None:
                    return None
                if len(self._handles) >= KEEP_HANDLES:  # forget the oldest handles (a handle reads anew if needed)
                    for old in list(self._handles)[: KEEP_HANDLES // 2]:
                        del self._handles[old]
                self._handles[job_id] = Job(self, row)
            return self._handles[job_id]

    def _jobs(self, rows: list[Row]) -> list[Job]:
        return [self.job(r.id) for r in rows]

    def active(self) -> list[Job]:
        """Every queued or running job, oldest first."""
        self.refresh()
        return self._jobs(self.table.rows("state IN ('queued', 'running')"))

    def latest(self, owner: str, *kinds: str) -> Job | None:
        """The owner's most recent job of one of these kinds (any if none given), active or ended."""
        self.refresh()
        where, args = "owner = ?", (owner,)
        if kinds:
            where += f" AND kind IN ({', '.join('?' * len(kinds))})"
            args += kinds
        rows = self.table.rows(where, args, order="created DESC LIMIT 1")
        return self.job(rows[0].id) if rows else None

    def queue_position(self, job: Job) -> int | None:
        """1 for the next job to start, and so on; None unless the job is queued."""
        queued = [r.id for r in self.table.rows("state = 'queued'")]
        return queued.index(job.id) + 1 if job.id in queued else None

    # Writing ---------------------------------------------------------------------------------------------------

    def submit(
        self,
        owner: str,
        kind: str,
        description: str,
        task: str,
        config: dict,
        adding: int = 0,
        new_checkpoint: bool = False,
        events: list[str] = (),
    ) -> Job:
        """Queue task(job, **config) for a worker, within the limits (quota.LimitReached says which is reached).

        adding: bytes the job will write (e.g. a checkpoint's estimated size); new_checkpoint: it adds one to
        the visitor's checkpoints (rather than replacing one).
        """
        check_owner(owner)
        quota.check_disk(self.home, owner, adding, new_checkpoint)
        with self.table.transaction() as db:
            quota.check_jobs(db, owner, kind, self.limit)
            job_id = self.table.insert(db, owner, kind, description, task, config, events)
        self.start_workers()
        return self.job(job_id)

    def check_room(self, owner: str, adding: int, new_checkpoint: bool) -> None:
        """Room on disk for `adding` bytes of the visitor's (an upload), or quota.LimitReached."""
        quota.check_disk(self.home, check_owner(owner), adding, new_checkpoint)

    def again(self, job: Job) -> Job:
        """The same task and config as a new job: a training run starts afresh; a sweep carries on in its folder,
        keeping the runs it finished."""
        return self.submit(job.owner, job.kind, job.description, job.task, json.loads(job.config))

    def resume_epoch(self, job: Job) -> int | None:
        """For a training job that ended without finishing: the epochs its saved resume point has done."""
        return tasks.resume_epoch(job.id) if job.kind == "train" and not job.active else None

    def resume(self, job: Job) -> Job:
        """A training job again from its resume point (exactly as if never interrupted), with the progress it
        had reported up to that epoch's end."""
        epoch = self.resume_epoch(job)
        if epoch is None:
            raise ValueError("this job saved no resume point")
        kept = [text for _, text in self.table.events(job.id) if getattr(decode(text), "epoch", 0) <= epoch]
        config = json.loads(job.config) | {"resume_from": job.id}
        return self.submit(job.owner, job.kind, job.description, job.task, config, events=kept)

    def stop(self, job: Job) -> None:
        """Stop a running job at its worker's next beat and step, or take a queued one out of the queue."""
        self.table.request_stop(job.id)

    def wait(self, job: Job, timeout: float = 60.0) -> Job:
        """Block until the job is no longer queued or running (tests, the CLI)."""
        deadline = time.time() + timeout
        while job.active and time.time() < deadline:
            self.refresh()
            time.sleep(0.05)
        return job

    # Workers ---------------------------------------------------------------------------------------------------

    def refresh(self) -> None:
        """At most once a second: interrupt the jobs of silent workers, and start workers for waiting jobs."""
        now = time.time()
        if now - self._reaped < REAP_EVERY:
            return
        self._reaped = now
        self.table.reap()
        self.start_workers()

    def start_workers(self) -> None:
        """One more worker for each waiting job, up to the pool's size (counted in the table, across servers)."""
        while (worker := self.table.add_worker(self.backend, self.limit)) is not None:
            try:
                if self.backend == "ray":
                    self._launch_ray(worker)
                else:
                    self._launch_local(worker)
            except Exception as e:
                self.table.remove_worker(worker)
                raise RuntimeError(f"could not start a worker: {e}") from e

    def _launch_local(self, worker: str) -> None:
        logs = self.home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        # One core per worker (torch reads OMP_NUM_THREADS when it loads): the pool's size is the cores jobs use.
        env = dict(os.environ, PYTHONPATH=path, OMP_NUM_THREADS="1")
        with open(logs / f"worker-{worker}.log", "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "explorer.serving.worker", "--table", str(self.table.path), "--worker", worker],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a restart of the server (even kill -9) leaves its jobs running
            )
        self.table.worker_started(worker, proc.pid)
        threading.Thread(target=self._watch, args=(proc, worker), name=f"watch-{worker}", daemon=True).start()

    def _watch(self, proc: subprocess.Popen, worker: str) -> None:
        code = proc.wait()
        if code != 0:
            how = f"was killed ({signal.Signals(-code).name})" if code < 0 else f"exited with status {code}"
            self.table.worker_lost(
                worker, f"its worker process (pid {proc.pid}) {how} before the job finished; nothing was saved"
            )
        self.start_workers()

    def _launch_ray(self, worker: str) -> None:
        import ray  # optional: pip install ray

        from .worker import serve

        if not ray.is_initialized():
            ray.init(address=self.ray_address, include_dashboard=False, log_to_driver=False)
        ref = ray.remote(num_cpus=1, max_retries=0)(serve).remote(str(self.table.path), worker)
        threading.Thread(target=self._watch_ray, args=(ref, worker), name=f"watch-{worker}", daemon=True).start()

    def _watch_ray(self, ref, worker: str) -> None:
        import ray

        try:
            ray.get(ref)
        except Exception as e:  # the task died with its worker or node
            why = (str(e) or type(e).__name__).strip().splitlines()[0][:200]
            self.table.worker_lost(worker, f"its Ray worker failed before the job finished ({why}); nothing was saved")
        self.start_workers()
