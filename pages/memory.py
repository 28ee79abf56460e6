"""Memory across cells: every cell on the digit followed by D blank rows, its accuracy with a 95% t-interval over
seeds, paired comparisons, and where its gradient goes across time (the sweeps of scripts/train_memory.sh)."""

import streamlit as st

from explorer import ui
from explorer.experiments.memory import memory_dir
from explorer.figures.memory import accuracy_figure, profile_figure
from explorer.readings.memory import (
    accuracy_table,
    chance_note,
    comparison_findings,
    comparison_table,
    interval_note,
    memory_headline,
    profile_caption,
    profile_reading,
    status_note,
    training_note,
)
from explorer.ui.memory import memory_experiment, memory_profiles

st.title("Memory across cells")
st.caption(
    "Each cell reads a digit row by row, then D blank rows, and answers after the last row: to be right it must "
    "carry the digit across the delay. Each cell is trained with several seeds; a seed fixes the order of the "
    "training digits for every cell, so cells are compared seed by seed."
)
exp, key = memory_experiment(memory_dir())
if note := status_note(exp):
    st.info(ui.plain(note, None))
if not exp.results:
    st.stop()

st.write(ui.plain(memory_headline(exp), None))
st.plotly_chart(accuracy_figure(exp.results), key="memory_accuracy")
st.caption(ui.plain(interval_note(exp), None))
if note := chance_note(exp):
    st.write(ui.plain(note, None))
st.dataframe(accuracy_table(exp), hide_index=True, key="memory_table")

st.subheader("Paired comparisons")
if exp.comparisons:
    st.dataframe(comparison_table(exp), hide_index=True, key="memory_comparisons")
    for sentence in comparison_findings(exp):
        st.write(ui.plain(sentence, None))
else:
    st.write("No pair of compared cells has finished at the same delay yet.")

st.subheader("Gradient norm across time")
profiles, digits = memory_profiles(exp, key)
if profiles:
    st.caption(ui.plain(profile_caption(digits, sorted({d for _, d in profiles})), None))
    digit_rows = exp.results[0].config.sequence_task.digit_rows
    st.plotly_chart(profile_figure(profiles, digit_rows), key="memory_profiles")
    st.write(ui.plain(profile_reading(profiles, digit_rows), None))
else:
    st.write("No seed-0 model of this experiment has been kept yet.")

st.caption(ui.plain(training_note(exp), None))
