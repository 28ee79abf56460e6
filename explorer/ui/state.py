"""Choices kept across reruns, pages and reloads (session state mirrored in the URL); who the visitor is;
and making untrusted text safe for Markdown."""

import hashlib
import re
import secrets

import streamlit as st

MAX_PARAM = 200  # longer URL parameters are ignored: nothing here needs more


def remembered(key: str, default=None):
    """A choice that survives page switches and reloads: session state, else the URL query string."""
    if key not in st.session_state:
        value = st.query_params.get(key, default)
        st.session_state[key] = value if not isinstance(value, str) or len(value) <= MAX_PARAM else default
    return st.session_state[key]


OWNER_COOKIE = "rnn_explorer_owner"


TOKEN = re.compile(r"[A-Za-z0-9_-]{32,86}")


def owner_id() -> str:
    """This browser's owner id: a hash of a random token the browser keeps in a cookie, so a reload is the same
    visitor. A new browser gets a new token (stored by keep_owner_cookie)."""
    if "_owner" not in st.session_state:
        try:
            token = st.context.cookies.get(OWNER_COOKIE)
        except Exception:  # no browser behind this session (AppTest, bare mode)
            token = None
        if not (isinstance(token, str) and TOKEN.fullmatch(token)):
            token = secrets.token_urlsafe(32)
            st.session_state["_owner_cookie"] = token
        st.session_state["_owner"] = hashlib.sha256(token.encode()).hexdigest()[:16]
    return st.session_state["_owner"]


def keep_owner_cookie() -> None:
    """Store a new visitor's token in their browser, once (a first-party cookie for this server, one year)."""
    owner_id()
    token = st.session_state.pop("_owner_cookie", None)
    if token:  # only our own [A-Za-z0-9_-] token goes into the script
        st.html(
            f"<script>document.cookie = '{OWNER_COOKIE}={token}; path=/; max-age=31536000; SameSite=Strict';</script>",
            unsafe_allow_javascript=True,
        )


def owner_tag(owner: str) -> str:
    """How another visitor is named on screen: the first 4 digits of their owner id."""
    return f"visitor {owner[:4]}"


_MARKUP = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&=\"'@^%;,?/])")


_WJ = "\u2060"  # word joiner: invisible, and breaks GitHub-style autolinks (www., http://, a@b)


def plain(text, limit: int | None = 500) -> str:
    """Any text made safe to put inside Markdown: every markup character escaped, autolinks broken, one line, cut
    to `limit` characters (None: whole, for the app's own sentences and validated lesson text).

    For whatever a visitor supplied (names, file names, URL parameters, error messages that quote a file).
    """
    text = re.sub(r"(?i)(www)(\.)", "\\1" + _WJ + "\\2", str(text) if limit is None else str(text)[:limit])
    text = text.replace(":", _WJ + ":").replace("@", _WJ + "@")
    return _MARKUP.sub(r"\\\1", text).replace("\n", " ").replace("\r", " ")


def remember(key: str, value) -> None:
    """Store a choice in session state and in the URL (so a view can be shared by link)."""
    st.session_state[key] = value
    st.query_params[key] = str(value)


def synced(widget_key: str, value) -> str:
    """Show `value` in the widget with this key (set before the widget is drawn, so user changes go via on_change)."""
    st.session_state[widget_key] = value
    return widget_key


def url_toggle(label: str, key: str, on: bool, **kwargs) -> bool:
    """A switch kept in the URL as key=1 / key=0 (so a shared link opens with it set); `on` is its current state
    as the page reads it from there. Returns the state the switch shows."""
    wk = synced(f"_widget_{key}", on)
    return st.toggle(label, key=wk, on_change=lambda: remember(key, "1" if st.session_state[wk] else "0"), **kwargs)


def kept(widget, label: str, key: str, default, **kwargs):
    """A widget whose value is kept across reruns and page switches (session state; not in the URL), with
    `default` the first time: the one way the pages remember a setting that is not worth a link."""
    store, widget_key = f"_kept_{key}", key
    st.session_state.setdefault(store, default)
    # Widget state is dropped when its page is left, and reset when a parameter such as max_value changes (a new
    # widget to Streamlit); the store, updated on every change, puts the value back before the widget is built.
    st.session_state[widget_key] = st.session_state[store]
    low, high = kwargs.get("min_value"), kwargs.get("max_value")  # a range that moved with another setting
    for bound, beyond in ((high, lambda v: v > high), (low, lambda v: v < low)):
        if bound is not None and beyond(st.session_state[widget_key]):
            st.session_state[widget_key] = st.session_state[store] = bound

    def keep() -> None:
        st.session_state[store] = st.session_state[widget_key]

    return widget(label, key=widget_key, on_change=keep, **kwargs)
