"""Truncation experiments: the plan, training inline / on a process pool / on Ray, stop and resume, a crashed
worker, save and load, the paired comparisons and the reading, the CLI."""

import math
import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from recording_job import RecordingJob

from explorer.analysis import stats
from explorer.data.digits import Digits, load_sample
from explorer.experiments.cli import main, parse_args, parser
from explorer.experiments.results import Sweep, SweepRun, compare, correct_answers, reaches_ink
from explorer.experiments.runner import SweepProgress, run_sweep, train_run
from explorer.experiments.spec import FULL, RunSpec, SweepConfig, SweepError, run_label
from explorer.experiments.storage import (
    SUMMARY,
    list_sweeps,
    load_sweep,
    shipped_sweep_dir,
    sweep_owner,
    user_sweeps_dir,
)
from explorer.model.checkpoints import list_checkpoints, shipped_dir
from explorer.readings.sweep import p_text, sweep_reading, sweep_table
from explorer.serving.tasks import run_sweep_job
from explorer.training.loop import History, accuracy

OWNER = "0123456789abcdef"
TINY = dict(kinds=("lstm",), hidden_size=4, ks=(1,), epochs=1, train_size=96, profile_size=16, batch_size=32)


@pytest.fixture(scope="module")
def sample():
    return load_sample()


@pytest.fixture
def one_thread():
    """The process pool's workers use one torch thread: inline runs compared with them must too."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_config_validates_and_plans_full_bptt_first_seed_by_seed():
    cfg = SweepConfig(kinds=("rnn", "lstm"), ks=(7, 2, 2), seeds=(1, 0), control=True, schemes=("window", "chunks"))
    assert cfg.ks == (2, 7) and cfg.seeds == (0, 1) and cfg.kinds == ("lstm", "rnn")
    plan = cfg.plan()
    assert len(plan) == 2 * 2 * (2 + 2 * 2) and plan[0] == RunSpec("lstm", FULL, None, 0)
    assert plan[1] == RunSpec("lstm", FULL, None, 0, frozen=True) and plan[1].id == "lstm-full-s0-frozen"
    assert [s.seed for s in plan] == [0] * 12 + [1] * 12
    assert RunSpec("gru", "window", 7, 2).id == "gru-window-k07-s2"
    assert cfg.train_config(RunSpec("lstm", "window", 7, 1)).truncation.label(28) == "TBPTT(1, 7)"
    assert cfg.train_config(RunSpec("lstm", "artbp", 7, 1)).scheme == "artbp"
    assert cfg.train_config(RunSpec("lstm", FULL, None, 0, True)).freeze_input
    blank = SweepConfig(task="blank", delay=20, ks=(8, 40), forget_bias=1.0)
    assert blank.T == 48 and blank.train_config(RunSpec("lstm", FULL, None, 0)).forget_bias == 1.0
    assert blank.train_config(RunSpec("gru", FULL, None, 0)).forget_bias is None
    for bad in (
        dict(ks=(0,)),
        dict(ks=(28,)),
        dict(kinds=("transformer",)),
        dict(schemes=("magic",)),
        dict(loss_at="first"),
        dict(epochs=0),
        dict(seeds=()),
        dict(task="blank", delay=0),
    ):
        with pytest.raises(ValueError):
            SweepConfig(**bad)


def test_inline_sweep_trains_measures_and_saves_every_run(sample, tmp_path):
    events = []
    cfg = SweepConfig(**TINY | dict(ks=(1, 7), epochs=2))
    sweep = run_sweep(cfg, tmp_path, "inline", on_progress=events.append, train_set=sample[0], test_set=sample[1])
    assert [r.spec.id for r in sweep.runs] == ["lstm-chunks-k01-s0", "lstm-chunks-k07-s0", "lstm-full-s0"]
    assert not sweep.stopped and not sweep.failed and sweep.test_size == 1000
    for run in sweep.runs:
        assert run.model is not None and run.accuracy == accuracy(run.model, sample[1])
        assert run.correct.mean() == run.accuracy and run.trained.shape == run.saliency.shape == (28,)
        k = run.spec.k
        if k is not None:  # the gradient the run was trained with reached only its last k rows
            assert np.all(run.trained[: 28 - k] == 0) and np.all(run.trained[28 - k :] > 0)
        assert np.all(run.saliency > 0)
    steps = math.ceil(96 / 32) * 2
    assert len(events) == 3 * steps and events[-1].fraction == 1.0
    assert [e.run for e in events[::steps]] == ["lstm-full-s0", "lstm-chunks-k01-s0", "lstm-chunks-k07-s0"]
    back = load_sweep(tmp_path)
    assert back.config == cfg and [r.spec for r in back.runs] == [r.spec for r in sweep.runs]
    for a, b in zip(sweep.runs, back.runs):
        np.testing.assert_array_equal(a.correct, b.correct)
        np.testing.assert_allclose(a.trained, b.trained.astype(np.float32))
        for p, q in zip(a.model.parameters(), b.model.parameters()):
            assert torch.equal(p, q)


def test_a_stopped_sweep_keeps_its_finished_runs_and_resumes(sample, tmp_path):
    cfg = SweepConfig(**TINY | dict(ks=(1, 2, 4)))
    steps = []
    stopped = run_sweep(
        cfg,
        tmp_path,
        "inline",
        on_progress=steps.append,
        should_stop=lambda: len(steps) > 4,
        train_set=sample[0],
        test_set=sample[1],
    )
    assert stopped.stopped and len(stopped.runs) == 1  # 3 steps per run: the second was stopped midway
    assert "The sweep was stopped: 1 of 4 runs finished." in sweep_reading(stopped)
    resumed = run_sweep(cfg, tmp_path, "inline", train_set=sample[0], test_set=sample[1])
    assert not resumed.stopped and len(resumed.runs) == 4
    assert resumed.runs[-1].metrics == load_sweep(tmp_path).runs[-1].metrics
    with pytest.raises(SweepError, match="another configuration"):
        run_sweep(SweepConfig(**TINY | dict(ks=(3,))), tmp_path, "inline")


@pytest.mark.slow
def test_the_process_pool_gives_the_same_results_as_inline(sample, tmp_path, one_thread):
    cfg = SweepConfig(**TINY | dict(kinds=("gru", "rnn"), ks=(3,), schemes=("chunks", "window"), seeds=(0, 1)))
    inline = run_sweep(cfg, tmp_path / "inline", "inline")
    events = []
    pooled = run_sweep(cfg, tmp_path / "pool", "process", workers=2, on_progress=events.append)
    assert [r.spec for r in pooled.runs] == [r.spec for r in inline.runs] and len(pooled.runs) == 12
    for a, b in zip(inline.runs, pooled.runs):
        assert a.metrics["test_accuracy"] == b.metrics["test_accuracy"] and a.history.loss == b.history.loss
        np.testing.assert_array_equal(a.correct, b.correct)
    assert {e.run for e in events} == {s.id for s in cfg.plan()}  # progress came back from every worker
    assert {e.label for e in events} == {f"{run_label(s, cfg.T)}, seed {s.seed}" for s in cfg.plan()}
    assert "GRU, TBPTT(1, 3), seed 1" in {e.label for e in events}
    assert sorted(p.name for p in (tmp_path / "pool").iterdir()) == sorted(
        p.name for p in (tmp_path / "inline").iterdir()
    )


@pytest.mark.slow
def test_a_worker_that_dies_loses_only_its_own_runs_and_the_sweep_resumes(tmp_path, one_thread):
    cfg = SweepConfig(**TINY | dict(ks=(1, 2, 3, 4, 5, 6), epochs=20, train_size=256))
    result = {}
    thread = threading.Thread(target=lambda: result.update(s=run_sweep(cfg, tmp_path, "process", workers=2)))
    thread.start()
    deadline = time.time() + 120
    while not (tmp_path / SUMMARY).exists() and time.time() < deadline:  # the first run has finished
        time.sleep(0.05)
    victim = multiprocessing.active_children()
    workers = [p for p in victim if "SpawnProcess" in type(p).__name__ or p.name.startswith("SpawnProcess")]
    os.kill(workers[0].pid, signal.SIGKILL)
    thread.join(120)
    crashed = result["s"]
    assert crashed.failed and all(why == "its worker process died" for why in crashed.failed.values())
    assert len(crashed.runs) >= 1 and len(crashed.runs) + len(crashed.failed) <= 7
    assert "failed and are missing" in sweep_reading(crashed) or crashed.runs
    resumed = run_sweep(cfg, tmp_path, "process", workers=2)
    assert not resumed.failed and len(resumed.runs) == 7


@pytest.mark.slow
def test_the_ray_backend_runs_a_small_sweep_in_the_same_format(tmp_path, one_thread):
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        cfg = SweepConfig(**TINY | dict(ks=(2,), seeds=(0, 1)))
        on_ray = run_sweep(cfg, tmp_path / "ray", "ray")
        inline = run_sweep(cfg, tmp_path / "inline", "inline")
    finally:
        ray.shutdown()
    assert [r.spec for r in on_ray.runs] == [r.spec for r in inline.runs] and not on_ray.failed
    for a, b in zip(inline.runs, on_ray.runs):
        assert a.metrics["test_accuracy"] == b.metrics["test_accuracy"]
    assert load_sweep(tmp_path / "ray").config == cfg


def test_sweep_job_saves_a_new_sweep_of_its_owner_or_nothing(sample, user_home):
    job = RecordingJob("j", OWNER)
    folder = run_sweep_job(job, SweepConfig(**TINY), *sample)
    mine = load_sweep(folder)
    assert len(mine.runs) == 2 and mine.command == "Truncation lab page" and list_sweeps()[-1] == Path(folder)
    assert Path(folder).parent == user_sweeps_dir() / OWNER and sweep_owner(Path(folder)) == OWNER
    assert all(isinstance(p, SweepProgress) for p in job.snapshot()) and job.snapshot()[-1].fraction == 1.0
    stopped = RecordingJob("k", OWNER)
    stopped.stop()
    assert run_sweep_job(stopped, SweepConfig(**TINY), *sample) is None and list_sweeps()[-1] == Path(folder)


def test_load_errors_are_readable(tmp_path):
    with pytest.raises(SweepError, match="missing"):
        load_sweep(tmp_path)
    (tmp_path / SUMMARY).write_text("{not json")
    with pytest.raises(SweepError, match="could not read"):
        load_sweep(tmp_path)
    (tmp_path / SUMMARY).write_text('{"format": "rnn-explorer-sweep/1"}')
    with pytest.raises(SweepError, match="not an RNN Explorer sweep of this version"):
        load_sweep(tmp_path)
    (tmp_path / SUMMARY).write_text('{"format": "rnn-explorer-sweep/2", "config": {}}')
    with pytest.raises(SweepError, match="malformed"):
        load_sweep(tmp_path)


def test_user_sweeps_live_outside_the_repo_one_folder_per_owner(user_home):
    assert user_sweeps_dir() == user_home / "sweeps"
    assert not user_sweeps_dir().resolve().is_relative_to(shipped_dir().resolve())
    for folder in (user_sweeps_dir() / OWNER / "20250101-lstm", user_sweeps_dir() / "not-an-owner" / "20250102-gru"):
        folder.mkdir(parents=True)
        (folder / SUMMARY).write_text("{}")
    assert list_sweeps()[-1] == user_sweeps_dir() / OWNER / "20250101-lstm" and len(list_sweeps()) <= 2
    assert sweep_owner(shipped_sweep_dir()) is None


# ---- comparisons and the reading ------------------------------------------------------------------------------


def correctness(n_right: int, n: int = 1000, shift: int = 0) -> np.ndarray:
    return np.roll(np.arange(n) < n_right, shift)


def fake_sweep(runs: dict, **cfg) -> Sweep:
    """runs: RunSpec -> correctness vector."""
    out = [
        SweepRun(spec, {"test_accuracy": float(np.mean(c))}, History(), np.zeros(28), np.zeros(28), np.asarray(c, bool))
        for spec, c in runs.items()
    ]
    ks = tuple(sorted({s.k for s in runs if s.k is not None}))
    seeds = tuple(sorted({s.seed for s in runs}))
    kinds = tuple(sorted({s.kind for s in runs}))
    config = SweepConfig(kinds=kinds, ks=ks, seeds=seeds, **cfg)
    return Sweep(config, sorted(out, key=lambda r: r.spec), test_size=1000)


def exact_mcnemar(b: int, c: int) -> float:
    n, m = b + c, min(b, c)
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(m + 1)) / 2**n)


def test_mcnemar_and_paired_t_by_hand():
    ref = correctness(950)
    a = ref.copy()
    a[np.flatnonzero(ref)[:20]] = False
    a[np.flatnonzero(~ref)[:10]] = True
    r = stats.mcnemar(a, ref)
    assert (r.only_a, r.only_b) == (10, 20) and r.p == pytest.approx(exact_mcnemar(10, 20), rel=1e-9)
    x, y = np.array([0.93, 0.925, 0.931]), np.array([0.945, 0.94, 0.942])
    d = x - y
    t = d.mean() / (d.std(ddof=1) / math.sqrt(3))
    from scipy.stats import t as student

    assert stats.paired_across_seeds(x, y).p == pytest.approx(2 * student.sf(abs(t), 2), rel=1e-9)
    p = [0.01, 0.04, float("nan"), 0.03, 0.5]
    assert stats.holm(p)[:2] == pytest.approx([0.04, 0.09]) and np.isnan(stats.holm(p)[2])
    assert stats.above_chance(correctness(130), 0.1) < 0.01 < 0.05 < stats.above_chance(correctness(105), 0.1)


def test_one_seed_reading_uses_mcnemar_and_never_says_equal():
    ref = correctness(950)
    close = ref.copy()
    close[np.flatnonzero(ref)[:20]] = False
    close[np.flatnonzero(~ref)[:10]] = True
    sweep = fake_sweep(
        {
            RunSpec("lstm", FULL, None, 0): ref,
            RunSpec("lstm", "chunks", 1, 0): correctness(500),
            RunSpec("lstm", "chunks", 14, 0): close,
        }
    )
    text = sweep_reading(sweep)
    assert text.startswith("On row-MNIST (T = 28), full BPTT reaches LSTM 95.0%.")
    assert (
        "Significantly below their cell's full BPTT (McNemar's exact test on the same test digits, one run each, "
        "Holm-adjusted p < 0.05): LSTM at k = 1." in text
    )
    p14 = max(exact_mcnemar(10, 20), min(1.0, 2 * exact_mcnemar(10, 20)) / 2)  # the larger of two: Holm x 1
    assert (
        f"Not significant against their cell's full BPTT (Holm-adjusted): LSTM, TBPTT(14, 14) 1.0 points lower "
        f"(p = {p14:.2f}). For each, this single run cannot tell whether the gap is real" in text
    )
    assert "does not show that the two are the same." in text and "equal" not in text and "trained once" in text
    row = next(r for r in sweep_table(sweep) if r["runs"] == "LSTM, TBPTT(14, 14)")
    assert row["verdict"] == "not significant" and row["difference (points)"] == "-1.0"


def test_several_seeds_compare_cells_and_truncations_with_paired_t_tests_and_read_the_control():
    lstm = {RunSpec("lstm", FULL, None, s): correctness(n, shift=s) for s, n in enumerate((930, 935, 940))}
    rnn = {RunSpec("rnn", FULL, None, s): correctness(n, shift=s) for s, n in enumerate((550, 520, 600))}
    blind = {RunSpec("lstm", "chunks", 8, s): correctness(n, shift=s) for s, n in enumerate((600, 610, 590))}
    reach = {RunSpec("lstm", "chunks", 24, s): correctness(n, shift=s) for s, n in enumerate((900, 905, 899))}
    frozen = {RunSpec("lstm", FULL, None, s, True): correctness(n, shift=s) for s, n in enumerate((700, 690, 710))}
    sweep = fake_sweep(lstm | rnn | blind | reach | frozen, task="blank", delay=20)
    text = sweep_reading(sweep)
    assert "full BPTT reaches LSTM 93.5% ± 0.5 and RNN 55.7% ± 4.0 (mean ± SD over 3 seeds)" in text
    assert "RNN is 37.8 points lower than LSTM (significantly" in text
    assert "(paired t-tests over 3 seeds, Holm-adjusted p < 0.05): LSTM at k = 8 and 24." in text
    assert "TBPTT with k = 8 never backpropagates into a row of the digit (20 blank rows follow it)" in text
    assert "input weights W_ih get exactly no gradient" in text
    assert (
        "Control: LSTM with its input weights W_ih frozen at init and full BPTT reaches 70.0% ± 1.0, 23.5 points "
        "lower than with them trained (significant, Holm-adjusted p" in text
    )
    assert "that gap is what learning to read the ink adds to random input features." in text
    assert "Also significantly below their cell's control (Holm-adjusted p < 0.05): LSTM at k = 8." in text
    roles = {(c.label, c.versus): c for c in compare(sweep)}
    c = roles["LSTM, TBPTT(8, 8)", "LSTM, full BPTT"]
    assert c.test == "paired t-test" and c.lower_in == 3 and c.role == "truncation"
    assert roles["LSTM, TBPTT(8, 8)", "LSTM, full BPTT, W_ih frozen"].role == "blind"
    assert ("LSTM, TBPTT(24, 24)", "LSTM, full BPTT, W_ih frozen") not in roles  # k = 24 reaches the ink
    assert roles["LSTM, full BPTT, W_ih frozen", "LSTM, full BPTT"].role == "control"
    assert "trained once" not in text


def test_which_truncations_reach_the_ink():
    after = SweepConfig(task="blank", delay=20, ks=(8,))
    assert [reaches_ink(after, RunSpec("lstm", s, k, 0)) for s, k in [("chunks", 20), ("chunks", 21)]] == [False, True]
    assert [reaches_ink(after, RunSpec("lstm", "window", k, 0)) for k in (20, 21)] == [False, True]
    assert (
        reaches_ink(after, RunSpec("lstm", FULL, None, 0))
        and reaches_ink(after, RunSpec("lstm", "artbp", 8, 0)) is None
    )
    before = SweepConfig(task="blank", delay=20, delay_at="before", ks=(8,))  # the ink is at the end: always reached
    assert reaches_ink(before, RunSpec("lstm", "chunks", 1, 0))
    every = SweepConfig(task="blank", delay=20, ks=(8,), loss_at="every")  # the digit's own rows carry loss terms
    assert reaches_ink(every, RunSpec("lstm", "chunks", 1, 0))


def test_a_sweep_at_chance_says_so():
    sweep = fake_sweep(
        {RunSpec("gru", FULL, None, 0): correctness(101), RunSpec("gru", "chunks", 1, 0): correctness(104, shift=7)}
    )
    assert sweep_reading(sweep).startswith("Every model is at chance level (best 10.4%")
    empty = Sweep(SweepConfig(), [], True)
    assert sweep_reading(empty).startswith("The sweep was stopped before any model finished")


# ---- the CLI and the shipped experiment ----------------------------------------------------------------------


def test_cli_trains_saves_resumes_and_documents_every_flag(tmp_path, capsys, monkeypatch):
    out = tmp_path / "sweep"
    argv = [
        "--kinds",
        "gru",
        "--hidden",
        "4",
        "--ks",
        "3",
        "--epochs",
        "1",
        "--train-size",
        "64",
        "--profile-size",
        "8",
        "--task",
        "blank",
        "--delay",
        "3",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    sweep = load_sweep(out)
    assert [r.spec.id for r in sweep.runs] == ["gru-chunks-k03-s0", "gru-full-s0"] and sweep.config.T == 31
    assert sweep.command == "python -m explorer sweep " + " ".join(argv)
    assert main(argv) == 0 and len(load_sweep(out).runs) == 2  # resumed: nothing left to do
    assert main(["--ks", "0"]) == 2 and "ks must be" in capsys.readouterr().err
    flags = {a.option_strings[-1]: a.help for a in parser()._actions}
    assert set(flags) >= {
        "--kinds",
        "--hidden",
        "--forget-bias",
        "--task",
        "--delay",
        "--delay-at",
        "--schemes",
        "--ks",
        "--seeds",
        "--control",
        "--epochs",
        "--loss-at",
        "--backend",
        "--workers",
        "--ray-address",
        "--keep-models",
        "--out",
        "--dry-run",
    }
    assert all(flags.values()), [f for f, h in flags.items() if not h]
    assert parse_args([]).backend == "inline"


def test_cli_dry_run_saves_nothing(tmp_path):
    assert main(["--hidden", "4", "--ks", "27", "--dry-run", "--profile-size", "8", "--out", str(tmp_path / "x")]) == 0
    assert not (tmp_path / "x").exists()


def test_train_size_takes_the_first_digits(sample):
    cfg = SweepConfig(**TINY | dict(train_size=40))
    a = train_run(cfg, RunSpec("lstm", FULL, None, 0), *sample)
    small = Digits(sample[0].images[:40], sample[0].labels[:40])
    b = train_run(SweepConfig(**TINY | dict(train_size=None)), RunSpec("lstm", FULL, None, 0), small, sample[1])
    for p, q in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(p, q)


def test_shipped_sweep_is_not_listed_as_models(sample):
    assert shipped_sweep_dir().parent == shipped_dir()
    assert not any(i.path.resolve().is_relative_to(shipped_sweep_dir().resolve()) for i in list_checkpoints())
    sweep = load_sweep(shipped_sweep_dir())
    for run in sweep.runs:
        if run.model is not None:  # the stored per-digit results are the model's own
            np.testing.assert_array_equal(
                run.correct, correct_answers(run.model, sample[1], sweep.config.sequence_task)
            )


@pytest.mark.parametrize(
    ("p", "text"),
    [(0.0004, "p < 0.001"), (0.004, "p = 0.004"), (0.0504, "p = 0.050"), (0.049, "p = 0.049"), (0.31, "p = 0.31")],
)
def test_a_p_value_just_above_the_line_never_reads_as_on_it(p, text):
    assert p_text(p) == text


def test_the_readme_quotes_the_shipped_experiment():
    """The README's table and claims are the shipped sweep's numbers, recomputed here."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    sweep = load_sweep(shipped_sweep_dir(), models=False)
    cfg = sweep.config

    def cell(runs) -> str:
        a = 100 * np.array([r.accuracy for r in runs])
        return f"{a.mean():.1f} ± {a.std(ddof=1):.1f}"

    for kind in cfg.kinds:
        row = [cell(sweep.runs_of(kind, "chunks", k)) for k in cfg.ks]
        row += [cell(sweep.runs_of(kind, FULL, None)), cell(sweep.runs_of(kind, FULL, None, True))]
        assert f"| {kind.upper()} | " + " | ".join(row) + " |" in readme
    # the shipped sweep records the older spelling `python -m explorer.sweep`; README shows today's
    recorded = sweep.command.replace("python -m explorer.sweep ", "python -m explorer sweep ", 1)
    assert recorded.startswith("python -m explorer sweep ") and recorded in readme.replace(" \\\n    ", " ")
    assert f"{len(sweep.runs)} models in {sweep.seconds / 60:.1f} min" in readme
    comparisons = compare(sweep)
    assert f"Holm-adjusted over all {len(comparisons)} comparisons" in readme
    by = {(c.label, c.versus): c for c in comparisons}
    rnn_lstm = by["RNN, full BPTT", "LSTM, full BPTT"]
    assert f"LSTM is {-100 * rnn_lstm.difference:.1f} points\n  above the RNN ({p_text(rnn_lstm.p_holm)})" in readme
    control = by["GRU, full BPTT, W_ih frozen", "GRU, full BPTT"]
    assert control.p_holm < 0.05 and f"{-100 * control.difference:.1f} points below full BPTT (significant" in readme
    for kind in ("GRU", "LSTM"):  # k <= D: below full BPTT and below the control, significantly
        for k in (8, 16):
            assert by[f"{kind}, TBPTT({k}, {k})", f"{kind}, full BPTT"].p_holm < 0.05
            assert by[f"{kind}, TBPTT({k}, {k})", f"{kind}, full BPTT, W_ih frozen"].p_holm < 0.05


def test_every_sweep_config_field_is_a_flag_with_its_choices_derived_from_the_engine():
    import dataclasses

    from explorer.model.config import KINDS
    from explorer.training.truncation import FAMILIES

    actions = {a.dest: a for a in parser()._actions}
    fields = dataclasses.fields(SweepConfig)
    assert [f.name for f in fields if f.name not in actions] == []
    assert tuple(actions["schemes"].choices) == FAMILIES and "tbptt" in FAMILIES
    assert tuple(actions["kinds"].choices) == tuple(KINDS)


def test_the_cli_offers_general_tbptt_with_k1():
    from explorer.experiments.cli import from_args

    args = parse_args(["--schemes", "tbptt", "chunks", "--ks", "4", "8", "--k1", "2", "--kinds", "gru"])
    cfg = from_args(SweepConfig, args)
    assert (cfg.schemes, cfg.ks, cfg.k1) == (("chunks", "tbptt"), (4, 8), 2)
    plan = cfg.plan()
    assert [s.id for s in plan] == [
        "gru-full-s0",
        "gru-chunks-k04-s0",
        "gru-chunks-k08-s0",
        "gru-tbptt02-k04-s0",
        "gru-tbptt02-k08-s0",
    ]
    trunc = cfg.train_config(plan[-1])
    assert (trunc.scheme, trunc.k, trunc.k1) == ("tbptt", 8, 2)
    assert run_label(plan[-1], cfg.T) == "GRU, TBPTT(2, 8)"
    with pytest.raises(ValueError, match="k1 in 1..4"):
        SweepConfig(schemes=("tbptt",), ks=(4, 8), k1=5)
    with pytest.raises(ValueError, match="needs k1"):
        SweepConfig(schemes=("tbptt",), ks=(4, 8))
