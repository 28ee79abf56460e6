"""The Lesson page's shipped models (scripts/train_lesson.sh): present, trained as recorded on the delay task, as
accurate as their metadata says, small, and still telling the lesson's story."""

import pytest

from explorer.data.digits import load_sample
from explorer.data.sequences import SequenceTask
from explorer.model.checkpoint_file import read_checkpoint
from explorer.model.checkpoints import shipped_dir
from explorer.model.network import count_parameters
from explorer.training.loop import accuracy

LESSON = {"delay-rnn-64": ("rnn", None), "delay-lstm-64-bias0": ("lstm", None), "delay-lstm-64": ("lstm", 1.0),
          "delay-gru-64": ("gru", None)}  # fmt: skip


@pytest.mark.parametrize("name", LESSON)
def test_a_lesson_model_is_what_its_script_trained(name):
    path = shipped_dir() / f"{name}.safetensors"
    assert path.stat().st_size < 1_000_000
    ckpt = read_checkpoint(path)
    kind, bias = LESSON[name]
    assert (ckpt.config.kind, ckpt.config.hidden_size, ckpt.config.num_layers) == (kind, 64, 1)
    tc = ckpt.meta["train_config"]
    assert (tc["task"], tc["delay"], tc["delay_at"], tc["forget_bias"]) == ("blank", 20, "after", bias)
    assert ckpt.meta["command"].startswith("python -m explorer train ")
    assert ckpt.meta["command"].endswith(f"--out checkpoints/{name}.safetensors")
    _, test = load_sample()
    measured = accuracy(ckpt.model, test, task=SequenceTask("blank", 20))
    assert measured == pytest.approx(ckpt.accuracy, abs=1e-9)


def test_the_lesson_story_holds_lstm_with_bias_1_over_bias_0_over_the_rnn():
    acc = {n: read_checkpoint(shipped_dir() / f"{n}.safetensors").accuracy for n in LESSON}
    assert acc["delay-lstm-64"] > acc["delay-lstm-64-bias0"] > acc["delay-rnn-64"] + 0.2
    assert acc["delay-gru-64"] > 0.8


def test_the_readme_table_is_the_models_own_numbers():
    readme = (shipped_dir().parent / "README.md").read_text()
    for name in LESSON:
        ckpt = read_checkpoint(shipped_dir() / f"{name}.safetensors")
        size = (shipped_dir() / f"{name}.safetensors").stat().st_size
        row = next(line for line in readme.splitlines() if line.startswith(f"| `{name}` |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[2:] == [
            f"{count_parameters(ckpt.model):,}",
            f"{size / 1e6:.2f} MB",
            f"{100 * ckpt.accuracy:.1f}%",
            f"{ckpt.meta['metrics']['train_seconds']:.1f} s",
        ]
