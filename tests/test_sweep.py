"""Truncation sweep engine: training per k, progress and stop, save/load, the shipped sweep, the reading, the CLI."""
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from explorer.checkpoints import list_checkpoints, read_checkpoint, shipped_dir
from explorer.data import Digits, load_sample
from explorer.gradients import digit_batch, per_sample_loss
from explorer.models import ModelConfig, SequenceClassifier
from explorer.jobs import Job
from explorer.sweep import (SUMMARY, Sweep, SweepConfig, SweepError, SweepProgress, SweepRun, gradient_rows,
                            list_sweeps, load_sweep, main, parse_args, parser, run_sweep, run_sweep_job, save_sweep,
                            shipped_sweep_dir, standard_error, sweep_reading, user_sweeps_dir)
from explorer.training import History, accuracy

T = 28
TINY = dict(kind="lstm", hidden_size=4, ks=(28, 1), epochs=2, train_size=96, profile_size=16, batch_size=32)


@pytest.fixture(scope="module")
def sample():
    return load_sample()


@pytest.fixture(scope="module")
def tiny_sweep(sample):
    events = []
    return run_sweep(SweepConfig(**TINY), *sample, on_progress=events.append), events


def test_config_validates_and_sorts_ks():
    assert SweepConfig(ks=(28, 1, 7, 7)).ks == (1, 7, 28)
    for bad in (dict(ks=()), dict(ks=(0, 4)), dict(ks=(29,)), dict(loss_at="first"), dict(kind="transformer"),
                dict(epochs=0), dict(hidden_size=0)):
        with pytest.raises(ValueError):
            SweepConfig(**bad)
    cfg = SweepConfig(kind="gru", hidden_size=32, loss_at="every")
    assert cfg.train_config(7).k == 7 and cfg.train_config(7).loss_at == "every" and not cfg.train_config(7).augment
    assert cfg.model_config() == ModelConfig(kind="gru", hidden_size=32)
    assert cfg.label == "GRU-32, loss at every row" and SweepConfig().label == "LSTM-64, loss at the last row"


def test_one_model_per_k_with_its_own_accuracy(tiny_sweep, sample):
    sweep, _ = tiny_sweep
    assert sweep.ks == [1, 28] and not sweep.stopped and sweep.test_size == 1000
    for run in sweep.runs:
        assert run.model.config == ModelConfig(kind="lstm", hidden_size=4)
        assert len(run.history.epoch) == 2
        assert run.accuracy == accuracy(run.model, sample[1])  # re-measured on the 1,000 test digits
    assert not all(torch.equal(a, b) for a, b in zip(sweep.runs[0].model.parameters(),
                                                     sweep.runs[1].model.parameters()))


def test_progress_reports_every_step_of_every_k(tiny_sweep):
    _, events = tiny_sweep
    steps_per_k = math.ceil(96 / 32) * 2
    assert len(events) == 2 * steps_per_k
    assert [e.k for e in events] == [1] * steps_per_k + [28] * steps_per_k
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and fractions[steps_per_k - 1] == 0.5
    assert {e.epochs for e in events} == {2} and events[-1].epoch == 2


def test_profiles_are_zero_before_T_minus_k_and_match_autograd_on_the_fused_module(tiny_sweep, sample):
    sweep, _ = tiny_sweep
    x, y = digit_batch(sample[1], 16)
    for run in sweep.runs:
        assert run.dh.shape == run.dx.shape == (T,)
        assert np.all(run.dh[: T - run.k] == 0.0) and np.all(run.dh[T - run.k:] > 0)
        # Reference saliency: autograd of each digit's own loss through the fused nn.LSTM, full BPTT.
        xg = x.clone().requires_grad_(True)
        g, = torch.autograd.grad(per_sample_loss(run.model(xg), y).sum(), xg)
        np.testing.assert_allclose(run.dx, np.median(g.norm(dim=-1).numpy(), axis=0), rtol=1e-4, atol=1e-9)


def test_gradient_rows_full_bptt_matches_the_restarted_fused_module():
    torch.manual_seed(0)
    model = SequenceClassifier(ModelConfig(kind="rnn", hidden_size=5)).eval()
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(6, T, 28, generator=g), torch.randint(0, 10, (6,), generator=g)
    dh, _ = gradient_rows(model, x, y, "last", T)
    with torch.no_grad():
        out, _ = model.rnn(x)
    for t in (3, 20, 26):
        h0 = out[:, t].clone().unsqueeze(0).requires_grad_(True)
        _, h_n = model.rnn(x[:, t + 1:], h0)
        grad, = torch.autograd.grad(per_sample_loss(model.readout(h_n), y).sum(), h0)
        assert dh[t] == pytest.approx(float(np.median(grad[0].norm(dim=-1).numpy())), rel=1e-4)


def test_stop_keeps_only_the_finished_ks(sample):
    calls = []

    def stop_in_second_k():
        calls.append(1)
        return len(calls) > 3  # the first k has 3 steps (96 digits, batch 32, 1 epoch)

    sweep = run_sweep(SweepConfig(**TINY | dict(epochs=1)), *sample, should_stop=stop_in_second_k)
    assert sweep.stopped and sweep.ks == [1]
    assert "stopped" in sweep_reading(sweep) and "k = 1 finished" in sweep_reading(sweep)
    sweep = run_sweep(SweepConfig(**TINY), *sample, should_stop=lambda: True)
    assert sweep.stopped and sweep.runs == []
    assert sweep_reading(sweep).startswith("The sweep was stopped before any model finished")


def test_sweep_job_saves_a_new_user_sweep_or_nothing(sample, user_home):
    job = Job("j", "owner", "Truncation sweep", kind="sweep")
    folder = run_sweep_job(job, SweepConfig(**TINY | dict(epochs=1)), *sample)
    mine = load_sweep(folder)
    assert mine.ks == [1, 28] and mine.command == "Truncation lab page" and list_sweeps()[-1] == Path(folder)
    assert all(isinstance(p, SweepProgress) for p in job.snapshot()) and job.snapshot()[-1].fraction == 1.0
    stopped = Job("k", "owner", "Truncation sweep", kind="sweep")
    stopped.stop()
    assert run_sweep_job(stopped, SweepConfig(**TINY), *sample) is None and list_sweeps()[-1] == Path(folder)


def test_save_and_load_round_trip(tiny_sweep, tmp_path):
    sweep, _ = tiny_sweep
    (tmp_path / "k07.safetensors").write_bytes(b"from an older sweep")
    assert save_sweep(sweep, tmp_path) == tmp_path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k01.safetensors", "k28.safetensors", SUMMARY]
    back = load_sweep(tmp_path)
    assert back.config == sweep.config and back.ks == sweep.ks and back.accuracies == sweep.accuracies
    assert back.test_size == sweep.test_size and back.seconds == pytest.approx(sweep.seconds)
    for a, b in zip(sweep.runs, back.runs):
        np.testing.assert_array_equal(a.dh, b.dh.astype(np.float32))
        np.testing.assert_array_equal(a.dx, b.dx.astype(np.float32))
        assert a.history.test_accuracy == b.history.test_accuracy and a.history.epoch == b.history.epoch
        for (name, p), q in zip(a.model.state_dict().items(), b.model.state_dict().values()):
            assert torch.equal(p, q), name
        meta = read_checkpoint(tmp_path / f"k{a.k:02d}.safetensors").meta
        assert meta["train_config"]["k"] == a.k and meta["metrics"]["test_accuracy"] == a.accuracy


def test_load_errors_are_readable(tmp_path):
    with pytest.raises(SweepError, match="missing"):
        load_sweep(tmp_path)
    (tmp_path / SUMMARY).write_text("{not json")
    with pytest.raises(SweepError, match="could not read"):
        load_sweep(tmp_path)
    (tmp_path / SUMMARY).write_text(json.dumps({"format": "something else"}))
    with pytest.raises(SweepError, match="not an RNN Explorer sweep"):
        load_sweep(tmp_path)
    (tmp_path / SUMMARY).write_text(json.dumps({"format": "rnn-explorer-sweep/1", "config": {}}))
    with pytest.raises(SweepError, match="malformed"):
        load_sweep(tmp_path)


def test_user_sweeps_live_outside_the_repo(user_home):
    assert user_sweeps_dir() == user_home / "sweeps"
    assert not user_sweeps_dir().resolve().is_relative_to(shipped_dir().resolve())
    assert list_sweeps() == [shipped_sweep_dir()]
    (user_sweeps_dir() / "20250101-lstm").mkdir(parents=True)
    (user_sweeps_dir() / "20250101-lstm" / SUMMARY).write_text("{}")
    assert list_sweeps() == [shipped_sweep_dir(), user_sweeps_dir() / "20250101-lstm"]


def test_shipped_sweep_is_not_listed_as_models_and_tells_the_story(sample):
    assert shipped_sweep_dir().parent == shipped_dir()
    assert not any(info.path.resolve().is_relative_to(shipped_sweep_dir().resolve()) for info in list_checkpoints())
    sweep = load_sweep(shipped_sweep_dir())
    assert sweep.ks == [1, 2, 4, 7, 14, 28] and sweep.config.loss_at == "last" and len(sweep.runs) == 6
    assert sweep.command.startswith("python -m explorer.sweep")
    assert sweep.accuracies[-1] > 0.9 and sweep.accuracies[0] < sweep.accuracies[-1] - 0.2
    full = sweep.runs[-1]
    assert accuracy(full.model, sample[1]) == pytest.approx(full.accuracy)  # the recorded number is re-measured
    for run in sweep.runs:
        assert np.all(run.dh[: T - run.k] == 0.0) and np.all(run.dh[T - run.k:] > 0)


def fake_sweep(accs: dict, loss_at="last", stopped=False, test_size=1000) -> Sweep:
    runs = [SweepRun(k, None, {"test_accuracy": a}, History(), np.zeros(T), np.zeros(T)) for k, a in accs.items()]
    return Sweep(SweepConfig(ks=tuple(accs), loss_at=loss_at), runs, stopped, test_size)


def test_reading_is_computed_from_the_results():
    noise = 2 * math.sqrt(0.95 * 0.05 / 1000)
    assert standard_error(0.95, 1000) == pytest.approx(math.sqrt(0.95 * 0.05 / 1000))
    text = sweep_reading(fake_sweep({1: 0.5, 7: 0.8, 14: 0.94, 28: 0.95}))
    assert "from 50.0% at k = 1 to 95.0% at k = 28 (full BPTT)." in text
    assert f"within {100 * noise:.1f} points" in text and "95.0% at k = 28, is k = 14." in text
    assert "only to row 28" in text and "beats chance (10.0%) by 40 points" in text
    assert "not monotone" not in text
    text = sweep_reading(fake_sweep({2: 0.2, 4: 0.6, 7: 0.5, 28: 0.9}))
    assert "rows 27–28" in text and "not monotone in k: k = 7 scores 50.0%, below k = 4" in text
    assert "at chance" in sweep_reading(fake_sweep({1: 0.105, 28: 0.9}))
    assert "chance" not in sweep_reading(fake_sweep({1: 0.8, 28: 0.9}, loss_at="every"))


def test_cli_trains_saves_and_documents_every_flag(tmp_path, capsys):
    out = tmp_path / "sweep"
    assert main(["--kind", "gru", "--hidden", "4", "--ks", "28", "3", "--epochs", "1", "--train-size", "64",
                 "--profile-size", "8", "--out", str(out)]) == 0
    sweep = load_sweep(out)
    assert sweep.ks == [3, 28] and sweep.config.kind == "gru"
    assert sweep.command == ("python -m explorer.sweep --kind gru --hidden 4 --ks 28 3 --epochs 1 --train-size 64 "
                             f"--profile-size 8 --out {out}")
    assert main(["--ks", "0"]) == 2 and "ks must be" in capsys.readouterr().err
    flags = {a.option_strings[-1]: a.help for a in parser()._actions}
    assert set(flags) >= {"--kind", "--hidden", "--ks", "--epochs", "--loss-at", "--batch-size", "--lr", "--augment",
                          "--train-size", "--profile-size", "--seed", "--out", "--dry-run"}
    assert all(flags.values()), [f for f, h in flags.items() if not h]
    assert parse_args([]).ks == [1, 2, 4, 7, 14, 28]


def test_cli_dry_run_saves_nothing(tmp_path):
    assert main(["--hidden", "4", "--ks", "28", "--dry-run", "--profile-size", "8", "--out", str(tmp_path / "x")]) == 0
    assert not (tmp_path / "x").exists()


def test_train_size_takes_the_first_digits(sample):
    train_set, test_set = sample
    small = Digits(train_set.images[:40], train_set.labels[:40])
    a = run_sweep(SweepConfig(**TINY | dict(ks=(28,), epochs=1, train_size=40)), train_set, test_set)
    b = run_sweep(SweepConfig(**TINY | dict(ks=(28,), epochs=1, train_size=None)), small, test_set)
    for p, q in zip(a.runs[0].model.parameters(), b.runs[0].model.parameters()):
        assert torch.equal(p, q)
