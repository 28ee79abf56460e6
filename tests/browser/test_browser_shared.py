"""A shared server in Chromium: a reload finds your running job again, and a visitor's markup stays text."""

import pytest
from conftest import screenshot, wait_until_idle
from untrusted import EVIL_OWNER, evil_checkpoint

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_reload_finds_your_running_job_again(page, app_url):
    page.goto(f"{app_url}/train")
    wait_until_idle(page)
    page.get_by_role("button", name="Start training").click()
    page.get_by_role("button", name="Stop").wait_for(timeout=90_000)  # the job runs
    page.reload()  # a new Streamlit session: the cookie says it is the same visitor
    wait_until_idle(page)
    page.get_by_text("LSTM-128 on the bundled sample → my-lstm-128 · step").wait_for(timeout=30_000)
    stop = page.get_by_role("button", name="Stop")
    stop.wait_for(timeout=30_000)
    assert page.get_by_text("On this server now").count() == 1
    screenshot(page, "train-after-reload")
    stop.click()
    page.get_by_text("Saved ").first.wait_for(timeout=60_000)


def no_markup(page) -> None:
    main = page.locator('[data-testid="stMain"]')
    assert main.locator('a[href*="evil.example"]').count() == 0
    assert main.locator('img[src*="127.0.0.1:9"], img[src="x"]').count() == 0
    assert main.locator("b:has-text('bold'), strong:has-text('strong')").count() == 0
    # The page's own equations are KaTeX; the visitor's $x^2$ must not become one.
    assert "x^2" not in [t.strip() for t in main.locator(".katex annotation").all_text_contents()]
    assert main.locator("a:has-text('www.evil'), a:has-text('a@evil')").count() == 0


def test_a_metadata_injection_checkpoint_stays_text_in_the_browser(page, app_url, server_home):
    evil_checkpoint(server_home / "checkpoints" / EVIL_OWNER)
    name = f"{EVIL_OWNER[:8]}/evil"
    for path in ("home", f"watch?model={name}", f"gradients?grad_models={name}"):
        page.goto(f"{app_url}/{path}")
        wait_until_idle(page)
        no_markup(page)
    page.goto(f"{app_url}/train")
    wait_until_idle(page)
    page.get_by_text("Show other visitors' models").click()  # another visitor's model is listed only then
    wait_until_idle(page)
    page.get_by_label("Checkpoint", exact=True).click()
    page.keyboard.type("evil (visitor")  # the select box filters its options as you type
    page.keyboard.press("Enter")
    wait_until_idle(page)
    assert page.get_by_text("holds no command of this app's CLI").count() == 1
    no_markup(page)
    screenshot(page, "train-evil-metadata", whole=True)
