"""Every page but Watch with the shipped minGRU-128 and minLSTM-128 (AppTest): Home's cards and the Gradients
page's sections open on them without an exception. The Gradients, Math, Train, Truncation and Lesson pages' own
min-cell tests check their numbers."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from explorer.model.checkpoint_file import read_checkpoint
from explorer.model.checkpoints import shipped_dir
from explorer.training.metadata import described_config

APP = str(Path(__file__).resolve().parents[2] / "explorer" / "app.py")
MIN = ["mingru-128", "minlstm-128"]


def test_home_shows_a_card_for_each_min_cell():
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    captions = [c.value for c in at.caption]
    for name in MIN:
        ckpt = read_checkpoint(shipped_dir() / f"{name}.safetensors")
        assert described_config(ckpt.config) in captions
        assert at.button(key=f"watch_{name}")
    shown = [m.value for m in at.metric if m.label == "Test accuracy"]
    assert all(v.endswith("%") for v in shown)


def test_every_gradients_section_opens_on_the_min_cells_trained_and_untrained():
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("../pages/gradients.py")
    at.run()
    at.multiselect[0].set_value(MIN)
    at.select_slider[0].set_value(16)
    at.radio[0].set_value("every")
    at.toggle[0].set_value(True)
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    for name in MIN + [n + " (untrained)" for n in MIN]:
        at.selectbox(key="chain_model").set_value(name)
        at.selectbox(key="check_model").set_value(name)
        at.run()
        assert not at.exception and not at.error, (name, [e.value for e in at.error])
