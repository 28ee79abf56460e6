"""The shipped checkpoints: present, loadable, and as accurate as their metadata says."""

import pytest

from explorer.data.digits import load_sample
from explorer.model.checkpoint_file import read_checkpoint
from explorer.model.checkpoints import shipped_dir
from explorer.training.loop import accuracy

SHIPPED = {"lstm-128": 0.98, "bilstm-128": 0.98, "lstm-2x128": None, "gru-128": None, "rnn-128": None}
SHIPPED |= {"mingru-128": None, "minlstm-128": None}


@pytest.mark.parametrize("name,target", SHIPPED.items())
def test_shipped_checkpoint_accuracy_matches_its_metadata(name, target):
    ckpt = read_checkpoint(shipped_dir() / f"{name}.safetensors")
    _, test = load_sample()
    measured = accuracy(ckpt.model, test)
    assert measured == pytest.approx(ckpt.accuracy, abs=1e-9)
    assert ckpt.meta["data"] == {"name": "sample", "train": 4000, "test": 1000, "augment": True}
    assert ckpt.meta["command"].startswith(("python -m explorer.train ", "python -m explorer train "))
    if target is not None:
        assert measured >= target
