"""The memory experiment's engine on hand-made sweeps (arms, intervals, paired comparisons, missing folders), its
gradient norms across time against an independent autograd computation, and the shipped folders when present."""

import json

import numpy as np
import pytest
import scipy.stats
import torch
import torch.nn.functional as F

from explorer.data.digits import load_sample
from explorer.experiments.memory import (
    FOLDERS,
    PAIRS,
    Arm,
    arm_of,
    gradient_norms,
    load_memory,
    memory_dir,
    memory_experiment,
    profile_digits,
    profiles,
    settings,
    t_interval,
)
from explorer.experiments.results import Sweep, SweepRun
from explorer.experiments.spec import FULL, RunSpec, SweepConfig
from explorer.experiments.storage import SUMMARY, write_summary
from explorer.model.config import ModelConfig
from explorer.model.network import final_hidden, untrained_model
from explorer.training.loop import History

TEST = 50  # test digits of a hand-made sweep


def fake_sweep(accuracies: dict, delay: int = 20, models: dict | None = None, **cfg) -> Sweep:
    """accuracies: kind -> {seed: accuracy}; models: (kind, seed) -> a model kept for that run."""
    runs = []
    for kind, by_seed in accuracies.items():
        for seed, acc in by_seed.items():
            correct = np.arange(TEST) < round(acc * TEST)
            model = (models or {}).get((kind, seed))
            runs.append(
                SweepRun(
                    RunSpec(kind, FULL, None, seed),
                    {"test_accuracy": acc},
                    History(),
                    np.zeros(3),
                    np.zeros(3),
                    correct,
                    model,
                )
            )
    seeds = tuple(sorted({s for by_seed in accuracies.values() for s in by_seed}))
    config = SweepConfig(kinds=tuple(accuracies), ks=(), seeds=seeds, task="blank", delay=delay, **cfg)
    return Sweep(config, sorted(runs, key=lambda r: r.spec), test_size=TEST)


CELLS = {  # a seed of minLSTM and of RNN has not finished yet
    "rnn": {0: 0.40, 1: 0.50, 2: 0.46},
    "gru": {0: 0.92, 1: 0.94, 2: 0.90, 3: 0.96},
    "lstm": {0: 0.90, 1: 0.86, 2: 0.88, 3: 0.92},
    "mingru": {0: 0.30, 1: 0.40, 2: 0.36, 3: 0.34},
    "minlstm": {0: 0.88, 1: 0.90, 3: 0.86},
}
CHRONO = {"lstm": {0: 0.92, 1: 0.86, 2: 0.90, 3: 0.90}}
BIAS0 = {"lstm": {0: 0.60, 1: 0.64, 2: 0.58, 3: 0.70}}


def experiment():
    sweeps = {
        "d20-cells": fake_sweep(CELLS, forget_bias=1.0),
        "d20-lstm-chrono": fake_sweep(CHRONO, chrono=True),
        "d20-lstm-bias0": fake_sweep(BIAS0),
        "d40-cells": fake_sweep({"lstm": {0: 0.5, 1: 0.7}, "gru": {0: 0.8, 1: 0.6}}, 40, forget_bias=1.0),
    }
    return memory_experiment(sweeps, memory_dir())


def holm_by_hand(p: list[float]) -> list[float]:
    """Holm's step-down adjustment written out: the i-th smallest p times (m - i), made monotone, capped at 1."""
    order = sorted(range(len(p)), key=lambda i: p[i])
    out, running = [0.0] * len(p), 0.0
    for rank, i in enumerate(order):
        running = max(running, (len(p) - rank) * p[i])
        out[i] = min(1.0, running)
    return out


def test_arms_are_named_by_cell_and_init():
    cells, chrono = SweepConfig(kinds=("gru", "lstm"), forget_bias=1.0, ks=()), SweepConfig(ks=(), chrono=True)
    assert arm_of(cells, "lstm").name == "LSTM, forget bias 1" and arm_of(cells, "gru").name == "GRU"
    assert arm_of(chrono, "lstm").name == "LSTM, chrono init"
    assert arm_of(SweepConfig(ks=()), "lstm").name == "LSTM, forget bias ≈ 0 (PyTorch's init)"
    assert arm_of(SweepConfig(kinds=("minlstm",), ks=(), forget_bias=2.0), "minlstm").name == "minLSTM"
    assert arm_of(SweepConfig(kinds=("rnn",), ks=(), chrono=True), "rnn") == Arm("rnn")  # chrono needs a gate


def test_per_arm_accuracies_and_t_intervals():
    exp = experiment()
    assert [a.name for a in exp.arms] == [
        "RNN", "GRU", "minGRU", "LSTM, forget bias ≈ 0 (PyTorch's init)", "LSTM, forget bias 1", "LSTM, chrono init",
        "minLSTM",
    ]  # fmt: skip
    assert exp.delays == [20, 40] and exp.missing == [f for f in FOLDERS if f not in exp.sweeps]
    lstm = exp.result(Arm("lstm", 1.0), 20)
    assert lstm.seeds == [0, 1, 2, 3] and lstm.planned == 4 and exp.result(Arm("minlstm"), 40) is None
    for kind in ("rnn", "gru", "mingru", "minlstm"):
        assert exp.result(Arm(kind), 20).accuracies.tolist() == list(CELLS[kind].values())
    assert exp.result(Arm("lstm", chrono=True), 20).accuracies.tolist() == list(CHRONO["lstm"].values())
    for r in exp.results:
        lo, hi = scipy.stats.t.interval(
            0.95, len(r.runs) - 1, loc=r.accuracies.mean(), scale=scipy.stats.sem(r.accuracies)
        )
        assert r.mean == pytest.approx(np.mean(r.accuracies)) and r.interval == pytest.approx((lo, hi))
    assert all(np.isnan(t_interval([0.5]))) and t_interval([0.5, 0.5]) == (0.5, 0.5)


def test_paired_comparisons_by_seed_with_holm():
    exp = experiment()
    shown = [(c.arm, c.versus, c.delay) for c in exp.comparisons]
    assert shown == [
        (Arm("lstm", chrono=True), Arm("lstm", 1.0), 20),
        (Arm("minlstm"), Arm("lstm", 1.0), 20),
        (Arm("mingru"), Arm("gru"), 20),
        (Arm("lstm", 1.0), Arm("lstm"), 20),
    ]  # fmt: skip  (no minGRU, chrono or bias-0 LSTM at D = 40: nothing to pair there)
    raw = []
    for c in exp.comparisons:
        a = {**CELLS, "chrono": CHRONO["lstm"]}["chrono" if c.arm.chrono else c.arm.kind]
        b = (BIAS0 if c.versus.forget_bias is None and c.versus.kind == "lstm" else CELLS)[c.versus.kind]
        seeds = [s for s in a if s in b]
        assert list(c.seeds) == seeds  # minLSTM's missing seed 2 is left out of its pairs
        mine, theirs = np.array([a[s] for s in seeds]), np.array([b[s] for s in seeds])
        assert c.difference == pytest.approx(np.mean(mine - theirs))
        d = mine - theirs
        assert c.interval == pytest.approx(scipy.stats.t.interval(0.95, len(d) - 1, d.mean(), scipy.stats.sem(d)))
        assert c.p == pytest.approx(scipy.stats.ttest_rel(mine, theirs).pvalue)
        raw.append(c.p)
    assert [c.p_holm for c in exp.comparisons] == pytest.approx(holm_by_hand(raw))


def test_a_missing_partial_or_broken_folder_is_said_not_raised(tmp_path):
    empty = load_memory(tmp_path / "nowhere")
    assert empty.results == [] and empty.missing == list(FOLDERS) and empty.comparisons == []
    write_summary(tmp_path / "d20-cells", fake_sweep({"lstm": {0: 0.9, 1: 0.8}}, forget_bias=1.0))
    (tmp_path / "d40-cells").mkdir()
    (tmp_path / "d40-cells" / SUMMARY).write_text("{not json")
    (tmp_path / "d20-lstm-chrono").mkdir()  # started, nothing saved yet
    exp = load_memory(tmp_path)
    assert [(r.arm.name, r.delay, r.seeds) for r in exp.results] == [("LSTM, forget bias 1", 20, [0, 1])]
    assert list(exp.unreadable) == ["d20-lstm-chrono", "d40-cells"]
    assert "sweep.json is missing" in exp.unreadable["d20-lstm-chrono"]
    assert exp.missing == [f for f in FOLDERS if f not in ("d20-cells", "d40-cells", "d20-lstm-chrono")]
    assert exp.runs == 2 and exp.planned == 2


def test_settings_come_from_the_configs_and_show_a_difference():
    exp = experiment()
    s = settings(exp)
    assert s["epochs"] == [20] and s["hidden"] == [64] and s["optimizer"] == ["adam"] and s["lr"] == [3e-3]
    assert s["seeds"] == [(0, 1), (0, 1, 2, 3)]  # each folder's own list: they differ
    exp.sweeps["d20-lstm-bias0"] = fake_sweep(BIAS0, epochs=5)
    assert settings(exp)["epochs"] == [5, 20]


def split_gradients(model, x, y) -> np.ndarray:
    """||dL/dh_t|| (B, T) without the explicit unroll: the fused module runs rows 1..t, h_t becomes a leaf, and the
    module runs the rest from it (an LSTM's c_t carried along as a constant); autograd gives dL/dh_t."""
    B, T, _ = x.shape
    out = np.zeros((B, T))
    lstm = model.config.kind == "lstm"
    for t in range(T):
        with torch.no_grad():
            _, state = model.rnn(x[:, : t + 1])
        h = (state[0] if lstm else state).clone().requires_grad_(True)
        final = h
        if t < T - 1:
            _, rest = model.rnn(x[:, t + 1 :], (h, state[1]) if lstm else h)
            final = final_hidden(model, rest)
        loss = F.cross_entropy(model.readout(final), y, reduction="sum")
        (grad,) = torch.autograd.grad(loss, h)
        out[:, t] = grad[0].norm(dim=-1).numpy()
    return out


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm", "mingru", "minlstm"])
def test_gradient_norms_match_an_independent_autograd(kind):
    model = untrained_model(ModelConfig(kind, 8), seed=3, chrono=12 if kind != "rnn" else None)
    task = SweepConfig(kinds=(kind,), ks=(), task="blank", delay=4).sequence_task
    x, y = profile_digits(load_sample()[1], task, size=5)
    assert x.shape == (5, 32, 28) and not x[:, 28:].any()
    ours, reference = gradient_norms(model, x, y), split_gradients(model.eval(), x, y)
    assert ours.shape == (5, 32)
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-7)


def test_profiles_use_each_arms_seed_zero_model_on_the_same_digits():
    models = {(kind, 0): untrained_model(ModelConfig(kind, 8), seed=i) for i, kind in enumerate(["gru", "mingru"])}
    sweep = fake_sweep({"gru": {0: 0.9, 1: 0.8}, "mingru": {0: 0.5, 1: 0.4}}, delay=3, models=models)
    exp = memory_experiment({"d3-cells": sweep}, memory_dir())
    got, digits = profiles(exp, load_sample()[1], size=6)
    assert digits == 6
    assert set(got) == {(Arm("gru"), 3), (Arm("mingru"), 3)}
    x, y = profile_digits(load_sample()[1], sweep.config.sequence_task, 6)
    for (arm, _), median in got.items():
        np.testing.assert_allclose(median, np.median(split_gradients(models[arm.kind, 0], x, y), axis=0), rtol=1e-4)
    sweep.runs = [r for r in sweep.runs if r.spec.seed != 0]  # no seed-0 model: no profile
    assert profiles(memory_experiment({"d3-cells": sweep}, memory_dir()), load_sample()[1], size=6) == ({}, 6)


@pytest.mark.skipif(not (memory_dir() / FOLDERS[0] / SUMMARY).exists(), reason="the memory experiment is not here")
def test_the_shipped_folders_read_as_their_json_says():
    exp = load_memory(models=False)
    assert not exp.unreadable, exp.unreadable
    for name in exp.sweeps:
        raw = json.loads((memory_dir() / name / SUMMARY).read_text())
        cfg = raw["config"]
        assert cfg["hidden_size"] == 64 and cfg["task"] == "blank" and cfg["delay"] == int(name[1:3])
        for kind in cfg["kinds"]:
            accs = {r["spec"]["seed"]: r["metrics"]["test_accuracy"] for r in raw["runs"] if r["spec"]["kind"] == kind}
            if not accs:  # not finished yet
                continue
            chrono = cfg["chrono"]
            bias = cfg["forget_bias"] if kind == "lstm" and not chrono else None
            result = exp.result(Arm(kind, bias, chrono), cfg["delay"])
            assert dict(zip(result.seeds, result.accuracies)) == accs
    pairs = {(a, b) for a, b in PAIRS}
    assert all((c.arm, c.versus) in pairs for c in exp.comparisons)
