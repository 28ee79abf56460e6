"""Gradients through time: how much of the loss's gradient reaches each image row, model by model."""

import streamlit as st

from explorer import ui
from explorer.analysis.chain import KEEP_SHARE
from explorer.analysis.gradcheck import THRESHOLD
from explorer.analysis.gradients import clipping_rows, first_to_last_ratio
from explorer.figures.gradients import (
    UNTRAINED,
    chain_figure,
    forget_product_figure,
    norms_figure,
    over_training_figure,
    saliency_digit_figure,
)
from explorer.model.config import MIN_KINDS
from explorer.model.snapshots import points
from explorer.model.unroll import DIRECTIONS
from explorer.readings.formulas import bptt_equations
from explorer.readings.gradients import (
    chain_reading,
    decay_reading,
    forget_reading,
    gradient_check_summary,
    jacobian_caption,
    no_chrono,
    no_recurrent_weights,
    product_title,
    training_decay_reading,
)
from explorer.readings.models import point_note
from explorer.serving.budget import digits_for

SCALES = ["default", 0.5, 0.8, 1.0, 1.2, 1.5, 2.0, 3.0]
NUMBER = st.column_config.NumberColumn

st.title("Gradients through time")
headline, picture = st.container(), st.container()  # the picture and its reading lead; the knobs follow
st.caption(
    "Backpropagation through time, row by row: how much of the loss's gradient reaches each image row. "
    "Lines are batch medians over test digits, bands the 10th–90th percentile; multi-layer models show "
    "their last layer, bidirectional ones their forward direction."
)
if not ui.visible_models():
    st.error(ui.NO_MODELS)
    st.stop()
c1, c2, c3, c4 = st.columns([4, 2, 1, 2])
with c1:
    infos = ui.model_multiselect("Models (overlaid)", "grad_models", ["rnn-128", "lstm-128"])  # name -> info
names = list(infos)
size = c2.select_slider("Test digits in the batch", [16, 32, 64, 128, 256, 512, 1000], value=256)
seed = c3.number_input("Batch seed", 0, 9999, 0, help="0 to 9999. Another seed draws another batch of test digits.")
with c4:
    loss_at = ui.loss_at_picker()
k1, k2, k3, k4 = st.columns([4, 3, 3, 2])
fresh = k1.toggle("Untrained copies", help="Same architecture, freshly initialised (seed 0), with the knobs.")
chrono = k2.checkbox(
    "Chrono init",
    key="grad_chrono",
    disabled=not fresh,
    help="Tallec & Ollivier (2018): each unit's forget-like bias b_f drawn as log u, u uniform in [1, T − 1] with T "
    "the model's task rows (LSTM, minLSTM: b_f on f and −b_f on i; GRU: b_f on z; minGRU: −b_f on z, as it keeps "
    "1 − z), so units start out remembering over every time scale up to the sequence's length. Not for the plain "
    "RNN, which has no gates; it replaces the forget-gate bias. Applies to untrained copies.",
)
forget_bias = k2.select_slider(
    "LSTM forget-gate bias at init",
    ["default", 0.0, 1.0, 2.0],
    disabled=not fresh or chrono,
    help="Total bias of the forget gate; the source tutorials use forget_bias=1.0. "
    "PyTorch's default init draws it near 0. Applies to untrained copies: turn on **Untrained copies** to use it.",
)
scale = k3.select_slider(
    "Recurrent weight scale at init",
    SCALES,
    disabled=not fresh,
    help=(
        "Spectral radius of every W_hh gate block (PyTorch's default init gives about 0.58; minGRU and minLSTM have "
        "no W_hh, so it leaves them alone). Pascanu et al. (2013): "
        "for a tanh RNN, a largest singular value σ_max of W_hh below 1 lets at most σ_max^k of the gradient back k "
        "rows, a ceiling that forces vanishing only over many rows; above 1 it may explode, but need not. Try it: the "
        "chart shows what happens for these digits. Applies to untrained copies: turn on **Untrained copies** to use "
        "it."
    ),
)
clip = k4.number_input(
    "Clip gradient norm at (0 = off)", 0.0, 1000.0, 1.0, help="0 to 1000, as torch.nn.utils.clip_grad_norm_."
)

models = {n: (loaded[0].model, loaded[1]) for n in names if (loaded := ui.loaded_model(infos[n])) is not None}
if fresh:
    knobs = (None if forget_bias == "default" or chrono else forget_bias, None if scale == "default" else scale)
    gated = {n: chrono and infos[n].config.kind != "rnn" for n in names}  # chrono over the model's own task
    models |= {
        n + UNTRAINED: ui.untrained_copy(
            infos[n].config, *knobs, ui.recorded_meta(infos[n]).task.T if gated[n] else None
        )
        for n in names
    }
    if chrono and (plain := [n + UNTRAINED for n in names if not gated[n]]):
        k2.caption(ui.plain(no_chrono(plain), None))
    if knobs[1] is not None and (unscaled := [n + UNTRAINED for n in names if infos[n].config.kind in MIN_KINDS]):
        k3.caption(ui.plain(no_recurrent_weights(unscaled, "scale"), None))
tasks = {lb: ui.recorded_meta(infos[lb.removesuffix(UNTRAINED)]).task for lb in models}  # what each model reads
if not models:
    st.info("Choose at least one model.")
    st.stop()
# Big models get fewer digits, so that every chart answers in a few seconds (explorer.serving.budget).
batch = min(digits_for("profile", m.config, size) for m, _ in models.values())
jac_digits = {lb: digits_for("jacobian", m.config, ui.JACOBIAN_DIGITS) for lb, (m, _) in models.items()}
if not batch:
    st.error("These models are too large to backpropagate through here within a few seconds.")
    st.stop()
try:
    profiles = {lb: ui.gradient_profile(m, key, batch, seed, loss_at, tasks[lb]) for lb, (m, key) in models.items()}
    jacobians = {
        lb: ui.final_state_jacobian(m, key, batch, seed, jac_digits[lb], tasks[lb])
        for lb, (m, key) in models.items()
        if jac_digits[lb]
    }
except Exception as e:  # an engine failure must not become a traceback on screen
    st.error(f"Could not compute the gradients: {ui.plain(e)}")
    st.stop()
if batch < size:
    st.info(
        f"The batch is reduced to {batch} digits (of {size} asked for): the largest model here would take "
        "longer than a few seconds on more.",
        icon=":material/speed:",
    )
broken = [lb for lb, p in profiles.items() if not p.finite]
if broken:
    st.error(
        f"Not finite (infinity or NaN): the gradients of {ui.plain(', '.join(broken))}; their weights overflow "
        "float32, so their curves are left out."
    )
    profiles = {lb: p for lb, p in profiles.items() if lb not in broken}
    jacobians = {lb: j for lb, j in jacobians.items() if lb not in broken}
    if not profiles:
        st.stop()

lengths = {p.dx.shape[1] for p in profiles.values()}
T = lengths.pop() if len(lengths) == 1 else "T"  # models of different tasks: each has its own last row T
every = loss_at == "every"
panels = {"‖∂L/∂h_t‖" + (" (every row's loss)" if every else ""): {lb: p.dh[-1, 0] for lb, p in profiles.items()}}
if every:
    panels[f"‖∂ℓ_{T}/∂h_t‖ (the loss after row {T} alone)"] = {lb: p.dh_last_row[-1, 0] for lb, p in profiles.items()}
if cells := {lb: p.dc[-1, 0] for lb, p in profiles.items() if p.dc is not None}:
    panels["‖∂L/∂c_t‖ (LSTM cell state)"] = cells
panels["‖∂L/∂x_t‖ (row saliency)"] = {lb: p.dx for lb, p in profiles.items()}
picture.plotly_chart(norms_figure(panels), key="profile")
ratios = {lb: first_to_last_ratio(p.dh_last_row[-1, 0]) for lb, p in profiles.items()}
headline.markdown("**Reading:** " + decay_reading(ratios, T, loss_at))

st.subheader("Row saliency on the digit")
pick, chart = st.columns([1, 5])
b = pick.number_input("Digit in the batch", 0, batch - 1, 0, key="batch_digit", help=f"0 to {batch - 1}.")
pick.caption(
    "‖∂L/∂x_t‖ of this digit's own loss: bright rows move the loss most (to first order). Colours are relative to each "
    "model's most salient row, on one log scale."
)
images = {lb: ui.batch_of_test_digits(batch, seed, tasks[lb])[0][b].numpy() for lb in profiles}
chart.plotly_chart(saliency_digit_figure(images, {lb: p.dx[b] for lb, p in profiles.items()}), key="saliency")

left, right = st.columns(2)
with left:
    st.subheader("‖∂h_T/∂s_t‖: memory of the state")
    st.plotly_chart(
        norms_figure({"‖∂h_T/∂s_t‖ (Frobenius)": {lb: j.full[0] for lb, j in jacobians.items()}}, height=340),
        key="jacobian",
    )
    st.caption(
        jacobian_caption({m.config.kind for m, _ in models.values()}, min(jac_digits.values()) or 1)
        + (
            ""
            if all(jac_digits.values())
            else " Left out, too large for this view here: "
            + ui.plain(", ".join(lb for lb, n in jac_digits.items() if not n))
            + "."
        )
    )
with right:
    st.subheader("Per-row contributions to ∂L/∂W_hh")
    if shares := {lb: p.dw_hh[-1, 0] for lb, p in profiles.items() if p.dw_hh is not None}:
        st.plotly_chart(
            norms_figure({"‖row t's share of ∂L/∂W_hh‖ (batch-mean loss)": shares}, height=340), key="dw_hh"
        )
        st.caption(
            "W_hh of the last layer (of the forward direction, for a bidirectional model). Row 1 reads the zero "
            "initial state, so it adds nothing to ∂L/∂W_hh (no point drawn)."
        )
    if without := [lb for lb, p in profiles.items() if p.dw_hh is None]:
        st.caption(ui.plain(no_recurrent_weights(without, "contributions"), None))

st.subheader("The BPTT chain, step by step")
st.caption(
    "For the digit chosen above and the loss on its last row: s_t is the whole state after row t (every layer's "
    "h_t, and c_t for an LSTM), J_t = ∂s_t/∂s_{t−1} one step's Jacobian, δ_t = ∂ℓ/∂s_t. Backpropagation through "
    "time is this recursion; vanishing and exploding gradients are the norm of its product."
)
for line in bptt_equations()[:3]:
    st.latex(line)
q1, q2 = st.columns([3, 1])
chain_model = q1.selectbox("Model", list(models), key="chain_model")
chain_cfg = models[chain_model][0].config
chain_direction = q2.selectbox(
    "Direction",
    range(chain_cfg.num_directions),
    key=f"chain_direction_{chain_model}",
    format_func=DIRECTIONS.__getitem__,
    disabled=not chain_cfg.bidirectional,
)
if chain_cfg.bidirectional and chain_cfg.num_layers > 1:
    st.info("A stacked bidirectional model's upper layers read both directions at every row: no one-way chain.")
elif not digits_for("chain", chain_cfg, 1):
    st.info("This model's state is too large for its Jacobians to be multiplied out within a few seconds here.")
else:
    chain = ui.digit_chain(*models[chain_model], batch, seed, b, chain_direction, tasks[chain_model])
    st.plotly_chart(chain_figure(chain), key="chain")
    st.markdown("**Reading:** " + chain_reading(chain))
    if chain.forget_product is not None:
        st.markdown(product_title(chain_cfg.kind))
        share = KEEP_SHARE[chain_cfg.kind]
        st.plotly_chart(forget_product_figure(chain.forget_product, chain_cfg.num_layers, share), key="forget_product")
        st.caption(forget_reading(chain.forget_product, len(chain.delta) - 1 if chain_direction else 0, chain_cfg.kind))

st.subheader("Over training")
snapped = {n: loaded for n in names if (loaded := ui.loaded_model(infos[n])) is not None and loaded[0].snapshots}
if not snapped:
    st.caption(
        "None of the chosen models has snapshots of its training: the shipped ones and models trained on the "
        "Train page with snapshots on show here how their gradient profile changed as they learned."
    )
else:
    pick = st.selectbox("Model", list(snapped), key="training_model")
    ckpt, ckey = snapped[pick]
    steps = points(ckpt.snapshots, ckpt.meta.get("metrics"), ckpt.meta.get("history"))
    over = {}
    for p in steps:
        point, point_key = ui.at_snapshot(ckpt, ckey, p.index)
        over[p.label] = ui.gradient_profile(point.model, point_key, batch, seed, loss_at, tasks[pick]).dh_last_row[
            -1, 0
        ]
    st.plotly_chart(over_training_figure(over, {p.label: point_note(p) for p in steps}), key="over_training")
    T_pick = next(iter(over.values())).shape[1]
    st.markdown("**Reading:** " + training_decay_reading(over, T_pick))

with st.expander("Gradient clipping: the norms before and after, per model"):
    st.dataframe(
        clipping_rows(profiles, clip or None),
        hide_index=True,
        key="clipping",
        column_config={
            c: NUMBER(format="%.3g") for c in ("loss", "norm before clipping", "norm after clipping", "factor")
        },
    )
    st.caption(
        "Clipping (Pascanu et al. 2013) rescales the whole gradient by one factor: it tames an exploding norm but "
        "keeps the direction, so the rows' shares above do not change."
    )

with st.expander("Gradient check: is this BPTT right?"):
    target = st.selectbox("Model to check", list(models), key="check_model")
    cfg = models[target][0].config
    l1, l2 = st.columns(2)
    layer = l1.selectbox(
        "Layer",
        range(cfg.num_layers),
        index=cfg.num_layers - 1,
        key=f"check_layer_{target}",
        format_func=lambda n: f"layer {n + 1}",
        disabled=cfg.num_layers == 1,
    )
    direction = l2.selectbox(
        "Direction",
        range(cfg.num_directions),
        key=f"check_direction_{target}",
        format_func=DIRECTIONS.__getitem__,
        disabled=not cfg.bidirectional,
    )
    check_digits = digits_for("check", cfg, 4)
    if not check_digits:
        st.info("This model is too large for the check to finish within a few seconds here.")
    elif st.toggle(f"Run the check ({check_digits} digits, float64)"):
        result = ui.gradient_check_result(
            *models[target], batch, seed, loss_at, layer, direction, check_digits, tasks[target]
        )
        rows = [
            {
                "quantity": c.quantity,
                "where": c.where,
                "analytic (BPTT)": c.analytic,
                "reference (forward mode)": c.reference,
                "relative error": c.error,
            }
            for c in result.checks
        ]
        st.dataframe(
            rows,
            hide_index=True,
            column_config={
                "analytic (BPTT)": NUMBER(format="%.6e"),
                "reference (forward mode)": NUMBER(format="%.6e"),
                "relative error": NUMBER(format="%.1e"),
            },
        )
        summary = gradient_check_summary(result.max_error, THRESHOLD, result.passed, len(result.checks), cfg.kind)
        (st.success if result.passed else st.error)(summary)
        st.caption(
            f"Per-row rows show the batch's first digit; their error is the largest over the {check_digits} digits, "
            "measured along each digit's own gradient direction and along a random one."
        )
