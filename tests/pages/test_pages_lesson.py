"""The Lesson page (AppTest): every step of the built-in lesson opens by its URL with its view and its sentences,
the try-it control changes the view, the buttons turn the steps in the URL, and a teacher's lesson file is picked
from RNN_EXPLORER_HOME/lessons while a broken one is named with its step and field."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from plotly_spec import array
from streamlit.testing.v1 import AppTest

from explorer.data.digits import load_sample
from explorer.data.sequences import SequenceTask, digit_sequence
from explorer.model.checkpoint_file import read_checkpoint
from explorer.model.checkpoints import shipped_dir
from explorer.model.unroll import trace
from explorer.readings.lesson import memory_reading, prediction_reading
from explorer.readings.lesson_file import BUILT_IN, load_lesson
from explorer.ui.browser_view import sent_view

APP = str(Path(__file__).resolve().parents[2] / "explorer" / "app.py")
LESSON = load_lesson(BUILT_IN / "why-lstms.toml")
TEST = load_sample()[1]


def lesson_page(**params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in params.items():
        at.query_params[key] = str(value)
    at.run()
    at.switch_page("../pages/lesson.py")
    return rerun(at)


def rerun(at) -> AppTest:
    at.run()
    assert not at.exception, at.exception
    return at


def unescaped(markdown: str) -> str:
    """Text that went through ui.plain, as the reader sees it."""
    return markdown.replace("\\", "").replace("\u2060", "")


def texts(at) -> list[str]:
    return [t.value for t in at.text]


@pytest.mark.parametrize("n", range(1, 13))
def test_every_step_opens_by_its_url_with_a_view_its_text_and_its_sentences(n):
    at = lesson_page(step=n)
    step = LESSON.steps[n - 1]
    assert at.query_params["step"] == str(n)
    assert f"{n}/12 · {step.title}" in unescaped(at.subheader[0].value)
    shown = texts(at)
    assert step.text in shown and step.answer in shown  # plain text, never Markdown
    assert unescaped(at.expander[0].label) == f"**{step.question}**"  # the answer behind the question
    assert not any(step.text in m.value for m in at.markdown)
    views = at.get("bidi_component") if step.view == "watch" else at.get("plotly_chart")
    assert len(views) == 1
    measured = shown[shown.index(step.text) + 1 : shown.index(step.answer)]
    assert measured and all(s.endswith(".") for s in measured)
    assert not at.error


def test_step_one_shows_the_rnn_reading_the_digit_the_control_picks():
    at = lesson_page(step=1)
    at.number_input(key="try_why-lstms_1").set_value(7)
    rerun(at)
    options, _ = sent_view(at.get("bidi_component")[0].proto)
    assert options["digit"] == 7
    net = read_checkpoint(shipped_dir() / "rnn-128.safetensors").model
    x = torch.from_numpy(TEST.images[7].astype(np.float32) / 255.0)[None]
    probs = trace(net, x).probs[0]
    guess = probs.argmax(-1)
    settled = next(t + 1 for t in range(28) if (guess[t:] == guess[-1]).all())
    assert prediction_reading("RNN", probs, int(TEST.labels[7]), settled) in texts(at)


def test_the_delay_control_changes_the_memory_view_and_its_sentence():
    at = lesson_page(step=2)
    at.slider(key="try_why-lstms_2").set_value(30)
    rerun(at)
    curve = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]
    net = read_checkpoint(shipped_dir() / "rnn-128.safetensors").model
    seq = digit_sequence(SequenceTask("noise", 30), TEST.images[0] / 255.0, 0)
    p = trace(net, torch.from_numpy(seq)[None]).probs[0, :, int(TEST.labels[0])]
    np.testing.assert_array_equal(array(curve["x"]), np.arange(1, 59))
    np.testing.assert_allclose(array(curve["y"]), p, rtol=1e-6)
    assert memory_reading({"RNN": p}, 28) in texts(at)


def test_next_previous_and_the_step_list_keep_the_step_in_the_url():
    at = lesson_page(step=11)
    at.button(key="lesson_next").click()
    rerun(at)
    assert at.query_params["step"] == "12" and at.button(key="lesson_next").disabled
    at.button(key="lesson_prev").click()
    rerun(at)
    assert at.query_params["step"] == "11"
    at.selectbox(key="_widget_step").set_value(3)
    rerun(at)
    assert at.query_params["step"] == "3" and LESSON.steps[2].text in texts(at)
    assert lesson_page(step=99).query_params["step"] == "12"  # out of range: the last step


def test_a_teachers_lesson_is_picked_and_a_broken_file_is_named_with_its_step_and_field(user_home):
    folder = user_home / "lessons"
    folder.mkdir()
    mine = (
        (BUILT_IN / "why-lstms.toml")
        .read_text()
        .replace('title = "Why LSTMs beat plain RNNs"', 'title = "My class: <b>gates</b>"')
        .replace('label = "Noise rows after the digit"', 'label = "**Noise** [rows](http://x.org)"')
    )
    (folder / "my-class.toml").write_text(mine)
    (folder / "broken.toml").write_text(
        (BUILT_IN / "why-lstms.toml").read_text().replace('kind = "sweep"', 'kind = "x"')
    )
    at = lesson_page(lesson="my-class", step=2)
    assert not at.exception
    (error,) = at.error
    assert "broken.toml, step 7, field 'view.kind'" in unescaped(error.value)
    assert at.query_params["lesson"] == "my-class"
    assert "<b>" not in at.title[0].value and "gates" in at.title[0].value  # escaped: plain text
    assert at.get("plotly_chart")  # its step 2 is drawn as in the built-in lesson
    assert unescaped(at.slider[0].label) == "**Noise** [rows](http://x.org)"  # shown as written, not as Markdown


def test_a_step_naming_a_model_the_server_lacks_says_so_in_place_of_its_view(user_home):
    folder = user_home / "lessons"
    folder.mkdir()
    text = (BUILT_IN / "why-lstms.toml").read_text().replace('model = "delay-rnn-64"', 'model = "nope-64"', 1)
    (folder / "missing.toml").write_text(text)
    at = lesson_page(lesson="missing", step=3)
    (error,) = at.error
    assert "missing.toml, step 3, field 'view.model': no model named 'nope-64'" in unescaped(error.value)
    assert not at.get("bidi_component") and LESSON.steps[2].text in texts(at)
    at.button(key="lesson_next").click()
    rerun(at)
    assert not at.error and at.get("plotly_chart")  # the next step is whole


@pytest.mark.parametrize("step", [2, 4, 5, 6, 11, 12])
def test_a_teachers_lesson_on_the_min_cells_draws_every_figure_step(user_home, step):
    """Memory, chain, truncation and accuracy views of minGRU-128 and minLSTM-128 (the Watch view is the browser's)."""
    folder = user_home / "lessons"
    folder.mkdir()
    text = (BUILT_IN / "why-lstms.toml").read_text()
    for old, new in [
        ('models = ["rnn-128"]', 'models = ["mingru-128", "minlstm-128"]'),
        ('model = "delay-rnn-64"', 'model = "mingru-128"'),
        ('model = "delay-lstm-64"', 'model = "minlstm-128"'),
        ('models = ["delay-rnn-64", "delay-lstm-64", "delay-gru-64"]', 'models = ["mingru-128", "minlstm-128"]'),
    ]:
        text = text.replace(old, new)
    (folder / "min-cells.toml").write_text(text)
    at = lesson_page(lesson="min-cells", step=step)
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.get("plotly_chart")
    shown = " ".join(unescaped(m.value) for kind in ("markdown", "text", "caption") for m in at.get(kind))
    shown += " ".join(t.get("name") or "" for c in at.get("plotly_chart") for t in json.loads(c.proto.spec)["data"])
    assert "MINGRU" not in shown and "MINLSTM" not in shown
    if step in (2, 11, 12):
        assert "minGRU" in shown and "minLSTM" in shown  # named as the pages name them
