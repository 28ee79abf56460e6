"""Train page (AppTest): training in the background, stop, divergence, uploads, delete, full-MNIST download."""

import functools
import gzip
import hashlib
import http.server
import json
import struct
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
from plotly_spec import array
from streamlit.testing.v1 import AppTest

import explorer.data.digits
import explorer.serving.tasks
from explorer import ui
from explorer.analysis.live import LIVE_DIGITS, look_inside
from explorer.data.digits import load_sample
from explorer.model.checkpoint_file import MAX_BYTES, read_checkpoint
from explorer.model.checkpoints import owner_dir, save_checkpoint, shipped_dir, user_dir
from explorer.model.config import ModelConfig
from explorer.model.network import SequenceClassifier
from explorer.model.portable import unpack
from explorer.serving.tasks import EpochEnd
from explorer.training.cli import configs, parse_args
from explorer.training.loop import Step
from explorer.training.metadata import recorded_train_config
from explorer.ui.browser_view import sent_view

APP = str(Path(__file__).resolve().parents[2] / "explorer" / "app.py")
TINY = dict(t_hidden=16, t_epochs=2, t_batch=512)  # 16 steps on the sample: about a second
LONG = dict(t_hidden=16, t_epochs=200, t_batch=16)  # runs until stopped


def stop_all_jobs() -> None:
    for job in ui.job_manager().active():
        ui.job_manager().stop(job)
        ui.job_manager().wait(job)


@pytest.fixture(autouse=True)
def no_jobs_left(monkeypatch):
    """Jobs are process-wide: start with none running and leave none, so the global limit never leaks. The cost
    guard is set wide open here (its own tests narrow it)."""
    monkeypatch.setenv("RNN_EXPLORER_MAX_JOB_MINUTES", "1e6")
    monkeypatch.setenv("RNN_EXPLORER_CONFIRM_JOB_MINUTES", "1e6")
    stop_all_jobs()
    yield
    stop_all_jobs()


def owner(at: AppTest) -> str:
    return at.session_state["_owner"]


def train_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    at.switch_page("../pages/train.py")
    at.run()
    assert not at.exception
    return at


def settle(at: AppTest, **settings) -> AppTest:
    """Set widgets by key (sliders, number inputs, select boxes, text, radio) and rerun."""
    for key, value in settings.items():
        at.get_by_key(key).set_value(value)
    at.run()
    assert not at.exception
    return at


def start(at: AppTest, name: str, **settings):
    """Fill the form, press Start; return the session's job."""
    settle(at, t_name=name, **settings)
    click(at, "Start training")
    assert not at.error, [e.value for e in at.error]
    return ui.job_manager().latest(owner(at))


def until(condition, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


def wait_for(job, record_type, timeout: float = 30) -> None:
    """Block until the job has reported a record of this type (a Step, an EpochEnd)."""
    deadline = time.time() + timeout
    while not any(isinstance(r, record_type) for r in job.snapshot()) and time.time() < deadline:
        time.sleep(0.02)


def finish(at: AppTest, job) -> None:
    ui.job_manager().wait(job, timeout=60)
    at.run()
    assert not at.exception


def click(at: AppTest, label: str) -> None:
    next(b for b in at.button if b.label == label).click()
    at.run()
    assert not at.exception


def test_defaults_are_the_shipped_lstm_and_settings_survive_a_page_switch():
    at = train_page()
    assert at.title[0].value == "Train a model"
    assert at.code[0].value.startswith("python -m explorer train --kind lstm --hidden 128 --out ")
    model_cfg, cfg = configs(parse_args(["--kind", "lstm"]))
    shipped = read_checkpoint(shipped_dir() / "lstm-128.safetensors").meta["train_config"]
    assert recorded_train_config(shipped) == cfg and model_cfg == ModelConfig()
    assert not next(b for b in at.button if b.label == "Start training").disabled
    settle(at, t_hidden=32, t_lr=0.01)
    at.switch_page("../pages/home.py")
    at.run()
    at.switch_page("../pages/train.py")
    at.run()
    assert "--hidden 32 --lr 0.01 " in at.code[0].value


def test_tiny_training_saves_a_checkpoint_that_watch_it_read_can_pick():
    at = train_page()
    job = start(at, "tiny", **TINY)
    assert job.kind == "train" and job.description == "LSTM-16 on the bundled sample → tiny"
    finish(at, job)
    assert job.status == "done" and "Saved tiny (finished)" in at.success[0].value
    assert [m.label for m in at.metric][:4] == ["Epoch", "Loss (last step)", "Train accuracy", "Test accuracy"]
    assert at.metric[0].value == "2 / 2" and len(at.get("plotly_chart")) == 2

    saved = read_checkpoint(owner_dir(owner(at)) / "tiny.safetensors")
    # The live look inside after the last epoch is the saved model's, on the first test digit.
    images, labels = load_sample()[1].tensors()
    expected = look_inside(saved.model, images[0], images[:LIVE_DIGITS], labels[:LIVE_DIGITS], 2)
    live = json.loads(at.get_by_key("t_live").proto.spec)["data"]
    np.testing.assert_allclose(array(live[0]["z"]), expected.states["h"], atol=1e-6)
    np.testing.assert_allclose(np.array([array(d["y"]) for d in live[1:11]]).T, expected.probs, atol=1e-6)
    np.testing.assert_allclose(array(live[11]["y"]), expected.profile, rtol=1e-5)
    assert [s.label for s in saved.snapshots] == ["init", "step 5", "epoch 1"]  # 8 steps an epoch
    assert saved.config == ModelConfig(hidden_size=16)
    assert saved.meta["data"] == {"name": "sample", "train": 4000, "test": 1000, "augment": True}
    assert saved.meta["metrics"]["stopped"] is False and len(saved.meta["history"]["step_loss"]) == 16
    words = saved.meta["command"].split()
    assert words[:4] == ["python", "-m", "explorer", "train"]
    model_cfg, cfg = configs(parse_args(words[4:]))  # the recorded command reproduces the run
    assert model_cfg == saved.config and cfg.to_dict() == saved.meta["train_config"]

    click(at, "Open in Watch it read")
    picker = at.selectbox(key="_widget_model")
    assert picker.value == f"{owner(at)[:8]}/tiny" and any(option.endswith("tiny (yours)") for option in picker.options)


def test_a_delayed_truncated_run_records_its_task_and_scheme_and_watch_reads_its_sequence():
    at = train_page()
    settle(at, t_task="blank")
    settle(at, t_delay=5, t_k=8)
    settle(at, t_k1=2, t_align="start", t_forget=2.0, t_name="delayed", t_snapshots=False, **TINY)
    assert at.get_by_key("t_update").disabled  # one step per chunk needs k1 = k
    shown = at.code[0].value.split()
    _, cfg = configs(parse_args(shown[4:]))
    assert (cfg.task, cfg.delay, cfg.k, cfg.k1, cfg.align, cfg.scheme) == ("blank", 5, 8, 2, "start", "tbptt")
    assert cfg.forget_bias == 2.0 and "--forget-bias 2" in at.code[0].value
    click(at, "Start training")
    job = ui.job_manager().latest(owner(at))
    finish(at, job)
    assert job.status == "done", job.error
    saved = read_checkpoint(owner_dir(owner(at)) / "delayed.safetensors")
    assert recorded_train_config(saved.meta["train_config"]) == cfg
    assert not cfg.snapshots and "--no-snapshots" in shown and saved.snapshots == []
    assert saved.meta["command"].split()[4:] == shown[4:]
    click(at, "Open in Watch it read")
    assert not at.exception and at.selectbox(key="_widget_model").value.endswith("/delayed")
    _, (blob,) = sent_view(at.get("bidi_component")[0].proto)
    task = unpack(blob)[0]["task"]  # the browser view reads the model's own sequences, the 5 blank rows too
    assert (task["name"], task["T"]) == ("row-MNIST + 5 blank rows after (T = 33)", 33)


def test_truncation_settings_follow_a_shorter_task():
    at = train_page()
    settle(at, t_task="blank")
    settle(at, t_delay=20)
    settle(at, t_k=40)
    settle(at, t_k1=40)
    settle(at, t_task="rows")  # T goes from 48 to 28: k and k1 come down with it, nothing raises
    assert at.get_by_key("t_k").value == 28 and at.get_by_key("t_k1").value == 28
    _, cfg = configs(parse_args(at.code[0].value.split()[4:]))
    assert cfg.k == 28 and cfg.sequence_task.T == 28
    at.switch_page("../pages/home.py")
    at.run()
    at.switch_page("../pages/train.py")
    at.run()
    assert at.get_by_key("t_k").value == 28 and at.get_by_key("t_scheme").value == "tbptt"


@pytest.mark.slow
def test_stop_saves_the_best_weights_so_far():
    at = train_page()
    job = start(at, "stopped", **LONG)
    wait_for(job, EpochEnd)
    at.run()
    click(at, "Stop")
    finish(at, job)
    meta = read_checkpoint(owner_dir(owner(at)) / "stopped.safetensors").meta
    m = meta["metrics"]  # the best epoch end so far: its test accuracy was measured then, so the stop is prompt
    assert job.status == "stopped" and "Saved stopped (stopped early" in at.success[0].value
    assert f"; the best weights so far, from epoch {m['epoch']})" in at.success[0].value and m["epoch"] >= 1
    assert m["test_accuracy"] == meta["history"]["test_accuracy"][m["epoch"] - 1] and not m["partial_epoch"]
    assert meta["metrics"]["stopped"] is True and meta["metrics"]["epochs_run"] < 200
    assert "Stop" not in [b.label for b in at.button]
    # The name is taken now: training again under it asks first (and a fresh default name is offered).
    assert next(b for b in at.button if b.label == "Start training").disabled
    assert any(w.value == "You already have a checkpoint called stopped." for w in at.warning)
    settle(at, t_replace=True)
    assert not next(b for b in at.button if b.label == "Start training").disabled
    settle(at, t_name="")
    assert at.text_input(key="t_name").placeholder == "my-lstm-16" and "t_replace" not in [c.key for c in at.checkbox]


def test_stop_during_the_first_epoch_says_so():
    at = train_page()
    job = start(at, "early", **(LONG | {"t_hidden": 256}))
    wait_for(job, Step)
    job.stop()  # 250 steps of LSTM-256 per epoch (several seconds): the first one is far from over
    finish(at, job)
    assert job.status == "stopped"
    assert "Saved early (stopped during epoch 1; the weights as they were at the stop" in at.success[0].value


def test_divergence_explains_itself_and_saves_nothing():
    at = train_page()
    settle(at, t_kind="rnn", t_opt="sgd", t_lr=1e38, t_clip=0.0)
    assert "--optimizer sgd --lr 1e+38 --clip 0 " in at.code[0].value
    job = start(at, "boom", **TINY)
    finish(at, job)
    message = at.error[0].value
    assert "diverged" in message and "Lower the learning rate" in message and "Nothing was saved" in message
    assert not (owner_dir(owner(at)) / "boom.safetensors").exists()
    at.switch_page("../pages/home.py")  # the app keeps working
    at.run()
    assert not at.exception


def _tiny_checkpoint(hidden: int = 8) -> bytes:
    model = SequenceClassifier(ModelConfig(hidden_size=hidden))
    return save_checkpoint(user_dir().parent / "scratch.safetensors", model).read_bytes()


def _wrong_shapes() -> bytes:
    tensors = SequenceClassifier(ModelConfig(hidden_size=8)).state_dict()
    meta = {"format": '"rnn-explorer/1"', "config": '{"kind": "lstm", "hidden_size": 16}'}
    return safetensors.torch.save(tensors, metadata=meta)


BAD_UPLOADS = {
    "not safetensors": (lambda: b"\x80\x04\x95 a pickle, not weights" * 4, "not a safetensors file"),
    "truncated": (lambda: _tiny_checkpoint()[:-100], "truncated"),
    "wrong shapes": (_wrong_shapes, "has shape"),
    "huge": (lambda: bytes(MAX_BYTES + 1), "larger than the 50.0 MB limit"),
    "bad metadata": (
        lambda: _tiny_checkpoint().replace(b'"rnn-explorer/1', b'"rnn-explorer/9'),
        "unsupported checkpoint format",
    ),
}


@pytest.mark.parametrize("case", BAD_UPLOADS)
def test_bad_upload_is_rejected_and_changes_nothing(case):
    make, reason = BAD_UPLOADS[case]
    blob = make()
    at = train_page()
    before = sorted(user_dir().rglob("*")) if user_dir().exists() else []
    at.file_uploader[0].set_value(("upload.safetensors", blob, "application/octet-stream"))
    at.run()
    assert at.text_input[-1].value == "upload"
    click(at, "Add checkpoint")
    assert "upload\\.safetensors was not added: " in at.error[0].value and ui.plain(reason) in at.error[0].value
    assert (sorted(user_dir().rglob("*")) if user_dir().exists() else []) == before
    assert not any(o.endswith("/upload") for o in at.selectbox(key="t_checkpoint").options)


def test_upload_with_odd_metadata_shows_dashes_not_a_traceback():
    model = SequenceClassifier(ModelConfig(hidden_size=8))
    path = save_checkpoint(
        user_dir().parent / "scratch.safetensors",
        model,
        metrics={"test_accuracy": "0.9"},
        data={"name": ["x"], "train": "many"},
    )
    at = train_page()
    at.file_uploader[0].set_value(("odd.safetensors", path.read_bytes(), "application/octet-stream"))
    at.run()
    click(at, "Add checkpoint")
    assert "Added odd" in at.success[0].value
    at.selectbox(key="t_checkpoint").set_value(f"{owner(at)[:8]}/odd")
    at.run()
    assert not at.exception
    line = next(m.value for m in at.markdown if m.value.startswith("**LSTM-8**"))
    assert "test accuracy — · unrecorded data" in line
    at.switch_page("../pages/home.py")
    at.run()
    assert not at.exception
    assert "—" in [m.value for m in at.metric if m.label == "Test accuracy"]


def test_a_checkpoint_deleted_under_the_open_page():
    at = train_page()
    save_checkpoint(user_dir() / "doomed.safetensors", SequenceClassifier(ModelConfig(hidden_size=8)))
    at.run()
    at.selectbox(key="t_checkpoint").set_value("doomed")
    at.run()
    assert at.download_button[0].proto.label == "Download"
    (user_dir() / "doomed.safetensors").unlink()  # by another tab, or by hand
    at.run()
    assert not at.exception and "doomed" not in at.selectbox(key="t_checkpoint").options


def test_good_upload_download_and_delete():
    at = train_page()
    at.file_uploader[0].set_value(("My model (1).safetensors", _tiny_checkpoint(), "application/octet-stream"))
    at.run()
    assert at.text_input[-1].value == "My-model-1"
    click(at, "Add checkpoint")
    assert f"Added {ui.plain('My-model-1')} (LSTM-8)" in at.success[0].value
    at.selectbox(key="t_checkpoint").set_value(f"{owner(at)[:8]}/My-model-1")
    at.run()
    assert at.download_button[0].proto.label == "Download"
    assert "read-only" not in " ".join(c.value for c in at.caption)
    delete = next(b for b in at.button if b.label == "Delete")
    assert delete.disabled
    at.checkbox(key="t_sure").check()
    at.run()
    click(at, "Delete")
    assert not (owner_dir(owner(at)) / "My-model-1.safetensors").exists()
    assert f"Deleted {ui.plain('My-model-1')}." in at.toast[0].value
    assert f"{owner(at)[:8]}/My-model-1" not in at.selectbox(key="t_checkpoint").options
    at.selectbox(key="t_checkpoint").set_value("lstm-128")
    at.run()
    assert any("is shipped: you can explore and download it, but only its owner" in c.value for c in at.caption)
    assert "Delete" not in [b.label for b in at.button]


@pytest.mark.slow
def test_two_sessions_train_at_once_a_third_queues_and_starts_when_a_worker_frees(monkeypatch):
    monkeypatch.setenv("RNN_EXPLORER_WORKERS", "2")
    a, b, c = train_page(), train_page(), train_page()
    job_a, job_b = start(a, "alpha", **LONG), start(b, "beta", **LONG)
    assert job_a != job_b and {job_a.status, job_b.status} <= {"queued", "running"}
    until(lambda: job_a.running and job_b.running)  # each in a worker process of its own
    assert job_a.owner != job_b.owner
    wait_for(job_a, Step), wait_for(job_b, Step)
    a.run(), b.run()
    assert "→ alpha" in a.get("progress")[0].proto.text and "→ beta" in b.get("progress")[0].proto.text
    job_c = start(c, "gamma", **TINY)
    assert job_c.status == "queued" and ui.job_manager().queue_position(job_c) == 1
    assert any("position 1 in the queue" in i.value for i in c.info)
    activity = c.dataframe[0].value
    assert list(activity["whose"]) == [ui.owner_tag(job_a.owner), ui.owner_tag(job_b.owner), "yours"]
    assert list(activity["status"]) == ["running", "running", "queued, #1"]
    assert next(x for x in a.button if x.label == "Start training").disabled  # one job per visitor
    click(a, "Stop")
    ui.job_manager().wait(job_a)
    ui.job_manager().wait(job_c, timeout=60)  # it started when alpha's slot freed, and finished
    assert job_c.status == "done" and job_c.started >= job_a.finished


# ---- full MNIST, from a local mirror ---------------------------------------------------------------


def _idx_gz(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes(), mtime=0)


@pytest.fixture
def local_mirror(tmp_path, monkeypatch):
    """A 40 + 20 digit MNIST served over HTTP on 127.0.0.1; the page's download_mnist is pointed at it."""
    rng = np.random.default_rng(0)
    arrays = [
        rng.integers(0, 256, (40, 28, 28)),
        np.arange(40) % 10,
        rng.integers(0, 256, (20, 28, 28)),
        np.arange(20) % 10,
    ]
    files = {}
    for name, values in zip(explorer.data.digits.MNIST_FILES, arrays):
        blob = _idx_gz(values)
        (tmp_path / name).write_bytes(blob)
        files[name] = hashlib.md5(blob).hexdigest()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    mirror = f"http://127.0.0.1:{httpd.server_address[1]}/"
    monkeypatch.setattr(  # the options travel with the job to its worker process
        explorer.serving.tasks, "download_options", lambda: {"mirrors": [mirror], "files": files, "timeout": 5}
    )
    yield
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.slow
def test_full_mnist_is_offered_downloaded_with_progress_then_trained_on(local_mirror):
    at = settle(train_page(), t_data="mnist")
    assert "not downloaded yet" in at.info[0].value
    assert "Start training" not in [b.label for b in at.button]
    click(at, "Download full MNIST")
    job = ui.job_manager().latest(owner(at))
    finish(at, job)
    assert job.status == "done", job.error
    assert len(job.snapshot()) >= 4  # progress reported for every file
    assert at.success[0].value == "Full MNIST is downloaded and verified."
    assert "--data mnist --download" in at.code[0].value
    job = start(at, "on-mnist", **TINY)
    finish(at, job)
    assert job.status == "done", job.error
    meta = read_checkpoint(owner_dir(owner(at)) / "on-mnist.safetensors").meta
    assert meta["data"] == {"name": "mnist", "train": 40, "test": 20, "augment": True}


def test_a_min_cell_with_chrono_initialisation_trains_and_records_both():
    at = train_page()
    assert {"minGRU", "minLSTM"} <= set(at.selectbox(key="t_kind").options)
    settle(at, t_kind="rnn")
    assert at.toggle(key="t_chrono").disabled  # the plain RNN has no gates to give chrono biases
    settle(at, t_kind="mingru")
    settle(at, t_chrono=True)
    assert at.select_slider(key="t_forget").disabled  # chrono sets the forget bias itself
    assert "Tallec & Ollivier" in at.toggle(key="t_chrono").help and "−b_f on z" in at.toggle(key="t_chrono").help
    assert "--kind mingru" in at.code[0].value and "--chrono" in at.code[0].value
    settle(at, t_chrono=False)
    assert "--chrono" not in at.code[0].value
    job = start(at, "tiny-min", t_chrono=True, **TINY)
    assert job.description == "minGRU-16 on the bundled sample → tiny-min"
    finish(at, job)
    assert job.status == "done", job.error
    saved = read_checkpoint(owner_dir(owner(at)) / "tiny-min.safetensors")
    assert saved.config == ModelConfig("mingru", 16) and saved.meta["train_config"]["chrono"] is True
    model_cfg, cfg = configs(parse_args(saved.meta["command"].split()[4:]))  # the recorded command reproduces it
    assert model_cfg == saved.config and cfg.chrono and cfg.forget_bias is None
