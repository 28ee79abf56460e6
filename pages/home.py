"""Home: what the app is, the models as cards, and the way into "Watch it read"."""

import streamlit as st

from explorer import ui
from explorer.readings.models import accuracy_text, data_text
from explorer.training.metadata import described_config

WATCH = "../pages/watch.py"


def watch(model: str | None = None) -> None:
    if model:
        ui.remember("model", model)
    st.switch_page(WATCH)


st.title("RNN Explorer")
st.markdown(
    "Watch a small recurrent network **read a handwritten digit one row at a time**, top to bottom: what "
    "its gates let in and forget, what it keeps in its cell state, and how its guess settles as the rows "
    "go by. Then see how far the error signal travels back through the rows in a plain RNN and in gated "
    "cells (LSTM, GRU), and what cutting backpropagation through time short does."
)
if st.button("Watch it read", type="primary", icon=":material/play_circle:"):
    watch()

# Two cards a row: four in a row cut the titles short on a 1280 px screen.
TOUR = [
    (
        "../pages/gradients.py",
        "Gradients through time",
        ":material/show_chart:",
        "How far back the error signal reaches: RNN vs LSTM vs GRU.",
    ),
    (
        "../pages/truncation.py",
        "Truncation lab",
        ":material/content_cut:",
        "Cut backpropagation through time to k rows and watch accuracy.",
    ),
    (
        "../pages/math.py",
        "The math",
        ":material/function:",
        "Every equation, with a NumPy BPTT checked against autograd.",
    ),
    (
        "../pages/train.py",
        "Train",
        ":material/model_training:",
        "Train your own model on the bundled digits, then explore it here.",
    ),
]
for start in range(0, len(TOUR), 2):
    for col, (page, title, icon, text) in zip(st.columns(2), TOUR[start : start + 2]):
        with col.container(border=True, height="stretch"):
            st.page_link(page, label=title, icon=icon)
            st.caption(text)

st.subheader("Models")
infos = ui.visible_models()
if not infos:
    st.info("No models yet: train one on the Train page.")
for start in range(0, len(infos), 3):
    for col, info in zip(st.columns(3), infos[start : start + 3]):
        cfg, rec = info.config, ui.recorded_meta(info)
        with col.container(border=True, height="stretch"):
            st.markdown(f"#### {info.label}" + ("" if info.shipped else f" · {ui.plain(info.stem)}, {ui.whose(info)}"))
            st.caption(described_config(cfg))
            # One above the other: side by side, 1280 px cuts the parameter counts short.
            st.metric("Test accuracy", accuracy_text(rec))
            st.metric("Parameters", f"{ui.parameter_count(cfg.to_dict()):,}")
            st.caption(f"Trained on {data_text(rec)}.")
            if st.button("Watch it read", key=f"watch_{info.name}", icon=":material/play_arrow:"):
                watch(info.name)

st.caption("Digits: MNIST (LeCun, Cortes and Burges), CC BY-SA 3.0; a 5,000-digit sample is bundled.")
