"""Presentation mode for Watch it read: a projector-sized view with keyboard control.

`?present=1` (or 720) fits the animation, its controls and the prediction into a 1280x720 screen, `?present=1080`
into 1920x1080; the sidebar and secondary controls are hidden (they still run, so every choice in the URL
applies). Keys: Space play/pause, ←/→ one row back/forward (in the browser, on the animation itself), N the
next test digit, M the next model (on the server).

The keys come in through a Streamlit custom component (st.components.v2, Streamlit's own API; its code runs
in the page, not in an iframe). Its script is this module's constant: nothing a visitor supplies reaches it.
"""

import streamlit as st

from .state import remember, remembered, url_toggle

SCREENS = {"1": 720, "720": 720, "1080": 1080}  # ?present=… -> the screen height it fits

# The page's CSS in presentation mode: no sidebar, header or toolbar, and the hidden containers (keys
# "present_hidden…") out of sight; type a size larger.
CSS = """<style>
section[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], header[data-testid="stHeader"],
[data-testid="stToolbar"], [class*="st-key-present_hidden"] { display: none !important; }
[data-testid="stMainBlockContainer"] { padding: 0.4rem 1.5rem 0 1.5rem !important; max-width: 100% !important; }
[data-testid="stMain"] p { font-size: 1.25rem; }
</style>"""

# Space: Pause while playing, else Resume (Play from row 1 at the end). Arrows: move the animation's slider one
# step by pressing it at the neighbouring tick, as a click there would. N, M: sent to the server.
JS = """
export default function (component) {
  const { setTriggerValue } = component;
  const doc = document;
  const scan = () => doc.querySelector('.stPlotlyChart .js-plotly-plot');
  const button = (gd, text) => [...gd.querySelectorAll('.updatemenu-button')].find(
    (b) => b.textContent.trim().endsWith(text));
  const rowsRead = (gd) => {
    const label = [...gd.querySelectorAll('.slider-label')].find((e) => e.textContent.startsWith('rows read'));
    return label ? parseInt(label.textContent.split(':')[1], 10) : null;
  };
  // Playing or not: set by the buttons, whoever presses them (these keys or the mouse); the end of the
  // animation (rows read = T) counts as stopped.
  const hook = (gd) => {
    if (gd.__keysHooked) return;
    gd.__keysHooked = true;
    gd.__playing = false;
    gd.addEventListener('click', (e) => {
      const b = e.target.closest && e.target.closest('.updatemenu-button');
      if (b) gd.__playing = !b.textContent.includes('Pause');
    }, true);
  };
  const click = (b) => b && b.dispatchEvent(new MouseEvent('click', { bubbles: true }));
  const press = (target, type, x, y) => target.dispatchEvent(new MouseEvent(type, {
    bubbles: true, cancelable: true, view: window, clientX: x, clientY: y, button: 0, buttons: 1 }));
  const step = (gd, by) => {
    const ticks = gd.querySelectorAll('.slider-tick-rect');
    const rail = gd.querySelector('.slider-rail-touch-rect');
    const now = rowsRead(gd);
    if (!ticks.length || !rail || now === null) return;
    if (gd.__playing) { click(button(gd, 'Pause')); }
    const next = Math.min(Math.max(now + by, 1), ticks.length);
    const tick = ticks[next - 1].getBoundingClientRect();
    const box = rail.getBoundingClientRect();
    const x = tick.left + tick.width / 2, y = box.top + box.height / 2;
    press(rail, 'mousedown', x, y);
    press(gd, 'mouseup', x, y);
  };
  const toggle = (gd) => {
    const atEnd = rowsRead(gd) >= gd.querySelectorAll('.slider-tick-rect').length;
    click(button(gd, gd.__playing && !atEnd ? 'Pause' : (atEnd ? 'Play' : 'Resume')));
  };
  const onKey = (e) => {
    const t = e.target;
    const typing = t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
    if (e.ctrlKey || e.metaKey || e.altKey || typing) return;
    const gd = scan();
    if (gd) hook(gd);
    if (e.key === ' ' && gd) { e.preventDefault(); toggle(gd); }
    else if (e.key === 'ArrowRight' && gd) { e.preventDefault(); step(gd, 1); }
    else if (e.key === 'ArrowLeft' && gd) { e.preventDefault(); step(gd, -1); }
    else if (e.key === 'n' || e.key === 'N') { setTriggerValue('key', 'n'); }
    else if (e.key === 'm' || e.key === 'M') { setTriggerValue('key', 'm'); }
  };
  if (window.__rnnExplorerKeys) doc.removeEventListener('keydown', window.__rnnExplorerKeys);
  window.__rnnExplorerKeys = onKey;
  doc.addEventListener('keydown', onKey);
  const gd = scan();
  if (gd) hook(gd);
  return () => {
    if (window.__rnnExplorerKeys !== onKey) return;
    doc.removeEventListener('keydown', onKey);
    window.__rnnExplorerKeys = null;
  };
}
"""

_keys = st.components.v2.component("rnn_explorer.keys", js=JS)


def presenting() -> int | None:
    """The screen height presentation mode fits (720 or 1080), or None when it is off; from the URL/session."""
    return SCREENS.get(str(remembered("present", "0")))


def presentation_toggle() -> int | None:
    """The sidebar's switch for presentation mode (kept in the URL as ?present=…); returns presenting()."""
    url_toggle(
        "Presentation mode",
        "present",
        presenting() is not None,
        help="For a projector: the animation and the prediction fill a 1280x720 screen (?present=1080 for "
        "1920x1080), no sidebar. Keys: Space play/pause, ←/→ a row, N next digit, M next model.",
    )
    return presenting()


def leave_button() -> None:
    st.button(
        "Exit",
        icon=":material/close_fullscreen:",
        help="Leave presentation mode",
        on_click=lambda: remember("present", "0"),
    )


def keyboard() -> str | None:
    """Listen for the presentation keys. Space and ←/→ act on the animation in the browser; returns "n" or "m"
    in the rerun that pressing N or M causes (call this before the widgets those keys change are drawn)."""
    with st.container(key="present_hidden_keys"):
        result = _keys(key="present_keys", on_key_change=lambda: None)
    pressed = result.get("key") if result is not None else None
    return pressed if pressed in ("n", "m") else None
