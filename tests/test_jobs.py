"""Background jobs: per-owner and global limits, stop, results and failures."""
import threading

import pytest

from explorer.jobs import JobBusy, JobManager


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


def test_one_job_per_owner_and_global_limit():
    m = JobManager(limit=2)
    release = threading.Event()
    a = m.start("a", "first", blocking(release))
    with pytest.raises(JobBusy, match="already have a job"):
        m.start("a", "second", blocking(release))
    b = m.start("b", "other session", blocking(release))
    with pytest.raises(JobBusy, match="busy"):
        m.start("c", "third session", blocking(release))
    assert {j.owner for j in m.running()} == {"a", "b"}
    release.set()
    m.wait(a), m.wait(b)
    assert a.status == b.status == "done"
    m.wait(m.start("c", "now there is room", blocking(release)))


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
