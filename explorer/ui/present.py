"""Presentation mode for Watch it read: a projector-sized view with keyboard control.

`?present=1` (or 720) fits the browser view, its controls and the prediction into a 1280x720 screen,
`?present=1080` into 1920x1080; the sidebar and the tabs under the view are hidden. The keys (Space play/pause,
←/→ one row, N the next test digit, all in the browser; M the next model, which asks the server for its
weights) are the view's own (explorer/ui/watch/src/view.js).
"""

from pathlib import Path

import streamlit as st

from .state import remember, remembered, url_toggle

SCREENS = {"1": 720, "720": 720, "1080": 1080}  # ?present=… -> the screen height it fits

# The page's CSS in presentation mode (a file beside the view's own).
CSS = f"<style>{(Path(__file__).resolve().parent / 'watch' / 'present.css').read_text(encoding='utf-8')}</style>"


def presenting() -> int | None:
    """The screen height presentation mode fits (720 or 1080), or None when it is off; from the URL/session."""
    return SCREENS.get(str(remembered("present", "0")))


PRESENT_KEYS = "Space play/pause · ←/→ one row · N next digit · M next model"  # the view shows it as its legend
WATCH_HELP = (
    "For a projector: the animation and the prediction fill a 1280x720 screen (?present=1080 for 1920x1080), no "
    "sidebar. Keys: Space play/pause, ←/→ a row, N next digit, M next model."
)


def presentation_toggle(help: str = WATCH_HELP) -> int | None:
    """The sidebar's switch for presentation mode (kept in the URL as ?present=…); returns presenting()."""
    url_toggle("Presentation mode", "present", presenting() is not None, help=help)
    return presenting()


def leave_button() -> None:
    st.button(
        "Exit",
        icon=":material/close_fullscreen:",
        help="Leave presentation mode",
        on_click=lambda: remember("present", "0"),
    )
