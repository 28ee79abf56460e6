"""The torch-free path to the browser's model blob (model.arrays, portable.pack_file, config.parameter_shapes):
held number by number to the torch engine it stands in for."""

import itertools
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from explorer.data.digits import load_sample
from explorer.data.sequences import SequenceTask, trained_task
from explorer.model import arrays
from explorer.model.checkpoint_file import read_checkpoint
from explorer.model.checkpoints import list_checkpoints, save_checkpoint
from explorer.model.config import KINDS, ModelConfig, parameter_shapes
from explorer.model.header import CheckpointError
from explorer.model.network import SequenceClassifier, seeded_model
from explorer.model.portable import pack, pack_file
from explorer.model.predictions import predict

SHIPPED = list_checkpoints(include_user=False)


@pytest.mark.parametrize(("kind", "layers", "bidirectional"), list(itertools.product(KINDS, (1, 3), (False, True))))
def test_parameter_shapes_are_the_state_dicts_names_order_and_shapes(kind, layers, bidirectional):
    config = ModelConfig(kind=kind, hidden_size=6, num_layers=layers, bidirectional=bidirectional)
    state = SequenceClassifier(config).state_dict()
    assert list(parameter_shapes(config).items()) == [(k, tuple(v.shape)) for k, v in state.items()]
    assert {v.dtype for v in state.values()} == {torch.float32}  # the header check expects F32 throughout


@pytest.mark.parametrize(
    ("kind", "layers", "bidirectional", "task"),
    [
        (kind, layers, bi, task)
        for kind in KINDS
        for layers, bi in ((1, False), (2, True))
        for task in (SequenceTask(), SequenceTask("blank", 3, "before"), SequenceTask("noise", 2))
    ],
)
def test_numpy_logits_are_torchs(kind, layers, bidirectional, task):
    model = seeded_model(ModelConfig(kind=kind, hidden_size=8, num_layers=layers, bidirectional=bidirectional), 3)
    weights = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    images = load_sample()[1].images[:20].astype(np.float32) / 255.0
    x = arrays.sequences(task, images, start=5)
    expected = task.apply(torch.from_numpy(images), indices=torch.arange(5, 25))
    assert np.array_equal(x, expected.numpy())
    with torch.no_grad():
        want = model(expected).numpy()
    assert np.abs(arrays.logits(model.config, weights, x) - want).max() < 1e-5


@pytest.mark.parametrize("info", SHIPPED, ids=lambda info: info.name)
def test_the_file_packed_in_numpy_is_the_blob_the_loaded_model_packs(info):
    """Byte for byte: the same float32 weights, digits, and predicted classes (model.predictions', in torch)."""
    test, task = load_sample()[1], trained_task(info.meta["train_config"])
    checkpoint = read_checkpoint(info.path)
    expected = pack(
        checkpoint.model, task, test, info.name, info.label, predicted=predict(checkpoint.model, test, task=task)
    )
    assert pack_file(info.path, task, test, info.name, info.label) == expected
    last = len(checkpoint.snapshots) - 1
    for index in (0, last):
        model = checkpoint.snapshot_model(index)
        at = pack(model, task, test, info.name, info.label, predicted=predict(model, test, task=task))
        assert pack_file(info.path, task, test, info.name, info.label, snapshot=index) == at


def test_a_file_read_as_arrays_is_refused_as_read_checkpoint_refuses_it(tmp_path):
    model = seeded_model(ModelConfig(hidden_size=4), 0)
    with torch.no_grad():
        model.head.bias[3] = float("nan")
    path = save_checkpoint(tmp_path / "nan.safetensors", model)
    for read in (read_checkpoint, arrays.read_weights):
        with pytest.raises(CheckpointError, match=r"^tensor head.bias has non-finite values \(NaN or inf\)$"):
            read(path)
    good = save_checkpoint(tmp_path / "good.safetensors", seeded_model(ModelConfig(hidden_size=4), 0))
    with pytest.raises(CheckpointError, match="no snapshot 0"):
        arrays.read_weights(good, 0)
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(good.read_bytes()[:-10])
    messages = []
    for read in (read_checkpoint, arrays.read_weights):
        with pytest.raises(CheckpointError) as caught:
            read(cut)
        messages.append(str(caught.value))
    assert messages[0] == messages[1] and "truncated" in messages[0]


def test_packing_a_file_imports_no_torch():
    code = (
        "import json, sys\n"
        "from explorer.data.digits import load_sample\n"
        "from explorer.data.sequences import ROW_MNIST\n"
        "from explorer.model.checkpoints import shipped_dir\n"
        "from explorer.model.portable import pack_file\n"
        "blob = pack_file(shipped_dir() / 'bilstm-128.safetensors', ROW_MNIST, load_sample()[1], 'n', 'l')\n"
        "print(json.dumps([len(blob), 'torch' in sys.modules]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    size, imported = json.loads(done.stdout)
    assert size > 1_000_000 and not imported
