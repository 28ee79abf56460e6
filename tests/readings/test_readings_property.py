"""Every reading under every setting a page offers, its claims held to the numbers it was computed from.

Settings: cell (rnn, gru, lstm, mingru, minlstm; the gated ones also chrono-initialised) x 1-3 layers x one or
two directions x the task (row-MNIST, 20 blank or noise rows after or before the digit) for small untrained models,
both loss placements; the shipped trained models on their own tasks; hand-set weights (no gradient at all, a
uniform spectrum or, for the min cells, uniform keep shares) and degenerate numbers (NaN, inf, zeros). The checks
are tests/readings/claims.py's; the last tests show that each one fails on a false sentence.
"""

import dataclasses
import inspect
from functools import cache

import numpy as np
import pytest
import torch
from claims import (
    check_chain_reading,
    check_decay_reading,
    check_edit_caption,
    check_explain_caption,
    check_forget_reading,
    check_gate_reading,
    check_gradient_check_summary,
    check_jacobian_caption,
    check_no_chrono,
    check_no_recurrent_weights,
    check_occlusion_reading,
    check_p_text,
    check_product_title,
    check_replay_caption,
    check_scan_reading,
    check_sweep_findings,
    check_sweep_headline,
    check_sweep_table,
    check_training_decay_reading,
)

from explorer import readings
from explorer.analysis.chain import bptt_chain
from explorer.analysis.counterfactual import agreement, erase, occlusion
from explorer.analysis.explain import explain
from explorer.analysis.gradcheck import THRESHOLD, FirstPrinciples, first_principles, gradient_check
from explorer.analysis.gradients import bptt_profile, digit_batch, first_to_last_ratio
from explorer.analysis.stats import ALPHA
from explorer.data.digits import load_sample
from explorer.data.sequences import ROW_MNIST, SequenceTask, digit_sequence
from explorer.experiments.results import Sweep, SweepRun, above_chance, compare
from explorer.experiments.spec import FULL, RunSpec, SweepConfig
from explorer.experiments.storage import load_sweep, shipped_sweep_dir
from explorer.model.checkpoint_file import read_checkpoint
from explorer.model.checkpoints import shipped_dir
from explorer.model.config import KINDS, MIN_KINDS, ModelConfig
from explorer.model.network import layer_weights, untrained_model
from explorer.model.snapshots import points
from explorer.model.unroll import trace
from explorer.readings import formulas, gradients, lesson, math, memory, models, sweep, watch
from explorer.training.loop import History
from explorer.training.metadata import recorded

TASKS = {
    "rows": ROW_MNIST,
    "blank after": SequenceTask("blank", 20),
    "blank before": SequenceTask("blank", 20, "before"),
    "noise after": SequenceTask("noise", 20),
    "noise before": SequenceTask("noise", 20, "before"),
}
SETTINGS = [(k, n, b) for k in KINDS for n in (1, 2, 3) for b in (False, True)]
BATCH = 6


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These models are tiny: a second torch thread only adds handoffs (and fights other work for the cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@cache
def digits():
    """A few test digits: images (B, 28, 28) and labels; digit 0 has blank top rows."""
    x, y = digit_batch(load_sample()[1], BATCH, 0)
    assert not x[0, 0].any()
    return x, y


@cache
def small(kind: str, layers: int, bidirectional: bool, seed: int = 0):
    return untrained_model(ModelConfig(kind, 8, layers, bidirectional), seed)


@cache
def shipped(name: str):
    return read_checkpoint(shipped_dir() / f"{name}.safetensors")


def sequences(task: SequenceTask) -> dict:
    """What Watch it read may show: a digit with blank top rows, one inked in row 1, an empty drawing."""
    image = digits()[0][0].numpy()
    inked = image.copy()
    inked[0, 12:16] = 0.8
    return {
        "digit": digit_sequence(task, image, 0),
        "inked row 1": digit_sequence(task, inked, 1),
        "empty": digit_sequence(task, np.zeros((28, 28), np.float32), 2),
    }


def check_watch(model, task: SequenceTask) -> None:
    """Scan, gate and explain readings on every sequence, at every layer and direction, first step and later."""
    cfg = model.config
    for seq in sequences(task).values():
        tr = trace(model, torch.from_numpy(seq)[None])
        blank = trace(model, torch.zeros(1, *seq.shape))
        check_scan_reading(
            watch.scan_reading(seq, tr.probs[0], cfg.bidirectional, cfg.num_layers),
            seq,
            tr,
            blank,
            cfg.bidirectional,
            cfg.num_layers,
        )
        assert watch.prediction_path(tr.probs[0]).split(" → ")[0] == str(int(tr.probs[0, 0].argmax()))
        for layer in range(cfg.num_layers):
            for d in range(cfg.num_directions):
                h = tr.get(layer, d, "h")[0]
                check_gate_reading(watch.gate_reading(cfg.kind, cfg.bidirectional, h), cfg.kind, cfg.bidirectional, h)
                first = len(seq) - 1 if d else 0
                for row in (first, len(seq) // 2):
                    e = explain(model, tr, seq, layer, d, 1, row)
                    check_explain_caption(watch.explain_caption(e), e)
                    lines = formulas.step_lines(e)
                    assert len(lines) == len(e.terms) + {"lstm": 2, "rnn": 0}.get(cfg.kind, 1)
                    assert all(formulas.num(t.value, paren=False) in line for t, line in zip(e.terms.values(), lines))


def check_gradients(models: dict, task: SequenceTask, loss_at: str, chained: int | None = None) -> None:
    """The decay reading over these models, a training comparison between each two, and for the first `chained`
    (default all) their chain(s) and forget-gate product."""
    x, y = digits()
    xs = task.apply(x, indices=torch.arange(BATCH))
    profiles = {label: bptt_profile(m, xs, y, loss_at) for label, m in models.items()}
    norms = {label: p.dh_last_row[-1, 0] for label, p in profiles.items()}
    if without := {label: m.config.kind for label, m in models.items() if profiles[label].dw_hh is None}:
        for what in ("contributions", "scale"):
            check_no_recurrent_weights(gradients.no_recurrent_weights(list(without), what), without, what)
    if plain := {label: "rnn" for label, m in models.items() if m.config.kind == "rnn"}:
        check_no_chrono(gradients.no_chrono(list(plain)), plain)
    ratios = {label: first_to_last_ratio(n) for label, n in norms.items()}
    check_decay_reading(gradients.decay_reading(ratios, task.T, loss_at), norms, task.T, loss_at)
    labels = list(norms)
    for a, b in zip(labels, labels[1:] + labels[:1]):
        over = {"init": norms[a], "epoch 1": norms[b], "final": norms[b]}
        check_training_decay_reading(gradients.training_decay_reading(over, task.T), over, task.T)
    if loss_at == "every":
        return  # the chain is the last row's loss whatever the page's placement
    for m in list(models.values())[:chained]:
        cfg = m.config
        if cfg.bidirectional and cfg.num_layers > 1:
            continue  # no one-way chain: the page says so instead
        for d in range(cfg.num_directions):
            chain = bptt_chain(m, xs[1], int(y[1]), direction=d)
            check_chain_reading(gradients.chain_reading(chain), chain)
            if chain.forget_product is not None:
                row = len(chain.delta) - 1 if d else 0
                text = gradients.forget_reading(chain.forget_product, row, cfg.kind)
                check_forget_reading(text, chain.forget_product, row, cfg.kind)
                check_product_title(gradients.product_title(cfg.kind), cfg.kind)
    kinds = {m.config.kind for m in models.values()}
    check_jacobian_caption(gradients.jacobian_caption(kinds, BATCH), kinds, BATCH)


@pytest.mark.parametrize("task", list(TASKS))
@pytest.mark.parametrize("kind,layers,bidirectional", SETTINGS)
def test_untrained_models_under_every_setting(kind, layers, bidirectional, task):
    model = small(kind, layers, bidirectional)
    check_watch(model, TASKS[task])
    if task in ("rows", "blank after", "noise before"):  # every placement of the delay, with both loss placements
        models_ = {"seed 0": model, "seed 1": small(kind, layers, bidirectional, seed=1)}
        if kind != "rnn":  # chrono initialisation over this task's rows (a gated cell's only)
            cfg = ModelConfig(kind, 8, layers, bidirectional)
            models_["chrono"] = untrained_model(cfg, 0, chrono=TASKS[task].T)
            check_watch(models_["chrono"], TASKS[task])
        for loss_at in ("last", "every"):
            check_gradients(models_, TASKS[task], loss_at)


@cache
def shipped_sweep() -> Sweep:
    return load_sweep(shipped_sweep_dir())


TRAINED = ["rnn-128", "gru-128", "lstm-128", "bilstm-128", "lstm-2x128", "mingru-128", "minlstm-128"]
TRAINED += ["sweep rnn", "sweep gru", "sweep lstm"]


def trained(name: str):
    """(model, its task, its snapshots' checkpoint or None) of a shipped model or a shipped sweep's full BPTT run."""
    if name.startswith("sweep "):
        run = next(r for r in shipped_sweep().runs if r.spec == RunSpec(name.split()[1], FULL, None, 0))
        return run.model, shipped_sweep().config.sequence_task, None
    ckpt = shipped(name)
    return ckpt.model, recorded(ckpt.meta).task, ckpt


@pytest.mark.parametrize("name", TRAINED)
def test_trained_models_on_their_tasks(name):
    model, task, ckpt = trained(name)
    check_watch(model, task)
    one_way = model.config.num_layers == 1 and not model.config.bidirectional  # the others' chains: in the grid
    check_gradients({name: model, "untrained": untrained_model(model.config, 0)}, task, "last", chained=int(one_way))
    seq = sequences(task)["digit"]
    tr = trace(model, torch.from_numpy(seq)[None])
    target = int(digits()[1][0])
    occ = occlusion(model, seq, target)
    saliency = bptt_profile(model, torch.from_numpy(seq)[None], torch.tensor([target])).dx[0]
    agree = agreement(occ, saliency)
    check_occlusion_reading(watch.occlusion_reading(occ, agree), occ, agree)
    edited = erase(seq, range(10, 20))
    after = trace(model, torch.from_numpy(edited)[None]).probs[0]
    check_edit_caption(watch.edit_caption(tr.probs[0], after, target), tr.probs[0], after, target)
    if ckpt is not None and ckpt.snapshots:
        history = points(ckpt.snapshots, ckpt.meta.get("metrics"), ckpt.meta.get("history"))
        picked = [history[0], history[1], history[-1]]
        nets = [ckpt.model if p.index is None else ckpt.snapshot_model(p.index) for p in picked]
        traces = [trace(m, torch.from_numpy(seq)[None]) for m in nets]
        finals = [t.probs[0, -1] for t in traces]
        for label in (target, None):
            text = watch.replay_caption(picked, traces, label)
            check_replay_caption(text, picked, finals, label)
        x, y = digits()
        over = {p.label: bptt_profile(m, x, y).dh_last_row[-1, 0] for p, m in zip(picked, nets)}
        check_training_decay_reading(gradients.training_decay_reading(over, 28), over, 28)
        assert models.point_note(picked[-1]).startswith("test accuracy")


def uniform_spectrum(kind: str, sigma: float, layers: int = 1):
    """W_ih = 0 and every W_hh block sigma times an orthogonal matrix: what the issue's RNN-128 showed at 16 units.
    A minGRU or minLSTM has no W_hh: every unit of layer 1 then keeps the share min(sigma, 0.999) of h_{t-1} at
    every step (its W_ih = 0 and the gates' biases set for it), so ∏ of the keep shares is a power of it."""
    model = untrained_model(ModelConfig(kind, 16, layers), 0)
    if kind in MIN_KINDS:
        share = torch.tensor(min(sigma, 0.999))
        with torch.no_grad():
            w_ih, b_ih, _, _ = layer_weights(model, 0, 0)
            w_ih.zero_()
            logit = torch.log(share / (1 - share))
            if kind == "mingru":  # z = 1 − share
                b_ih[:16] = -logit
            else:  # f / (f + i) with i's bias −f's: σ(b) / (σ(b) + σ(−b)) = σ(b)
                b_ih[:16], b_ih[16:32] = logit, -logit
        return model
    with torch.no_grad():
        for layer in range(layers):
            w_ih, _, w_hh, _ = layer_weights(model, layer, 0)
            w_ih.zero_() if layer == 0 else None
            for block in w_hh.split(16):
                q, _ = torch.linalg.qr(torch.randn(16, 16, generator=torch.Generator().manual_seed(layer)))
                block.copy_(sigma * q)
    return model


def silent(kind: str, layers: int, bidirectional: bool):
    """A model whose head is 0: the loss does not depend on h, so no gradient reaches any row."""
    model = untrained_model(ModelConfig(kind, 8, layers, bidirectional), 2)
    with torch.no_grad():
        model.head.weight.zero_()
    return model


@pytest.mark.parametrize("kind", KINDS)
def test_hand_set_weights_and_zero_gradients(kind):
    for task in (ROW_MNIST, TASKS["blank after"]):
        models_ = {
            "σ 0.999": uniform_spectrum(kind, 0.999),
            "σ 0.5": uniform_spectrum(kind, 0.5),
            "σ 3, two layers": uniform_spectrum(kind, 3.0, 2),
            "silent": silent(kind, 1, False),
            "silent bi": silent(kind, 1, True),
        }
        for loss_at in ("last", "every"):
            check_gradients(models_, task, loss_at)
        check_watch(models_["silent bi"], task)


@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_degenerate_numbers():
    T = 28
    norms = {
        "zero at T": np.zeros((3, T)),
        "zero at 1": np.tile(np.r_[0.0, np.ones(T - 1)], (3, 1)),
        "tiny": np.tile(np.r_[1e-30, np.ones(T - 1)], (3, 1)),
        "huge": np.tile(np.r_[1e30, np.ones(T - 1)], (3, 1)),
        "nan": np.full((3, T), np.nan),
        "inf at 1": np.tile(np.r_[np.inf, np.ones(T - 1)], (3, 1)),
        "inf at T": np.tile(np.r_[np.ones(T - 1), np.inf], (3, 1)),
    }
    finite = {k: v for k, v in norms.items() if np.isfinite(v).all()}  # the page leaves out the others
    for loss_at in ("last", "every"):
        check_decay_reading(
            gradients.decay_reading({k: first_to_last_ratio(v) for k, v in finite.items()}, T, loss_at),
            finite,
            T,
            loss_at,
        )
    for a in norms:
        for b in norms:
            over = {a: norms[a], b + " ": norms[b]}
            check_training_decay_reading(gradients.training_decay_reading(over, T), over, T)
        check_training_decay_reading(gradients.training_decay_reading({a: norms[a]}, T), {a: norms[a]}, T)
    x, y = digits()
    chain = bptt_chain(small("lstm", 1, False), x[0], int(y[0]))
    for delta in (np.zeros(T), np.full(T, np.nan), np.r_[np.inf, np.ones(T - 1)], np.r_[0.0, np.ones(T - 1)]):
        bad = dataclasses.replace(chain, delta=delta, delta_product=delta)
        check_chain_reading(gradients.chain_reading(bad), bad)
    for product in (np.zeros((8, T)), np.ones((8, T)), np.full((8, T), np.nan)):
        check_forget_reading(gradients.forget_reading(product, 0), product, 0)
    for error, passed in ((np.nan, False), (np.inf, False), (0.0, True), (2e-6, False), (1e-7, True)):
        check_gradient_check_summary(
            gradients.gradient_check_summary(error, THRESHOLD, passed, 5), error, THRESHOLD, passed, 5
        )
    for errors in ({"W_hh": np.nan}, {"W_hh": 1e-12, "V": 1e-3}, {"W_hh": 0.0}):
        text = math.first_principles_summary(FirstPrinciples(0.5, 0.5, errors))
        assert text.startswith("PASS") == (max(errors.values()) < 1e-8)


def test_gradient_checks_of_a_real_model():
    x, y = digits()
    cases = [("last", small("gru", 2, True)), ("every", small("lstm", 1, False)), ("last", small("minlstm", 2, True))]
    for loss_at, model in cases + [("every", small("mingru", 1, False))]:
        result = gradient_check(model, x[:1], y[:1], loss_at, n_weights=1)
        args = (result.max_error, THRESHOLD, result.passed, len(result.checks), model.config.kind)
        check_gradient_check_summary(gradients.gradient_check_summary(*args), *args)
    fp = first_principles(small("rnn", 1, False), x[0], int(y[0]))
    assert math.first_principles_summary(fp).startswith("PASS") and fp.max_error < 1e-8


def fake_sweep(runs: dict, **cfg) -> Sweep:
    """runs: RunSpec -> which of 400 test digits it gets right."""
    out = [
        SweepRun(spec, {"test_accuracy": float(np.mean(c))}, History(), np.zeros(48), np.zeros(48), np.asarray(c))
        for spec, c in runs.items()
    ]
    config = SweepConfig(
        kinds=tuple(sorted({s.kind for s in runs})),
        ks=tuple(sorted({s.k for s in runs if s.k is not None})),
        seeds=tuple(sorted({s.seed for s in runs})),
        **cfg,
    )
    return Sweep(config, sorted(out, key=lambda r: r.spec), test_size=400)


def right(n: int, shift: int = 0) -> np.ndarray:
    return np.roll(np.arange(400) < n, shift)


def sweeps() -> dict:
    """Sweeps whose comparisons land on every side of the 0.05 line, with one seed and with several."""
    blank = dict(task="blank", delay=20, control=True)
    one = {
        RunSpec("lstm", FULL, None, 0): right(360),
        RunSpec("lstm", FULL, None, 0, frozen=True): right(380),  # the control beats trained input weights
        RunSpec("lstm", "chunks", 8, 0): right(300),  # significantly lower
        RunSpec("lstm", "chunks", 16, 0): right(355),  # not significant
        RunSpec("lstm", "chunks", 24, 0): right(395),  # significantly higher
        RunSpec("gru", FULL, None, 0): right(352, 3),
        RunSpec("gru", "chunks", 8, 0): right(120),  # below its control too (blind: k = 8 < 20 blank rows)
    }
    several = {}
    for seed in range(4):
        several[RunSpec("rnn", FULL, None, seed)] = right(300 + seed)
        several[RunSpec("rnn", FULL, None, seed, frozen=True)] = right(250 + 3 * seed)
        several[RunSpec("rnn", "chunks", 8, seed)] = right(200 + 2 * seed)
        several[RunSpec("rnn", "chunks", 24, seed)] = right(300 + (seed % 2) * 8 - 4)
    chance = {RunSpec("lstm", FULL, None, 0): right(41), RunSpec("lstm", "chunks", 8, 0): right(40, 5)}
    minimal = {  # the min cells, named as the pages name them
        RunSpec("mingru", FULL, None, 0): right(352),
        RunSpec("mingru", "chunks", 8, 0): right(150),  # significantly lower
        RunSpec("minlstm", FULL, None, 0): right(340, 7),
        RunSpec("minlstm", "chunks", 8, 0): right(338, 2),  # not significant
    }
    out = {"one seed": fake_sweep(one, **blank), "seeds": fake_sweep(several, **blank), "chance": fake_sweep(chance)}
    out["min cells"] = fake_sweep(minimal, task="blank", delay=20, chrono=True)
    stopped = fake_sweep(one, **blank)
    out["stopped"] = dataclasses.replace(stopped, stopped=True, failed={"gru-chunks-k16-s0": "killed"})
    out["shipped"] = load_sweep(shipped_sweep_dir(), models=False)
    return out


def test_sweep_readings():
    for name, s in sweeps().items():
        comparisons = compare(s)
        for c in comparisons:
            check_p_text(sweep.p_text(c.p_holm), c.p_holm) if np.isfinite(c.p_holm) else None
        check_sweep_table(sweep.sweep_table(s), comparisons, ALPHA)
        findings = sweep.sweep_findings(s)
        check_sweep_findings(findings, comparisons, ALPHA, above_chance(s))
        check_sweep_headline(sweep.sweep_headline(s), findings, comparisons, ALPHA, above_chance(s))
        assert sweep.sweep_reading(s) == " ".join(findings), name
    for p in (1e-5, 0.001, 0.0099, 0.0401, 0.0495, 0.04999, 0.05, 0.0501, 0.0599, 0.06, 0.3, 1.0):
        check_p_text(sweep.p_text(p), p)
    assert sweep.p_text(0.0495) == "p = 0.0495" and sweep.p_text(0.04999) == "p = 0.04999"
    minimal = sweeps()["min cells"]
    headline = sweep.sweep_headline(minimal)
    assert "minGRU 88.0%" in headline and "minLSTM 85.0%" in headline and "MINGRU" not in headline
    assert "minGRU, TBPTT(8, 8)" in " ".join(sweep.sweep_findings(minimal)) + headline
    control = sweep.sweep_reading(sweeps()["one seed"])  # random input weights significantly beat trained ones
    assert "5.0 points higher than with them trained (significant, Holm-adjusted p < 0.001): here training" in control


def test_model_readings():
    for name in ("rnn-128", "bilstm-128", "lstm-2x128"):
        rec = recorded(shipped(name).meta)
        assert models.accuracy_text(rec) == f"{100 * rec.test_accuracy:.1f}%"
        assert f"{rec.train_digits:,} training digits" in models.data_text(rec)
        assert models.how_it_ended(rec) == "finished" and models.created_text(rec).endswith("UTC")
    rec = recorded({"metrics": {"stopped": True, "epoch": 0, "test_accuracy": 2.0}, "created": "nonsense"})
    assert models.accuracy_text(rec) == "—" and models.created_text(rec) == "—"
    assert models.how_it_ended(rec, 500).startswith("stopped during epoch 1") and "first 500" in models.how_it_ended(
        rec, 500
    )
    later = recorded({"metrics": {"stopped": True, "epoch": 3}})
    assert models.how_it_ended(later) == "stopped early; the best weights so far, from epoch 3"
    assert "unrecorded data" in models.data_text(recorded({}))


CHECKED = {  # every reading and where it is held to its numbers
    gradients: {
        "decade", "power_of_ten", "decay_verdict", "decay_reading", "jacobian_caption", "chain_reading",
        "forget_reading", "training_decay_reading", "gradient_check_summary", "product_title", "no_recurrent_weights",
        "no_chrono",
    },
    watch: {
        "prediction_path", "scan_reading", "gate_reading", "unit_caption", "saturation_caption", "explain_caption",
        "occlusion_reading", "edit_caption", "replay_caption",
    },
    sweep: {"p_text", "verdict", "sweep_table", "sweep_reading", "sweep_findings", "sweep_headline"},
    models: {"accuracy_text", "data_text", "how_it_ended", "created_text", "point_note"},
    math: {"first_principles_summary"},
    # Held to independent computations in test_memory_readings.py (claims.py's check_memory_*).
    memory: {
        "accuracy_text", "accuracy_table", "interval_note", "chance_note", "comparison_table", "comparison_findings",
        "memory_headline", "training_note", "status_note", "profile_caption", "profile_reading", "readme_tables",
    },
    formulas: {"num", "equations", "bptt_equations", "step_lines"},
    # Held to independent computations in test_lesson_readings.py; none uses a claim word that claims.py knows.
    lesson: {
        "percent", "prediction_reading", "accuracy_reading", "forget_reading", "gate_reading", "memory_reading",
        "chain_reading", "product_reading", "truncation_reading", "sweep_reading", "bias_reading",
        "accuracy_table_reading",
    },
}  # fmt: skip
NOT_READINGS = {"lesson_file"}  # the lesson files' schema and loader: no sentence of its own but its errors'


def test_every_reading_is_checked():
    """A reading added to explorer/readings without a check here fails this test."""
    import pkgutil

    modules = {m.name for m in pkgutil.iter_modules(readings.__path__)} - NOT_READINGS
    assert modules == {m.__name__.split(".")[-1] for m in CHECKED}
    for module, names in CHECKED.items():
        public = {n for n, f in inspect.getmembers(module, inspect.isfunction) if f.__module__ == module.__name__}
        assert public - {n for n in public if n.startswith("_")} == names, module.__name__


@pytest.mark.parametrize("kind", KINDS)
def test_captions_and_equations_name_the_cells_own_parts(kind):
    gates = {"rnn": (), "lstm": "ifgo", "gru": "rzn", "mingru": "zn", "minlstm": "fig"}[kind]
    text = watch.unit_caption(kind)
    assert all(f" {g}" in text or f"{g}," in text for g in gates) and ("no gates" in text) == (kind == "rnn")
    lines = formulas.equations(kind)
    assert [line.split("_t")[0] for line in lines[: len(gates)]] == list(gates)
    assert ("c_t" in "".join(lines)) == (kind == "lstm")
    assert ("W_{h" in "".join(lines)) == (kind not in ("mingru", "minlstm"))  # the min cells have no W_hh
    assert ("pos" in "".join(lines)) == (kind in ("mingru", "minlstm"))
    assert "2,500 test digits" in watch.saturation_caption(2500)
    assert len(formulas.bptt_equations()) == 4
    for ratio in (0.0, 3.2e-6, 0.031, 0.032, 1.0, 31.0, 32.0, 4e5):
        shown, verdict = gradients.power_of_ten(ratio), gradients.decay_verdict(ratio)
        assert shown == ("0" if ratio == 0 else "10" + str(gradients.decade(ratio)).translate(gradients.SUPERSCRIPT))
        e = -np.inf if ratio == 0 else np.round(np.log10(ratio))
        assert verdict == ("vanishing" if e <= -2 else "exploding" if e >= 2 else "")
    assert gradients.power_of_ten(np.nan) == "NaN" and gradients.decay_verdict(np.nan) == ""


def old_training_decay(norms: dict, T) -> str:
    """The training-decay reading before issue 24: a NaN share shown as 0, then compared."""
    labels = list(norms)
    a, b = first_to_last_ratio(norms[labels[0]]), first_to_last_ratio(norms[labels[-1]])
    sa, sb = (gradients.power_of_ten(r) if r > 0 else "0" for r in (a, b))
    change = "it stays at the same power of ten" if sa == sb else "training " + ("lengthened" if b > a else "shortened")
    return f"Row 1 receives {sa} of row {T}'s gradient at {labels[0]} and {sb} at {labels[-1]}: {change}."


def old_p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}" if p < 0.01 or 0.04 <= p < 0.06 else f"p = {p:.2f}"


BUGS = {  # a false sentence injected into a reading, and a check above that must catch it
    "chain: σ_max < 1 read as 'must vanish'": (
        lambda mp, real=gradients.chain_reading: mp.setattr(
            gradients, "chain_reading", lambda c: real(c).replace("does not force vanishing", "must vanish")
        ),
        lambda: check_gradients({"σ 0.999": uniform_spectrum("rnn", 0.999)}, ROW_MNIST, "last"),
    ),
    "scan: every model read as one layer, one direction": (
        lambda mp, real=watch.scan_reading: mp.setattr(watch, "scan_reading", lambda s, p, b, n: real(s, p, False, 1)),
        lambda: check_watch(small("gru", 2, True), ROW_MNIST),
    ),
    "explain: 'only the biases remain' at every first step": (
        lambda mp, real=watch.explain_caption: mp.setattr(
            watch,
            "explain_caption",
            lambda e: real(e).replace("; the input part and the biases remain", ": only the biases remain"),
        ),
        lambda: check_watch(small("lstm", 2, False), ROW_MNIST),
    ),
    "training decay: no gradient shown as 0 and compared": (
        lambda mp: mp.setattr(gradients, "training_decay_reading", old_training_decay),
        lambda: check_gradients(
            {"silent": silent("rnn", 1, False), "seed 0": small("rnn", 1, False)}, ROW_MNIST, "last"
        ),
    ),
    "decay: a verdict one decade off": (
        lambda mp, real=gradients.decay_reading: mp.setattr(
            gradients, "decay_reading", lambda r, T, at: real({k: v * 10 for k, v in r.items()}, T, at)
        ),
        lambda: check_gradients({"seed 0": small("rnn", 1, False)}, TASKS["blank after"], "last"),
    ),
    "chain: a stacked minGRU's Jacobians called diagonal": (
        lambda mp, real=gradients.chain_reading: mp.setattr(
            gradients,
            "chain_reading",
            lambda c: real(dataclasses.replace(c, delta_layers=c.delta_layers[:1])) if c.kind in MIN_KINDS else real(c),
        ),
        lambda: check_gradients({"seed 0": small("mingru", 2, False)}, ROW_MNIST, "last"),
    ),
    "keep shares: a minLSTM's product read as an LSTM's forget gates": (
        lambda mp, real=gradients.forget_reading: mp.setattr(
            gradients, "forget_reading", lambda p, row, kind="lstm": real(p, row, "lstm")
        ),
        lambda: check_gradients({"seed 0": small("minlstm", 1, False)}, ROW_MNIST, "last"),
    ),
    "no W_hh: every model said to have none": (
        lambda mp, real=gradients.no_recurrent_weights: mp.setattr(
            gradients, "no_recurrent_weights", lambda labels, what: real(labels + ["rnn-128"], what)
        ),
        lambda: check_gradients({"seed 0": small("mingru", 1, True)}, ROW_MNIST, "last"),
    ),
    "gradient check: a min cell's reference called a fused module": (
        lambda mp, real=gradients.gradient_check_summary: mp.setattr(
            gradients, "gradient_check_summary", lambda *args: real(*args[:4])
        ),
        test_gradient_checks_of_a_real_model,
    ),
    "chrono: a gated copy said to keep torch's init": (
        lambda mp, real=gradients.no_chrono: mp.setattr(gradients, "no_chrono", lambda labels: real(labels + ["gru"])),
        lambda: check_gradients({"seed 0": small("rnn", 1, False)}, ROW_MNIST, "last"),
    ),
    "sweep: a stricter line than the tests'": (lambda mp: mp.setattr(sweep, "ALPHA", 0.01), test_sweep_readings),
    "sweep headline: the smallest significant loss named as the largest": (
        lambda mp: mp.setattr(sweep, "min", max, raising=False),  # the module's min is the builtin until then
        test_sweep_readings,
    ),
    "sweep: p just below 0.05 shown as 0.050": (
        lambda mp: mp.setattr(sweep, "p_text", old_p_text),
        test_sweep_readings,
    ),
}


@pytest.mark.parametrize("bug", list(BUGS))
def test_the_checks_catch_a_false_sentence(bug, monkeypatch):
    inject, run = BUGS[bug]
    run()  # true as shipped
    inject(monkeypatch)
    with pytest.raises(AssertionError, match="claim"):
        run()
