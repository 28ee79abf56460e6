"""Shared fixtures: an isolated user directory, and a real Streamlit server + headless Chromium for browser tests."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(autouse=True)
def user_home(tmp_path_factory, monkeypatch):
    """Every test gets its own user checkpoint directory and data cache (never the real ~/.rnn-explorer)."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("RNN_EXPLORER_HOME", str(home))
    monkeypatch.setenv("RNN_EXPLORER_CACHE", str(home / "cache"))
    yield home
    kill_workers(home)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server_home(tmp_path_factory):
    """The browser tests' server's RNN_EXPLORER_HOME: a test may put files there for the server to find."""
    return tmp_path_factory.mktemp("server-home")


def kill_workers(home: Path) -> None:
    """End every worker process of the job table in home: workers outlive their server by design, not a test."""
    from explorer.serving.table import JobTable

    if (home / "jobs.sqlite3").exists():
        for pid in JobTable(home / "jobs.sqlite3").worker_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def launch_app(home: Path, port: int | None = None, **env_extra: str) -> tuple[str, subprocess.Popen]:
    """`streamlit run explorer/app.py` on a port (a free one if None) with RNN_EXPLORER_HOME=home, up and healthy;
    (base URL, process). Its log goes to home/streamlit-<port>.log."""
    port = port or _free_port()
    # No ask-first step before a long training run: how long the cost probe estimates the default run depends on
    # the machine's load, and no browser test is about that prompt (AppTests cover it).
    env = os.environ | {
        "RNN_EXPLORER_HOME": str(home),
        "RNN_EXPLORER_CACHE": str(home / "cache"),
        "RNN_EXPLORER_CONFIRM_JOB_MINUTES": "1e6",
        **env_extra,
    }
    log_path = home / f"streamlit-{port}.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "explorer/app.py",
                "--server.port",
                str(port),
                "--server.headless",
                "true",
                "--browser.gatherUsageStats",
                "false",
                "--server.fileWatcherType",
                "none",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=2)
            return url, proc
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError(f"streamlit did not start: {log_path.read_text()}") from None
            time.sleep(0.5)


@pytest.fixture(scope="session")
def app_server(server_home):
    """The browser tests' shared server, with its own user directory; yields (base URL, process)."""
    # Two workers: a job another browser test is still ending (a stop saves its weights first) never holds up the next.
    url, proc = launch_app(server_home, RNN_EXPLORER_WORKERS="2")
    try:
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        kill_workers(server_home)


@pytest.fixture(scope="session")
def app_url(app_server):
    """The browser tests' server's base URL."""
    return app_server[0]


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright; skipped outside CI when Chromium is missing."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run should have installed it")
        pytest.skip("browser tests need Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1440, "height": 1000})
    pg = ctx.new_page()
    yield pg
    ctx.close()


RUN_STATE = "document.querySelector('[data-testid=\"stApp\"]')?.getAttribute('data-test-script-state')"
RENDERED = 'document.querySelector(\'[data-testid="stMain"] [data-testid="stElementContainer"]\')'


# Resolves once the page has stopped moving: the document's and the main container's sizes and every chart's box
# (the chart and its drawn SVG: Plotly lays a chart out again a moment after a resize) the same over `still`
# looks 100 ms apart, or after `timeout` ms.
LAYOUT_STILL = """async ([still, timeout]) => {
  const box = (e) => { const b = e.getBoundingClientRect(); return [b.x, b.y, b.width, b.height]; };
  const main = () => document.querySelector('[data-testid="stMain"]');
  const shape = () => JSON.stringify([document.documentElement.scrollWidth, main()?.scrollHeight,
    ...[...document.querySelectorAll('.js-plotly-plot, .js-plotly-plot .main-svg')].map(box)]);
  const end = performance.now() + timeout;
  let last = shape(), same = 0;
  while (same < still && performance.now() < end) {
    await new Promise((done) => setTimeout(done, 100));
    const now = shape();
    same = now === last ? same + 1 : 0;
    last = now;
  }
}"""


def wait_for_layout(page, still: int = 3, timeout_ms: int = 5_000) -> None:
    """Wait until the layout has stayed the same for `still` looks 100 ms apart (at most timeout_ms)."""
    page.evaluate(LAYOUT_STILL, [still, timeout_ms])


def wait_until_idle(page, timeout_ms: int = 90_000) -> None:
    """Wait until the script has run and drawn: Streamlit 1.67 marks stApp 'initial' before the first run,
    then 'running' and 'notRunning' (so 'not running' alone can be true before anything ran)."""
    page.wait_for_function(f"() => {RUN_STATE} === 'notRunning' && {RENDERED} !== null", timeout=timeout_ms)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=timeout_ms)
    # Widget skeletons linger for a moment after a run ends; then the layout settles.
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stSkeleton\"]')", timeout=timeout_ms)
    wait_for_layout(page, still=2)


def screenshot(page, name: str, whole: bool = False) -> Path:
    """Save a PNG under test-artifacts/. Streamlit scrolls inside its main container, so `whole` first makes
    the viewport as tall as the content (and waits for Plotly to re-lay out)."""
    if whole:
        height = page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
        page.set_viewport_size({"width": page.viewport_size["width"], "height": min(int(height) + 50, 6000)})
        wait_for_layout(page)
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
