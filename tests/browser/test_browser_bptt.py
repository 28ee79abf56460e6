"""The Gradients and Truncation pages in headless Chromium: they render charts, no errors; screenshots for a look."""

import pytest
from conftest import screenshot, wait_for_layout, wait_until_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def open_page(page, app_url: str, path: str) -> None:
    page.goto(f"{app_url}/{path}")
    wait_until_idle(page, 90_000)
    page.wait_for_selector(".js-plotly-plot .main-svg", timeout=30_000)
    wait_for_layout(page)  # let Plotly finish laying out every chart


def assert_clean(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0


@pytest.mark.parametrize(
    "url_path,reading,charts",
    [
        ("gradients", "this fraction reaches row 1", 6),  # with the profile over training
        ("truncation", "never backpropagates into a row of the digit", 5),
    ],
)
def test_page_in_chromium(page, app_url, url_path, reading, charts):
    open_page(page, app_url, url_path)
    assert_clean(page)
    assert page.locator(".js-plotly-plot").count() == charts
    if url_path == "truncation":  # the picture and its headline lead; the findings are one click below
        main = page.inner_text('[data-testid="stMain"]')
        assert main.index("Truncating costs up to") < main.index("The full statistics") and reading not in main
        page.get_by_text("The full statistics").click()
        page.wait_for_timeout(500)
    assert reading in page.inner_text('[data-testid="stMain"]')
    if url_path == "gradients":  # the BPTT recursion is typeset: KaTeX keeps its source in an annotation
        assert any(r"\delta_t" in t for t in page.locator(".katex annotation").all_text_contents())
    screenshot(page, url_path, whole=True)


def test_sweep_progress_and_stop_in_chromium(page, app_url):
    open_page(page, app_url, "truncation")
    page.get_by_text("Run your own sweep").click()
    run = page.get_by_role("button", name="Run sweep")
    run.wait_for(state="visible", timeout=30_000)
    wait_until_idle(page)
    run.click()
    try:
        page.get_by_text("Training LSTM, full BPTT, seed 0 (run 1 of 6)").wait_for(timeout=90_000)
    except Exception:
        screenshot(page, "truncation-sweep-did-not-start", whole=True)  # what the page showed instead
        raise
    screenshot(page, "truncation-running")
    page.get_by_role("button", name="Stop").click()
    page.get_by_text("The sweep was stopped before any model finished").wait_for(timeout=90_000)
    wait_until_idle(page)
    assert_clean(page)
    assert page.locator(".js-plotly-plot").count() == 5  # the shipped results are still shown


def test_every_row_loss_and_the_gradient_check_in_chromium(page, app_url):
    open_page(page, app_url, "gradients")
    page.get_by_test_id("stRadioGroup").get_by_text("every row").click()
    page.get_by_text("the loss after row 28 alone").first.wait_for(timeout=60_000)
    wait_until_idle(page)
    main = page.inner_text('[data-testid="stMain"]')
    assert "Like for like" in main and "(exploding)" not in main
    page.get_by_text("Gradient check: is this BPTT right?").click()
    toggle = page.get_by_label("Run the check (4 digits, float64)")
    toggle.wait_for(state="attached", timeout=30_000)
    wait_until_idle(page)
    for _ in range(3):  # a click that lands while the expander is still opening can be lost: check it took
        if toggle.is_checked():
            break
        page.get_by_text("Run the check (4 digits, float64)").click()
        page.wait_for_timeout(1000)
    assert toggle.is_checked()
    try:
        page.get_by_text("PASS: the largest relative error").wait_for(timeout=60_000)
    except Exception:
        screenshot(page, "gradient-check-did-not-pass", whole=True)  # what the page showed instead
        raise
    wait_until_idle(page)
    assert_clean(page)
    screenshot(page, "gradients-every-row-and-check", whole=True)
