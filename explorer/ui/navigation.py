"""The app's pages and its addresses: /home as another name for the home page, and the app's own "not found"
page (with a link to every page) for an address that is no page, instead of Streamlit's dialog."""

import re
import urllib.parse

import streamlit as st

PAGE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")  # the one path segment Streamlit reads as a page name


def requested_page(url: str | None, base_path: str) -> str | None:
    """The page name a browser asked for ('' for the app's root), from the app's URL in the browser and the
    server's base URL path; None when it is not one plain path segment (then Streamlit's own handling stays)."""
    if not url:
        return None
    parts = [p for p in urllib.parse.urlsplit(url).path.split("/") if p]
    base = [p for p in base_path.split("/") if p]
    if parts[: len(base)] != base:
        return None
    rest = parts[len(base) :]
    if not rest:
        return ""
    return rest[0] if len(rest) == 1 and PAGE_NAME.fullmatch(rest[0]) else None


def pages(home: st.Page, others: list[st.Page]) -> list[st.Page]:
    """The app's pages, plus the hidden ones this visit needs: /home, and a not-found page at an unknown address."""

    def to_home():
        st.switch_page(home)

    def not_found():
        st.title("No page here")
        st.write("This app has no page at that address. Its pages are:")
        for page in [home, *others]:
            st.page_link(page)

    out = [home, *others, st.Page(to_home, title="Home", url_path="home", visibility="hidden")]
    known = {p.url_path for p in out}
    asked = requested_page(st.context.url, st.get_option("server.baseUrlPath"))
    if asked and asked not in known:  # a name is set as the page's address only: it is never shown
        out.append(st.Page(not_found, title="No page here", url_path=asked, visibility="hidden"))
    return out
