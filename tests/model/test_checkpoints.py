"""Checkpoints: round trips, atomic saves, and a CheckpointError with a clear message for every bad file."""

import dataclasses
import errno
import json
import logging
import pickle
import random
import struct
from datetime import datetime, timezone

import numpy as np
import pytest
import safetensors.torch
import tomllib
import torch

from explorer.model import arrays, checkpoint_file, checkpoints, header
from explorer.model.checkpoint_file import FORMAT, Checkpoint, CheckpointError, library_versions, read_checkpoint
from explorer.model.checkpoints import (
    CheckpointInfo,
    delete_checkpoint,
    find_checkpoint,
    import_checkpoint,
    list_checkpoints,
    save_checkpoint,
    user_dir,
    user_path,
)
from explorer.model.config import ModelConfig
from explorer.model.network import SequenceClassifier

SMALL = ModelConfig(kind="lstm", hidden_size=8)


def make_model(config: ModelConfig = SMALL, seed: int = 0) -> SequenceClassifier:
    torch.manual_seed(seed)
    return SequenceClassifier(config)


def make_blob(model_config: ModelConfig = SMALL, tensors: dict | None = None, **metadata: str) -> bytes:
    """A checkpoint built by hand, so tests can break one piece of it at a time (metadata: raw JSON text)."""
    if tensors is None:
        tensors = dict(make_model(model_config).state_dict())
    fields = {"format": json.dumps(FORMAT), "config": json.dumps(model_config.to_dict())}
    fields.update(metadata)
    return safetensors.torch.save(tensors, metadata=fields)


OWNER, OTHER = "0123456789abcdef", "fedcba9876543210"


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    """Shipped and user checkpoint folders under tmp_path; returns (shipped, user)."""
    shipped = tmp_path / "repo" / "checkpoints"
    shipped.mkdir(parents=True)
    monkeypatch.setattr(checkpoints, "shipped_dir", lambda: shipped)
    monkeypatch.setenv("RNN_EXPLORER_HOME", str(tmp_path / "home"))
    return shipped, tmp_path / "home" / "checkpoints"


# ---- round trips ---------------------------------------------------------------------

CONFIGS = [
    ModelConfig("rnn", 8, 1, False),
    ModelConfig("rnn", 8, 2, True),
    ModelConfig("lstm", 8, 1, False),
    ModelConfig("lstm", 8, 2, True, dropout=0.2),
    ModelConfig("gru", 8, 1, True),
    ModelConfig("gru", 16, 2, False),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.label)
def test_round_trip_gives_identical_logits(tmp_path, config):
    model = make_model(config).eval()
    x = torch.rand(3, 28, 28)
    path = save_checkpoint(tmp_path / "m.safetensors", model)
    ckpt = read_checkpoint(path)
    assert isinstance(ckpt, Checkpoint)
    assert ckpt.config == config
    assert not ckpt.model.training
    assert all(p.device.type == "cpu" and p.requires_grad for p in ckpt.model.parameters())
    with torch.no_grad():
        assert torch.equal(ckpt.model(x), model(x))


def test_round_trip_keeps_metadata(tmp_path):
    @dataclasses.dataclass
    class TrainConfig:
        lr: float = 1e-3
        epochs: int = 2

    history = {"loss": [2.3, np.float32(1.5)], "test_accuracy": np.array([0.5, 0.9])}
    path = save_checkpoint(
        tmp_path / "deep" / "er" / "m.safetensors",  # parent folders are created
        make_model(),
        metrics={"test_accuracy": 0.981, "train_accuracy": np.float64(0.99)},
        history=history,
        data={"name": "sample", "train": 4000, "test": 1000, "augment": True},
        command="python -m explorer.train --kind lstm",
        train_config=TrainConfig(),
    )
    meta = read_checkpoint(path).meta
    assert meta["metrics"] == {"test_accuracy": 0.981, "train_accuracy": 0.99}
    assert meta["history"] == {"loss": [2.3, 1.5], "test_accuracy": [0.5, 0.9]}
    assert meta["data"] == {"name": "sample", "train": 4000, "test": 1000, "augment": True}
    assert meta["command"] == "python -m explorer.train --kind lstm"
    assert meta["train_config"] == {"lr": 1e-3, "epochs": 2}
    assert meta["versions"] == library_versions()
    assert set(meta["versions"]) == {"torch", "python", "numpy", "safetensors", "rnn-explorer"}
    created = datetime.fromisoformat(meta["created"])
    assert created.utcoffset() == timezone.utc.utcoffset(None)
    assert abs((datetime.now(timezone.utc) - created).total_seconds()) < 60
    assert read_checkpoint(path).accuracy == 0.981


def test_reading_leaves_the_global_rng_alone(tmp_path):
    path = save_checkpoint(tmp_path / "m.safetensors", make_model(ModelConfig("gru", 8, 2, True)))
    before = torch.get_rng_state()
    read_checkpoint(path)
    assert torch.equal(torch.get_rng_state(), before)


def test_optional_metadata_defaults_to_empty():
    ckpt = read_checkpoint(make_blob(metrics="null"))
    assert ckpt.meta == {
        "metrics": {},
        "history": {},
        "data": {},
        "command": "",
        "versions": {},
        "created": "",
        "train_config": {},
        "snapshots": [],
    }
    assert ckpt.accuracy is None


@pytest.mark.parametrize(
    "metrics,expected",
    [
        ({"test_accuracy": 0.5}, 0.5),
        ({"test_accuracy": 1}, 1.0),
        ({"test_accuracy": 0}, 0.0),
        ({}, None),
        ({"test_accuracy": None}, None),
        ({"test_accuracy": True}, None),  # bool is an int in Python, not an accuracy
        ({"test_accuracy": "0.9"}, None),
        ({"test_accuracy": [0.9]}, None),
        ({"test_accuracy": {"value": 0.9}}, None),
        ({"test_accuracy": 1.5}, None),
        ({"test_accuracy": -0.1}, None),
        ({"test_accuracy": float("nan")}, None),
        ({"test_accuracy": float("inf")}, None),
        ({"test_accuracy": 10**400}, None),  # an int too large for a float
    ],
)
def test_test_accuracy_is_a_finite_fraction_or_none(metrics, expected):
    got = checkpoint_file.recorded_accuracy({"metrics": metrics})
    assert got == expected and (got is None or type(got) is float)
    info = import_checkpoint(make_blob(metrics=json.dumps(metrics)), "uploaded", OWNER)  # json writes NaN and Infinity
    assert info.accuracy == expected and read_checkpoint(info.path).accuracy == expected
    assert (
        checkpoint_file.recorded_accuracy({}) is None and checkpoint_file.recorded_accuracy({"metrics": [0.5]}) is None
    )


def test_reads_raw_bytes_of_an_upload(tmp_path):
    model = make_model().eval()
    blob = save_checkpoint(tmp_path / "m.safetensors", model, metrics={"test_accuracy": 0.5}).read_bytes()
    x = torch.rand(2, 28, 28)
    for source in (blob, bytearray(blob), str(tmp_path / "m.safetensors")):
        ckpt = read_checkpoint(source)
        assert ckpt.accuracy == 0.5
        with torch.no_grad():
            assert torch.equal(ckpt.model(x), model(x))


# ---- atomic saves --------------------------------------------------------------------


@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_failed_save_keeps_previous_file_and_leaves_no_temp(tmp_path, monkeypatch, failing):
    path = save_checkpoint(tmp_path / "m.safetensors", make_model(seed=0))
    before = path.read_bytes()

    def disk_full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoints.os, failing, disk_full)
    with pytest.raises(CheckpointError, match="could not save m.safetensors: No space left on device"):
        save_checkpoint(path, make_model(seed=1))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


def test_save_replaces_previous_file(tmp_path):
    path = save_checkpoint(tmp_path / "m.safetensors", make_model(seed=0))
    save_checkpoint(path, make_model(seed=1), metrics={"test_accuracy": 0.7})
    assert read_checkpoint(path).accuracy == 0.7
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


# ---- bad files -----------------------------------------------------------------------


def _truncated() -> bytes:
    return make_blob()[:-100]


def _header_past_eof() -> bytes:
    blob = make_blob()
    return struct.pack("<Q", len(blob)) + blob[8:]


def _header(text: bytes) -> bytes:
    return struct.pack("<Q", len(text)) + text


def _without(key: str) -> bytes:
    tensors = dict(make_model().state_dict())
    del tensors[key]
    return make_blob(tensors=tensors)


def _without_format() -> bytes:
    return safetensors.torch.save(dict(make_model().state_dict()), metadata={"config": json.dumps(SMALL.to_dict())})


def _with_nan() -> bytes:
    tensors = {k: v.clone() for k, v in make_model().state_dict().items()}
    tensors["rnn.weight_hh_l0"][3, 2] = float("nan")
    return make_blob(tensors=tensors)


BAD_FILES = {
    "empty": (lambda: b"", "not a safetensors file: the file is empty"),
    "tiny": (lambda: b"abc", "not a safetensors file: only 3 bytes"),
    "random bytes": (lambda: random.Random(0).randbytes(4096), "not a safetensors file"),
    "pickle": (lambda: pickle.dumps({"weights": [1.0, 2.0] * 50}), "not a safetensors file: .*pickle"),
    "torch zip": (lambda: b"PK\x03\x04" + bytes(200), "not a safetensors file: .*pickle"),
    "truncated": (_truncated, "file is truncated"),
    "header past end": (_header_past_eof, "file is truncated"),
    "header not json": (
        lambda: _header(b"{not json}") + bytes(8),
        "not a safetensors file: the header is not valid JSON",
    ),
    "header not object": (lambda: _header(b"[1, 2]"), "not a safetensors file: the header is not a JSON object"),
    "bad entry": (lambda: _header(b'{"w": {"dtype": "F32", "shape": [-1]}}'), "malformed header entry for tensor w"),
    "no format": (_without_format, "not an RNN Explorer checkpoint"),
    "wrong format": (
        lambda: make_blob(format=json.dumps("rnn-explorer/99")),
        "unsupported checkpoint format 'rnn-explorer/99', expected 'rnn-explorer/1'",
    ),
    "config not json": (lambda: make_blob(config="{kind: lstm"), "metadata 'config' is not valid JSON"),
    "config not object": (lambda: make_blob(config="[]"), "metadata 'config' is not a JSON object"),
    "unknown kind": (
        lambda: make_blob(config=json.dumps({**SMALL.to_dict(), "kind": "transformer"})),
        "invalid model config: kind must be one of",
    ),
    "hidden as text": (
        lambda: make_blob(config=json.dumps({**SMALL.to_dict(), "hidden_size": "8"})),
        "invalid model config: hidden_size has the wrong type",
    ),
    "metrics not json": (lambda: make_blob(metrics="{"), "metadata 'metrics' is not valid JSON"),
    "header nested too deep": (lambda: _header(b"[" * 100_000), "not a safetensors file: the header is not valid JSON"),
    "metadata nested too deep": (lambda: make_blob(metrics="[" * 100_000), "metadata 'metrics' is not valid JSON"),
    "history not object": (lambda: make_blob(history="[1]"), "metadata 'history' should be a JSON object"),
    "missing tensor": (lambda: _without("rnn.weight_hh_l0"), r"^missing tensors: rnn\.weight_hh_l0$"),
    "extra tensor": (
        lambda: make_blob(tensors={**make_model().state_dict(), "extra.weight": torch.zeros(2)}),
        r"^extra tensors: extra\.weight$",
    ),
    "mis-shaped": (
        lambda: make_blob(
            model_config=dataclasses.replace(SMALL, hidden_size=16), tensors=dict(make_model(SMALL).state_dict())
        ),
        r"^tensor rnn\.weight_ih_l0 has shape \(32, 28\), expected \(64, 28\)$",
    ),
    "float64": (
        lambda: make_blob(tensors={k: v.double() for k, v in make_model().state_dict().items()}),
        "has dtype F64, expected F32",
    ),
    "nan weight": (_with_nan, r"tensor rnn\.weight_hh_l0 has non-finite values"),
}


@pytest.mark.parametrize("as_path", [False, True], ids=["bytes", "path"])
@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_file_gives_clear_error(tmp_path, case, as_path):
    make, message = BAD_FILES[case]
    blob = make()
    source = blob
    if as_path:
        source = tmp_path / "bad.safetensors"
        source.write_bytes(blob)
    with pytest.raises(CheckpointError, match=message):
        read_checkpoint(source)


def test_too_large(tmp_path, monkeypatch):
    monkeypatch.setattr(header, "MAX_BYTES", 100)
    with pytest.raises(CheckpointError, match="file is .* KB, larger than the 100 bytes limit"):
        read_checkpoint(make_blob())


def test_too_large_is_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "huge.safetensors"
    with path.open("wb") as f:
        f.truncate(300 * 2**20)  # sparse: costs no disk
    monkeypatch.setattr(type(path), "read_bytes", lambda self: pytest.fail("read a file over the limit"))
    with pytest.raises(CheckpointError, match="^file is 314.6 MB, larger than the 50.0 MB limit$"):
        read_checkpoint(path)


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint file at"):
        read_checkpoint(tmp_path / "nope.safetensors")


# ---- folders, listing and deleting ---------------------------------------------------


def test_user_dir_from_env_and_default(tmp_path, monkeypatch):
    monkeypatch.setenv("RNN_EXPLORER_HOME", str(tmp_path / "h"))
    assert user_dir() == tmp_path / "h" / "checkpoints"
    monkeypatch.delenv("RNN_EXPLORER_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "me"))
    assert user_dir() == tmp_path / "me" / ".rnn-explorer" / "checkpoints"
    assert not user_dir().exists()  # created on demand by save, not by asking


def test_user_dir_never_inside_shipped(monkeypatch):
    monkeypatch.setenv("RNN_EXPLORER_HOME", str(checkpoints.shipped_dir()))
    with pytest.raises(CheckpointError, match="inside the shipped checkpoints folder"):
        user_dir()
    monkeypatch.setenv("RNN_EXPLORER_HOME", str(checkpoints.shipped_dir().parent))
    with pytest.raises(CheckpointError, match="inside the shipped checkpoints folder"):
        user_dir()


def test_list_shipped_then_local_then_visitors_sorted(dirs, monkeypatch):
    shipped, user = dirs
    for name, acc in [("b", 0.9), ("a", 0.8)]:
        save_checkpoint(shipped / f"{name}.safetensors", make_model(), metrics={"test_accuracy": acc})
    for name in ["d", "c", "a"]:
        save_checkpoint(user / f"{name}.safetensors", make_model(ModelConfig("gru", 8, 2, True)))
    save_checkpoint(user / OWNER / "a.safetensors", make_model())
    save_checkpoint(user / OTHER / "a.safetensors", make_model())
    save_checkpoint(user / "not-an-owner" / "x.safetensors", make_model())  # not a visitor's folder: ignored
    (user / "broken.safetensors").write_bytes(b"garbage" * 10)
    (shipped / "truncation_sweep.json").write_text("{}")  # other files are not checkpoints
    (user / ".c.safetensors.abc.tmp").write_bytes(b"half")
    monkeypatch.setattr(checkpoint_file.safetensors.torch, "load", lambda *a: pytest.fail("listing loaded tensors"))
    monkeypatch.setattr(arrays, "parse_arrays", lambda *a: pytest.fail("listing loaded tensors"))

    skipped = []
    infos = list_checkpoints(on_error=lambda path, error: skipped.append((path.name, str(error))))
    assert [(i.name, i.owner) for i in infos] == [
        ("a", "shipped"),
        ("b", "shipped"),
        ("a (local)", "local"),
        ("c", "local"),
        ("d", "local"),
        ("01234567/a", OWNER),
        ("fedcba98/a", OTHER),
    ]
    assert skipped == [("broken.safetensors", "not a safetensors file: the header length is impossible")]
    assert all(isinstance(i, CheckpointInfo) for i in infos)
    assert infos[0].path == shipped / "a.safetensors" and infos[0].accuracy == 0.8 and infos[0].label == "LSTM-8"
    assert infos[2].path == user / "a.safetensors" and infos[2].label == "BiGRU-2x8" and infos[2].stem == "a"
    assert infos[5].path == user / OWNER / "a.safetensors" and not infos[5].shipped
    assert [i.name for i in list_checkpoints(include_user=False)] == ["a", "b"]


def test_list_logs_broken_user_files_by_default(dirs, caplog):
    _, user = dirs
    user.mkdir(parents=True)
    (user / "broken.safetensors").write_bytes(b"")
    with caplog.at_level(logging.WARNING, logger="explorer.model.checkpoints"):
        assert list_checkpoints() == []
    assert "broken.safetensors" in caplog.text and "empty" in caplog.text


def test_list_with_no_folders_is_empty(dirs):
    assert list_checkpoints() == []


def test_broken_shipped_checkpoint_is_an_error(dirs):
    shipped, _ = dirs
    (shipped / "lstm.safetensors").write_bytes(b"version https://git-lfs.github.com/spec/v1\noid sha256:ab\n")
    with pytest.raises(CheckpointError, match="shipped checkpoint lstm.safetensors: .*git lfs pull"):
        list_checkpoints()


def test_find_checkpoint(dirs):
    shipped, user = dirs
    save_checkpoint(shipped / "x.safetensors", make_model())
    save_checkpoint(user / "x.safetensors", make_model())
    save_checkpoint(user / OWNER / "x.safetensors", make_model())
    assert find_checkpoint("x").shipped
    assert find_checkpoint("x (local)").path == user / "x.safetensors"
    assert find_checkpoint("01234567/x").owner == OWNER
    with pytest.raises(CheckpointError, match="no checkpoint named 'y'"):
        find_checkpoint("y")


def test_only_the_owner_deletes_and_nobody_deletes_shipped_or_local(dirs):
    shipped, user = dirs
    save_checkpoint(shipped / "s.safetensors", make_model())
    save_checkpoint(user / "l.safetensors", make_model())
    save_checkpoint(user / OWNER / "u.safetensors", make_model())
    mine = find_checkpoint("01234567/u")
    with pytest.raises(CheckpointError, match="only its owner can delete"):
        delete_checkpoint(mine, OTHER)
    assert (user / OWNER / "u.safetensors").exists()
    delete_checkpoint(mine, OWNER)
    assert not (user / OWNER / "u.safetensors").exists()
    assert [i.name for i in list_checkpoints()] == ["s", "l"]
    with pytest.raises(CheckpointError, match="^shipped checkpoints are read-only$"):
        delete_checkpoint(find_checkpoint("s"), OWNER)
    with pytest.raises(CheckpointError, match="only its owner"):
        delete_checkpoint(find_checkpoint("l"), OWNER)
    forged = dataclasses.replace(find_checkpoint("s"), owner=OWNER)
    with pytest.raises(CheckpointError, match="read-only"):
        delete_checkpoint(forged, OWNER)
    forged = dataclasses.replace(find_checkpoint("l"), owner=OWNER)  # claims to be mine, lives elsewhere
    with pytest.raises(CheckpointError, match="only its owner"):
        delete_checkpoint(forged, OWNER)
    for bad in ("../../etc", "ABCDEF0123456789", "", "0123"):
        with pytest.raises(CheckpointError, match="invalid owner"):
            delete_checkpoint(find_checkpoint("l"), bad)
    assert (shipped / "s.safetensors").exists() and (user / "l.safetensors").exists()


def test_user_path_is_in_the_owners_folder_and_refuses_unsafe_and_shipped_names(dirs):
    shipped, user = dirs
    save_checkpoint(shipped / "lstm-128.safetensors", make_model())
    assert user_path("my_lstm.v2", OWNER) == user / OWNER / "my_lstm.v2.safetensors"
    for name in ["", "../evil", "a/b", ".hidden", "x" * 101, "spa ce"]:
        with pytest.raises(CheckpointError, match="invalid checkpoint name"):
            user_path(name, OWNER)
    with pytest.raises(CheckpointError, match="belongs to a shipped checkpoint"):
        user_path("lstm-128", OWNER)
    with pytest.raises(CheckpointError, match="invalid owner"):
        user_path("fine", "../" + OWNER)


def test_import_checkpoint_validates_then_stores_in_the_owners_folder_only(dirs):
    _, user = dirs
    theirs = import_checkpoint(make_blob(model_config=ModelConfig("gru", 8)), "shared", OTHER)
    info = import_checkpoint(make_blob(metrics=json.dumps({"test_accuracy": 0.6})), "shared", OWNER)
    assert info.path == user / OWNER / "shared.safetensors" and info.owner == OWNER and info.accuracy == 0.6
    assert read_checkpoint(theirs.path).config == ModelConfig("gru", 8)  # another visitor's file is untouched
    assert [i.name for i in list_checkpoints()] == ["01234567/shared", "fedcba98/shared"]
    with pytest.raises(CheckpointError, match="truncated"):
        import_checkpoint(_truncated(), "bad", OWNER)
    assert not (user / OWNER / "bad.safetensors").exists()


def test_a_checkpoint_over_the_limit_is_never_saved(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint_file, "MAX_BYTES", 10_000)
    with pytest.raises(CheckpointError, match="over the 10 KB limit"):
        save_checkpoint(tmp_path / "big.safetensors", make_model(ModelConfig(hidden_size=64)))
    assert not (tmp_path / "big.safetensors").exists()
    monkeypatch.setattr(checkpoint_file, "MAX_BYTES", 10**9)
    model = make_model(ModelConfig(hidden_size=64))
    history = {"step_loss": [1.2345678901234567] * 1000}
    real = save_checkpoint(tmp_path / "ok.safetensors", model, history=history).stat().st_size
    estimate = checkpoint_file.checkpoint_bytes(ModelConfig(hidden_size=64), steps=1000)
    assert real < estimate < real + 150_000  # an upper bound, and not a loose one


def test_one_size_limit_agrees_with_the_uploader():
    """Streamlit's uploader counts server.maxUploadSize in MB of 10^6 bytes (in the browser): the same limit."""
    config = tomllib.loads((checkpoints.shipped_dir().parent / ".streamlit" / "config.toml").read_text())
    mb = config["server"]["maxUploadSize"]
    assert mb * 10**6 == checkpoint_file.MAX_BYTES == 50_000_000
    assert checkpoint_file.size_text(checkpoint_file.MAX_BYTES) == "50.0 MB"


def test_repo_shipped_checkpoints_all_load():
    for info in list_checkpoints(include_user=False):
        ckpt = read_checkpoint(info.path)
        assert ckpt.config == info.config and ckpt.meta == info.meta
