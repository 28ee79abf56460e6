"""Snapshots: the schedule, the weights they hold, that recording them changes nothing, and validated files."""

import json

import numpy as np
import pytest
import torch

from explorer.data.digits import Digits, load_sample
from explorer.model import snapshots
from explorer.model.checkpoint_file import CheckpointError, read_checkpoint
from explorer.model.checkpoints import list_checkpoints, save_checkpoint, user_dir
from explorer.model.config import ModelConfig
from explorer.model.network import SequenceClassifier, seeded_model
from explorer.readings.gradients import training_decay_reading
from explorer.readings.models import point_note
from explorer.readings.watch import replay_caption
from explorer.training.loop import TrainConfig, accuracy, train

SMALL = ModelConfig(kind="gru", hidden_size=8)


@pytest.fixture(scope="module")
def digits():
    tr, te = load_sample()
    return Digits(tr.images[:640], tr.labels[:640]), Digits(te.images[:100], te.labels[:100])


def test_the_schedule():
    early, ends = snapshots.plan(63, 100)  # the shipped models: 4,000 digits in batches of 64, 100 epochs
    assert early == {5, 20, 60} and ends == {1, 2, 4, 7, 14, 27, 52} and 100 not in ends
    assert snapshots.count(63, 100) == 11
    assert snapshots.plan(10, 1) == ({5}, set())  # a one-epoch run: its end is the final weights
    assert snapshots.plan(3, 2) == (set(), {1})


def test_recording_snapshots_changes_nothing_and_they_hold_the_weights_of_their_moment(digits):
    cfg = TrainConfig(epochs=4, batch_size=64, augment=True, seed=1)  # 10 steps per epoch
    exact = {}

    def at_epoch(h):
        exact[h.epoch[-1]] = {k: v.clone() for k, v in model_ref.state_dict().items()}

    with_snaps = train(SMALL, cfg, *digits, on_epoch=lambda h: None)
    model_ref = seeded_model(SMALL, 1)
    result = train(SMALL, cfg, *digits, on_epoch=at_epoch, model=model_ref)
    without = train(SMALL, TrainConfig(epochs=4, batch_size=64, augment=True, seed=1, snapshots=False), *digits)
    for a, b in zip(with_snaps.model.state_dict().values(), without.model.state_dict().values()):
        assert torch.equal(a, b)  # evaluation only: the run's random draws are the same with and without
    assert without.snapshots == []
    snaps = result.snapshots
    assert [s.label for s in snaps] == ["init", "step 5", "epoch 1", "epoch 2", "epoch 3"]  # not 4: the final weights
    assert [s.step for s in snaps] == [0, 5, 10, 20, 30] and snaps[1].epoch == 0.5
    for snap, epoch in ((snaps[2], 1), (snaps[3], 2)):
        for name, value in snap.state.items():
            assert value.dtype == torch.float16
            torch.testing.assert_close(value.float(), exact[epoch][name], rtol=1e-3, atol=1e-3)
        assert snap.test_accuracy == result.history.test_accuracy[epoch - 1]
        assert snap.loss == result.history.loss[epoch - 1]
    assert snaps[0].loss is None and snaps[1].loss == result.history.step_loss[4]


def test_a_checkpoint_round_trips_its_snapshots(digits, tmp_path):
    result = train(SMALL, TrainConfig(epochs=3, batch_size=64, seed=2), *digits)
    path = save_checkpoint(tmp_path / "m.safetensors", result.model, snapshots=result.snapshots)
    ckpt = read_checkpoint(path)
    assert [s.meta() for s in ckpt.snapshots] == [s.meta() for s in result.snapshots]
    for i, snap in enumerate(result.snapshots):
        model = ckpt.snapshot_model(i)
        for name, value in model.state_dict().items():
            assert value.dtype == torch.float32 and torch.equal(value, snap.state[name].float())
    x = torch.from_numpy(digits[1].images[:5].astype(np.float32) / 255)
    with torch.no_grad():
        model = ckpt.snapshot_model(0)
        assert accuracy(model, digits[1]) == pytest.approx(result.snapshots[0].test_accuracy, abs=0.02)
        assert model(x).shape == (5, 10)
    assert ckpt.model.state_dict().keys() == result.model.state_dict().keys()  # the final weights, exact
    assert all(torch.equal(ckpt.model.state_dict()[k], v) for k, v in result.model.state_dict().items())


def blob_with(path, edit) -> bytes:
    """The file's bytes with its header edited by edit(header dict)."""
    blob = path.read_bytes()
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8 : 8 + n])
    edit(header)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + blob[8 + n :]


@pytest.mark.parametrize(
    "edit,message",
    [
        (lambda h: h["__metadata__"].update(snapshots=json.dumps([])), "lists 0 snapshots, the file holds 2"),
        (
            lambda h: h["__metadata__"].update(
                snapshots=json.dumps([{"step": 0, "epoch": 0}, {"step": 0, "epoch": 1}])
            ),
            "steps go back",
        ),
        (
            lambda h: h["__metadata__"].update(
                snapshots=json.dumps([{"step": 0, "epoch": 0}, {"step": 3, "epoch": 1, "test_accuracy": 7}])
            ),
            "not a valid number",
        ),
        (lambda h: h.update({"snapshot.05.head.bias": h["snapshot.01.head.bias"]}), "numbered 00 to"),
        (lambda h: h.pop("snapshot.01.head.bias"), "snapshot 01 lacks tensors: head.bias"),
        (lambda h: h.update({"snapshot.01.evil": h["snapshot.01.head.bias"]}), "extra tensors: snapshot.01.evil"),
        (lambda h: h["snapshot.00.head.bias"].update(dtype="F32"), "snapshot 00: tensor head.bias is not a float16"),
    ],
)
def test_bad_snapshots_are_rejected_with_a_reason(tmp_path, edit, message):
    model = SequenceClassifier(SMALL)
    snaps = [snapshots.capture(model, 0, 0.0, None, 0.1), snapshots.capture(model, 3, 1.0, 2.3, 0.2)]
    path = save_checkpoint(tmp_path / "m.safetensors", model, snapshots=snaps)
    assert len(read_checkpoint(path).snapshots) == 2
    with pytest.raises(CheckpointError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_checkpoint(blob_with(path, edit))


def test_points_end_with_the_final_weights():
    snaps = [snapshots.Snapshot(0, 0.0, None, 0.1, {}), snapshots.Snapshot(60, 0.95, 1.2, 0.4, {})]
    history = {"loss": [1.0, 0.5, 0.2]}
    pts = snapshots.points(snaps, {"epoch": 3, "steps": 189, "test_accuracy": 0.97}, history)
    assert [p.label for p in pts] == ["init", "step 60", "final (epoch 3)"] and [p.index for p in pts] == [0, 1, None]
    assert (pts[-1].loss, pts[-1].test_accuracy, pts[-1].step) == (0.2, 0.97, 189)
    odd = snapshots.points([], {"epoch": "three", "test_accuracy": 7, "steps": -1}, {"loss": "x"})
    assert odd == [snapshots.Point(None, "final", 0, 0.0, None, None)]  # a visitor's file: nothing unvalidated


def test_the_points_from_a_header_are_those_of_the_loaded_checkpoint():
    """recorded_points(meta) (what Watch it read lists without loading the weights) equals points() of the
    loaded snapshots, for every shipped checkpoint (all with snapshots) and one saved without any."""
    save_checkpoint(user_dir() / "plain.safetensors", seeded_model(ModelConfig(hidden_size=4), 0), metrics={"epoch": 1})
    lengths = []
    for info in list_checkpoints():
        ckpt = read_checkpoint(info.path)
        expected = snapshots.points(ckpt.snapshots, ckpt.meta["metrics"], ckpt.meta["history"])
        assert snapshots.recorded_points(info.meta) == expected, info.name
        lengths.append(len(expected))
    assert min(lengths) == 1 and max(lengths) > 10


def fake_traces(finals):
    """Traces whose only use here is P(class) after the last row: one per point, a one-hot on each guess."""
    out = []
    for guess in finals:
        probs = np.full((1, 28, 10), 0.02)
        probs[0, -1, guess] = 0.82
        out.append(type("T", (), {"probs": probs})())
    return out


def test_replay_and_point_readings():
    history = snapshots.points([], {"epoch": 3, "test_accuracy": 0.9, "steps": 30}, {"loss": [1.0, 0.5, 0.25]})
    (final,) = history
    assert final.label == "final (epoch 3)" and final.loss == 0.25
    assert point_note(final) == "test accuracy 90.0%, training loss 0.250, after 30 optimizer steps"
    bare = snapshots.Point(0, "init", 0, 0.0, None, None)
    assert point_note(bare) == "test accuracy unrecorded, after 0 optimizer steps"
    labels = [snapshots.Point(i, f"p{i}", i, float(i), None, None) for i in range(4)]
    assert replay_caption(labels, fake_traces([3, 7, 5, 7]), 7).endswith("the answer is 7 from p3 on.")
    assert replay_caption(labels, fake_traces([3, 7, 7, 7]), 7).endswith("the answer is 7 from p1 on.")
    assert replay_caption(labels, fake_traces([3, 7, 7, 1]), 7).endswith("the model's answer is 1 in the end, not 7.")
    assert "P(1) after the last row goes from 2.0% at p0 to 82.0% at p3" in replay_caption(
        labels, fake_traces([3, 7, 7, 1]), None
    )


def shares(**ratios) -> dict:
    """label -> per-sample norms (2 digits, rows 1 and T) whose batch medians give that share of row T's gradient."""
    return {label.replace("_", " "): np.array([[r, 1.0], [r, 1.0]]) for label, r in ratios.items()}


def test_training_decay_reading_compares_what_it_shows():
    assert "it stays at the same power of ten" in training_decay_reading(shares(init=0.011, final=0.014), 28)
    text = training_decay_reading(shares(init=1e-6, epoch_1=1e-3, final=2e-2), 48)
    assert text.startswith("Row 1 receives 10⁻⁶ of row 48's gradient at init and 10⁻² at final")
    assert "training lengthened" in text
    assert "training shortened" in training_decay_reading(shares(init=0.5, final=1e-4), 28)


def test_the_readme_quotes_the_shipped_replays():
    """README's figures: lstm-128's accuracies over training, and the share of row 28's gradient reaching row 1
    on the default batch (256 digits, seed 0) at init, after 20 steps and at the end."""
    from pathlib import Path

    from explorer.analysis.gradients import bptt_profile, digit_batch, first_to_last_ratio
    from explorer.model.checkpoints import shipped_dir
    from explorer.readings.gradients import power_of_ten

    readme = " ".join((Path(__file__).resolve().parents[2] / "README.md").read_text().split())
    x, y = digit_batch(load_sample()[1], 256, 0)
    shares = {}
    for name in ("rnn-128", "lstm-128"):
        ckpt = read_checkpoint(shipped_dir() / f"{name}.safetensors")
        history = {p.label: p for p in snapshots.points(ckpt.snapshots, ckpt.meta["metrics"], ckpt.meta["history"])}
        assert len(ckpt.snapshots) == 11 and list(history)[-1] == "final (epoch 100)"
        nets = {"init": ckpt.snapshot_model(0), "step 20": ckpt.snapshot_model(history["step 20"].index)}
        nets["final"] = ckpt.model
        shares[name] = [
            power_of_ten(first_to_last_ratio(bptt_profile(m, x, y).dh_last_row[-1, 0])) for m in nets.values()
        ]
        if name == "lstm-128":
            acc = [history[k].test_accuracy for k in ("init", "step 20", "epoch 1", "epoch 7", "final (epoch 100)")]
            quoted = (
                "{:.0%} at init, {:.0%} after 20 steps, {:.0%} after one epoch, {:.0%} after 7 and {:.1%} at the end"
            )
            assert quoted.format(*acc) in readme
    rnn, lstm = shares.values()
    assert f"`rnn-128` starts at {rnn[0]} (vanishing" in readme and f"is at {rnn[1]} after only 20" in readme
    assert f"and ends at {rnn[2]}; `lstm-128` goes {lstm[0]} → {lstm[1]} after 20 steps → {lstm[2]}." in readme
