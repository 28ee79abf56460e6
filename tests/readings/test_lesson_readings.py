"""The lesson's result sentences (explorer.readings.lesson), each against numbers computed here independently: the
fused torch.nn modules for predictions and accuracy, a hand-written float64 loop for gates, gradients and Jacobians,
and the sweep's JSON file. At the built-in lesson's settings and others its controls offer."""

import json
import re

import numpy as np
import pytest
import torch

from explorer.analysis.lesson import delay_task
from explorer.data.digits import load_sample
from explorer.experiments.storage import shipped_sweep_dir
from explorer.model.checkpoint_file import read_checkpoint
from explorer.model.checkpoints import shipped_dir
from explorer.model.network import untrained_model
from explorer.readings import lesson as readings

TEST = load_sample()[1]


def model(name):
    return read_checkpoint(shipped_dir() / f"{name}.safetensors")


def sequences(kind: str, delay: int, indices) -> torch.Tensor:
    """Test digits followed by `delay` blank (zero) rows, built here; noise rows come from the task (data layer)."""
    images = torch.from_numpy(TEST.images[indices].astype(np.float32) / 255.0)
    if kind == "blank":
        return torch.cat([images, torch.zeros(len(indices), delay, 28)], dim=1)
    return delay_task(kind, delay).apply(images, indices=torch.as_tensor(indices))


def fused_probs(m, x: torch.Tensor) -> np.ndarray:
    """P(class) after every row (B, T, 10) from the fused nn module and the head."""
    with torch.no_grad():
        out, _ = m.rnn(x)
        return torch.softmax(m.head(out), -1).numpy()


def manual(m, x: torch.Tensor, cut: int | None = None):
    """Float64 step-by-step run of a one-layer model over x (T, 28) or (B, T, 28): states h_t (kept for autograd),
    LSTM c_t and f_t; the state detached before step `cut` (0-based) when given."""
    x = x.double() if x.dim() == 3 else x.double()[None]
    p = {k: v.detach().double().requires_grad_() for k, v in m.rnn.named_parameters()}  # so h_t has a graph
    w_ih, w_hh, b = p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"] + p["bias_hh_l0"]
    H = w_hh.shape[1]
    h = torch.zeros(x.shape[0], H, dtype=torch.float64)
    c = torch.zeros_like(h)
    hs, fs, cs = [], [], []
    for t in range(x.shape[1]):
        if cut is not None and t == cut:
            h, c = h.detach(), c.detach()
        if m.config.kind == "rnn":
            h = torch.tanh(x[:, t] @ w_ih.T + h @ w_hh.T + b)
        else:
            i, f, g, o = (x[:, t] @ w_ih.T + h @ w_hh.T + b).chunk(4, -1)
            f = torch.sigmoid(f)
            c = f * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            fs.append(f.detach())
            cs.append(c.detach())
        h.retain_grad()
        hs.append(h)
    return hs, (torch.stack(fs, 1).numpy() if fs else None), (torch.stack(cs, 1).numpy() if cs else None)


def head64(m, h):
    return h @ m.head.weight.double().T + m.head.bias.double()


def settled(probs: np.ndarray) -> int:
    guess = probs.argmax(-1)
    row = len(guess)
    while row > 1 and guess[row - 2] == guess[-1]:
        row -= 1
    return row


@pytest.mark.parametrize("name,kind,delay", [("rnn-128", "rows", 0), ("delay-rnn-64", "blank", 20)])
@pytest.mark.parametrize("digit", [0, 7])
def test_prediction_and_accuracy_of_a_plain_rnn(name, kind, delay, digit):
    ckpt = model(name)
    x = sequences(kind, delay, [digit])
    probs = fused_probs(ckpt.model, x)[0]
    text = readings.prediction_reading("RNN", probs, int(TEST.labels[digit]), settled(probs))
    guess = int(probs[-1].argmax())
    assert f"After all {28 + delay} rows the RNN says {guess} with probability {probs[-1, guess]:.2f}" in text
    assert f"held from row {settled(probs)} on" in text
    assert ("(right)" in text) == (guess == TEST.labels[digit])
    all_x = sequences(kind, delay, np.arange(len(TEST)))
    acc = float(np.mean(fused_probs(ckpt.model, all_x)[:, -1].argmax(-1) == TEST.labels))
    text = readings.accuracy_reading("RNN", acc, "the task", len(TEST))
    assert f"right {round(100 * acc)}% of the time" in text
    assert ("within 5 points of chance" in text) == (acc < 0.15)


@pytest.mark.parametrize("name,delay", [("lstm-128", 0), ("delay-lstm-64", 20)])
@pytest.mark.parametrize("digit", [0, 7])
def test_gate_and_forget_readings_of_an_lstm(name, delay, digit):
    ckpt = model(name)
    _, f, c = manual(ckpt.model, sequences("blank", delay, [digit])[0])
    text = readings.gate_reading(f[0], c[0])
    assert f"forget gates average {f.mean():.2f}" in text
    assert f"{round(100 * np.mean(f > 0.9))}% of them are above 0.9" in text
    assert f"the largest |c| is {np.abs(c).max():.2f}" in text
    if delay:
        kept = np.prod(f[0, 28:], axis=0)
        text = readings.forget_reading(kept, delay)
        assert f"Across the {delay} rows after the digit, the median cell unit keeps {np.median(kept):.2f}" in text
        assert f"{int((kept > 0.5).sum())} of {kept.size} units keep more than half" in text
        assert f"the best-kept {kept.max():.2f}" in text


@pytest.mark.parametrize(
    "names,kind,delay,digit",
    [
        (["rnn-128"], "noise", 10, 0),
        (["rnn-128"], "noise", 0, 3),
        (["delay-rnn-64", "delay-lstm-64", "delay-gru-64"], "blank", 20, 5),
    ],
)
def test_memory_reading_gives_p_right_class_after_the_digit_and_at_the_end(names, kind, delay, digit):
    x = sequences(kind, delay, [digit]) if delay else sequences("blank", 0, [digit])
    label = int(TEST.labels[digit])
    curves = {n: fused_probs(model(n).model, x)[0, :, label] for n in names}
    text = readings.memory_reading(curves, 28)
    for n, p in curves.items():
        expected = f"{n} {p[-1]:.2f}" if not delay else f"{n} {p[27]:.2f} → {p[-1]:.2f}"
        assert expected in text


def untrained_rnn():
    return untrained_model(model("delay-rnn-64").config, 0)


@pytest.mark.parametrize("digit", [0, 4])
def test_chain_reading_is_the_share_of_the_gradient_autograd_finds(digit):
    m = untrained_rnn()
    hs, _, _ = manual(m, sequences("blank", 20, [digit])[0])
    loss = torch.nn.functional.cross_entropy(head64(m, hs[-1]), torch.tensor([int(TEST.labels[digit])]))
    loss.backward()
    delta = np.array([h.grad.norm().item() for h in hs])
    text = readings.chain_reading(delta, 28)
    assert f"a fraction {delta[27] / delta[-1]:.2g}" in text and f"and {delta[0] / delta[-1]:.2g}" in text
    assert delta[27] / delta[-1] < 1e-3  # the untrained RNN's gradient has all but vanished at the digit


@pytest.mark.parametrize("steps", [1, 5, 20, 40])
def test_product_reading_multiplies_the_jacobians_by_hand(steps):
    m = untrained_rnn()
    hs, _, _ = manual(m, sequences("blank", 20, [0])[0])
    w = m.rnn.weight_hh_l0.detach().double()
    J = [torch.diag(1 - hs[t][0].detach() ** 2) @ w for t in range(48)]  # J_t = ∂h_t/∂h_{t-1}
    product = torch.eye(64, dtype=torch.float64)
    for t in range(48 - steps, 48):
        product = J[t] @ product
    norms = np.array([torch.linalg.matrix_norm(j, 2).item() for j in J[48 - steps :]])
    size = torch.linalg.matrix_norm(product, 2).item()
    text = readings.product_reading(size, float(np.prod(norms)), steps, 48, norms)
    assert f"product of {steps} Jacobians has norm {size:.2g}" in text
    assert (
        f"under the bound {np.prod(norms):.2g}" in text and f"‖J_t‖ over those rows is {np.median(norms):.2f}" in text
    )
    assert size <= np.prod(norms) * (1 + 1e-9)


@pytest.mark.parametrize("k", [8, 21, 30, 48])
def test_truncation_reading_counts_the_rows_cut_off(k):
    m = model("delay-lstm-64").model
    x, y = sequences("blank", 20, np.arange(64)), torch.from_numpy(TEST.labels[:64].astype(np.int64))

    def by_row(cut):
        hs, _, _ = manual(m, x, cut)
        torch.nn.functional.cross_entropy(head64(m, hs[-1]), y, reduction="sum").backward()
        norms = [np.zeros(64) if h.grad is None else h.grad.norm(dim=-1).numpy() for h in hs]  # None: cut off
        return np.median(np.stack(norms, 1), axis=0)

    grad, full = by_row(48 - k if k < 48 else None), by_row(None)
    text = readings.truncation_reading(grad, full, k, range(28))
    assert f"the {48 - k} earliest of 48 rows get exactly zero gradient" in text
    reached = max(0, k - 20)
    assert ("none of the digit's rows" in text) == (reached == 0)
    assert reached == 0 or f"{reached} of the digit's 28 rows get gradient" in text
    assert f"keep {round(100 * grad.sum() / full.sum())}% of the full-BPTT gradient" in text


@pytest.mark.parametrize("k", [8, 16, 24, 32, 48])
def test_sweep_reading_is_the_mean_over_seeds_in_the_sweep_file(k):
    raw = json.loads((shipped_sweep_dir() / "sweep.json").read_text())
    means = {}
    for run in raw["runs"]:
        s = run["spec"]
        if s["frozen"]:
            continue
        means.setdefault(s["kind"], {}).setdefault(s["k"] or 48, []).append(run["metrics"]["test_accuracy"])
    means = {kind: {j: float(np.mean(a)) for j, a in by_k.items()} for kind, by_k in means.items()}
    text = readings.sweep_reading(means, k, 48)
    for kind, by_k in means.items():
        assert f"{kind.upper()} {round(100 * by_k[k])}% against {round(100 * by_k[48])}% with full BPTT" in text


@pytest.mark.parametrize("bias,name,init", [("0", "delay-lstm-64-bias0", None), ("1", "delay-lstm-64", 1.0)])
def test_bias_reading_from_the_training_history_and_the_initial_forget_gates(bias, name, init):
    ckpt = model(name)
    assert ckpt.meta["train_config"]["forget_bias"] == init
    history = ckpt.meta["history"]["test_accuracy"]
    _, f, _ = manual(untrained_model(ckpt.config, 0, init), sequences("blank", 20, np.arange(64)))
    keep = float(np.median(np.prod(f[:, 28:], axis=1)))
    text = readings.bias_reading(bias, history, ckpt.accuracy, keep, 20)
    first = next(i + 1 for i, a in enumerate(history) if a >= 0.5)
    assert f"keep a median {keep:.2g} of a cell across the 20 blank rows" in text
    assert f"first passed 50% after epoch {first}" in text and f"ended at {round(100 * ckpt.accuracy)}%" in text
    assert abs(keep - (0.5 if init is None else 1 / (1 + np.exp(-1))) ** 20) < 10 * keep  # σ(bias)^20, roughly


@pytest.mark.parametrize("delay", [0, 20, 40])
def test_accuracy_table_reading_at_other_delays(delay):
    names = ["delay-rnn-64", "delay-lstm-64", "delay-gru-64"]
    x = sequences("blank", delay, np.arange(len(TEST)))
    accs = {n: float(np.mean(fused_probs(model(n).model, x)[:, -1].argmax(-1) == TEST.labels)) for n in names}
    text = readings.accuracy_table_reading(accs, delay, 20)
    for n, a in accs.items():
        assert f"{n} {round(100 * a)}%" in text
    assert text.endswith(f"Best: {max(accs, key=accs.get)}.")
    assert ("the delay they were trained on" in text) == (delay == 20)


def test_percentages_round_as_the_tests_expect():
    assert [readings.percent(x) for x in (0.004, 0.125, 0.916)] == ["0%", f"{12.5:.0f}%", "92%"]
    assert re.fullmatch(r"\d+%", readings.percent(0.5))


def test_readings_stay_true_off_the_built_in_lessons_settings():
    """A teacher's lesson may show other models and tasks: each sentence still says only what holds."""
    text = readings.truncation_reading(np.array([0.0, 1.0, 0.0, 2.0]), np.ones(4), 2, range(4))
    assert "the 1 earliest of 4 rows get exactly zero gradient" in text  # a later zero row is not "earliest"
    assert readings.sweep_reading({"lstm": {48: 0.9}}, 8, 48) == "No cell of this experiment was trained with k = 8."
    text = readings.bias_reading("1", [0.6], 0.9, 0.3, 20, "noise")
    assert "across the 20 noise rows" in text and "blank" not in text
    assert "its task has no rows after the digit" in readings.bias_reading("1", [0.6], 0.9, 1.0, 0)
    text = readings.accuracy_table_reading({"RNN": 0.2, "LSTM": 0.9}, 20, None)
    assert "(not the task they were trained on)" in text and "the delay they were trained on" not in text
