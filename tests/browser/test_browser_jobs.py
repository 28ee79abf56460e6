"""Jobs that outlive the server, in Chromium against real servers: kill -9 of the server mid-training (the job is
shown again after a restart; with its worker gone too, it is interrupted and resumes from its last epoch), and
two server processes on one job table (a job started through one is seen and stopped through the other)."""

import contextlib
import json
import os
import re
import signal
import time

import pytest
from conftest import kill_workers, launch_app, screenshot, wait_until_idle

from explorer.serving.table import JobTable

pytestmark = [pytest.mark.browser, pytest.mark.slow]

STEP = re.compile(r"→ my-lstm-16 · step ([\d,]+) of")


@pytest.fixture
def home(tmp_path):
    yield tmp_path
    kill_workers(tmp_path)  # no worker outlives its test


@contextlib.contextmanager
def servers(home, n: int = 1, **env):
    """n servers on one home folder; yields their (url, process) pairs and kills what is left at the end."""
    started = [launch_app(home, **env) for _ in range(n)]
    try:
        yield started
    finally:
        for _, proc in started:
            proc.kill()
            proc.wait()


def start_training(page, url: str) -> None:
    """The Train page's default LSTM at 16 units, 16 digits a step, 20 epochs: far longer than any test."""
    page.goto(f"{url}/train")
    wait_until_idle(page)
    for key in ("t_hidden", "t_batch"):
        page.locator(f".st-key-{key} input[type=range]").focus()
        page.keyboard.press("Home")
        wait_until_idle(page)
    page.locator(".st-key-t_epochs input").fill("20")
    page.keyboard.press("Enter")
    wait_until_idle(page)
    page.get_by_role("button", name="Start training").click()


def steps_shown(page, timeout: int = 90_000) -> int:
    page.locator('[data-testid="stProgress"]').get_by_text(STEP).wait_for(timeout=timeout)
    return int(STEP.search(page.locator('[data-testid="stProgress"]').inner_text()).group(1).replace(",", ""))


def visit(page, url: str) -> bool:
    page.goto(url)
    wait_until_idle(page)
    return True


def until(condition, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.5)


def running(home) -> list:
    return JobTable(home / "jobs.sqlite3").rows("state = 'running'")


def worker_pids(home) -> list[int]:
    return JobTable(home / "jobs.sqlite3").worker_pids()


def test_a_job_survives_kill_9_of_the_server_and_an_unwatched_one_resumes(browser, home):
    context = browser.new_context(viewport={"width": 1440, "height": 2000})
    page = context.new_page()
    with servers(home) as [(url, proc)]:
        start_training(page, url)
        before = steps_shown(page)
        proc.kill()  # kill -9 of the server, mid-training
        proc.wait()
    (job,) = running(home)
    with servers(home) as [(url, _)]:  # the same visitor (their cookie) opens the restarted server
        page.goto(f"{url}/train")
        wait_until_idle(page)
        later = steps_shown(page)
        page.wait_for_timeout(2000)
        assert later > before and steps_shown(page) > later  # its worker never stopped training
        screenshot(page, "jobs-after-restart")
        for pid in worker_pids(home):  # now the worker goes too, while no server watches it
            os.kill(pid, signal.SIGKILL)
    with servers(home, RNN_EXPLORER_WORKER_STALE_S="2.5") as [(url, _)]:
        interrupted = page.get_by_text("was interrupted: its worker process stopped while no server was watching it")
        until(lambda: visit(page, f"{url}/train") and interrupted.count() == 1)  # once the server's reaper ran
        screenshot(page, "jobs-interrupted")
        assert JobTable(home / "jobs.sqlite3").get(job.id).state == "interrupted"
        resume = page.get_by_role("button", name=re.compile(r"Resume from epoch \d+"))
        epoch = int(re.search(r"\d+", resume.inner_text()).group())
        assert epoch >= 1 and page.get_by_role("button", name="Restart").count() == 1
        resume.click()
        until(lambda: running(home))  # a new job, run by a new worker from that epoch's end
        (again,) = running(home)
        assert again.id != job.id and json.loads(again.config) == json.loads(job.config) | {"resume_from": job.id}
        wait_until_idle(page)
        assert steps_shown(page) >= epoch * 250  # with the progress reported until then carried over
        page.get_by_role("button", name="Stop").click()
        page.get_by_text("Saved my-lstm-16 (stopped early").wait_for(timeout=60_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    context.close()


def test_two_server_processes_share_one_job_table(browser, home):
    context = browser.new_context(viewport={"width": 1440, "height": 2000})
    first, second = context.new_page(), context.new_page()
    with servers(home, 2) as [(one, _), (two, _)]:
        start_training(first, one)
        steps_shown(first)
        second.goto(f"{two}/train")  # the same visitor, through the other server
        wait_until_idle(second)
        steps_shown(second)
        second.get_by_role("button", name="Stop").click()
        second.get_by_text("Saved my-lstm-16 (stopped early").wait_for(timeout=60_000)
        first.reload()
        wait_until_idle(first)
        first.get_by_text("Saved my-lstm-16 (stopped early").wait_for(timeout=30_000)
        assert running(home) == []
    context.close()
