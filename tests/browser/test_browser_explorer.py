"""Watch it read's browser explorer, number by number against the engine, in Chromium.

The explorer is the component's own bundle (explorer/ui/watch/watch.js) opened as the offline export writes it
(one HTML file, no server): every gate, c and h it computes, its per-row probabilities, its drawing
preprocessing and its explain panel are read out of the page and held to the engine's trace, drawing_to_digit
and explain within 1e-5. A wrong sign injected into one gate makes the comparison fail.
"""

import numpy as np
import pytest
import torch
from playwright.sync_api import expect

from explorer.analysis.explain import explain
from explorer.data.digits import EmptyDrawingError, TooSmallDrawingError, drawing_to_digit, load_sample
from explorer.data.sequences import ROW_MNIST, SequenceTask, digit_sequence
from explorer.model.checkpoint_file import read_checkpoint
from explorer.model.checkpoints import list_checkpoints
from explorer.model.config import KINDS, ModelConfig
from explorer.model.network import untrained_model
from explorer.model.portable import pack
from explorer.model.predictions import settled_after
from explorer.model.unroll import trace
from explorer.ui import browser_view

pytestmark = [pytest.mark.browser]

TEST = load_sample()[1]
TOL = 1e-5
SHIPPED = {info.name: info for info in list_checkpoints(include_user=False)}
BUILT = {  # what no shipped model covers: delay tasks, three layers, bidirectional GRU, RNN and min cells
    "lstm-noise-before": (ModelConfig("lstm", 16), SequenceTask("noise", 6, "before")),
    "rnn-3x12-bi-blank": (ModelConfig("rnn", 12, num_layers=3, bidirectional=True), SequenceTask("blank", 4)),
    "gru-2x10-bi-noise": (ModelConfig("gru", 10, num_layers=2, bidirectional=True), SequenceTask("noise", 3)),
    # No W_hh: layer 2 reads layer 1's positive h; one layer runs the backward direction over every prefix.
    "minlstm-2x16-bi": (ModelConfig("minlstm", 16, num_layers=2, bidirectional=True), ROW_MNIST),
    "mingru-12-bi-blank": (ModelConfig("mingru", 12, bidirectional=True), SequenceTask("blank", 4)),
}
MIN_SHIPPED = ("mingru-128", "minlstm-128")

READ_TRACE = """(root) => {
  const x = root.rnnExplorer, t = x.traces[0].tr;
  const arr = (v) => (v ? Array.from(v) : null);
  return { index: x.state.index, final: arr(t.final), probs: arr(t.probs), runs: t.runs.map((dirs) => dirs.map((r) => ({
    h: arr(r.h), c: arr(r.c), gates: Object.fromEntries(Object.entries(r.gates).map(([k, v]) => [k, arr(v)])) }))) };
}"""


def model_and_task(name: str):
    if name in SHIPPED:
        return read_checkpoint(SHIPPED[name].path).model, ROW_MNIST
    config, task = BUILT[name]
    return untrained_model(config, seed=1), task


def open_explorer(page, tmp_path, model, task, digit: int = 0, name: str = "m", max_digits: int = 40, **options):
    blob = pack(model, task, TEST, name, model.config.label, max_digits)
    path = tmp_path / f"{name}.html"
    opts = browser_view.view_options(digit=digit, **options)
    path.write_text(browser_view.offline_html(browser_view.view_blob([blob], opts), name), encoding="utf-8")
    page.goto(path.as_uri())
    page.wait_for_function("() => document.querySelector('.rx-root')?.rnnExplorer?.traces", timeout=30_000)
    return page.locator(".rx-root")


def worst_difference(model, task, got: dict, sequence: np.ndarray) -> float:
    """The largest |browser - engine| over every gate, c and h of every layer and direction, and the
    probabilities after every row."""
    tr = trace(model, torch.from_numpy(sequence)[None])
    worst = float(np.abs(np.array(got["probs"]).reshape(-1, 10) - tr.probs[0]).max())
    worst = max(worst, float(np.abs(np.array(got["final"]) - tr.probs[0, -1]).max()))
    for layer, dirs in enumerate(tr.states):
        for d, named in enumerate(dirs):
            run = got["runs"][layer][d]
            for name, value in named.items():
                js = run["h"] if name == "h" else run["c"] if name == "c" else run["gates"][name]
                worst = max(worst, float(np.abs(np.array(js).reshape(value.shape[1:]) - value[0]).max()))
    return worst


def test_every_cell_is_covered():
    """Each kind the engine offers has a shipped or built model here, the min cells a shipped one each."""
    kinds = {model_and_task(name)[0].config.kind for name in [*SHIPPED, *BUILT]}
    assert kinds == set(KINDS) and set(MIN_SHIPPED) <= set(SHIPPED)


@pytest.mark.parametrize("name", [*SHIPPED, *BUILT])
def test_the_browser_computes_the_engines_trace(page, tmp_path, name):
    """Every shipped model and the built ones (delay tasks, 3 layers, bidirectional GRU/RNN/min cells): test
    digits 0, 1 (N: the presentation key, in the browser) and 2 (the view's ▶)."""
    model, task = model_and_task(name)
    root = open_explorer(page, tmp_path, model, task, name=name)
    for digit in range(3):
        if digit == 1:
            page.keyboard.press("n")
        elif digit == 2:
            page.get_by_role("button", name="▶", exact=True).click()
        got = root.evaluate(READ_TRACE)
        assert got["index"] == digit
        sequence = digit_sequence(task, TEST.images[digit].astype(np.float32) / 255, digit)
        assert worst_difference(model, task, got, sequence) <= TOL, (name, digit)
        expect(page.locator(".rx-guess")).to_have_text(verdict(model, sequence, int(TEST.labels[digit])))


NEXT_NOW = """(r) => {
  document.dispatchEvent(new KeyboardEvent('keydown', { key: 'n', bubbles: true }));
  const tr = r.rnnExplorer.traces[0].tr;
  return { prefixed: tr.prefixed, text: r.querySelector('.rx-guess').textContent };
}"""


def test_a_new_digit_is_drawn_before_its_per_row_answers_are_computed(page, tmp_path):
    """BiLSTM-128: N draws the new digit and its final answer at once, and works out the answer after every row
    (the backward direction re-run on each prefix) only after that frame, adding when the answer settled."""
    model, task = model_and_task("bilstm-128")
    root = open_explorer(page, tmp_path, model, task)
    now = root.evaluate(NEXT_NOW)
    full = verdict(model, digit_sequence(task, TEST.images[1].astype(np.float32) / 255, 1), int(TEST.labels[1]))
    assert not now["prefixed"]
    assert now["text"] == full.split(" · ")[0]
    expect(page.locator(".rx-guess")).to_have_text(full)
    assert root.evaluate("(r) => r.rnnExplorer.traces[0].tr.prefixed")


def verdict(model, sequence: np.ndarray, label: int | None) -> str:
    """The view's sentence after the last row, from the engine's numbers: the answer, right or wrong, and from
    which row on it was the answer (before any ink, for a drawing the strokes never moved)."""
    probs = trace(model, torch.from_numpy(sequence)[None]).probs[0]
    guess, T = int(probs[-1].argmax()), len(probs)
    right = "" if label is None else " — correct" if guess == label else f" — wrong, it is a {label}"
    settled, ink = settled_after(probs), int(np.flatnonzero(np.abs(sequence).max(axis=1) > 0)[0]) + 1
    if settled < ink:
        when = f"{guess} from row {settled} on, before any ink (row {ink}): the strokes never changed its answer"
    elif settled == 1:
        when = f"{guess} from row 1 on: it never changed its answer"
    else:
        when = f"settled: {guess} from row {settled} on"
    return f"after row {T}: {guess} ({100 * probs[-1, guess]:.1f}%){right} · {when}"


def test_a_wrong_sign_in_one_gate_is_caught(page, tmp_path, monkeypatch):
    """The comparison can fail: the forget gate's recurrent part subtracted instead of added."""
    right = "f[j] = sigmoid(xp[H + j] + a[H + j]);"
    assert browser_view.JS.count(right) == 1
    monkeypatch.setattr(browser_view, "JS", browser_view.JS.replace(right, right.replace("+ a", "- a")))
    model, task = model_and_task("lstm-128")
    got = open_explorer(page, tmp_path, model, task, name="bug").evaluate(READ_TRACE)
    sequence = TEST.images[0].astype(np.float32) / 255
    assert worst_difference(model, task, got, sequence) > 1e-2


@pytest.mark.parametrize(
    ("name", "right", "wrong"),
    [
        ("minlstm-128", "f[j] = sigmoid(xp[j]);", "f[j] = sigmoid(-xp[j]);"),
        ("mingru-128", "n[j] = positive(xp[H + j]);", "n[j] = positive(-xp[H + j]);"),
    ],
)
def test_a_wrong_sign_in_a_min_cells_gate_is_caught(page, tmp_path, monkeypatch, name, right, wrong):
    """The comparison can fail for the min cells too: minLSTM's forget gate, minGRU's candidate, negated."""
    assert browser_view.JS.count(right) == 1
    monkeypatch.setattr(browser_view, "JS", browser_view.JS.replace(right, wrong))
    model, task = model_and_task(name)
    got = open_explorer(page, tmp_path, model, task, name="bug").evaluate(READ_TRACE)
    sequence = TEST.images[0].astype(np.float32) / 255
    assert worst_difference(model, task, got, sequence) > 1e-2


def test_compare_mode_runs_an_lstm_beside_a_minlstm(page, tmp_path):
    """Two models in one view, rows in step: each column's trace is its own model's (the min cell's without W_hh),
    and each column has its own cell's heatmaps (c beside the LSTM only)."""
    models = [model_and_task(name)[0] for name in ("lstm-128", "minlstm-128")]
    blobs = [pack(m, ROW_MNIST, TEST, n, m.config.label, 10) for m, n in zip(models, ("lstm-128", "minlstm-128"))]
    path = tmp_path / "compare.html"
    view = browser_view.view_blob(blobs, browser_view.view_options(digit=3))
    path.write_text(browser_view.offline_html(view, "compare"), encoding="utf-8")
    page.goto(path.as_uri())
    page.wait_for_function("() => document.querySelector('.rx-root')?.rnnExplorer?.traces", timeout=30_000)
    root = page.locator(".rx-root")
    sequence = TEST.images[3].astype(np.float32) / 255
    for k, model in enumerate(models):
        got = root.evaluate(READ_TRACE.replace("x.traces[0]", f"x.traces[{k}]"))
        assert got["index"] == 3 and worst_difference(model, ROW_MNIST, got, sequence) <= TOL
    columns = page.locator(".rx-column")
    assert columns.nth(0).locator(".rx-map").evaluate_all("(m) => m.map((c) => c.dataset.state)") == [*"ifgoch"]
    assert columns.nth(1).locator(".rx-map").evaluate_all("(m) => m.map((c) => c.dataset.state)") == [*"figh"]


def pad_strokes(page, strokes) -> None:
    """Draw polylines (in 0..1 pad coordinates) on the drawing pad with the mouse."""
    box = page.locator(".rx-pad").bounding_box()
    for line in strokes:
        xy = [(box["x"] + u * box["width"], box["y"] + v * box["height"]) for u, v in line]
        page.mouse.move(*xy[0])
        page.mouse.down()
        for p in xy[1:]:
            page.mouse.move(*p, steps=3)
        page.mouse.up()


def pad_pixels(page) -> np.ndarray:
    data = page.locator(".rx-pad").evaluate("(c) => Array.from(c.getContext('2d').getImageData(0, 0, 224, 224).data)")
    return np.array(data, np.uint8).reshape(224, 224, 4)


def test_a_drawing_is_read_while_it_is_drawn_as_the_engine_reads_it(page, tmp_path):
    model, task = model_and_task("lstm-128")
    root = open_explorer(page, tmp_path, model, task)
    page.get_by_role("button", name="Draw your own").click()
    assert page.locator(".rx-message").text_content() == "The drawing is empty: draw a digit first."
    box = page.locator(".rx-pad").bounding_box()
    page.mouse.move(box["x"] + 0.3 * box["width"], box["y"] + 0.2 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + 0.7 * box["width"], box["y"] + 0.2 * box["height"], steps=4)
    page.mouse.move(box["x"] + 0.45 * box["width"], box["y"] + 0.85 * box["height"], steps=6)
    page.wait_for_timeout(100)
    # The pen is still down: the drawing so far has been read already (a 7 without its lift).
    mid = root.evaluate("(r) => r.rnnExplorer.image && Array.from(r.rnnExplorer.image)")
    assert mid is not None
    assert np.abs(np.array(mid).reshape(28, 28) - drawing_to_digit(pad_pixels(page))).max() <= TOL
    page.mouse.up()
    pad_strokes(page, [[(0.35, 0.55), (0.65, 0.55)]])
    page.wait_for_timeout(100)
    got = root.evaluate(READ_TRACE)
    image = np.array(root.evaluate("(r) => Array.from(r.rnnExplorer.image)"), np.float32).reshape(28, 28)
    assert np.abs(image - drawing_to_digit(pad_pixels(page))).max() <= TOL
    assert worst_difference(model, task, got, digit_sequence(task, image)) <= TOL
    expect(page.locator(".rx-guess")).to_have_text(verdict(model, digit_sequence(task, image), None))
    page.get_by_role("button", name="Clear").click()
    page.wait_for_timeout(100)
    assert page.locator(".rx-message").text_content() == "The drawing is empty: draw a digit first."


def test_a_single_stroke_says_its_answer_came_before_the_ink(page, tmp_path):
    """A single vertical stroke: LSTM-128 answers 1 on blank rows already, and the stroke never changes it."""
    model, task = model_and_task("lstm-128")
    open_explorer(page, tmp_path, model, task)
    page.get_by_role("button", name="Draw your own").click()
    pad_strokes(page, [[(0.5, 0.2), (0.5, 0.8)]])
    page.wait_for_timeout(100)
    image = np.array(page.locator(".rx-root").evaluate("(r) => Array.from(r.rnnExplorer.image)"), np.float32)
    sequence = digit_sequence(task, image.reshape(28, 28))
    expect(page.locator(".rx-guess")).to_have_text(verdict(model, sequence, None))
    text = page.locator(".rx-guess").text_content()
    assert "before any ink" in text and "settled after row 1" not in text


@pytest.mark.parametrize(("typed", "shown"), [("99999999", 39), ("-1", 0), ("7", 7)])
def test_a_typed_digit_number_out_of_range_is_clamped_and_said(page, tmp_path, typed, shown):
    model, task = model_and_task("rnn-128")
    root = open_explorer(page, tmp_path, model, task, digit=3)
    box = page.get_by_label("Test digit number")
    box.fill(typed)
    box.press("Enter")
    page.wait_for_timeout(100)
    assert root.evaluate("(r) => r.rnnExplorer.state.index") == shown
    assert box.input_value() == str(shown)
    message = page.locator(".rx-title .rx-message").text_content()  # beside the title, above the fold
    if typed == str(shown):
        assert message == ""
    else:
        assert message == f"The test digits are numbered 0 to 39: showing #{shown}, the nearest to {typed}."


def synthetic_drawings() -> list[tuple[np.ndarray, str]]:
    """Canvases that reach every branch: opaque and transparent, odd box sizes whose scaling lands on a half,
    tiny, empty, off-centre, not square, faint strokes."""
    rng = np.random.default_rng(0)
    cases = []
    for h, w, top, left in [(37, 23, 10, 50), (5, 8, 100, 100), (60, 60, 0, 0), (90, 14, 30, 190), (3, 2, 5, 5)]:
        rgba = np.zeros((224, 224, 4), np.uint8)
        rgba[..., 3] = 255
        rgba[top : top + h, left : left + w, :3] = rng.integers(0, 256, (h, w, 1))
        cases.append((rgba, "opaque"))
    clear = np.zeros((200, 300, 4), np.uint8)
    clear[40:160, 100:180, 3] = rng.integers(0, 256, (120, 80))
    clear[40:160, 100:180, :3] = 17  # a dark stroke colour: alpha, not brightness, marks the ink
    cases.append((clear, "transparent"))
    empty = np.zeros((224, 224, 4), np.uint8)
    empty[..., 3] = 255
    empty[..., :3] = 20  # below the ink threshold everywhere
    cases.append((empty, "empty"))
    return cases


def test_the_browsers_preprocessing_is_drawing_to_digit(page, tmp_path):
    model, task = model_and_task("rnn-128")
    open_explorer(page, tmp_path, model, task)
    cases = synthetic_drawings()
    got = page.evaluate(
        """async ({ code, cases }) => {
          const m = await import(URL.createObjectURL(new Blob([code], { type: "text/javascript" })));
          return cases.map(([rgba, w, h]) => {
            try { return Array.from(m.drawingToDigit(new Uint8ClampedArray(rgba), w, h)); }
            catch (e) { return e.message; }
          });
        }""",
        {"code": browser_view.JS, "cases": [[c.ravel().tolist(), c.shape[1], c.shape[0]] for c, _ in cases]},
    )
    for (rgba, what), js in zip(cases, got):
        try:
            expected = drawing_to_digit(rgba)
        except (EmptyDrawingError, TooSmallDrawingError) as e:
            assert js == str(e), what
            continue
        assert not isinstance(js, str), (what, js)
        assert np.abs(np.array(js).reshape(28, 28) - expected).max() <= TOL, what


@pytest.mark.parametrize(
    ("name", "layer", "direction"), [("lstm-2x128", 1, 0), ("bilstm-128", 0, 1), ("gru-128", 0, 0)]
)
def test_a_clicked_cell_is_explained_with_the_engines_numbers(page, tmp_path, name, layer, direction):
    model, task = model_and_task(name)
    root = open_explorer(page, tmp_path, model, task, digit=4, layer=layer, direction=direction)
    H, T = model.config.hidden_size, task.T
    gates = [*((model.config.kind == "lstm" and "ifgo") or "rzn")]
    for state, t, k in [(gates[1], 9, 17), ("h", 0, 3), ("h", T - 1, H - 1)]:
        canvas = page.locator(f'.rx-map[data-state="{state}"]')
        box = canvas.bounding_box()
        page.mouse.click(box["x"] + (t + 0.5) / T * box["width"], box["y"] + (k + 0.5) / H * box["height"])
        e = root.evaluate("(r) => r.rnnExplorer.explanation")
        assert (e["row"], e["unit"], e["layer"], e["direction"]) == (t, k, layer, direction)
        sequence = TEST.images[4].astype(np.float32) / 255
        want = explain(model, trace(model, torch.from_numpy(sequence)[None]), sequence, layer, direction, k, t)
        for g, term in want.terms.items():
            js = e["terms"][g]
            for ours, theirs in [("x", "input_part"), ("bx", "input_bias"), ("h", "recurrent_part")]:
                assert abs(js[ours] - getattr(term, theirs)) <= TOL
            assert abs(js["pre"] - term.preactivation) <= TOL and abs(js["value"] - term.value) <= TOL
        assert abs(e["h"] - want.h) <= TOL and (want.c is None or abs(e["c"] - want.c) <= TOL)
        panel = page.locator(".rx-explain")
        assert panel.is_visible() and f"{state}[{k}] at row {t + 1}" in panel.text_content()


def positive(v: np.ndarray) -> np.ndarray:
    """The min cells' candidate activation, written out here: v + 0.5 for v >= 0, sigmoid below."""
    return np.where(v >= 0, v + 0.5, 1 / (1 + np.exp(-v)))


def click_cell(page, state: str, t: int, k: int, T: int, H: int) -> None:
    box = page.locator(f'.rx-map[data-state="{state}"]').bounding_box()
    page.mouse.click(box["x"] + (t + 0.5) / T * box["width"], box["y"] + (k + 0.5) / H * box["height"])


@pytest.mark.parametrize(
    ("name", "layer", "direction"), [("minlstm-128", 0, 0), ("mingru-128", 0, 0), ("minlstm-2x16-bi", 1, 1)]
)
def test_a_min_cells_click_is_explained_from_the_row_alone(page, tmp_path, name, layer, direction):
    """minGRU and minLSTM have no W_hh: each gate is W_i·x_t + b_i through its nonlinearity, and h mixes h_prev
    and the candidate as the cell says. Every number is held to float64 NumPy on the weights and the engine's
    trace (the layer's input, h_prev, and the heatmap's value); the panel writes no recurrent part."""
    model, task = model_and_task(name)
    root = open_explorer(page, tmp_path, model, task, digit=4, layer=layer, direction=direction)
    cfg = model.config
    H, T, kind = cfg.hidden_size, task.T, cfg.kind
    sequence = digit_sequence(task, TEST.images[4].astype(np.float32) / 255, 4)
    tr = trace(model, torch.from_numpy(sequence)[None])
    states = tr.states[layer][direction]
    below = [d["h"][0] for d in tr.states[layer - 1]] if layer else [sequence]
    x_all = np.concatenate(below, axis=-1).astype(np.float64)  # (T, input size): what this layer reads
    sfx = f"_l{layer}" + ("_reverse" if direction else "")
    w = getattr(model.rnn, f"weight_ih{sfx}").detach().double().numpy()
    b = getattr(model.rnn, f"bias_ih{sfx}").detach().double().numpy()
    assert not hasattr(model.rnn, f"weight_hh{sfx}")
    gates = ("z", "n") if kind == "mingru" else ("f", "i", "g")
    for state, t, k in [(gates[0], 9, 17 % H), ("h", 0, 3), ("h", T - 1, H - 1), (gates[-1], 14, 5)]:
        click_cell(page, state, t, k, T, H)
        e = root.evaluate("(r) => r.rnnExplorer.explanation")
        assert (e["row"], e["unit"], e["layer"], e["direction"], e["recurrent"]) == (t, k, layer, direction, False)
        previous = t - 1 if direction == 0 else t + 1
        h_prev = float(states["h"][0, previous, k]) if 0 <= previous < T else 0.0
        values = {}
        for g, gate in enumerate(gates):
            js = e["terms"][gate]
            x_part = float(w[g * H + k] @ x_all[t])
            pre = x_part + b[g * H + k]
            values[gate] = float(1 / (1 + np.exp(-pre)) if gate in ("z", "f", "i") else positive(pre))
            assert js["h"] is None and js["bh"] is None and js["topRecurrent"] == []
            assert abs(js["x"] - x_part) <= TOL and abs(js["bx"] - b[g * H + k]) <= TOL
            assert abs(js["pre"] - pre) <= TOL and abs(js["value"] - values[gate]) <= TOL
            assert abs(js["value"] - states[gate][0, t, k]) <= TOL  # the heatmap's own number
        if kind == "mingru":
            h = (1 - values["z"]) * h_prev + values["z"] * values["n"]
        else:
            f, i = values["f"], values["i"]
            h = f / (f + i) * h_prev + i / (f + i) * values["g"]
        assert abs(e["hPrev"] - h_prev) <= TOL and abs(e["h"] - h) <= TOL and abs(e["h"] - states["h"][0, t, k]) <= TOL
        assert e["c"] is None and e["cPrev"] is None
        text = page.locator(".rx-explain").text_content()
        step, prev = t + 1, previous + 1
        equation = (
            f"h_{step} = (1 − z_{step}) · h_{prev} + z_{step} · n_{step}"
            if kind == "mingru"
            else f"h_{step} = f_{step} / (f_{step} + i_{step}) · h_{prev} + i_{step} / (f_{step} + i_{step}) · g_{step}"
        )
        assert f"{state}[{k}] at row {step}" in text and equation in text
        assert f"{gates[-1]}_{step}[{k}] = pos(W_i{gates[-1]}[{k}]·" in text
        assert "has no W_hh" in text and "W_h" not in text.replace("has no W_hh", "")


def test_model_names_are_text_never_markup(page, tmp_path):
    model = untrained_model(ModelConfig("rnn", 4), seed=0)
    blob = pack(model, ROW_MNIST, TEST, "x", '<img src=x onerror="window.pwned=1"><b>bold</b>', 5)
    path = tmp_path / "evil.html"
    html = browser_view.offline_html(browser_view.view_blob([blob], browser_view.view_options()), "<b>t</b>")
    path.write_text(html, encoding="utf-8")
    page.goto(path.as_uri())
    page.wait_for_function("() => document.querySelector('.rx-root')?.rnnExplorer?.traces", timeout=30_000)
    assert page.locator(".rx-root img, .rx-root b").count() == 0
    assert "<b>bold</b>" in page.locator(".rx-model-name").text_content()
    assert page.evaluate("() => window.pwned") is None and page.title() == "<b>t</b>"
