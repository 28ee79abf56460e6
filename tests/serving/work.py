"""Tasks for the job tests, run in real worker processes (named 'tests.serving.work:<function>')."""

import time


def count(job, n: int) -> int:
    """Report 0..n-1, then return n * 10."""
    for i in range(n):
        job.report(i)
    return n * 10


def wait(job, seconds: float = 60.0, marker: str | None = None) -> str:
    """Report once, then wait until stopped (or `seconds` pass); touch `marker` when started, if given."""
    job.report("started")
    if marker:
        open(marker, "w").close()
    end = time.time() + seconds
    while time.time() < end and not job.should_stop():
        time.sleep(0.01)
    return "waited"


def fail(job) -> None:
    raise ValueError("the task broke")


def download_like(job, parts: int, marker: str) -> None:
    """Report DownloadProgress records (they have a fraction), then wait for `marker` to disappear."""
    import os

    from explorer.serving.tasks import DownloadProgress

    for i in range(parts):
        job.report(DownloadProgress("train-images-idx3-ubyte.gz", i + 1, 4 * parts))
    open(marker, "w").close()
    while os.path.exists(marker) and not job.should_stop():
        time.sleep(0.01)


def pid(job) -> int:
    """The worker's process id."""
    import os

    return os.getpid()


def home(job) -> str:
    """The RNN_EXPLORER_HOME the task runs with."""
    import os

    return os.environ["RNN_EXPLORER_HOME"]


def priority(job) -> dict:
    """The worker's scheduling: its policy, and its session group's line in /proc (None where there is none)."""
    import os
    from pathlib import Path

    try:
        group = Path("/proc/self/autogroup").read_text().strip()
    except OSError:
        group = None
    return {"policy": os.sched_getscheduler(0), "autogroup": group, "session": os.getsid(0) == os.getpid()}
