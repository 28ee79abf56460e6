"""Truncation lab: experiments over truncation schemes, lengths, cells and delays; the gradient-bias meter."""

import json
from dataclasses import asdict
from pathlib import Path

import streamlit as st

from explorer import ui
from explorer.data.sequences import TASKS
from explorer.experiments.cost import sweep_estimate
from explorer.experiments.results import accuracy_by_k
from explorer.experiments.spec import FULL, SweepConfig, SweepError
from explorer.experiments.storage import (
    SUMMARY,
    list_sweeps,
    load_sweep,
    new_sweep_dir,
    shipped_sweep_dir,
    sweep_config_from,
    sweep_owner,
)
from explorer.figures.truncation import accuracy_vs_k_figure, bias_figure, learning_curves_figure, rows_by_k_figure
from explorer.model.config import KINDS, NAMES
from explorer.model.header import CheckpointError
from explorer.readings.sweep import sweep_findings, sweep_headline, sweep_table
from explorer.serving.limits import confirm_job_minutes, max_job_minutes
from explorer.serving.quota import LimitReached
from explorer.serving.tasks import SWEEP
from explorer.training.truncation import FAMILIES

DEFAULT = SweepConfig()
FAMILY_NAMES = {
    "chunks": "TBPTT(k, k): chunks",
    "window": "TBPTT(1, k): a sliding window",
    "tbptt": "TBPTT(k1, k): an update every k1 rows",
    "artbp": "ARTBP: random lengths of mean k, unbiased",
}


@st.cache_resource(max_entries=8, show_spinner="Loading the experiment…")
def cached_sweep(path: str, mtime_ns: int):
    return load_sweep(path)


def sweep_form() -> SweepConfig | None:
    """The settings of a new sweep; a config when Run was pressed."""
    with st.form("sweep_form", border=False):
        c1, c2, c3, c4 = st.columns(4)
        kinds = c1.multiselect("Cells", KINDS, default=list(DEFAULT.kinds), format_func=NAMES.get, key="sw_kinds")
        hidden = c2.select_slider("Hidden units", [8, 16, 32, 64, 128], value=DEFAULT.hidden_size, key="sw_hidden")
        epochs = c3.number_input("Epochs per run", 1, 100, DEFAULT.epochs, help="1 to 100.", key="sw_epochs")
        with c4:
            loss_at = ui.loss_at_picker()
        t1, t2, t3, t4 = st.columns(4)
        task = t1.selectbox(
            "Task",
            TASKS,
            format_func={"rows": "the digit's rows", "blank": "+ blank rows", "noise": "+ noise rows"}.get,
            key="sw_task",
        )
        delay = t2.number_input(
            "Delay D (rows)", 0, 60, 0, help="0 to 60 rows added after (or before) the digit.", key="sw_delay"
        )
        at = t3.radio("Delay goes", ("after", "before"), horizontal=True, key="sw_at")
        bias = t4.select_slider(
            "LSTM forget-gate bias",
            ["default", 1.0, 2.0, 3.0],
            help="At init; the source tutorials use 1.0.",
            key="sw_bias",
        )
        s1, s0, s2, s3, s4 = st.columns([2, 1, 2, 1, 1])
        schemes = s1.multiselect(
            "Schemes", FAMILIES, default=list(DEFAULT.schemes), format_func=FAMILY_NAMES.get, key="sw_schemes"
        )
        k1 = s0.number_input(
            "k1 of TBPTT(k1, k)",
            1,
            99,
            4,
            help="1 to 99, and at most the smallest k. For TBPTT(k1, k): rows between updates, each backpropagating "
            "k rows.",
            key="sw_k1",
        )
        ks = s2.multiselect(
            "Truncation lengths k",
            list(range(1, 100)),
            default=list(DEFAULT.ks),
            help="Each below the sequence's length; full BPTT is always trained too.",
            key="sw_ks",
        )
        size = s3.select_slider("Training digits", [250, 500, 1000, 2000, 4000], value=4000, key="sw_size")
        seeds = s4.number_input(
            "Seeds",
            1,
            5,
            len(DEFAULT.seeds),
            help=(
                "1 to 5. One model per run and seed. With one seed, runs are compared on the same test digits "
                "(McNemar's test); with several, across seeds (paired t-test), which also shows how much a seed moves "
                "a result."
            ),
            key="sw_seeds",
        )
        control = st.toggle("Add the control: full BPTT with the input weights W_ih frozen at init", key="sw_control")
        chrono = st.toggle(
            "Chrono initialisation of the gated cells",
            key="sw_chrono",
            help="Tallec & Ollivier (2018): each unit's forget-like bias b_f drawn as log u, u uniform in [1, T − 1] "
            "with T the task's rows (LSTM, minLSTM: b_f on f and −b_f on i; GRU: b_f on z; minGRU: −b_f on z, as it "
            "keeps 1 − z). The plain RNN keeps PyTorch's init. Not with a forget-gate bias: it sets that itself.",
        )
        if not st.form_submit_button("Run sweep", type="primary"):
            return None
    try:
        return SweepConfig(
            kinds=tuple(kinds),
            hidden_size=hidden,
            epochs=epochs,
            loss_at=loss_at,
            task=task,
            delay=delay if task != "rows" else 0,
            delay_at=at,
            schemes=tuple(schemes),
            k1=k1 if "tbptt" in schemes else None,
            forget_bias=None if bias == "default" else bias,
            chrono=chrono,
            ks=tuple(ks),
            train_size=size,
            seeds=tuple(range(seeds)),
            control=control,
        )
    except ValueError as e:
        st.error(f"Cannot run this sweep: {ui.plain(e)}")
        return None


def my_job():
    """This visitor's latest sweep job (found again after a reload)."""
    return ui.job_manager().latest(ui.owner_id(), "sweep")


@st.cache_data(show_spinner="Timing a few training steps to estimate the cost…", max_entries=32)
def estimate(cfg: SweepConfig):
    train, test = ui.sample()
    return sweep_estimate(cfg, len(train), len(test))


def start(cfg: SweepConfig) -> None:
    """Submit the sweep to the server's workers (in a new folder of the visitor's), or say which limit refused it."""
    try:
        folder = new_sweep_dir(cfg, ui.owner_id()).name
        config = {"sweep": asdict(cfg), "folder": folder}
        ui.job_manager().submit(ui.owner_id(), "sweep", f"Truncation sweep, {cfg.label}", SWEEP, config)
    except LimitReached as e:
        st.warning(str(e), icon=":material/block:")
    st.session_state.pop("sweep_pending", None)


def resume(job) -> None:
    """The interrupted sweep again, in its own folder: the runs it finished are kept and skipped."""
    try:
        ui.job_manager().again(job)
    except LimitReached as e:
        st.warning(str(e), icon=":material/block:")


def cost_ui(cfg: SweepConfig) -> None:
    """Refuse a sweep over the server's limit, ask before a long one, else start it."""
    est = estimate(cfg)
    minutes = f"{est.minutes:.0f} min" if est.minutes >= 1.5 else f"{est.seconds:.0f} s"
    runs = len(cfg.plan())
    if est.minutes > max_job_minutes():
        st.error(
            f"This sweep would take about {minutes} on this server ({runs} runs), over its limit of "
            f"{max_job_minutes():.0f} min per job: fewer ks, schemes, cells, seeds or epochs, or fewer digits. "
            "From the command line, `python -m explorer.experiments --backend process` uses every core."
        )
    elif est.minutes > confirm_job_minutes():
        st.warning(f"This sweep will take about {minutes} on this server ({runs} runs).")
        if st.button(f"Run anyway (about {minutes})"):
            start(cfg)
            st.rerun()
    else:
        start(cfg)


st.title("Truncation lab")
headline, picture = st.container(), st.container()  # the results lead; filled once the sweep is chosen below
st.caption(
    "Truncated BPTT backpropagates only part of the sequence: with the loss on the last row and a delay of "
    "D rows after the digit, a truncation of k ≤ D rows never reaches the ink. An experiment trains one model "
    "per cell, scheme, k and seed, all else equal, on the bundled sample (4,000 training, 1,000 test "
    "digits), and compares each with its cell's full BPTT, seed by seed."
)

with st.expander("Run your own sweep (in the background; the page stays usable)", expanded=False):
    if (cfg := sweep_form()) is not None:
        st.session_state["sweep_pending"] = cfg
    if (pending := st.session_state.get("sweep_pending")) is not None:
        cost_ui(pending)


@st.fragment(run_every=1.0 if (job := my_job()) is not None and job.active else None)
def progress():
    job = my_job()
    if job is None:
        return
    if job.status == "queued":
        st.info(
            f"The server is busy: your sweep waits for a free slot (position "
            f"{ui.job_manager().queue_position(job)} in the queue)."
        )
    if job.running:
        events = job.snapshot()
        p = events[-1] if events else None
        st.progress(
            p.fraction if p else 0.0,
            text=f"Training {p.label} (run {p.index + 1} of {p.count}), epoch {p.epoch}/{p.epochs}, loss {p.loss:.3f}"
            if p
            else "Starting the sweep…",
        )
    if job.active:
        if not job.stop_requested and st.button("Stop", key="stop_sweep"):
            ui.job_manager().stop(job)
        if job.stop_requested:
            st.caption("Stopping after the current step…")
    elif st.session_state.get("sweep_seen") != job.id:  # just finished: show its results on the whole page
        st.session_state["sweep_seen"] = job.id
        if job.result:
            st.session_state["sweep_results"] = job.result
        st.rerun()
    elif job.status == "interrupted":
        st.warning(
            f"Your sweep was interrupted: {ui.plain(job.error)} (the server or the machine restarted). Resume "
            "carries on in the same folder, keeping every run it finished; Restart starts it again in a new one.",
            icon=":material/restart_alt:",
        )
        c1, c2 = st.columns(2)
        c1.button("Resume", icon=":material/play_arrow:", on_click=resume, args=(job,), key="sweep_resume")
        c2.button(
            "Restart",
            icon=":material/restart_alt:",
            on_click=start,
            args=(sweep_config_from(json.loads(job.config)["sweep"]),),
            key="sweep_restart",
        )
    elif job.status == "failed":
        st.error(f"The sweep failed: {ui.plain(job.error)}")
    elif not job.result:
        st.info("The sweep was stopped before any model finished training; nothing was saved.")
    else:
        st.success(f"Your sweep ({job.status}) is saved and selected below.")


progress()
paths = [str(p) for p in list_sweeps()]
if not paths:
    st.info("No experiment yet: run one above. (The shipped one in `checkpoints/sweep` is missing.)")
    st.stop()
shipped, me = str(shipped_sweep_dir()), ui.owner_id()


def sweep_label(p: str) -> str:
    owner = sweep_owner(Path(p))
    if owner is None:
        return "Shipped experiment (checkpoints/sweep)"
    return f"{'Yours' if owner == me else ui.owner_tag(owner).capitalize() + chr(39) + 's'}: {Path(p).name}"


# Your newest sweep replaces the shipped one in your view (the shipped one stays one click away).
if st.session_state.get("sweep_results") not in paths:
    st.session_state["sweep_results"] = next((p for p in paths if sweep_owner(Path(p)) == me), shipped)
path = st.selectbox("Results", paths, format_func=sweep_label, key="sweep_results")
try:
    sweep = cached_sweep(path, (Path(path) / SUMMARY).stat().st_mtime_ns)
except (SweepError, CheckpointError, OSError) as e:
    st.error(f"Could not load this experiment: {ui.plain(e)}")
    st.stop()

cfg, T = sweep.config, sweep.config.T
seeds = len(sweep.seeds)
headline.markdown(f"**{ui.plain(sweep_label(path))}.** {sweep_headline(sweep)}")
picture.plotly_chart(accuracy_vs_k_figure(accuracy_by_k(sweep), T), key="accuracy")
with st.expander("The full statistics: every comparison, its paired test and what it shows"):
    st.markdown(
        f"**{cfg.label}**, {cfg.epochs} epochs per run, {len(sweep.runs)} models ({seeds} "
        f"seed{'s' if seeds > 1 else ''}), trained in {sweep.seconds / 60:.1f} min. **What it shows:**"
    )
    st.markdown("\n".join(f"- {finding}" for finding in sweep_findings(sweep)))
    st.dataframe(
        sweep_table(sweep),
        hide_index=True,
        key="comparisons",
        # The verdict beside the difference it judges: at 1280 px the last columns need a scroll, the verdict not.
        column_order=("runs", "test accuracy", "compared with", "difference (points)", "verdict")
        + ("paired test (Holm-adjusted)", "above chance"),
    )

options = [(k, s) for k, s, f in sweep.arms() if s != FULL]
if options:
    kind, scheme = st.selectbox(
        "Look inside", options, format_func=lambda o: f"{NAMES[o[0]]}, {FAMILY_NAMES[o[1]]}", key="look_inside"
    )
    runs = [sweep.runs_of(kind, scheme, k)[0] for k in sweep.ks_of(kind, scheme)] + sweep.runs_of(kind, FULL, None)[:1]
    labels = [f"k = {r.spec.k}" if r.spec.k is not None else "full" for r in runs]
    left, right = st.columns(2)
    left.plotly_chart(
        rows_by_k_figure(labels, [r.trained for r in runs], "Training gradient ‖∂L/∂x_t‖ under each one's truncation"),
        key="profile",
    )
    right.plotly_chart(
        rows_by_k_figure(labels, [r.saliency for r in runs], "Row saliency of the trained model (full BPTT)"),
        key="saliency",
    )
    st.caption(
        f"Both heatmaps: batch medians over {cfg.profile_size} test sequences, the models of seed "
        f"{runs[0].spec.seed}; colour is log₁₀ relative to each model's largest row. Grey cells are exactly zero: "
        "no gradient reaches those rows."
    )
    st.plotly_chart(
        learning_curves_figure(
            {
                (r.spec.k, r.spec.seed): r.history.to_dict()
                for k in sweep.ks_of(kind, scheme)
                for r in sweep.runs_of(kind, scheme, k)
            }
            | {(T, r.spec.seed): r.history.to_dict() for r in sweep.runs_of(kind, FULL, None)},
            full_at=T,
        ),
        key="curves",
    )

st.subheader("Gradient-bias meter")
st.caption(
    "How far each scheme's gradient is from the full-BPTT gradient, for one model on one batch, before any "
    "training step: the cosine of the two (1 = same direction) and the relative error. ARTBP's single draws "
    "are noisy; the mean of many draws approaches the full gradient, because ARTBP is unbiased."
)
m1, m2, m3, m4 = st.columns([3, 2, 2, 2])
with m1:
    info = ui.model_picker("Model", key="bias_model", default="rnn-128")
loaded = ui.loaded_model(info) if info else None
meter_task = ui.recorded_meta(info).task if info else None
ks = m2.multiselect("ks", [1, 2, 4, 8, 12, 16, 24, 32, 40], default=[2, 4, 8, 16, 24], key="bias_ks")
batch = m3.select_slider("Test sequences", [16, 32, 64, 128], value=64, key="bias_batch")
draws = m4.select_slider(
    "ARTBP draws",
    [4, 8, 16, 32, 64],
    value=8,
    key="bias_draws",
    help="Random truncations averaged per k; each costs one more step-by-step BPTT pass.",
)
if loaded is not None and ks:
    rows = ui.bias_rows(*loaded, meter_task, tuple(sorted(ks)), batch, cfg.loss_at, draws)
    st.plotly_chart(bias_figure(rows, meter_task.T), key="bias")
    st.caption(
        f"{info.label} on {meter_task.name}, loss at {'the last row' if cfg.loss_at == 'last' else 'every row'}"
        f"; ks at or above T = {meter_task.T} are left out (they are full BPTT)."
        + (
            " With the loss on the last row, TBPTT(k, k) and TBPTT(1, k) backpropagate the same last k rows: their "
            "lines coincide."
            if cfg.loss_at == "last"
            else ""
        )
    )
