"""Watch it read, run in the browser: the custom component that draws the view, and its offline export.

The component's code is the files in explorer/ui/watch/: watch.js, bundled with esbuild from watch/src/ (one
module per concern; the cells in src/cells.js, one entry per cell), and watch.css. Both are read from the
package when the app starts and handed to st.components.v2; the page asks no other host for anything.

Per model view the page sends the view's options and a link to each model as explorer.model.portable packs it
(weights, config, task, test digits): `view_data`. The blob itself is a static file that Streamlit serves
(server.enableStaticServing, from explorer/static/), named by its SHA-256: the browser fetches it once and its
HTTP cache keeps it, so a page open passes a few hundred bytes through the visitor's session instead of the
model (100 visitors opening the page at once queued behind 1.2 MB each). Where static serving is off, the page
sends the bytes themselves (`view_blob`, as the offline export does). The browser runs the model itself from
there: a new digit, a drawing, a step or a switch of layer is drawn without the server.
"""

import base64
import contextlib
import functools
import gzip
import hashlib
import html
import json
import os
import struct
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from ..figures.panels import NAMES
from ..model.catalog import Catalog, file_version, source_digest
from ..model.checkpoints import home_dir
from ..model.config import DIRECTIONS
from ..model.header import CheckpointError
from .loaders import packed_model
from .widgets import unreadable

if TYPE_CHECKING:
    from ..data.sequences import SequenceTask
    from ..model.checkpoints import CheckpointInfo

WATCH = Path(__file__).resolve().parent / "watch"
JS = (WATCH / "watch.js").read_text(encoding="utf-8")
CSS = (WATCH / "watch.css").read_text(encoding="utf-8")
VIEW_MAGIC = b"RNXV"
LINK_MAGIC = b"RNXL"
EXPORT_DIGITS = 100  # test digits an offline explorer carries
# Streamlit serves the folder "static" beside the main script (explorer/app.py) at app/static/.
LINKED = Path(__file__).resolve().parents[1] / "static" / "models"
# Stored gzipped: Streamlit serves a .gz file as application/gzip, which its gzip middleware passes as it is,
# where a plain blob was compressed again (level 9, ~0.1 s of CPU for 1.2 MB) for every browser that fetched it.
LINKED_SUFFIX = ".rxm.gz"
LINKED_LEVEL = 6  # a few percent larger than level 9 at a tenth of its time (~20 ms for a 1.2 MB blob, once)
LINKED_KEEP = 512 * 2**20  # bytes of blobs kept: past it, the least recently linked go (a later view re-writes one)

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


@functools.lru_cache(maxsize=64)
def _file_name(blob: bytes) -> str:
    """The blob's file name, its SHA-256: a name nobody can guess without holding the weights. Hashed once per
    model (the loaders cache one bytes object per model; a bytes object keeps its own hash, and the lookup
    matches it by identity first)."""
    return hashlib.sha256(blob).hexdigest() + LINKED_SUFFIX


def _prune(keep: Path) -> None:
    """Delete the least recently linked blobs while the folder holds more than LINKED_KEEP bytes."""
    files = []
    for entry in os.scandir(LINKED):
        with contextlib.suppress(FileNotFoundError):
            if entry.name.endswith(LINKED_SUFFIX):
                stat = entry.stat()
                files.append((stat.st_mtime_ns, stat.st_size, entry.path))
    total = sum(size for _, size, _ in files)
    for _, size, path in sorted(files):
        if total <= LINKED_KEEP:
            break
        if path != str(keep):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            total -= size


def linked(blob: bytes) -> Path:
    """The blob, gzipped, as a file in explorer/static/models/ named by the blob's SHA-256, written once
    (atomically, so a fetch never sees half a file) and marked as used now; OSError where the folder cannot be
    written."""
    path = LINKED / _file_name(blob)
    try:
        os.utime(path)
        return path
    except FileNotFoundError:
        pass
    LINKED.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=LINKED, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(gzip.compress(blob, LINKED_LEVEL, mtime=0))
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    _prune(path)
    return path


@dataclass(frozen=True)
class Source:
    """A model for the view: `version` names what its blob is made from (a checkpoint file version, the
    snapshot, task, name and label; None: not to be kept), and `make` builds the blob (loading the weights)."""

    version: str | None
    make: Callable[[], bytes]


# The code a blob is made by (model.portable packs it from model.arrays' weights and predictions, ui.loaders
# calls it): a link kept from other code is not used.
BLOB_CODE = ("model/*.py", "data/*.py", "ui/loaders.py")


def blob_code(package: Path) -> str:
    """The digest of the code in `package` (explorer/) that blobs are made by, and of the torch and numpy they ran
    on: links kept under another digest are not used."""
    files = sorted(path for pattern in BLOB_CODE for path in package.glob(pattern))
    return source_digest(*files, extra=",".join(f"{name} {metadata.version(name)}" for name in ("torch", "numpy")))


@functools.lru_cache(maxsize=4)
def _links(home: Path) -> Catalog:
    """Which linked file holds each Source.version's blob, kept in home_dir()/cache/links/ across server runs: a
    restarted server links a model it linked before without loading its weights (or importing torch)."""
    return Catalog(home / "cache" / "links", blob_code(Path(__file__).resolve().parents[1]))


def link(source: Source) -> dict:
    """{"url" (the file's name), "bytes" (the blob's size, unzipped)} of the source's blob as a linked file: the
    one kept for its version if that file is still there, else made now (source.make) and kept."""
    links = _links(home_dir()) if source.version is not None else None
    kept = links.get(source.version) if links else None
    if isinstance(kept, dict) and isinstance(kept.get("file"), str) and isinstance(kept.get("bytes"), int):
        path = LINKED / Path(kept["file"]).name
        with contextlib.suppress(FileNotFoundError):
            os.utime(path)  # recently linked: pruned last
            return {"url": path.name, "bytes": kept["bytes"]}
    blob = source.make()
    path = linked(blob)
    if links:
        links.put(source.version, {"file": path.name, "bytes": len(blob)})
    return {"url": path.name, "bytes": len(blob)}


def watched_model(info: "CheckpointInfo", task: "SequenceTask", snapshot: int | None = None) -> Source:
    """The model as Watch it read's view runs it (a Source): its weights at `snapshot` (None: the final ones),
    read as sequences of `task`. Its blob is made (loaders.packed_model, in NumPy) only for a file version the
    server has not linked before; a file gone or broken since it was listed stops the page with
    widgets.unreadable's message."""
    try:
        version = f"{file_version(info.path)}|{snapshot}|{task}|{info.name}|{info.label}"
    except OSError:  # gone since it was listed: make() says so
        version = None

    def make() -> bytes:
        try:
            return packed_model(info.path, version, task, info.name, info.label, snapshot)
        except (CheckpointError, OSError) as e:
            unreadable(info, e)
            st.stop()

    return Source(version, make)


def view_data(models: list[Source], options: dict) -> bytes:
    """What the page sends the view: "RNXL" and a JSON of the options and a link to each model's file ({"url",
    "bytes": the blob's size, unzipped}); the models themselves (view_blob) where Streamlit does not serve
    explorer/static/ or the folder cannot be written. Bytes either way: Streamlit forwards bytes as they are,
    while a dict is inspected value by value for dataframes (importing pandas, half a second, on a cold
    server's first page)."""
    if not st.get_option("server.enableStaticServing"):
        return view_blob([model.make() for model in models], options)
    try:
        links = [link(model) for model in models]
    except OSError:
        return view_blob([model.make() for model in models], options)
    base = "/".join(part for part in str(st.get_option("server.baseUrlPath") or "").split("/") if part)
    prefix = f"/{base}/app/static/models/" if base else "/app/static/models/"
    links = [{"url": prefix + found["url"], "bytes": found["bytes"]} for found in links]
    return LINK_MAGIC + json.dumps({"options": options, "models": links}, separators=(",", ":")).encode()


def parse_links(data: bytes) -> dict | None:
    """{"options", "models": [{"url", "bytes"}]} of view_data's linked form; None for a view_blob."""
    return json.loads(data[len(LINK_MAGIC) :]) if data[: len(LINK_MAGIC)] == LINK_MAGIC else None


def sent_view(element) -> tuple[dict, list[bytes]]:
    """(options, model blobs) of a view as the page sent it (a bidi_component element's proto): the links read
    back from explorer/static/models/, or the bytes. For tests and tools."""
    data = parse_links(element.bytes)
    if data is None:
        return parse_view(element.bytes)
    return data["options"], [gzip.decompress((LINKED / Path(link["url"]).name).read_bytes()) for link in data["models"]]


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


def watch_view(data, key: str, on_key=None, on_inspect=None):
    """Mount the view on view_data's links (or view_blob's bytes); its result's .key is "m" after M was pressed,
    .inspect the digit sent to the tabs."""
    return _watch(
        data=data, key=key, on_key_change=on_key or (lambda: None), on_inspect_change=on_inspect or (lambda: None)
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
