"""Watch it read, run in the browser: the custom component that draws the view, and its offline export.

The component's code is the files in explorer/ui/watch/: watch.js, bundled with esbuild from watch/src/ (one
module per concern; the cells in src/cells.js, one entry per cell), and watch.css. Both are read from the
package when the app starts and handed to st.components.v2; the page asks no other host for anything.

Per model view the server sends one binary blob (`view_blob`): the view's options as JSON, then each model as
explorer.model.portable packs it (weights, config, task, test digits). The browser runs the model itself from
there: a new digit, a drawing, a step or a switch of layer is drawn without the server.
"""

import base64
import html
import json
import struct
from pathlib import Path

import streamlit as st

from ..figures.panels import NAMES
from ..model.unroll import DIRECTIONS

WATCH = Path(__file__).resolve().parent / "watch"
JS = (WATCH / "watch.js").read_text(encoding="utf-8")
CSS = (WATCH / "watch.css").read_text(encoding="utf-8")
VIEW_MAGIC = b"RNXV"
EXPORT_DIGITS = 100  # test digits an offline explorer carries

_watch = st.components.v2.component("rnn_explorer.watch", css=CSS, js=JS)


def view_options(**options) -> dict:
    """The options the view starts from, with the names it shows for states and directions."""
    return {"names": NAMES, "directions": list(DIRECTIONS)} | options


def view_blob(models: list[bytes], options: dict) -> bytes:
    """One message for the component: "RNXV", the options JSON, then each model blob with its length."""
    text = json.dumps(options, separators=(",", ":")).encode()
    out = [VIEW_MAGIC, struct.pack("<I", len(text)), text, struct.pack("<I", len(models))]
    for blob in models:
        out += [struct.pack("<I", len(blob)), blob]
    return b"".join(out)


def parse_view(blob: bytes) -> tuple[dict, list[bytes]]:
    """(options, model blobs) of a view_blob: what the browser's decoder reads, for tests and tools."""
    if blob[:4] != VIEW_MAGIC:
        raise ValueError("not an RNN Explorer view")
    (length,) = struct.unpack_from("<I", blob, 4)
    options = json.loads(blob[8 : 8 + length])
    at = 8 + length
    (count,) = struct.unpack_from("<I", blob, at)
    at += 4
    models = []
    for _ in range(count):
        (size,) = struct.unpack_from("<I", blob, at)
        models.append(blob[at + 4 : at + 4 + size])
        at += 4 + size
    return options, models


def watch_view(blob: bytes, key: str, on_key=None, on_inspect=None):
    """Mount the view; its result's .key is "m" after M was pressed, .inspect the digit sent to the tabs."""
    return _watch(
        data=blob, key=key, on_key_change=on_key or (lambda: None), on_inspect_change=on_inspect or (lambda: None)
    )


def offline_html(blob: bytes, title: str) -> str:
    """A self-contained page that runs the same explorer from a file, offline: the bundle and the view's bytes
    inlined (the bytes as base64), loaded as a module from a blob URL. `title` is escaped: it is text."""
    code = JS.replace("</script", "<\\/script")
    data = base64.b64encode(blob).decode()
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>body {{ margin: 16px 24px; background: #fff; }}
{CSS}</style></head>
<body><div id="rx-app"></div>
<script id="rx-code" type="text/plain">{code}</script>
<script id="rx-data" type="application/octet-stream">{data}</script>
<script type="module">
const code = document.getElementById("rx-code").textContent;
const explorer = await import(URL.createObjectURL(new Blob([code], {{ type: "text/javascript" }})));
const bytes = Uint8Array.from(atob(document.getElementById("rx-data").textContent), (c) => c.charCodeAt(0));
explorer.default({{ data: bytes, parentElement: document.getElementById("rx-app") }});
</script></body></html>
"""
