"""The main pages at common screen sizes, in Chromium: nothing wider than the window, no control cut short, and
screenshots of each (test-artifacts/layout-<page>-<size>.png) for a person to look at."""

import pytest
from conftest import screenshot, wait_for_layout, wait_until_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SIZES = [(1024, 768), (1280, 720), (1440, 900), (1920, 1080)]
ALL_FIVE = "lstm-128,bilstm-128,lstm-2x128,gru-128,rnn-128"
PAGES = {
    "watch": "watch?digit=8&closer=1",
    "gradients": f"gradients?grad_models={ALL_FIVE}",  # five overlaid models: legends must not cover the axes
    "truncation": "truncation",
    "home": "",
    "math": "math",
}

# Buttons, tabs, page links and segmented controls whose text is cut (an ellipsis, or wider than their box), and
# code blocks that run off their column, by text.
CONTROLS = ':is(button, [role="tab"], label, [data-testid="stMetricValue"], [data-testid="stPageLink"] a, pre)'
CUT_CONTROLS = f"""() => [...document.querySelectorAll(
    '[data-testid="stMain"] {CONTROLS}, [data-testid="stMain"] {CONTROLS} :is(p, div, span)')]
  .filter((e) => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1)
  .map((e) => e.textContent.trim().slice(0, 80)).filter((t) => t)"""


@pytest.mark.parametrize("page_name", list(PAGES))
def test_page_fits_every_window_size(page, app_url, page_name):
    """One load, then each size in turn (the page re-lays out as the window changes, as when a laptop is
    plugged into a projector)."""
    page.set_viewport_size({"width": SIZES[0][0], "height": SIZES[0][1]})
    page.goto(f"{app_url}/{PAGES[page_name]}")
    wait_until_idle(page)
    if page_name != "home":
        page.wait_for_selector(".js-plotly-plot .main-svg, [data-testid='stCode']", timeout=60_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        wait_for_layout(page)  # Plotly lays out again after the resize
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{width}x{height}: {overflow} px wider than the window"
        assert page.evaluate(CUT_CONTROLS) == [], f"{width}x{height}"
        for chart in page.locator(".js-plotly-plot").all():  # no chart wider than the window
            box = chart.bounding_box()
            assert box is None or box["x"] + box["width"] <= width + 1, f"{width}x{height}"
        screenshot(page, f"layout-{page_name}-{width}x{height}")
        screenshot(page, f"layout-{page_name}-{width}x{height}-whole", whole=True)
        page.set_viewport_size({"width": width, "height": height})
