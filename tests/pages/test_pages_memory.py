"""AppTest of Memory across cells on hand-made sweep folders: the tables, sentences and figures are the engine's
and the readings' for that folder; a missing folder is said plainly."""

import json

import numpy as np
import pandas as pd
import pytest
from plotly_spec import array
from streamlit.testing.v1 import AppTest

from explorer import ui
from explorer.data.digits import load_sample
from explorer.experiments import memory
from explorer.experiments.results import Sweep, SweepRun
from explorer.experiments.spec import FULL, RunSpec, SweepConfig
from explorer.experiments.storage import save_run
from explorer.model.config import ModelConfig
from explorer.model.network import untrained_model
from explorer.readings.memory import (
    accuracy_table,
    comparison_findings,
    comparison_table,
    memory_headline,
    profile_reading,
    status_note,
    training_note,
)
from explorer.training.loop import History


def said(text: str) -> str:
    """A sentence as the page writes it: escaped, and whole (never cut at ui.plain's 500 characters)."""
    return ui.plain(text, None)


ACCURACY = {"gru": [0.9, 0.94, 0.92], "mingru": [0.4, 0.3, 0.5], "lstm": [0.8, 0.9, 0.85], "minlstm": [0.3, 0.35, 0.2]}


def write_folder(folder, accuracies: dict, **cfg) -> None:
    """A finished sweep of tiny untrained models, the seed-0 model of each cell kept, as the runner saves it."""
    config = SweepConfig(kinds=tuple(accuracies), hidden_size=8, ks=(), seeds=(0, 1, 2), task="blank", delay=20, **cfg)
    sweep = Sweep(config, test_size=10)
    for kind, accs in accuracies.items():
        for seed, acc in enumerate(accs):
            model = untrained_model(ModelConfig(kind, 8), seed)
            run = SweepRun(RunSpec(kind, FULL, None, seed), {"test_accuracy": acc}, History(), np.zeros(48),
                           np.zeros(48), np.arange(10) < 10 * acc, model)  # fmt: skip
            save_run(folder, sweep, run, keep_model=seed == 0)


def memory_page(monkeypatch, folder) -> AppTest:
    monkeypatch.setattr(memory, "memory_dir", lambda: folder)
    at = AppTest.from_file("../../explorer/app.py", default_timeout=120)
    at.run()
    at.switch_page("../pages/memory.py")
    at.run()
    assert not at.exception and not at.error
    return at


def charts(at: AppTest) -> dict:
    return {c.proto.id.rsplit("-", 1)[-1]: json.loads(c.proto.spec) for c in at.get("plotly_chart")}


def test_the_page_shows_the_engines_numbers_and_the_readings(monkeypatch, tmp_path):
    write_folder(tmp_path / "d20-cells", ACCURACY, forget_bias=1.0)
    write_folder(tmp_path / "d20-lstm-chrono", {"lstm": [0.85, 0.95, 0.9]}, chrono=True)
    at = memory_page(monkeypatch, tmp_path)
    exp = memory.load_memory(tmp_path)
    assert [r.arm.name for r in exp.results] == ["GRU", "minGRU", "LSTM, forget bias 1", "LSTM, chrono init", "minLSTM"]
    shown = [m.value for m in at.markdown]
    assert said(memory_headline(exp)) in shown
    assert all(said(s) in shown for s in comparison_findings(exp)) and len(comparison_findings(exp)) == 3
    assert comparison_findings(exp)[0].endswith("not testable (every paired seed differs by exactly as much).")
    assert at.info[0].value == said(status_note(exp)) and said("d40-cells") in at.info[0].value
    assert said(training_note(exp)) in [c.value for c in at.caption]
    pd.testing.assert_frame_equal(at.dataframe[0].value, pd.DataFrame(accuracy_table(exp)), check_dtype=False)
    pd.testing.assert_frame_equal(at.dataframe[1].value, pd.DataFrame(comparison_table(exp)), check_dtype=False)
    figures = charts(at)
    means = {t["name"]: array(t["y"])[0] for t in figures["memory_accuracy"]["data"] if t.get("name")}
    assert means == pytest.approx({r.arm.name: 100 * np.mean(r.accuracies) for r in exp.results})
    expected, _ = memory.profiles(exp, load_sample()[1])
    lines = {t["name"]: array(t["y"]) for t in figures["memory_profiles"]["data"]}
    assert set(lines) == {arm.name for arm, _ in expected}
    for (arm, _), norms in expected.items():
        np.testing.assert_allclose(lines[arm.name], norms, rtol=1e-6)
    assert said(profile_reading(expected, range(28))) in shown


def test_a_missing_experiment_is_said_plainly(monkeypatch, tmp_path):
    at = memory_page(monkeypatch, tmp_path / "not-here")
    assert at.info[0].value.startswith(said("The memory experiment has not been trained here"))
    assert not at.get("plotly_chart") and not at.dataframe


def test_the_shipped_experiments_long_sentences_are_shown_whole():
    """The shipped headline runs past 500 characters (four arms tie at D = 40): the page shows every word."""
    at = AppTest.from_file("../../explorer/app.py", default_timeout=120)
    at.run()
    at.switch_page("../pages/memory.py")
    at.run()
    assert not at.exception
    headline = memory_headline(memory.load_memory(models=False))
    assert len(headline) > 500 and said(headline) in [m.value for m in at.markdown]
