"""A worker: a process of its own that takes queued jobs from the job table one after another and runs each, so
training never shares the Streamlit process's interpreter; it ends when the queue is empty.

python -m explorer.serving.worker --table HOME/jobs.sqlite3 --worker ID    (started by explorer.serving.jobs)

A thread beats every HEARTBEAT seconds: it stores the progress records reported since the last beat, renews
the worker's heartbeat and reads the job's stop flag, which the job's should_stop() then answers.
"""

import argparse
import contextlib
import importlib
import json
import os
import sys
import threading
import traceback
from pathlib import Path

from .records import encode
from .table import HEARTBEAT, JobTable, Row

NICE = 19  # the lowest priority, where the idle scheduling class is not to be had


def background() -> None:
    """Run this process only when the machine has nothing else to do (Linux's SCHED_IDLE), or at the lowest
    priority: page views, and the visitors' browsers on a shared machine, stay quick while jobs train.

    A worker leads a session of its own (it outlives the server). Where Linux schedules by session (autogroup),
    a session's group gets as much CPU as any other group, whatever its tasks' policy: so the group is set to
    the lowest priority too."""
    with contextlib.suppress(OSError):  # no autogroup (a kernel without it, or another system): nothing to set
        Path("/proc/self/autogroup").write_text(str(NICE))
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        return
    with contextlib.suppress(OSError):  # a system that refuses only leaves the worker at the server's priority
        os.nice(NICE)


class WorkerJob:
    """What a task sees of its job: id, owner, report(record), should_stop(), flush()."""

    def __init__(self, row: Row, table: JobTable):
        self.id, self.owner, self.kind = row.id, row.owner, row.kind
        self._table = table
        self._records: list[str] = []
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._stop = threading.Event()
        self.stop_seen = False  # the task read a stop request, so it stopped

    def report(self, record) -> None:
        text = encode(record)
        with self._lock:
            self._records.append(text)

    def should_stop(self) -> bool:
        if self._stop.is_set():
            self.stop_seen = True
        return self.stop_seen

    def flush(self) -> None:
        """Store the records reported so far (the heartbeat does every beat; a task before it saves a resume
        point, so the stored progress always reaches the point)."""
        with self._flushing:
            with self._lock:
                records, self._records = self._records, []
            self._table.append(self.id, records)


def task_function(task: str):
    """'package.module:function' -> the function (tasks are named by the server's code, never by a visitor)."""
    module, _, name = task.partition(":")
    return getattr(importlib.import_module(module), name)


def run_job(table: JobTable, worker: str, row: Row) -> None:
    """Run one claimed job to its end and record how it ended."""
    job = WorkerJob(row, table)
    done = threading.Event()

    def beat() -> None:
        while not done.wait(HEARTBEAT):
            job.flush()
            if table.heartbeat(worker, job.id):
                job._stop.set()

    beating = threading.Thread(target=beat, name=f"beat-{job.id}", daemon=True)
    beating.start()
    state, result, error = "failed", None, None
    try:
        value = task_function(row.task)(job, **json.loads(row.config))
        result = encode(value)
        state = "stopped" if job.stop_seen else "done"
    except Exception as e:  # the page shows the message; the traceback goes to the worker's log
        traceback.print_exc()
        error = str(e) or type(e).__name__
    finally:
        done.set()
        beating.join()
        job.flush()
        table.finish(job.id, state, result, error)


def serve(table_path: str, worker: str) -> None:
    """Claim and run queued jobs until none is left, then leave the worker table."""
    if "torch" in sys.modules:  # a Ray worker may have it already; a new process reads OMP_NUM_THREADS
        sys.modules["torch"].set_num_threads(1)
    os.environ["RNN_EXPLORER_HOME"] = str(Path(table_path).resolve().parent)  # the tasks save beside the table
    table = JobTable(table_path)
    table.worker_started(worker, os.getpid())
    try:
        while (row := table.claim(worker)) is not None:
            run_job(table, worker, row)
    finally:
        table.remove_worker(worker)


def main() -> None:
    parser = argparse.ArgumentParser(description="Run queued RNN Explorer jobs until the queue is empty.")
    parser.add_argument("--table", required=True, help="the job table (HOME/jobs.sqlite3)")
    parser.add_argument("--worker", required=True, help="this worker's id, registered in the table by its launcher")
    args = parser.parse_args()
    background()
    serve(args.table, args.worker)


if __name__ == "__main__":
    main()
