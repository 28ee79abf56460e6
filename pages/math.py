"""The math: the cells' equations as PyTorch computes them, the BPTT derivation, and a NumPy BPTT checked live."""

import inspect

import streamlit as st

from explorer import ui
from explorer.analysis import numpy_bptt
from explorer.model.config import MIN_KINDS, NAMES
from explorer.readings.formulas import bptt_equations, equations
from explorer.readings.math import first_principles_summary

st.title("The math")
st.caption(
    "The equations behind every picture in the app, in one notation: rows t = 1…T top to bottom, x_t the row a "
    "layer reads, h_t its hidden state, [j] one unit, σ the logistic sigmoid, ⊙ elementwise. Every symbol links "
    "to where the app shows its value."
)

st.subheader("Forward: one step of each cell")
st.markdown(
    "As `torch.nn.RNN`, `LSTM` and `GRU` compute them: each gate has an input weight and bias and a recurrent "
    "weight and bias. Only the two biases' sum matters, except in the GRU's candidate n, where the reset gate r "
    "multiplies the recurrent part with its bias, (W_hn h + b_hn). The gates' weights are stacked in the order "
    "below (LSTM i, f, g, o; GRU r, z, n). See every one of these numbers for any unit and row under "
    "**Watch it read → Explain a number**."
)
names = {"rnn": "Vanilla RNN (tanh)", "lstm": "LSTM", "gru": "GRU"}
for kind in ("rnn", "lstm", "gru"):
    st.markdown(f"**{names[kind]}**")
    for line in equations(kind):
        st.latex(line)
st.markdown(
    "**minGRU and minLSTM** (Feng et al. 2024, “Were RNNs All We Needed?”) drop W_hh: every gate reads x_t "
    "alone, so h_t = a_t ⊙ h_{t−1} + b_t with a_t and b_t known from the input, and training computes a whole "
    "sequence at once with a parallel scan (`explorer/model/mincells.py`; the pages run the same recurrence step "
    "by step). The candidate goes through g, which is always positive, so the scan can run in log space. Their "
    "input weights are stacked as minGRU z, n and minLSTM f, i, g."
)
for kind in MIN_KINDS:
    st.markdown(f"**{NAMES[kind]}**")
    for line in equations(kind):
        st.latex(line)
# Page links do not wrap: a short label, and what the page shows in a caption under it.
st.page_link("../pages/watch.py", label="Watch it read", icon=":material/play_circle:")
st.caption("The gates i, f, g, o, the cell c and h, per row.")

st.subheader("Backward: backpropagation through time")
st.markdown(
    "s_t is a layer's whole state after row t (h_t; for an LSTM h_t and c_t), δ_t = ∂L/∂s_t the gradient it "
    "receives, J_t = ∂s_t/∂s_{t−1} one step's Jacobian and ℓ_t the loss at row t (only ℓ_T with the loss on the "
    "last row). The chain rule gives the recursion; unrolled, the gradient reaching row t is a product of T − t "
    "Jacobians, whose norm shrinks or grows geometrically: vanishing and exploding gradients. The weights' "
    "gradient sums what every row contributes."
)
for line in bptt_equations():
    st.latex(line)
st.markdown(
    "For a tanh RNN, J_t = diag(1 − h_t²) W_hh, so ‖J_t‖ ≤ ‖W_hh‖ (|tanh′| ≤ γ = 1): if the largest singular value "
    "σ_max of W_hh is below 1, at most σ_max^k of the gradient gets back k rows (Pascanu et al. 2013): a ceiling "
    "that forces vanishing only over many rows (0.999^27 is still 0.97). An LSTM's cell state adds a path whose "
    "Jacobian is diag(f_t): the product of forget gates decides how far the gradient travels along it. A minGRU's "
    "or minLSTM's gates do not read h, so its J_t is exactly diag(1 − z_t) or diag(f_t / (f_t + i_t)): within a "
    "layer the gradient across time is the product of these gate values, unit by unit, and nothing else."
)
st.page_link("../pages/gradients.py", label="Gradients through time", icon=":material/show_chart:")
st.caption("‖δ_t‖ per row, J_t's singular values, their product, the forget-gate (or keep-share) product.")

st.subheader("From first principles: a NumPy RNN and its BPTT")
st.markdown(
    "The whole of backpropagation through time for a vanilla RNN, written out by hand in NumPy as in the "
    "Chinese-language tutorial “Bonjour~RNN循环神经网络” (“Bonjour: recurrent neural networks”), whose NumPy "
    "`RecurrentLayer.bptt` looks back at most 10 steps from every output — here every loss term's δ is carried "
    "back row by row, at most k rows with truncation. Below it runs on a one-layer RNN's own weights and is "
    "compared, gradient by gradient, with PyTorch's autograd."
)
st.code(
    inspect.getsource(numpy_bptt.forward) + "\n\n" + inspect.getsource(numpy_bptt.bptt),
    language="python",
    wrap_lines=True,  # long lines wrap in the column instead of running off its right edge
)
settings, check = st.columns([1, 2], gap="large")
with settings:
    rnns = {
        i.name: i
        for i in ui.visible_models()
        if i.config.kind == "rnn" and i.config.num_layers == 1 and not i.config.bidirectional
    }
    if not rnns:
        st.info("No one-layer RNN checkpoint to run it on: train one on the Train page.")
        st.stop()
    name = st.selectbox("Model", list(rnns), index=list(rnns).index("rnn-128") if "rnn-128" in rnns else 0)
    loaded = ui.loaded_model(rnns[name])
    if loaded is None:
        st.stop()
    task = ui.recorded_meta(rnns[name]).task
    last = len(ui.sample()[1]) - 1
    index = st.number_input(
        "Test digit", 0, last, 0, key="fp_digit", help=f"0 to {last}: one of the bundled test digits."
    )
    loss_at = ui.loss_at_picker("fp_loss_at", "last")
    k = st.slider(f"Look back at most k rows (0 = all {task.T})", 0, task.T, 0, key="fp_k")
    result = ui.first_principles_result(*loaded, index, loss_at, k or None, task)
with check:
    st.dataframe(
        [{"gradient": n, "max relative error vs autograd": f"{e:.1e}"} for n, e in result.errors.items()],
        hide_index=True,
        key="fp_errors",
    )
    (st.success if result.max_error < 1e-8 else st.error)(first_principles_summary(result))
