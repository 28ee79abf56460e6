"""Training loop: learning, determinism, truncation, stop requests and the NaN guard; the Train page's job,
the equivalent CLI command and the live training figure."""

import shlex

import numpy as np
import pytest
import torch
from recording_job import RecordingJob

import explorer.data.digits as data
import explorer.serving.tasks as tasks
import explorer.training.loop as training
from explorer.analysis.live import look_inside
from explorer.data.digits import DataError, Digits, load_digits, load_sample
from explorer.figures.training import smooth, training_curves_figure
from explorer.model.checkpoint_file import read_checkpoint
from explorer.model.checkpoints import shipped_dir
from explorer.model.config import ModelConfig
from explorer.model.network import SequenceClassifier, init_weights, seeded_model
from explorer.serving.tasks import EpochEnd
from explorer.training.cli import command_line, configs, parse_args
from explorer.training.loop import DivergedError, Step, TrainConfig, accuracy, accuracy_within, pick_device, train
from explorer.training.losses import loss_logits, per_sample_loss
from explorer.training.metadata import canonical_command

SMALL = ModelConfig(kind="lstm", hidden_size=16)


@pytest.fixture(scope="module")
def digits():
    tr, te = load_sample()
    return Digits(tr.images[:512], tr.labels[:512]), Digits(te.images[:200], te.labels[:200])


def test_short_training_learns_and_reports(digits):
    steps, epochs = [], []
    result = train(
        SMALL,
        TrainConfig(epochs=3, batch_size=32, lr=1e-2, augment=False),
        *digits,
        on_step=steps.append,
        on_epoch=lambda h: epochs.append(h.epoch[-1]),
    )
    h = result.history
    assert len(steps) == 3 * 16 and steps[-1].step == steps[-1].total_steps == 48
    assert epochs == [1, 2, 3] and h.epoch == [1, 2, 3]
    assert h.loss[-1] < 0.97 * h.loss[0] and h.test_accuracy[-1] > 0.18  # above chance (0.1)
    assert result.metrics["test_accuracy"] == h.test_accuracy[-1]
    assert result.metrics["train_accuracy"] == h.train_accuracy[-1]
    assert result.metrics["epoch"] == 3 and result.metrics["partial_epoch"] is False
    assert not result.model.training and all(s.grad_norm > 0 and s.samples_per_s > 0 for s in steps)


@pytest.mark.parametrize("kind,k", [("lstm", 28), ("gru", 7), ("rnn", 28)])
def test_same_seed_same_result(digits, kind, k):
    cfg = TrainConfig(epochs=1, batch_size=64, k=k, seed=3)
    a = train(ModelConfig(kind=kind, hidden_size=8), cfg, *digits).model.state_dict()
    b = train(ModelConfig(kind=kind, hidden_size=8), cfg, *digits).model.state_dict()
    assert all(torch.equal(a[n], b[n]) for n in a)


@pytest.mark.parametrize("k", [28, 7])  # the fused module's dropout and the unroll's F.dropout
def test_dropout_runs_are_reproducible_and_leave_the_global_rng_alone(digits, k):
    model_cfg = ModelConfig(kind="lstm", hidden_size=8, num_layers=2, dropout=0.5)
    cfg = TrainConfig(epochs=1, batch_size=128, k=k, seed=3)
    before = torch.get_rng_state()
    a = train(model_cfg, cfg, *digits).model.state_dict()
    assert torch.equal(torch.get_rng_state(), before)
    torch.rand(10)
    b = train(model_cfg, cfg, *digits).model.state_dict()
    assert all(torch.equal(a[n], b[n]) for n in a)
    c = train(model_cfg, TrainConfig(epochs=1, batch_size=128, k=k, seed=4), *digits).model.state_dict()
    assert not torch.equal(a["rnn.weight_hh_l1"], c["rnn.weight_hh_l1"])


def test_accuracy_counts_correct_argmaxes_and_keeps_the_mode(digits):
    torch.manual_seed(0)
    model = SequenceClassifier(SMALL).train()
    test = digits[1]
    x, y = test.tensors()
    with torch.no_grad():
        expected = int((model.eval()(x).argmax(-1) == y).sum()) / len(y)
    model.train()
    assert accuracy(model, test, batch_size=64) == expected and model.training


def test_truncation_really_detaches():
    torch.manual_seed(0)
    model = SequenceClassifier(SMALL)
    x = torch.rand(4, 28, 28, requires_grad=True)
    y = torch.randint(0, 10, (4,))
    (g,) = torch.autograd.grad(per_sample_loss(loss_logits(model, x, "last", k=5), y).sum(), [x])
    assert torch.all(g[:, :23] == 0) and torch.all(g[:, 23:].abs().sum(-1) > 0)


def test_tbptt_trains_on_the_fused_module_and_only_artbp_unrolls_step_by_step(digits, monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("this scheme must not unroll step by step")

    monkeypatch.setattr("explorer.training.truncation.unroll", boom)
    small = Digits(digits[0].images[:128], digits[0].labels[:128]), digits[1]
    for cfg in (
        TrainConfig(epochs=1),
        TrainConfig(epochs=1, k=7),
        TrainConfig(epochs=1, k=10, k1=1),
        TrainConfig(epochs=1, k=5, align="start", update="chunk"),
    ):
        train(SMALL, cfg, *small)
    with pytest.raises(AssertionError, match="unroll"):
        train(SMALL, TrainConfig(epochs=1, k=5, scheme="artbp"), *small)


def test_stop_request_between_steps_keeps_a_working_model(digits):
    calls = []
    result = train(
        SMALL, TrainConfig(epochs=5, batch_size=32), *digits, on_step=calls.append, should_stop=lambda: len(calls) >= 20
    )
    assert len(calls) == 20 and result.history.stopped
    assert result.metrics["stopped"] and result.metrics["epochs_run"] == 1
    # 16 steps an epoch: the weights are epoch 1's end, or 4 steps into epoch 2, whichever fits better
    assert result.metrics["epoch"] == 1
    assert 0.0 <= result.metrics["test_accuracy"] <= 1.0


def test_stop_during_the_first_epoch_says_so(digits):
    calls = []
    result = train(
        SMALL, TrainConfig(epochs=5, batch_size=32), *digits, on_step=calls.append, should_stop=lambda: len(calls) >= 5
    )
    m = result.metrics
    assert m["stopped"] and m["steps"] == 5 and m["epochs_run"] == 0
    assert m["epoch"] == 0 and m["partial_epoch"] is True  # "stopped during epoch 1"


def test_nan_loss_stops_with_last_good_weights(digits):
    # Saturating cells survive absurd learning rates; only steps near float32 max overflow the weights.
    with pytest.raises(DivergedError, match="Lower the learning rate") as err:
        train(
            ModelConfig(kind="rnn", hidden_size=16), TrainConfig(epochs=2, optimizer="sgd", lr=1e38, clip=None), *digits
        )
    model = err.value.result.model
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_config_validation():
    with pytest.raises(ValueError, match="k must be"):
        TrainConfig(k=0)
    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig(optimizer="rmsprop")


@pytest.mark.parametrize("gpu", [False, True])
def test_device_choice_with_and_without_a_gpu(monkeypatch, gpu):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpu)
    assert pick_device("auto") == torch.device("cuda" if gpu else "cpu")
    assert pick_device("cpu") == torch.device("cpu")
    if gpu:
        assert pick_device("cuda") == torch.device("cuda")
    else:
        with pytest.raises(ValueError, match="no CUDA GPU is available"):
            pick_device("cuda")


def test_cli_dry_run_and_help(capsys):
    from explorer.training.cli import main

    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    assert "--k" in capsys.readouterr().out
    assert main(["--dry-run", "--hidden", "8"]) == 0
    assert "test accuracy" in capsys.readouterr().err


# ---- the Train page's background job, the equivalent CLI command, the live figure ----------------


def test_run_training_reports_progress_and_saves_a_complete_checkpoint(digits, monkeypatch, tmp_path):
    monkeypatch.setattr(tasks, "load_digits", lambda source: digits)
    job = RecordingJob()
    cfg = TrainConfig(epochs=2, batch_size=128)
    outcome = tasks.run_training(job, SMALL, cfg, "sample", tmp_path / "tiny.safetensors", "python -m ...")
    steps = [r for r in job.snapshot() if isinstance(r, Step)]
    ends = [r for r in job.snapshot() if isinstance(r, EpochEnd)]
    assert len(steps) == 2 * 4 and [e.epoch for e in ends] == [1, 2] and steps[-1].total_epochs == 2
    assert outcome.error is None and outcome.path == tmp_path / "tiny.safetensors"
    saved = read_checkpoint(outcome.path)
    assert saved.meta["metrics"] == outcome.metrics and outcome.metrics["stopped"] is False
    assert saved.meta["train_config"] == cfg.to_dict() and saved.meta["command"] == "python -m ..."
    assert saved.meta["data"] == {"name": "sample", "train": 512, "test": 200, "augment": True}
    assert saved.meta["history"]["test_accuracy"] == [e.test_accuracy for e in ends]
    assert [s.label for s in saved.snapshots] == ["init", "epoch 1"]  # 4 steps an epoch: no early step fits
    images, labels = digits[1].tensors()  # the last epoch's look inside is the saved model's
    expected = look_inside(saved.model, images[0], images[:32], labels[:32], 2)
    view = ends[-1].view
    assert view.epoch == 2 and set(view.states) == {"i", "f", "g", "o", "c", "h"}
    np.testing.assert_allclose(view.states["h"], expected.states["h"], atol=1e-6)
    np.testing.assert_allclose(view.probs, expected.probs, atol=1e-6)
    np.testing.assert_allclose(view.profile, expected.profile, rtol=1e-5)


def test_looking_inside_every_epoch_changes_nothing(digits):
    cfg = TrainConfig(epochs=2, batch_size=64, seed=5)
    images, labels = digits[1].tensors()
    views = []
    looked = train(
        SMALL, cfg, *digits, on_weights=lambda m, e: views.append(look_inside(m, images[0], images[:8], labels[:8], e))
    )
    plain = train(SMALL, cfg, *digits)
    assert [v.epoch for v in views] == [1, 2]
    for a, b in zip(looked.model.state_dict().values(), plain.model.state_dict().values()):
        assert torch.equal(a, b)


def test_run_training_saves_a_stopped_run_and_not_a_diverged_one(digits, monkeypatch, tmp_path):
    monkeypatch.setattr(tasks, "load_digits", lambda source: digits)
    job = RecordingJob()
    job.report = lambda record: job.stop() if isinstance(record, EpochEnd) else None
    outcome = tasks.run_training(
        job, SMALL, TrainConfig(epochs=50, batch_size=128), "sample", tmp_path / "stopped.safetensors", ""
    )
    assert outcome.metrics["stopped"] and outcome.metrics["epochs_run"] == 1
    assert outcome.metrics["epoch"] == 1 and outcome.metrics["partial_epoch"] is False  # stopped between epochs
    assert read_checkpoint(outcome.path).meta["metrics"]["stopped"] is True

    diverging = TrainConfig(epochs=2, optimizer="sgd", lr=1e38, clip=None)
    outcome = tasks.run_training(
        RecordingJob("k"),
        ModelConfig(kind="rnn", hidden_size=16),
        diverging,
        "sample",
        tmp_path / "boom.safetensors",
        "",
    )
    assert outcome.path is None and "Lower the learning rate" in outcome.error
    assert not (tmp_path / "boom.safetensors").exists()


def test_data_sources():
    assert not data.mnist_downloaded()  # conftest gives every test an empty cache
    with pytest.raises(ValueError, match="data source"):
        data.load_digits("cifar")
    with pytest.raises(DataError, match="not downloaded"):
        data.load_digits("mnist")


@pytest.mark.parametrize(
    "model_cfg, cfg, data",
    [
        (ModelConfig(), TrainConfig(), "sample"),
        (
            ModelConfig(kind="gru", hidden_size=64, num_layers=3, bidirectional=True, dropout=0.25),
            TrainConfig(
                epochs=7,
                batch_size=16,
                optimizer="sgd",
                lr=1e38,
                schedule="none",
                clip=None,
                k=5,
                loss_at="every",
                augment=False,
                seed=11,
                device="cpu",
            ),
            "mnist",
        ),
        (ModelConfig(kind="rnn", hidden_size=16), TrainConfig(lr=0.0012345678901, clip=2.5), "sample"),
    ],
)
def test_command_line_is_the_inverse_of_the_cli_parser(model_cfg, cfg, data):
    words = shlex.split(command_line(model_cfg, cfg, data, "/tmp/my dir/x.safetensors"))
    assert words[:4] == ["python", "-m", "explorer", "train"]
    args = parse_args(words[4:])
    assert configs(args) == (model_cfg, cfg)
    assert args.data == data and args.download == (data == "mnist") and args.out == "/tmp/my dir/x.safetensors"


def test_shipped_command_lines_are_what_the_page_would_write():
    assert command_line(
        ModelConfig(hidden_size=128, bidirectional=True), TrainConfig(), out="checkpoints/bilstm-128.safetensors"
    ) == canonical_command(
        read_checkpoint(shipped_dir() / "bilstm-128.safetensors").meta["command"]
    )  # shipped checkpoints record the older spelling `python -m explorer.train`, read as the same command


def test_cli_rejects_out_of_range_values_cleanly(capsys):
    from explorer.training.cli import main

    assert main(["--hidden", "0"]) == 2
    assert capsys.readouterr().err.startswith("error: hidden_size must be in 1..1024")
    assert main(["--k", "40"]) == 2
    assert capsys.readouterr().err.startswith("error: k must be in 1..28")
    with pytest.raises(SystemExit) as e:
        main(["--loss-at", "first"])
    assert e.value.code == 2


@pytest.fixture
def tiny_cli_data(digits, monkeypatch):
    """The CLI trains on the 512/200 test digits instead of the 4,000/1,000 of the sample."""
    monkeypatch.setattr(
        "explorer.training.cli.load_digits", lambda source: digits if source == "sample" else load_digits(source)
    )


def test_cli_saves_the_command_that_reproduces_it(tmp_path, capsys, tiny_cli_data):
    from explorer.training.cli import main

    out = tmp_path / "m.safetensors"
    assert (
        main(
            [
                "--kind",
                "gru",
                "--hidden",
                "8",
                "--epochs",
                "1",
                "--batch-size",
                "512",
                "--lr",
                "0.003",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    meta = read_checkpoint(out).meta
    assert meta["command"] == command_line(
        ModelConfig(kind="gru", hidden_size=8), TrainConfig(epochs=1, batch_size=512), out=str(out)
    )


def test_cli_reports_data_and_save_errors_cleanly(tmp_path, capsys, tiny_cli_data):
    from explorer.training.cli import main

    assert main(["--data", "mnist", "--hidden", "8"]) == 1
    assert capsys.readouterr().err.startswith("error: Full MNIST is not downloaded")
    (tmp_path / "file").write_text("not a folder")
    assert main(["--hidden", "8", "--epochs", "1", "--batch-size", "512", "--out", str(tmp_path / "file" / "x")]) == 1
    err = capsys.readouterr().err
    assert "error: could not save x" in err and "Traceback" not in err


def test_smooth_is_a_bias_corrected_moving_average():
    # by hand, weight 0.5: a1 = 0.5*4 = 2, a2 = 0.5*2 + 0.5*2 = 2, a3 = 0.5*2 + 0.5*8 = 5; divided by 1 - 0.5^n
    np.testing.assert_allclose(smooth([4.0, 2.0, 8.0], weight=0.5), [2 / 0.5, 2 / 0.75, 5 / 0.875])
    assert smooth([], 0.9).shape == (0,)
    np.testing.assert_allclose(smooth([3.0] * 50), 3.0)  # a constant stays constant from the first step


def test_training_curves_figure_thins_long_runs_and_spans_the_whole_run():
    losses = list(np.linspace(2.3, 0.1, 6300))
    fig = training_curves_figure(
        losses, [1, 2, 3], [0.5, 0.8, 0.9], [0.4, 0.7, 0.85], total_steps=6300, total_epochs=100, max_points=1000
    )
    raw, smoothed, train_acc, test_acc = fig.data
    assert 900 <= len(raw.x) <= 1001 and raw.x[0] == 1 and raw.x[-1] == 6300 and raw.y[-1] == losses[-1]
    assert len(smoothed.y) == len(raw.x) and smoothed.y[0] == losses[0]
    assert list(train_acc.y) == [50, 80, 90] and list(test_acc.x) == [1, 2, 3]
    assert fig.layout.xaxis.range == (0, 6300) and fig.layout.xaxis2.range == (0.5, 100.5)
    assert fig.layout.xaxis2.dtick == 10  # whole, round epochs
    assert fig.layout.yaxis.type == "log"
    empty = training_curves_figure([], [], [], [])  # before the first step
    assert all(len(trace.x) == 0 for trace in empty.data)


def test_a_stop_after_an_epoch_keeps_its_measured_numbers_and_evaluates_nothing_more(digits, monkeypatch):
    calls, ends = [], []
    real = training.accuracy

    def counting(*args, **kwargs):
        calls.append(len(ends))
        return real(*args, **kwargs)

    monkeypatch.setattr(training, "accuracy", counting)
    result = train(
        SMALL,
        TrainConfig(epochs=5, batch_size=128),
        *digits,
        on_epoch=lambda h: ends.append(1),
        should_stop=lambda: len(ends) >= 2,
    )
    assert result.history.stopped and len(result.history.epoch) == 2
    assert max(calls) == 1  # only the two epoch ends measured (train probe + test each): nothing after the stop
    m, h = result.metrics, result.history
    best = int(np.argmax(h.train_accuracy))
    assert m["epoch"] == best + 1 and m["test_accuracy"] == h.test_accuracy[best]
    assert m["train_accuracy"] == h.train_accuracy[best]


def test_a_stop_in_the_first_epoch_tests_only_as_many_digits_as_time_allows(digits, monkeypatch):
    monkeypatch.setattr(training, "STOP_EVALUATION_SECONDS", 0.0)
    calls = []
    result = train(
        SMALL, TrainConfig(epochs=5, batch_size=32), *digits, on_step=calls.append, should_stop=lambda: len(calls) >= 3
    )
    m = result.metrics
    assert m["epoch"] == 0 and m["partial_epoch"] and m["test_evaluated"] == 100  # one batch, the minimum
    acc, tested = accuracy_within(result.model, digits[1], seconds=60)
    assert tested == len(digits[1]) and acc == accuracy(result.model, digits[1])
    assert accuracy_within(result.model, digits[1], seconds=0, batch_size=50) == (
        accuracy(result.model, Digits(digits[1].images[:50], digits[1].labels[:50])),
        50,
    )


def test_delay_tasks_forget_bias_and_frozen_input_weights(digits):
    small = Digits(digits[0].images[:128], digits[0].labels[:128]), Digits(digits[1].images[:50], digits[1].labels[:50])
    cfg = TrainConfig(epochs=1, batch_size=64, task="noise", delay=5, forget_bias=2.0, freeze_input=True, seed=3)
    init = init_weights(seeded_model(SMALL, 3), forget_bias=2.0)
    result = train(SMALL, cfg, *small)
    trained = result.model.rnn
    assert torch.equal(trained.weight_ih_l0, init.rnn.weight_ih_l0)  # frozen: still the initial input weights
    assert not torch.equal(trained.bias_ih_l0, init.rnn.bias_ih_l0) and not torch.equal(
        trained.weight_hh_l0, init.rnn.weight_hh_l0
    )
    assert result.metrics["test_accuracy"] == accuracy(result.model, small[1], task=cfg.sequence_task)
    with pytest.raises(ValueError, match="k must be in 1..33"):
        TrainConfig(task="blank", delay=5, k=34)


def test_with_blank_rows_after_and_k_at_most_the_delay_the_input_weights_get_no_gradient(digits):
    """Blank rows are zero inputs, so TBPTT that never reaches an ink row leaves W_ih exactly where it was: training
    with W_ih frozen gives the very same weights."""
    small = Digits(digits[0].images[:128], digits[0].labels[:128]), Digits(digits[1].images[:20], digits[1].labels[:20])
    base = dict(epochs=1, batch_size=64, task="blank", delay=6, k=6, augment=False, seed=1)
    free = train(SMALL, TrainConfig(**base), *small).model.state_dict()
    frozen = train(SMALL, TrainConfig(**base, freeze_input=True), *small).model.state_dict()
    for name in free:
        assert torch.equal(free[name], frozen[name]), name
    reaching = train(SMALL, TrainConfig(**base | {"k": 7}), *small).model.state_dict()
    assert not torch.equal(reaching["rnn.weight_ih_l0"], free["rnn.weight_ih_l0"])  # one ink row reached


def test_a_shown_command_keeps_only_the_name_of_its_out_path():
    from explorer.training.cli import shown_command

    command = "python -m explorer train --kind gru --out '/srv/home/checkpoints/0123/my model.safetensors' --epochs 2"
    assert shown_command(command) == "python -m explorer train --kind gru --out 'my model.safetensors' --epochs 2"
    assert shown_command("python -m explorer train --kind gru") == "python -m explorer train --kind gru"
    assert shown_command("unbalanced 'quote") == "unbalanced 'quote"
