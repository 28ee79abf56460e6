"""Background jobs: per-owner and global limits, the queue, stop, progress, results and failures."""

import threading
from dataclasses import dataclass

import pytest

from explorer.serving.jobs import JobBusy, JobManager


def blocking(release: threading.Event):
    def work(job):
        job.report("started")
        while not release.is_set() and not job.should_stop():
            release.wait(0.01)
        return "result"

    return work


def test_result_and_progress():
    m = JobManager()
    job = m.wait(m.start("a", "sum", lambda job: [job.report(i) for i in range(3)] and 42))
    assert job.status == "done" and job.result == 42 and job.snapshot() == [0, 1, 2]
    assert m.latest("a") is job and m.latest("b") is None


def test_latest_by_kind():
    m = JobManager()
    job = m.wait(m.start("a", "sweep", lambda job: None, kind="sweep"))
    assert m.latest("a", "sweep") is job and m.latest("a") is job and m.latest("a", "train") is None
    assert m.latest("a", "train", "sweep") is job and m.latest("a", "train", "download") is None


def test_one_job_per_owner_a_global_limit_and_a_queue():
    m = JobManager(limit=2)
    release = threading.Event()
    a = m.start("a", "first", blocking(release))
    with pytest.raises(JobBusy, match="already have a job running"):
        m.start("a", "second", blocking(release))
    b = m.start("b", "other visitor", blocking(release))
    c = m.start("c", "third visitor", blocking(release))
    d = m.start("d", "fourth visitor", blocking(release))
    assert [j.status for j in (a, b, c, d)] == ["running", "running", "queued", "queued"]
    assert [m.queue_position(j) for j in (a, b, c, d)] == [None, None, 1, 2]
    assert m.active() == [a, b, c, d] and m.latest("c") is c
    with pytest.raises(JobBusy, match="already have a job queued"):
        m.start("c", "again", blocking(release))
    m.stop(c)  # leaving the queue: it never runs
    assert c.status == "stopped" and c.started is None and m.queue_position(d) == 1
    a.stop()
    m.wait(a)
    m.wait(d, timeout=0.5)  # d took a's slot
    assert a.status == "stopped" and d.running and d.started >= a.finished
    release.set()
    m.wait(b), m.wait(d)
    assert b.status == d.status == "done" and m.active() == []


@dataclass(frozen=True)
class Progress:
    fraction: float


def test_fraction_and_time_left_come_from_the_last_progress_record():
    m = JobManager()
    release, reported = threading.Event(), threading.Event()

    def work(job):
        job.report("no fraction here")
        job.report(Progress(0.25))
        reported.set()
        release.wait(5)

    job = m.start("a", "w", work)
    reported.wait(5)
    assert job.fraction() == 0.25
    assert job.seconds_left(now=job.started + 10) == pytest.approx(30)  # 10 s for a quarter: 30 s to go
    release.set()
    m.wait(job)
    assert job.seconds_left() is None


def test_stop_and_failure():
    m = JobManager()
    job = m.start("a", "long", blocking(threading.Event()))
    job.stop()
    assert m.wait(job).status == "stopped" and job.result == "result"

    def fail(job):
        raise ValueError("bad settings")

    failed = m.wait(m.start("a", "fails", fail))
    assert failed.status == "failed" and failed.error == "bad settings" and failed.finished


def test_a_stop_the_work_never_saw_leaves_it_done():
    m = JobManager()
    checked, release = threading.Event(), threading.Event()

    def work(job):  # checks for a stop once, then finishes regardless (as training does after its last step)
        stopping = job.should_stop()
        checked.set()
        release.wait(5)
        return stopping

    job = m.start("a", "almost done", work)
    checked.wait(5)
    job.stop()  # pressed while the work was saving its result
    release.set()
    assert m.wait(job).status == "done" and job.result is False and job.stop_requested
