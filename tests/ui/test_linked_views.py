"""The model blobs a page links to instead of sending (explorer.ui.browser_view.view_data): files named by their
SHA-256 in explorer/static/models/, written once and atomically, the least recently linked pruned past a limit,
and the bytes sent inline where Streamlit serves no static files or the folder cannot be written."""

import gzip
import hashlib
import os
import random

import pytest

from explorer.ui import browser_view


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setattr(browser_view, "LINKED", tmp_path / "models")
    return tmp_path / "models"


def made(*blobs):
    """Sources that make these blobs (and are never kept: no version)."""
    return [browser_view.Source(None, lambda b=b: b) for b in blobs]


def options_of(monkeypatch, **values):
    monkeypatch.setattr(browser_view.st, "get_option", lambda name: values[name])


def test_a_blob_is_written_once_under_its_sha256_and_read_back_as_sent(folder, monkeypatch):
    blob, other = b"RNNX" + bytes(range(256)) * 40, b"RNNX" + b"\x01" * 999
    options_of(monkeypatch, **{"server.enableStaticServing": True, "server.baseUrlPath": ""})
    sent = browser_view.view_data(made(blob, other), {"digit": 3})
    data = browser_view.parse_links(sent)
    assert [link["bytes"] for link in data["models"]] == [len(blob), len(other)]
    names = [link["url"].rsplit("/", 1)[1] for link in data["models"]]
    assert names == [hashlib.sha256(b).hexdigest() + ".rxm.gz" for b in (blob, other)]
    assert all(link["url"].startswith("/app/static/models/") for link in data["models"])
    path = folder / names[0]
    assert gzip.decompress(path.read_bytes()) == blob
    os.utime(path, ns=(1, 1))
    assert browser_view.linked(blob) == path and path.stat().st_mtime_ns > 1  # not re-written, marked as used
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)  # no partial file left behind

    class Element:  # what a page test reads: the bidi_component's proto
        bytes = sent

    assert browser_view.sent_view(Element()) == ({"digit": 3}, [blob, other])


def test_a_base_url_path_prefixes_the_links(folder, monkeypatch):
    options_of(monkeypatch, **{"server.enableStaticServing": True, "server.baseUrlPath": "/class/rnn/"})
    (link,) = browser_view.parse_links(browser_view.view_data(made(b"RNNX-a"), {}))["models"]
    assert link["url"].startswith("/class/rnn/app/static/models/")


def test_without_static_serving_or_a_writable_folder_the_bytes_go_inline(folder, monkeypatch, tmp_path):
    blob = b"RNNX" + b"\x02" * 64
    options_of(monkeypatch, **{"server.enableStaticServing": False, "server.baseUrlPath": ""})
    assert browser_view.parse_view(browser_view.view_data(made(blob), {"a": 1})) == ({"a": 1}, [blob])
    assert not folder.exists()
    options_of(monkeypatch, **{"server.enableStaticServing": True, "server.baseUrlPath": ""})
    (tmp_path / "a-file").write_text("")
    monkeypatch.setattr(browser_view, "LINKED", tmp_path / "a-file" / "models")  # cannot be a folder
    assert browser_view.parse_view(browser_view.view_data(made(blob), {"a": 1})) == ({"a": 1}, [blob])


def test_past_the_limit_the_least_recently_linked_blobs_go_but_never_the_one_just_linked(folder, monkeypatch):
    monkeypatch.setattr(browser_view, "LINKED_KEEP", 2500)
    blobs = [random.Random(k).randbytes(1000) for k in range(3)]  # stored gzipped: bytes that do not shrink
    for k, blob in enumerate(blobs[:2]):
        os.utime(browser_view.linked(blob), ns=(k + 1, k + 1))
    newest = browser_view.linked(blobs[2])  # 3000 bytes: the oldest goes
    assert sorted(p.name for p in folder.iterdir()) == sorted(browser_view._file_name(b) for b in blobs[1:])
    monkeypatch.setattr(browser_view, "LINKED_KEEP", 10)
    only = browser_view.linked(random.Random(9).randbytes(1000))  # over the limit alone: it stays, every other goes
    assert [p.name for p in folder.iterdir()] == [only.name] and newest.name != only.name


def test_a_linked_version_is_linked_again_without_making_its_blob_until_its_file_or_version_changes(folder):
    blob = b"RNNX" + b"\x03" * 500
    first = browser_view.link(browser_view.Source("file|1|2|3|None|task|name|label", lambda: blob))
    assert first == {"url": browser_view._file_name(blob), "bytes": len(blob)}

    def refuse():
        raise AssertionError("made the blob again")

    assert browser_view.link(browser_view.Source("file|1|2|3|None|task|name|label", refuse)) == first
    other = b"RNNX" + b"\x04" * 300
    changed = browser_view.link(browser_view.Source("file|1|2|4|None|task|name|label", lambda: other))
    assert changed["url"] == browser_view._file_name(other)  # a new version of the file: made
    (folder / first["url"]).unlink()  # pruned since
    assert browser_view.link(browser_view.Source("file|1|2|3|None|task|name|label", lambda: blob)) == first
    assert (folder / first["url"]).exists()
    made = []
    for _ in range(2):  # no version: made every time
        browser_view.link(browser_view.Source(None, lambda: made.append(1) or blob))
    assert made == [1, 1]


def test_the_links_are_kept_per_code_a_release_makes_them_again(tmp_path):
    package = browser_view.LINKED.parents[1]  # explorer/
    copy = tmp_path / "explorer"
    for pattern in browser_view.BLOB_CODE:
        for path in package.glob(pattern):
            (copy / path.relative_to(package)).parent.mkdir(parents=True, exist_ok=True)
            (copy / path.relative_to(package)).write_bytes(path.read_bytes())
    now = browser_view._links(browser_view.home_dir()).code
    assert browser_view.blob_code(copy) == now
    (copy / "model" / "portable.py").write_text((copy / "model" / "portable.py").read_text() + "\n# changed\n")
    assert browser_view.blob_code(copy) != now
