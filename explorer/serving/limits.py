"""The server's limits, in one place: background jobs, and how much work a page may do.

Each can be overridden by an environment variable (read when used, so tests and operators can set them).
"""

import os

MAX_RUNNING_JOBS = 2  # trainings at once on the server; more wait in a queue (a 2-core box stays responsive)


def _env_float(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value > 0 else default


def max_job_minutes() -> float:
    """Longest estimated training or sweep the server accepts ($RNN_EXPLORER_MAX_JOB_MINUTES, default 30)."""
    return _env_float("RNN_EXPLORER_MAX_JOB_MINUTES", 30.0)


def confirm_job_minutes() -> float:
    """Estimated length above which starting a job needs a confirmation ($RNN_EXPLORER_CONFIRM_JOB_MINUTES, 5)."""
    return _env_float("RNN_EXPLORER_CONFIRM_JOB_MINUTES", 5.0)


# Analysis pages: how long one chart may compute (explorer.serving.budget scales its number of digits to the model).
CHART_SECONDS = 2.0
