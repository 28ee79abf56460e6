"""The Train page in headless Chromium: start a short training, watch the live curve grow, stop it, look at it."""

import re

import pytest
from conftest import screenshot, wait_until_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

STEP = re.compile(r"step ([\d,]+) of ([\d,]+)")


def slide_to_start(page, key: str) -> None:
    page.locator(f".st-key-{key} input[type=range]").focus()
    page.keyboard.press("Home")
    wait_until_idle(page)


def progress(page) -> tuple[int, int]:
    """(steps done, last step drawn on the loss curve) as the page shows them now."""
    text = page.locator('[data-testid="stProgress"]').inner_text()
    last = page.evaluate("Math.max(...document.querySelector('.st-key-t_curves .js-plotly-plot')._fullData[1].x)")
    return int(STEP.search(text).group(1).replace(",", "")), last


def test_train_watch_the_curve_grow_then_stop(page, app_url):
    page.set_viewport_size({"width": 1440, "height": 2600})  # Streamlit scrolls inside its main container
    page.goto(f"{app_url}/train")
    wait_until_idle(page)
    slide_to_start(page, "t_hidden")  # 16 units
    slide_to_start(page, "t_batch")  # 16 digits per step: 250 steps per epoch, many redraws
    page.locator(".st-key-t_epochs input").fill("20")
    page.keyboard.press("Enter")
    wait_until_idle(page)
    assert "--hidden 16 --epochs 20 --batch-size 16" in page.locator('[data-testid="stCode"]').first.inner_text()

    page.get_by_role("button", name="Start training").click()
    page.wait_for_selector(".st-key-t_curves .js-plotly-plot", timeout=120_000)
    first = progress(page)
    page.wait_for_timeout(3000)
    later = progress(page)
    assert later[0] > first[0] and later[1] > first[1]  # the live curve is redrawn as steps arrive
    screenshot(page, "train-running")
    page.get_by_role("button", name="Stop").click()
    page.get_by_text("Saved my-lstm-16 (stopped early").wait_for(timeout=60_000)
    wait_until_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stMetric"]').count() == 6
    screenshot(page, "train")
