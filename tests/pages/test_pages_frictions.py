"""AppTests of what a first-time visitor trips over: number inputs that say their range, a compare mode that
compares two different models, and links whose model or digit does not exist answered with a plain message."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer import ui
from explorer.model.portable import unpack
from explorer.ui.browser_view import sent_view

APP = str(Path(__file__).resolve().parents[2] / "explorer" / "app.py")


def open_page(page: str, query=None, state=None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    for k, v in (state or {}).items():
        at.session_state[k] = v
    at.switch_page(f"../pages/{page}.py")
    at.run()
    assert not at.exception, at.exception
    return at


def sent_models(at) -> list[str]:
    """The names of the models the page sent the browser view, in order."""
    (element,) = at.get("bidi_component")
    _, blobs = sent_view(element.proto)
    return [unpack(b)[0]["name"] for b in blobs]


@pytest.mark.parametrize("page", ["gradients", "math", "truncation"])
def test_every_number_input_says_its_range(page):
    at = open_page(page)
    inputs = at.number_input
    assert inputs, "the page has number inputs"
    for box in inputs:
        said = f"{box.label} {box.help or ''}"
        assert f"{box.min:g} to {box.max:g}" in said, said


@pytest.mark.parametrize(
    ("first", "second"), [("lstm-128", "rnn-128"), ("rnn-128", "lstm-128"), ("gru-128", "lstm-128")]
)
def test_the_second_model_defaults_to_another_cell(first, second):
    at = open_page("watch", query={"model": first, "compare_on": "1"})
    assert at.selectbox(key="_widget_compare").value == second
    assert sent_models(at) == [first, second]


def test_the_same_model_twice_is_said_and_sent_once():
    at = open_page("watch", query={"model": "rnn-128", "compare_on": "1", "compare": "rnn-128"})
    assert [i.value for i in at.info] == ["The second model is the first one again: pick another to compare two."]
    assert sent_models(at) == ["rnn-128"]


def test_a_link_to_no_model_says_no_model_has_that_name():
    at = open_page("watch", query={"model": "../../x"})
    assert [w.value for w in at.warning] == [
        f"No model is named {ui.plain('../../x')}; showing {ui.plain('lstm-128')} instead."
    ]
    assert sent_models(at) == ["lstm-128"]


@pytest.mark.parametrize(("asked", "shown"), [("-1", 0), ("99999999", 999), ("two", 0), ("999", 999)])
def test_a_linked_digit_outside_the_test_set_is_replaced_and_said(asked, shown):
    at = open_page("watch", query={"digit": asked})
    (element,) = at.get("bidi_component")
    options, _ = sent_view(element.proto)
    assert options["digit"] == shown and at.query_params["digit"] == str(shown)
    notes = [i.value for i in at.info]
    if asked == str(shown):
        assert notes == []
    else:
        last = len(ui.sample()[1]) - 1
        assert notes == [
            f"There is no test digit {ui.plain(asked)}: the test digits are numbered 0 to {last}. Showing #{shown}."
        ]


def test_gradients_says_which_linked_models_do_not_exist():
    at = open_page("gradients", query={"grad_models": "nope,rnn-128"})
    assert [w.value for w in at.warning] == ["No model is named nope: left out."]
    assert at.multiselect(key="_widget_grad_models").value == ["rnn-128"]
    at = open_page("gradients", query={"grad_models": "nope"})
    assert [w.value for w in at.warning] == [
        f"No model is named nope: showing {ui.plain('rnn-128, lstm-128')} instead."
    ]


def test_math_names_the_tutorial_and_wraps_its_code():
    at = open_page("math")
    text = " ".join(m.value for m in at.markdown)
    assert "“Bonjour~RNN循环神经网络”" in text and "the source tutorial" not in text
    assert "looks back at most 10 steps from every output" in text  # as its bptt does: range(t, max(-1, t-10), -1)
    assert at.code[0].proto.wrap_lines  # long lines stay in the column
