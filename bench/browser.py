"""Watch it read in headless Chromium, as a visitor sees it: the first page after a cold start (a server's very
first, and after a restart on the same home), and how long the browser view takes from an input to the drawn
frame (a digit change, a step, a layer switch, a pen stroke), with the server idle and while two training jobs
run on it.

python bench/browser.py              # needs Chromium (apt-get install chromium) and the Python playwright package
python bench/browser.py --workers 2  # both training jobs at once
python bench/browser.py --cold 5     # only the cold first pages: five very first starts, each then restarted

Each timing runs inside the page: performance.now() before the input's event is dispatched, then after the
next two animation frames (the view redraws synchronously in the handler, or in the frame after a pen move;
the second frame is the one the browser has painted by then).
"""

import re
import statistics
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import Server

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking"]
VIEW = """[...document.querySelectorAll('*')].map((e) => e.shadowRoot?.querySelector('.rx-root')).find((r) => r)"""
READY = f"() => ({VIEW})?.rnnExplorer?.traces"
FRAMES = "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"

# One input, timed to the painted frame; `act` is JS run with the view's root as `root`.
TIMED = f"""async (act) => {{
  const root = {VIEW};
  const frames = {FRAMES};
  const start = performance.now();
  new Function("root", act)(root);
  await frames();
  return performance.now() - start;
}}"""

# A digit change timed until the view has also written when the answer settled (it works that out after the
# painted frame: a bidirectional model re-runs its backward direction on every prefix for it).
SETTLED = f"""async () => {{
  const root = {VIEW};
  const start = performance.now();
  document.dispatchEvent(new KeyboardEvent('keydown', {{ key: 'n', bubbles: true }}));
  const guess = root.querySelector('.rx-guess');
  while (!guess.textContent.includes(' · ')) await new Promise((done) => setTimeout(done, 1));
  return performance.now() - start;
}}"""

KEY = "document.dispatchEvent(new KeyboardEvent('keydown', { key: '%s', bubbles: true }))"
LAYER = (
    "const s = root.querySelector('.rx-field select'); s.value = String(1 - Number(s.value));"
    " s.dispatchEvent(new Event('change'))"
)
# A pen move across the pad (pointer events in the pad's own coordinates), one per call.
STROKE = """const pad = root.querySelector('.rx-pad'), box = pad.getBoundingClientRect();
const k = (root.__k = (root.__k || 0) + 1) % 40, x = box.left + box.width * (0.3 + 0.01 * k);
const y = box.top + box.height * (0.15 + 0.018 * k);
const at = { clientX: x, clientY: y, pointerId: 1, bubbles: true };
if (k === 1) pad.dispatchEvent(new PointerEvent('pointerdown', at));
pad.dispatchEvent(new PointerEvent('pointermove', at));"""


def open_watch(page, port: int, query: str) -> float:
    start = time.perf_counter()
    page.goto(f"http://localhost:{port}/watch?{query}")
    page.wait_for_function(READY, timeout=120_000)
    return time.perf_counter() - start


def timed(page, act: str, n: int) -> list[float]:
    page.evaluate(TIMED, act)  # warm up
    return [page.evaluate(TIMED, act) for _ in range(n)]


def report(label: str, ms: list[float], target: float | None) -> None:
    spread = f"median {statistics.median(ms):6.1f} ms, max {max(ms):6.1f} ms over {len(ms)}"
    print(f"  {label:<38} {spread}" + (f" (target <= {target:g} ms)" if target else ""))


def measure(page, port: int, state: str) -> None:
    print(f"browser view, {state}:")
    open_watch(page, port, "model=lstm-128&digit=0")
    report("digit change (N), LSTM-128", timed(page, KEY % "n", 20), 50)
    report("one row back (←), LSTM-128", timed(page, KEY % "ArrowLeft", 20), 50)
    page.get_by_role("button", name="Draw your own").click()
    report("pen stroke to heatmaps, LSTM-128", timed(page, STROKE, 20), 50)
    open_watch(page, port, "model=lstm-2x128&digit=0")
    report("layer switch, LSTM-2x128", timed(page, LAYER, 10), 50)
    open_watch(page, port, "model=bilstm-128&digit=0")
    report("digit change (N), BiLSTM-128", timed(page, KEY % "n", 20), 50)
    report("  ... to its 'settled' clause", [page.evaluate(SETTLED) for _ in range(10)], None)
    page.get_by_role("button", name="Draw your own").click()
    report("pen stroke to heatmaps, BiLSTM-128", timed(page, STROKE, 20), 100)


def start_training(browser, port: int):
    """A visitor of their own starts the Train page's default run; returns the page (to stop it later)."""
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(f"http://localhost:{port}/train")
    page.get_by_role("button", name="Start training").click()
    stop = page.get_by_role("button", name=re.compile("^(Stop|Leave the queue)$"))  # queued when no worker is free
    anyway = page.get_by_role("button", name=re.compile("Start anyway"))
    stop.or_(anyway).first.wait_for(timeout=60_000)
    if anyway.count():  # a long run asks before it starts
        anyway.click()
    stop.wait_for(timeout=60_000)
    return page


def cold_page(p, server: Server) -> float:
    """The first Watch page of a server just started, in a browser just started (nothing cached)."""
    server.wait_healthy()
    browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
    try:
        return open_watch(browser.new_page(viewport={"width": 1440, "height": 900}), server.port, "digit=0")
    finally:
        browser.close()


def cold_pair(p, env: dict) -> tuple[float, float, str]:
    """A server's very first start on a new home, then the same server restarted on that home: their first
    Watch pages (s), and the home."""
    server = Server(8766, **env)
    try:
        first = cold_page(p, server)
    finally:
        server.stop()
    server = Server(8767, home=server.home, **env)  # restarted: what it found out the first time is kept
    try:
        return first, cold_page(p, server), server.home
    finally:
        server.stop()


def main() -> None:
    workers = sys.argv[sys.argv.index("--workers") + 1] if "--workers" in sys.argv else None
    cold_runs = int(sys.argv[sys.argv.index("--cold") + 1]) if "--cold" in sys.argv else 0
    # The app's default pool is half the cores (1 here: one of the two jobs trains, the other waits); --workers 2
    # trains both at once, each in a worker process of its own, on a machine that also runs the browser.
    env = {"RNN_EXPLORER_WORKERS": workers} if workers else {}
    with sync_playwright() as p:
        if cold_runs:  # --cold N: only the cold pages, N pairs
            pairs = [cold_pair(p, env)[:2] for _ in range(cold_runs)]
            for name, times in (("a very first start", [a for a, _ in pairs]), ("a restart", [b for _, b in pairs])):
                print(f"cold first Watch page, {name}: {min(times):.2f}-{max(times):.2f} s over {len(times)}")
            return
        first, cold, home = cold_pair(p, env)
        print(
            f"cold first Watch page, a server's very first start (a new home): {first:.2f} s from the request to "
            "the drawn view (it checks every model's header and packs the model, in NumPy)"
        )
        print(f"cold first Watch page, the server restarted: {cold:.2f} s (target < 2.5 s)")
        server = Server(8768, home=home, **env)
        try:
            server.wait_healthy()
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            warm = [open_watch(page, server.port, f"digit={d}") for d in range(1, 6)]
            print(f"Watch page again: median {statistics.median(warm):.2f} s over {len(warm)}")
            measure(page, server.port, "server idle")
            trainers = [start_training(browser, server.port) for _ in range(2)]
            time.sleep(3)  # into their first epochs
            page.bring_to_front()  # a background tab is not drawn
            measure(page, server.port, f"two training jobs submitted ({workers or 'default'} worker(s))")
            for t in trainers:
                t.get_by_role("button", name=re.compile("^(Stop|Leave the queue)$")).click()
            browser.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
