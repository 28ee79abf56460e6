"""The Lesson page in Chromium: every step at 1280x720 and 1920x1080, plain and in presentation mode, opens with no
exception and its view on screen (screenshots in test-artifacts/lesson-*.png); the keys turn the steps, and the
step survives a reload."""

import pytest
from conftest import screenshot, wait_for_layout, wait_until_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WATCH_STEPS = {1, 3, 8, 9}  # the steps whose view is the Watch browser view (the lesson file says so)
VIEW_READY = """() => [...document.querySelectorAll('*')].map((e) => e.shadowRoot?.querySelector('.rx-root'))
  .find((r) => r)?.rnnExplorer?.traces"""


def open_step(page, app_url: str, n: int, present: str | None) -> None:
    page.goto(f"{app_url}/lesson?step={n}" + (f"&present={present}" if present else ""))
    wait_until_idle(page)
    if n in WATCH_STEPS:
        page.wait_for_function(VIEW_READY, timeout=30_000)
    else:
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60_000)
        wait_for_layout(page, still=2)
    assert page.locator('[data-testid="stException"]').count() == 0, n


def view_box(page, n: int) -> dict:
    """Where the step's view is: the browser view's heatmaps and bars, or the figure."""
    thing = page.locator(".rx-bars").first if n in WATCH_STEPS else page.locator(".js-plotly-plot").first
    return thing.bounding_box()


ALL = range(1, 13)
SOME = (1, 2, 4, 6, 7, 10, 12)  # a step of each kind of view: watch, memory, chain, truncation, sweep, forget, accuracy


@pytest.mark.parametrize(
    "width,height,present,steps",
    [(1280, 720, None, ALL), (1920, 1080, "on", ALL), (1920, 1080, None, SOME), (1280, 720, "on", SOME)],
)
def test_every_step_opens_with_its_view_on_screen(page, app_url, width, height, present, steps):
    page.set_viewport_size({"width": width, "height": height})
    mode = {720: "1", 1080: "1080"}[height] if present else None
    for n in steps:
        open_step(page, app_url, n, mode)
        box = view_box(page, n)
        assert box and box["y"] >= 0 and box["y"] < height - 100 and box["x"] + box["width"] <= width + 1, (n, box)
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (n, overflow)
        if present:
            assert page.locator('section[data-testid="stSidebar"]').is_hidden()
            buttons = page.locator(".st-key-lesson_next button").bounding_box()
            assert buttons["y"] + buttons["height"] <= height, (n, "Next is below the screen")
        screenshot(page, f"lesson-{'present' if present else 'plain'}-{width}x{height}-step{n:02d}")


def test_keys_turn_the_steps_and_a_reload_keeps_the_step(page, app_url):
    page.set_viewport_size({"width": 1280, "height": 720})
    open_step(page, app_url, 2, "1")
    page.locator("h3").first.click()  # the focus on the page, not in a control
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => location.search.includes('step=3')", timeout=30_000)
    wait_until_idle(page)
    page.wait_for_function(VIEW_READY, timeout=30_000)
    page.keyboard.press("PageDown")
    page.wait_for_function("() => location.search.includes('step=4')", timeout=30_000)
    wait_until_idle(page)
    page.keyboard.press("PageUp")
    page.wait_for_function("() => location.search.includes('step=3')", timeout=30_000)
    wait_until_idle(page)
    page.reload()
    wait_until_idle(page)
    page.wait_for_function(VIEW_READY, timeout=30_000)
    assert "step=3" in page.url and "present=1" in page.url
    assert "3/12" in page.locator("h3").first.inner_text()
