"""What the server keeps between runs (explorer.model.catalog): a checkpoint header is checked once per file
version, and a restarted server lists the models from what it kept, the same as a fresh check finds."""

import json
import os
import shutil

import pytest

from explorer.model import checkpoints
from explorer.model.catalog import Catalog, file_version, source_digest
from explorer.model.checkpoints import list_checkpoints, shipped_dir
from explorer.model.header import CheckpointError


def test_a_fact_is_kept_per_key_and_code_and_survives_a_new_catalog_on_the_same_folder(tmp_path):
    kept = Catalog(tmp_path / "c", "code-1")
    assert kept.get("a") is None
    kept.put("a", {"x": [1, 2.5, None, "t"]})
    assert Catalog(tmp_path / "c", "code-1").get("a") == {"x": [1, 2.5, None, "t"]}  # a restarted server
    assert Catalog(tmp_path / "c", "code-2").get("a") is None  # other code derives it again
    assert kept.get("b") is None


def test_an_entry_that_is_not_the_keys_or_not_json_reads_as_missing(tmp_path):
    kept = Catalog(tmp_path, "code")
    kept.put("a", 1)
    (entry,) = tmp_path.glob("*.json")
    entry.write_text(json.dumps({"key": "another", "value": 2}))
    assert kept.get("a") is None
    entry.write_text("{not json")
    assert kept.get("a") is None


def test_a_folder_that_cannot_be_written_keeps_nothing_and_raises_nothing(tmp_path):
    (tmp_path / "a-file").write_text("")
    kept = Catalog(tmp_path / "a-file" / "c", "code")
    kept.put("a", 1)
    assert kept.get("a") is None
    kept.put("b", {1, 2})  # not JSON: kept nowhere, and no partial file left behind
    assert Catalog(tmp_path / "d", "code").get("b") is None and not list((tmp_path).glob("d/.part-*"))


def test_past_keep_the_least_recently_used_entries_go(tmp_path):
    kept = Catalog(tmp_path, "code", keep=2)
    for n, key in enumerate("abc"):
        kept.put(key, n)
        os.utime(kept._path(key), ns=(n + 1, n + 1))
        kept._prune()
    assert [kept.get(k) for k in "abc"] == [None, 1, 2]
    kept.get("b")  # used now: "c" is the older one
    kept.put("d", 3)
    assert [kept.get(k) for k in "bcd"] == [1, None, 3]


def test_a_file_version_changes_with_the_file(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"one")
    first = file_version(path)
    path.write_bytes(b"two!")
    assert file_version(path) != first
    assert source_digest(path) != source_digest(path, extra="torch 2")


@pytest.fixture
def models(tmp_path, monkeypatch):
    """A shipped folder of two real checkpoints, to change and break."""
    folder = tmp_path / "shipped"
    folder.mkdir()
    for name in ("lstm-128", "rnn-128"):
        shutil.copy(shipped_dir() / f"{name}.safetensors", folder)
    monkeypatch.setattr(checkpoints, "shipped_dir", lambda: folder)
    return folder


def fields(infos):
    return [(i.name, i.owner, i.config, i.meta) for i in infos]


def test_a_listing_from_the_catalog_equals_a_fresh_check_and_reads_no_header(models, monkeypatch):
    fresh = list_checkpoints(include_user=False)
    monkeypatch.setattr(checkpoints, "_checked_header", lambda path: pytest.fail(f"checked {path.name} again"))
    again = list_checkpoints(include_user=False)
    assert fields(again) == fields(fresh) and len(again) == 2


def test_a_changed_file_is_checked_again(models, monkeypatch):
    list_checkpoints(include_user=False)
    checked = []
    real = checkpoints._checked_header
    monkeypatch.setattr(checkpoints, "_checked_header", lambda path: checked.append(path.name) or real(path))
    shutil.copy(shipped_dir() / "gru-128.safetensors", models / "rnn-128.safetensors")  # same name, new file
    (infos,) = [[i for i in list_checkpoints(include_user=False) if i.name == "rnn-128"]]
    assert checked == ["rnn-128.safetensors"] and infos[0].config.kind == "gru"


def test_a_broken_file_is_refused_again_with_the_same_message_without_a_new_check(models, monkeypatch):
    user = checkpoints.user_dir()
    user.mkdir(parents=True)
    blob = (models / "lstm-128.safetensors").read_bytes()
    (user / "cut.safetensors").write_bytes(blob[: len(blob) // 2])
    first = []
    list_checkpoints(on_error=lambda path, error: first.append(str(error)))
    monkeypatch.setattr(checkpoints, "_checked_header", lambda path: pytest.fail("checked again"))
    again = []
    list_checkpoints(on_error=lambda path, error: again.append(str(error)))
    assert again == first and first and "truncated" in first[0]


def test_what_the_catalog_holds_is_what_the_listing_shows(models):
    """The kept entry is read back, not re-derived: altering it alters the listing (the check can fail)."""
    list_checkpoints(include_user=False)
    headers = checkpoints._headers(checkpoints.home_dir())
    version = file_version(models / "rnn-128.safetensors")
    entry = headers.get(version)
    headers.put(version, entry | {"config": entry["config"] | {"hidden_size": 7}})
    assert {i.name: i.config.hidden_size for i in list_checkpoints(include_user=False)} == {
        "lstm-128": 128,
        "rnn-128": 7,
    }
    headers.put(version, {"error": "kept refusal"})
    with pytest.raises(CheckpointError, match="kept refusal"):
        list_checkpoints(include_user=False)
