"""A digit change as a visitor sees it: from the keystroke in "Test digit number" to the new animation drawn,
in headless Chromium, with the server idle and while a training job runs on it.

python bench/browser.py            # needs Chromium (apt-get install chromium) and the Python playwright package
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
DRAWN = "() => [...document.querySelectorAll('.stPlotlyChart .gtitle')].some(e => e.textContent.includes({!r}))"


def idle(page) -> None:
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=120_000)


def digit_changes(page, digits: list[int]) -> list[float]:
    """Seconds from typing each digit number (and Enter) to its animation's title on screen."""
    times = []
    box = page.get_by_role("spinbutton", name="Test digit number")
    for d in digits:
        box.fill(str(d))
        start = time.perf_counter()
        box.press("Enter")
        page.wait_for_function(DRAWN.format(f"test digit #{d} "), timeout=60_000)
        times.append(time.perf_counter() - start)
        idle(page)
        page.wait_for_timeout(300)
    return times


def main() -> None:
    server = Server(8766)
    try:
        server.wait_healthy()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(f"http://localhost:{server.port}/watch?digit=0")
            page.wait_for_selector(".stPlotlyChart .hm image", timeout=120_000)
            idle(page)
            digit_changes(page, [1, 2])  # warm up
            idle_times = digit_changes(page, list(range(10, 20)))
            print(
                f"digit change in Chromium, server idle: median {statistics.median(idle_times):.2f} s, "
                f"max {max(idle_times):.2f} s over {len(idle_times)} (target < 0.3 s)"
            )
            trainer = browser.new_page(viewport={"width": 1440, "height": 900})
            trainer.goto(f"http://localhost:{server.port}/train")
            trainer.get_by_role("button", name="Start training").click()
            stop, anyway = (trainer.get_by_role("button", name=n) for n in ("Stop", re.compile("Start anyway")))
            stop.or_(anyway).first.wait_for(timeout=60_000)
            if anyway.count():  # a long run asks before it starts
                anyway.click()
            stop.wait_for(timeout=60_000)
            time.sleep(3)  # into its first epoch
            page.bring_to_front()  # a background tab is not drawn
            busy = digit_changes(page, list(range(30, 40)))
            print(
                f"digit change in Chromium, one training job running: median {statistics.median(busy):.2f} s, "
                f"max {max(busy):.2f} s over {len(busy)} (target < 0.6 s)"
            )
            trainer.get_by_role("button", name="Stop").click()
            browser.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
