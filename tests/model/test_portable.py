"""The model as the browser gets it: every weight, digit and noise row survives the trip, within the budget."""

import numpy as np
import pytest

from explorer.data.digits import load_sample
from explorer.data.sequences import ROW_MNIST, SequenceTask, digit_sequence
from explorer.model.checkpoint_file import read_checkpoint
from explorer.model.checkpoints import list_checkpoints, shipped_dir
from explorer.model.config import ModelConfig
from explorer.model.network import untrained_model
from explorer.model.portable import BUDGET, DRAWING, digits_to_send, pack, tensor_names, unpack

TEST = load_sample()[1]


@pytest.mark.parametrize(
    ("kind", "gates", "per_direction"),
    [("gru", ["r", "z", "n"], 4), ("mingru", ["z", "n"], 2), ("minlstm", ["f", "i", "g"], 2)],
)
def test_every_weight_and_digit_arrives_exactly(kind, gates, per_direction):
    """Every tensor of the model, and only those: minGRU and minLSTM have no W_hh, b_hh, and none is made up."""
    model = untrained_model(ModelConfig(kind, 16, num_layers=2, bidirectional=True), seed=3)
    header, tensors, digits, noise = unpack(pack(model, ROW_MNIST, TEST, "gru-x", "GRU <b>x</b>"))
    state = {k.removeprefix("rnn."): v for k, v in model.state_dict().items()}
    assert list(tensors) == tensor_names(model.config) and set(tensors) == set(state)
    assert len(tensors) == 2 * 2 * per_direction + 2
    for name, value in tensors.items():
        assert np.array_equal(value, state[name].numpy()), name
    assert header["label"] == "GRU <b>x</b>"  # carried as data: the browser sets it as text
    assert header["config"] == {"kind": kind, "hidden": 16, "layers": 2, "directions": 2, "gates": gates}
    floats = sum(p.numel() for p in model.parameters())
    assert sum(int(np.prod(t["shape"])) for t in header["tensors"]) == floats
    assert noise is None and header["digits"]["count"] == len(digits) == len(TEST)
    assert np.array_equal(digits, TEST.images) and header["digits"]["labels"] == TEST.labels.tolist()


def test_a_wrong_offset_is_caught():
    """The check above can fail: shift the float section by one element and the weights no longer match."""
    model = untrained_model(ModelConfig("rnn", 4), seed=0)
    blob = bytearray(pack(model, ROW_MNIST, TEST, "r", "R"))
    _, tensors, _, _ = unpack(bytes(blob))
    start = 8 + int.from_bytes(blob[4:8], "little")
    start += -start % 4  # the float section
    broken = bytes(blob[:start]) + b"\0\0\0\0" + bytes(blob[start:-4])
    _, shifted, _, _ = unpack(broken)
    assert not np.array_equal(shifted["weight_ih_l0"], tensors["weight_ih_l0"])


@pytest.mark.parametrize("task", [SequenceTask("noise", 7, "before"), SequenceTask("noise", 5, "after")])
def test_noise_rows_are_the_engines(task):
    model = untrained_model(ModelConfig("lstm", 8), seed=0)
    header, _, digits, noise = unpack(pack(model, task, TEST, "n", "N", max_digits=12))
    assert len(digits) == 12 and noise.shape == (13, task.delay, 28) and header["noise"]["drawing"] == 12
    rows = slice(0, task.delay) if task.at == "before" else slice(28, None)
    for k in (0, 11):
        assert np.array_equal(noise[k], digit_sequence(task, TEST.images[k] / 255, k)[rows])
    assert np.array_equal(noise[12], digit_sequence(task, np.zeros((28, 28)), DRAWING)[rows])


def test_every_shipped_model_fits_the_budget():
    """The BiLSTM-128 goes with every bundled test digit; the 2-layer LSTM, the largest, with most of them; the
    min cells, which have no W_hh, with every one."""
    names = set()
    for info in list_checkpoints(shipped_dir()):
        names.add(info.name)
        model = read_checkpoint(info.path).model
        blob = pack(model, ROW_MNIST, TEST, info.name, info.label)
        assert len(blob) <= BUDGET, (info.name, len(blob))
        count = unpack(blob)[0]["digits"]["count"]
        everything = info.name in ("bilstm-128", "mingru-128", "minlstm-128")
        assert count == (len(TEST) if everything else count) and count >= 800, info.name
    assert {"mingru-128", "minlstm-128"} <= names


def test_a_long_noise_delay_sends_fewer_digits_within_the_budget():
    model = untrained_model(ModelConfig("lstm", 128, bidirectional=True), seed=0)
    task = SequenceTask("noise", 100, "after")
    weights = 4 * sum(p.numel() for p in model.parameters())
    count = digits_to_send(task, weights, len(TEST))
    assert 0 < count < len(TEST)
    blob = pack(model, task, TEST, "b", "B")
    assert len(blob) <= BUDGET and unpack(blob)[0]["digits"]["count"] == count
    assert digits_to_send(ROW_MNIST, weights, len(TEST)) == len(TEST)
