"""The server's limits, in one place: background jobs and their quotas, and how much work a page may do.

Each can be overridden by an environment variable (read when used, so tests and operators can set them);
README lists them.
"""

import os


def _env_float(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value > 0 else default


def _env_int(name: str, default: int) -> int:
    try:
        value = int(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value > 0 else default


def workers() -> int:
    """Jobs that run at once, one worker process each ($RNN_EXPLORER_WORKERS, default half the cores, at least 1)."""
    return _env_int("RNN_EXPLORER_WORKERS", max(1, (os.cpu_count() or 2) // 2))


def max_queue() -> int:
    """Jobs that may wait for a worker; one more is refused ($RNN_EXPLORER_MAX_QUEUE, default 16)."""
    return _env_int("RNN_EXPLORER_MAX_QUEUE", 16)


def max_jobs_per_visitor() -> int:
    """One visitor's queued and running jobs at once ($RNN_EXPLORER_MAX_JOBS_PER_VISITOR, default 2)."""
    return _env_int("RNN_EXPLORER_MAX_JOBS_PER_VISITOR", 2)


def max_sweeps_per_day() -> int:
    """Sweeps one visitor may start in 24 hours ($RNN_EXPLORER_MAX_SWEEPS_PER_DAY, default 5)."""
    return _env_int("RNN_EXPLORER_MAX_SWEEPS_PER_DAY", 5)


def max_checkpoints_per_visitor() -> int:
    """Checkpoints one visitor may keep ($RNN_EXPLORER_MAX_CHECKPOINTS_PER_VISITOR, default 20)."""
    return _env_int("RNN_EXPLORER_MAX_CHECKPOINTS_PER_VISITOR", 20)


def visitor_megabytes() -> float:
    """Disk one visitor's checkpoints and sweeps may use ($RNN_EXPLORER_VISITOR_MB, default 300)."""
    return _env_float("RNN_EXPLORER_VISITOR_MB", 300.0)


def server_megabytes() -> float:
    """Disk everything under RNN_EXPLORER_HOME may use ($RNN_EXPLORER_DISK_BUDGET_MB, default 5000)."""
    return _env_float("RNN_EXPLORER_DISK_BUDGET_MB", 5000.0)


def free_megabytes_floor() -> float:
    """Free disk below which nothing new is written ($RNN_EXPLORER_MIN_FREE_MB, default 1000)."""
    return _env_float("RNN_EXPLORER_MIN_FREE_MB", 1000.0)


def max_job_minutes() -> float:
    """Longest estimated training or sweep the server accepts ($RNN_EXPLORER_MAX_JOB_MINUTES, default 30)."""
    return _env_float("RNN_EXPLORER_MAX_JOB_MINUTES", 30.0)


def confirm_job_minutes() -> float:
    """Estimated length above which starting a job needs a confirmation ($RNN_EXPLORER_CONFIRM_JOB_MINUTES, 5)."""
    return _env_float("RNN_EXPLORER_CONFIRM_JOB_MINUTES", 5.0)


# Analysis pages: how long one chart may compute (explorer.serving.budget scales its number of digits to the model).
CHART_SECONDS = 2.0
