"""The app's addresses: /home opens the home page, an unknown address the app's own "not found" with links."""

import pytest
from conftest import wait_until_idle

from explorer.ui.navigation import requested_page


@pytest.mark.parametrize(
    "url,base,expected",
    [
        ("http://h:8501/", "", ""),
        ("http://h:8501", "", ""),
        ("http://h:8501/home", "", "home"),
        ("http://h/explorer/nosuch", "explorer", "nosuch"),
        ("http://h/explorer/", "/explorer/", ""),
        ("http://h/other/nosuch", "explorer", None),  # not under the base path
        ("http://h/a/b", "", None),  # not one segment: Streamlit's own handling stays
        ("http://h/%3Cb%3E", "", None),  # anything but letters, digits, _ and - is left alone
        ("http://h/" + "x" * 65, "", None),
        (None, "", None),
    ],
)
def test_the_requested_page_is_one_plain_segment_under_the_base_path(url, base, expected):
    assert requested_page(url, base) == expected


@pytest.mark.browser
def test_home_and_an_unknown_address_open_pages_of_the_app(page, app_url):
    page.goto(f"{app_url}/home")
    wait_until_idle(page)
    assert page.url.rstrip("/") == app_url  # switched to the home page at /
    assert page.get_by_role("heading", name="RNN Explorer").count() == 1
    assert page.locator('[role="dialog"]').count() == 0
    page.goto(f"{app_url}/no-such-page")
    wait_until_idle(page)
    main = page.locator('[data-testid="stMain"]')
    assert main.get_by_role("heading", name="No page here").count() == 1
    assert page.locator('[role="dialog"]').count() == 0  # not Streamlit's "Page not found" dialog
    links = main.locator('[data-testid="stPageLink"] a')
    assert [t.splitlines()[-1] for t in links.all_inner_texts()] == [  # after the icon's ligature name
        "Home",
        "Watch it read",
        "Gradients through time",
        "Truncation lab",
        "Memory across cells",
        "The math",
        "Lesson",
        "Train",
    ]
    links.nth(1).click()
    wait_until_idle(page)
    assert page.url.startswith(f"{app_url}/watch")
