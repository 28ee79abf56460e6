"""The lesson's figures hold the numbers they were given, on the axes they name."""

import numpy as np

from explorer.data.sequences import SequenceTask
from explorer.figures import lesson as figures


def test_memory_and_chain_figures_plot_the_curves_by_row():
    p = np.linspace(1, 0, 48)
    fig = figures.memory_figure({"RNN": p, "LSTM": p**2}, 28)
    assert [t.name for t in fig.data] == ["RNN", "LSTM"]
    np.testing.assert_array_equal(fig.data[1].y, p**2)
    np.testing.assert_array_equal(fig.data[0].x, np.arange(1, 49))
    delta = np.geomspace(1e-6, 2, 48)
    product, bound = np.geomspace(1e-5, 1, 48), np.ones(48)
    fig = figures.chain_figure(delta, product, bound, 28, steps=20)
    np.testing.assert_allclose(fig.data[0].y, delta / delta[-1])
    np.testing.assert_array_equal(fig.data[1].y, product)
    assert fig.layout.yaxis.type == "log" and fig.layout.shapes[0].x0 == 28  # the line 20 rows back from 48


def test_truncation_sweep_bias_and_accuracy_figures():
    full, grad = np.ones(48), np.r_[np.zeros(40), np.ones(8)]
    fig = figures.truncation_figure(grad, full, 8, 28)
    np.testing.assert_array_equal(fig.data[1].y, grad)
    means = {"lstm": {8: 0.1, 48: 0.9}}
    fig = figures.sweep_figure(means, 8, 48)
    assert list(fig.data[0].x) == [8, 48] and list(fig.data[0].y) == [0.1, 0.9]
    fig = figures.bias_figure({"0": [0.1, 0.5], "1": [0.6, 0.9]}, "1", np.full(48, 0.7), 28)
    assert [t.line.width for t in fig.data[:2]] == [1.5, 4]  # the chosen bias in bold
    np.testing.assert_array_equal(fig.data[2].y, np.full(48, 0.7))
    assert fig.layout.font.size == 13 and figures.accuracy_figure({"RNN": 0.5}, 40, 880).layout.font.size == 18
    fig = figures.accuracy_figure({"RNN": 0.05, "LSTM": 0.4}, 40)
    assert list(fig.data[0].y) == [0.05, 0.4] and list(fig.data[0].text) == ["5%", "40%"]


def test_the_digit_band_follows_a_delay_before_the_digit():
    rows = SequenceTask("blank", 20, "before").digit_rows
    band = figures.memory_figure({"RNN": np.linspace(0, 1, 48)}, rows).layout.shapes[0]
    assert (band.x0, band.x1) == (20.5, 48.5)
    assert not figures.memory_figure({"RNN": np.linspace(0, 1, 28)}, range(28)).layout.shapes  # nothing after it


def test_every_cell_has_its_own_colour_and_name():
    """A kind ('gru') and its display name ('GRU') get the same colour; the five cells five different ones."""
    from explorer.model.config import KINDS, NAMES

    colours = [figures.colour(kind, 0) for kind in KINDS]
    assert len(set(colours)) == len(KINDS) and colours == [figures.colour(NAMES[k], 3) for k in KINDS]
    assert figures.colour("my-model", 1) == figures.COLOURS[1]
    fig = figures.sweep_figure({"mingru": {8: 0.5, 48: 0.9}, "rnn": {8: 0.2, 48: 0.4}}, 8, 48)
    assert [t.name for t in fig.data] == ["minGRU", "RNN"]
    assert [t.line.color for t in fig.data] == [figures.colour("mingru", 0), figures.colour("rnn", 1)]
