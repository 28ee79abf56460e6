"""The math page (AppTest): the equations, the NumPy BPTT's source, and its live comparison with autograd."""

import inspect

from streamlit.testing.v1 import AppTest

from explorer.analysis import numpy_bptt
from explorer.analysis.gradcheck import first_principles
from explorer.data.digits import load_sample
from explorer.model.checkpoint_file import read_checkpoint
from explorer.model.checkpoints import shipped_dir
from explorer.readings.formulas import bptt_equations, equations
from explorer.readings.math import first_principles_summary


def math_page() -> AppTest:
    at = AppTest.from_file("../../explorer/app.py", default_timeout=60)
    at.run()
    at.switch_page("../pages/math.py")
    at.run()
    assert not at.exception and not at.error
    return at


def test_equations_code_and_the_live_check():
    at = math_page()
    shown = [m.value.strip("$\n") for m in at.latex]
    cells = ("rnn", "lstm", "gru", "mingru", "minlstm")
    assert shown == [line for kind in cells for line in equations(kind)] + bptt_equations()
    assert [m.value for m in at.markdown if m.value in ("**minGRU**", "**minLSTM**")] == ["**minGRU**", "**minLSTM**"]
    source = inspect.getsource(numpy_bptt.forward) + "\n\n" + inspect.getsource(numpy_bptt.bptt)
    assert at.code[0].value.strip() == source.strip()
    rnn = read_checkpoint(shipped_dir() / "rnn-128.safetensors").model
    x, y = load_sample()[1].tensors()
    expected = first_principles(rnn, x[0], int(y[0]), "last", None)
    assert at.success[0].value == first_principles_summary(expected) and at.success[0].value.startswith("PASS")
    at.number_input(key="fp_digit").set_value(9)
    at.slider(key="fp_k").set_value(4)
    at.radio(key="fp_loss_at").set_value("every")
    at.run()
    expected = first_principles(rnn, x[9], int(y[9]), "every", 4)
    assert not at.exception and at.success[0].value == first_principles_summary(expected)
    table = at.dataframe[0].value
    assert list(table["gradient"]) == list(expected.errors)
    assert list(table["max relative error vs autograd"]) == [f"{e:.1e}" for e in expected.errors.values()]
