"""Truncation sweep engine: training per k, progress and stop, save/load, the shipped sweep, the reading, the CLI."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from explorer import stats
from explorer.checkpoints import list_checkpoints, read_checkpoint, shipped_dir
from explorer.data import Digits, load_sample
from explorer.gradients import digit_batch
from explorer.jobs import Job
from explorer.losses import per_sample_loss
from explorer.models import ModelConfig, SequenceClassifier
from explorer.readings import sweep_reading, sweep_table
from explorer.sweep import (
    SUMMARY,
    Sweep,
    SweepConfig,
    SweepError,
    SweepProgress,
    SweepRun,
    compare_ks,
    correct_answers,
    gradient_rows,
    list_sweeps,
    load_sweep,
    main,
    parse_args,
    parser,
    run_sweep,
    save_sweep,
    shipped_sweep_dir,
    sweep_owner,
    user_sweeps_dir,
)
from explorer.tasks import run_sweep_job
from explorer.training import History, accuracy

T = 28
OWNER = "0123456789abcdef"
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
    assert SweepConfig(seeds=(2, 0, 2)).seeds == (0, 2)
    for bad in (
        dict(ks=()),
        dict(ks=(0, 4)),
        dict(ks=(29,)),
        dict(loss_at="first"),
        dict(kind="transformer"),
        dict(epochs=0),
        dict(hidden_size=0),
        dict(seeds=()),
        dict(seeds=(-1,)),
    ):
        with pytest.raises(ValueError):
            SweepConfig(**bad)
    cfg = SweepConfig(kind="gru", hidden_size=32, loss_at="every")
    assert cfg.train_config(7).k == 7 and cfg.train_config(7).loss_at == "every" and not cfg.train_config(7).augment
    assert cfg.train_config(7).seed == 0 and cfg.train_config(7, 3).seed == 3
    assert cfg.model_config() == ModelConfig(kind="gru", hidden_size=32)
    assert cfg.label == "GRU-32, loss at every row" and SweepConfig().label == "LSTM-64, loss at the last row"


def test_one_model_per_k_with_its_own_accuracy(tiny_sweep, sample):
    sweep, _ = tiny_sweep
    assert sweep.ks == [1, 28] and not sweep.stopped and sweep.test_size == 1000
    for run in sweep.runs:
        assert run.model.config == ModelConfig(kind="lstm", hidden_size=4)
        assert len(run.history.epoch) == 2
        assert run.accuracy == accuracy(run.model, sample[1])  # re-measured on the 1,000 test digits
        assert run.correct.dtype == bool and run.correct.mean() == run.accuracy and run.seed == 0
    assert not all(
        torch.equal(a, b) for a, b in zip(sweep.runs[0].model.parameters(), sweep.runs[1].model.parameters())
    )


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
        assert np.all(run.dh[: T - run.k] == 0.0) and np.all(run.dh[T - run.k :] > 0)
        # Reference saliency: autograd of each digit's own loss through the fused nn.LSTM, full BPTT.
        xg = x.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(per_sample_loss(run.model(xg), y).sum(), xg)
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
        _, h_n = model.rnn(x[:, t + 1 :], h0)
        (grad,) = torch.autograd.grad(per_sample_loss(model.readout(h_n), y).sum(), h0)
        assert dh[t] == pytest.approx(float(np.median(grad[0].norm(dim=-1).numpy())), rel=1e-4)


def test_stop_keeps_only_the_finished_ks(sample):
    calls = []

    def stop_in_second_k():
        calls.append(1)
        return len(calls) > 3  # the first k has 3 steps (96 digits, batch 32, 1 epoch)

    sweep = run_sweep(SweepConfig(**TINY | dict(epochs=1)), *sample, should_stop=stop_in_second_k)
    assert sweep.stopped and sweep.ks == [1]
    sweep = run_sweep(SweepConfig(**TINY), *sample, should_stop=lambda: True)
    assert sweep.stopped and sweep.runs == []


def test_sweep_job_saves_a_new_user_sweep_or_nothing(sample, user_home):
    job = Job("j", OWNER, "Truncation sweep", kind="sweep")
    folder = run_sweep_job(job, SweepConfig(**TINY | dict(epochs=1)), *sample)
    mine = load_sweep(folder)
    assert mine.ks == [1, 28] and mine.command == "Truncation lab page" and list_sweeps()[-1] == Path(folder)
    assert Path(folder).parent == user_sweeps_dir() / OWNER and sweep_owner(Path(folder)) == OWNER
    assert all(isinstance(p, SweepProgress) for p in job.snapshot()) and job.snapshot()[-1].fraction == 1.0
    stopped = Job("k", OWNER, "Truncation sweep", kind="sweep")
    stopped.stop()
    assert run_sweep_job(stopped, SweepConfig(**TINY), *sample) is None and list_sweeps()[-1] == Path(folder)


@pytest.mark.slow
def test_seeds_train_one_model_per_k_and_seed_and_round_trip(sample, tmp_path):
    events = []
    sweep = run_sweep(SweepConfig(**TINY | dict(epochs=1, seeds=(0, 1))), *sample, on_progress=events.append)
    assert [(r.k, r.seed) for r in sweep.runs] == [(1, 0), (1, 1), (28, 0), (28, 1)]
    assert [(e.k, e.seed) for e in events[::3]] == [(1, 0), (28, 0), (1, 1), (28, 1)]  # seed 0's ks first
    one = run_sweep(SweepConfig(**TINY | dict(epochs=1, ks=(1,))), *sample)
    for p, q in zip(sweep.runs_of(1)[0].model.parameters(), one.runs[0].model.parameters()):
        assert torch.equal(p, q)  # seed 0 trains the same model whatever else the sweep holds
    assert not torch.equal(sweep.runs_of(1)[1].model.rnn.weight_hh_l0, one.runs[0].model.rnn.weight_hh_l0)
    assert sweep.accuracies[0] == pytest.approx(np.mean([r.accuracy for r in sweep.runs_of(1)]))
    save_sweep(sweep, tmp_path)
    assert sorted(p.name for p in tmp_path.glob("*.safetensors")) == [
        "k01-s1.safetensors",
        "k01.safetensors",
        "k28-s1.safetensors",
        "k28.safetensors",
    ]
    back = load_sweep(tmp_path)
    assert back.seeds == [0, 1] and back.config.seeds == (0, 1)
    assert read_checkpoint(tmp_path / "k28-s1.safetensors").meta["train_config"]["seed"] == 1


def test_save_and_load_round_trip(tiny_sweep, tmp_path):
    sweep, _ = tiny_sweep
    (tmp_path / "k07.safetensors").write_bytes(b"from an older sweep")
    assert save_sweep(sweep, tmp_path) == tmp_path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k01.safetensors", "k28.safetensors", SUMMARY]
    back = load_sweep(tmp_path)
    assert [r.seed for r in back.runs] == [0, 0]
    for a, b in zip(sweep.runs, back.runs):
        np.testing.assert_array_equal(a.correct, b.correct)
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
    for folder in (user_sweeps_dir() / OWNER / "20250101-lstm", user_sweeps_dir() / "not-an-owner" / "20250102-gru"):
        folder.mkdir(parents=True)
        (folder / SUMMARY).write_text("{}")
    assert list_sweeps() == [shipped_sweep_dir(), user_sweeps_dir() / OWNER / "20250101-lstm"]
    assert sweep_owner(shipped_sweep_dir()) is None


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
        assert np.all(run.dh[: T - run.k] == 0.0) and np.all(run.dh[T - run.k :] > 0)


def correctness(n_right: int, n: int = 1000, shift: int = 0) -> np.ndarray:
    """n digits of which n_right are right, the right ones starting at `shift` (wrapping round)."""
    return np.roll(np.arange(n) < n_right, shift)


def fake_sweep(correct: dict, loss_at="last", stopped=False, ks_config=None) -> Sweep:
    """A sweep from per-(k, seed) correctness vectors; correct[k] is one vector (seed 0) or a list (seeds 0..)."""
    runs = []
    for k, c in correct.items():
        for seed, vec in enumerate(c if isinstance(c, list) else [c]):
            runs.append(
                SweepRun(
                    k,
                    seed,
                    None,
                    {"test_accuracy": float(np.mean(vec))},
                    History(),
                    np.zeros(T),
                    np.zeros(T),
                    np.asarray(vec, bool),
                )
            )
    seeds = tuple(range(max(len(c) if isinstance(c, list) else 1 for c in correct.values())))
    cfg = SweepConfig(ks=tuple(ks_config or correct), loss_at=loss_at, seeds=seeds)
    return Sweep(cfg, runs, stopped, len(runs[0].correct))


def exact_mcnemar(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value by summing binomial(n, 1/2) tail probabilities by hand."""
    n, m = b + c, min(b, c)
    tail = sum(math.comb(n, i) for i in range(m + 1)) / 2**n
    return min(1.0, 2 * tail)


def test_mcnemar_against_the_binomial_tail_by_hand():
    ref = correctness(950)
    for only_a, only_b in ((10, 20), (0, 7), (40, 41), (3, 3)):
        a = ref.copy()
        a[np.flatnonzero(ref)[:only_b]] = False  # b right, a wrong
        a[np.flatnonzero(~ref)[:only_a]] = True  # a right, b wrong
        r = stats.mcnemar(a, ref)
        assert (r.only_a, r.only_b) == (only_a, only_b)
        assert r.p == pytest.approx(exact_mcnemar(only_a, only_b), rel=1e-9)
        assert r.difference == pytest.approx((only_a - only_b) / 1000)
    assert stats.mcnemar(ref, ref).p == 1.0


def test_paired_t_test_and_holm_by_hand():
    a, b = np.array([0.93, 0.925, 0.931]), np.array([0.945, 0.94, 0.942])
    r = stats.paired_across_seeds(a, b)
    d = a - b
    t = d.mean() / (d.std(ddof=1) / math.sqrt(3))
    from scipy.stats import t as student

    assert r.p == pytest.approx(2 * student.sf(abs(t), 2), rel=1e-9) and r.same_sign and r.mean < 0
    assert np.isnan(stats.paired_across_seeds(a[:1], b[:1]).p)
    p = [0.01, 0.04, float("nan"), 0.03, 0.5]
    # Holm by its definition: sort, multiply the i-th smallest by (m - i), keep it monotone, cap at 1.
    assert stats.holm(p)[:2] == pytest.approx([0.04, 0.09]) and stats.holm(p)[3] == pytest.approx(0.09)
    assert stats.holm(p)[4] == pytest.approx(0.5) and np.isnan(stats.holm(p)[2])


def test_above_chance_is_a_one_sided_binomial_test():
    assert stats.above_chance(correctness(130), 0.1) < 0.01  # 13% of 1,000
    assert stats.above_chance(correctness(105), 0.1) > 0.05  # 10.5%: indistinguishable from chance


def test_one_seed_reading_uses_mcnemar_and_never_says_equal():
    ref = correctness(950)
    close = ref.copy()
    close[np.flatnonzero(ref)[:20]] = False
    close[np.flatnonzero(~ref)[:10]] = True  # 94.0%: 10 digits only it gets, 20 only full BPTT gets
    sweep = fake_sweep({1: correctness(500), 7: correctness(800), 14: close, 28: ref})
    text = sweep_reading(sweep)
    assert "from 50.0% at k = 1 to 95.0% at k = 28 (full BPTT)." in text
    assert "k = 1 and 7 are significantly worse than k = 28 (McNemar's exact test" in text
    p14 = min(1.0, 3 * exact_mcnemar(10, 20))  # Holm: the largest of three p-values is multiplied by 1, but
    p14 = max(p14 / 3, exact_mcnemar(10, 20))  # the smaller two are tiny, so k = 14 keeps its own p
    assert f"k = 14 scores 1.0 points lower than k = 28, which is not significant (Holm-adjusted p = {p14:.2f})" in text
    assert "does not make k = 14 as good." in text and "equal" not in text and "as good as" not in text
    assert "only to row 28" in text and "beats chance (10.0%) by 40 points" in text
    assert "trained once" in text
    row14 = next(r for r in sweep_table(sweep) if r["k"] == 14)
    assert row14["verdict"] == "not significant" and row14["vs k = 28 (points)"] == "-1.0"
    assert next(r for r in sweep_table(sweep) if r["k"] == 28)["vs k = 28 (points)"] == "reference"


def test_several_seeds_use_a_paired_t_test_with_mean_and_spread():
    full = [correctness(945), correctness(940, shift=3), correctness(942, shift=5)]
    short = [correctness(930), correctness(925, shift=3), correctness(931, shift=5)]
    sweep = fake_sweep({14: short, 28: full})
    k14 = compare_ks(sweep)[0]
    assert k14.test == "paired t-test" and k14.lower_in == 3 and k14.difference == pytest.approx(-0.0137, abs=1e-4)
    assert k14.p == pytest.approx(
        stats.paired_across_seeds(np.array([0.93, 0.925, 0.931]), np.array([0.945, 0.94, 0.942])).p
    )
    text = sweep_reading(sweep)
    assert "(means over 3 seeds)" in text and "k = 14 is significantly worse than k = 28 (paired t-tests" in text
    row = sweep_table(sweep)[0]
    assert row["test accuracy"] == f"92.9% ± {100 * np.std([0.93, 0.925, 0.931], ddof=1):.1f}"
    assert row["verdict"] == "significantly lower" and "trained once" not in text


def test_a_sweep_at_chance_names_no_best_k():
    sweep = fake_sweep({1: correctness(101), 28: correctness(104, shift=7)})
    text = sweep_reading(sweep)
    assert text.startswith("Every model is at chance level (best 10.4%") and "best k" not in text
    assert "k = 28" not in text
    assert "at chance" in sweep_reading(fake_sweep({1: correctness(103), 28: correctness(900)}))
    assert "chance" not in sweep_reading(fake_sweep({1: correctness(800), 28: correctness(900)}, loss_at="every"))


def test_stopped_and_empty_sweeps_say_so():
    text = sweep_reading(fake_sweep({1: correctness(600)}, stopped=True, ks_config=(1, 28)))
    assert "The sweep was stopped: only k = 1 finished." in text
    empty = Sweep(SweepConfig(), [], True, 1000)
    assert sweep_reading(empty).startswith("The sweep was stopped before any model finished")


@pytest.mark.slow
def test_shipped_sweep_reading(sample):
    sweep = load_sweep(shipped_sweep_dir())
    for run in sweep.runs:  # the stored per-digit results are the models' own
        np.testing.assert_array_equal(run.correct, correct_answers(run.model, sample[1]))
    text = sweep_reading(sweep)
    assert "k = 14 scores 1.0 points lower than k = 28, which is not significant" in text


def test_cli_trains_saves_and_documents_every_flag(tmp_path, capsys):
    out = tmp_path / "sweep"
    assert (
        main(
            [
                "--kind",
                "gru",
                "--hidden",
                "4",
                "--ks",
                "28",
                "3",
                "--epochs",
                "1",
                "--train-size",
                "64",
                "--profile-size",
                "8",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    sweep = load_sweep(out)
    assert sweep.ks == [3, 28] and sweep.config.kind == "gru"
    assert sweep.command == (
        "python -m explorer.sweep --kind gru --hidden 4 --ks 28 3 --epochs 1 --train-size 64 "
        f"--profile-size 8 --out {out}"
    )
    assert main(["--ks", "0"]) == 2 and "ks must be" in capsys.readouterr().err
    flags = {a.option_strings[-1]: a.help for a in parser()._actions}
    assert set(flags) >= {
        "--kind",
        "--hidden",
        "--ks",
        "--epochs",
        "--loss-at",
        "--batch-size",
        "--lr",
        "--augment",
        "--train-size",
        "--profile-size",
        "--seeds",
        "--out",
        "--dry-run",
    }
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
