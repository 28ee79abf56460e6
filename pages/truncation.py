"""Truncation lab: one model per truncated-BPTT length k; accuracy, learning curves and gradients per k."""

from pathlib import Path

import streamlit as st

from explorer import ui
from explorer.bptt_figures import accuracy_vs_k_figure, learning_curves_figure, rows_by_k_figure
from explorer.checkpoints import CheckpointError
from explorer.cost import sweep_estimate
from explorer.jobs import JobBusy
from explorer.limits import confirm_job_minutes, max_job_minutes
from explorer.models import KINDS
from explorer.readings import sweep_reading, sweep_table
from explorer.sweep import SUMMARY, SweepConfig, SweepError, list_sweeps, load_sweep, shipped_sweep_dir, sweep_owner
from explorer.tasks import run_sweep_job

DEFAULT = SweepConfig()


@st.cache_resource(max_entries=8, show_spinner="Loading the sweep…")
def cached_sweep(path: str, mtime_ns: int):
    return load_sweep(path)


def sweep_form() -> SweepConfig | None:
    """The settings of a new sweep; a config when Run was pressed."""
    with st.form("sweep_form", border=False):
        c1, c2, c3, c4 = st.columns(4)
        kind = c1.selectbox("Kind", KINDS, index=KINDS.index(DEFAULT.kind), format_func=str.upper)
        hidden = c2.select_slider("Hidden units", [8, 16, 32, 64, 128], value=DEFAULT.hidden_size)
        epochs = c3.number_input("Epochs per k", 1, 100, DEFAULT.epochs)
        with c4:
            loss_at = ui.loss_at_picker()
        c5, c6, c7 = st.columns([3, 1, 1])
        ks = c5.multiselect("Truncation lengths k", list(range(1, 29)), default=list(DEFAULT.ks))
        size = c6.select_slider("Training digits", [250, 500, 1000, 2000, 4000], value=4000)
        seeds = c7.number_input(
            "Seeds per k",
            1,
            5,
            len(DEFAULT.seeds),
            help=(
                "One model per k and seed. With one seed, ks are compared on the same test digits (McNemar's test); "
                "with several, across seeds (paired t-test), which also shows how much a seed moves the result."
            ),
        )
        if not st.form_submit_button("Run sweep", type="primary"):
            return None
    try:
        return SweepConfig(
            kind=kind,
            hidden_size=hidden,
            ks=tuple(ks),
            epochs=epochs,
            loss_at=loss_at,
            train_size=size,
            seeds=tuple(range(seeds)),
        )
    except ValueError as e:
        st.error(f"Cannot run this sweep: {e}")
        return None


def my_job():
    """This visitor's latest sweep job (found again after a reload)."""
    return ui.job_manager().latest(ui.owner_id(), "sweep")


@st.cache_data(show_spinner="Timing a few training steps to estimate the cost…", max_entries=32)
def estimate(cfg: SweepConfig):
    train, test = ui.sample()
    return sweep_estimate(cfg, len(train), len(test))


def start(cfg: SweepConfig) -> None:
    try:
        digits = ui.sample()
        ui.job_manager().start(
            ui.owner_id(), f"Truncation sweep, {cfg.label}", lambda job: run_sweep_job(job, cfg, *digits), kind="sweep"
        )
    except JobBusy as e:
        st.warning(str(e))
    st.session_state.pop("sweep_pending", None)


def cost_ui(cfg: SweepConfig) -> None:
    """Refuse a sweep over the server's limit, ask before a long one, else start it."""
    est = estimate(cfg)
    minutes = f"{est.minutes:.0f} min" if est.minutes >= 1.5 else f"{est.seconds:.0f} s"
    if est.minutes > max_job_minutes():
        st.error(
            f"This sweep would take about {minutes} on this server ({len(cfg.ks) * len(cfg.seeds)} runs), over "
            f"its limit of {max_job_minutes():.0f} min per job: fewer ks, seeds or epochs, or fewer digits."
        )
    elif est.minutes > confirm_job_minutes():
        st.warning(f"This sweep will take about {minutes} on this server.")
        if st.button(f"Run anyway (about {minutes})"):
            start(cfg)
            st.rerun()
    else:
        start(cfg)


st.title("Truncation lab")
st.caption(
    "Truncated BPTT with length k backpropagates only k rows: with the loss on the last row, rows before "
    "28 − k + 1 get no gradient at all. A sweep trains one model per k, all else equal, on the bundled "
    "sample (4,000 training, 1,000 test digits)."
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
            text=f"Training k = {p.k}, seed {p.seed} (run {p.index + 1} of "
            f"{p.count}), epoch {p.epoch}/{p.epochs}, loss {p.loss:.3f}"
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
            st.session_state["sweep_choice"] = job.result
        st.rerun()
    elif job.status == "failed":
        st.error(f"The sweep failed: {ui.plain(job.error)}")
    elif not job.result:
        st.info("The sweep was stopped before any model finished training; nothing was saved.")
    else:
        st.success(f"Your sweep ({job.status}) is saved and selected below.")


progress()
paths = [str(p) for p in list_sweeps()]
if not paths:
    st.info("No sweep yet: run one above. (The shipped sweep in `checkpoints/sweep` is missing.)")
    st.stop()
shipped, me = str(shipped_sweep_dir()), ui.owner_id()


def sweep_label(p: str) -> str:
    owner = sweep_owner(Path(p))
    if owner is None:
        return "Shipped sweep (checkpoints/sweep)"
    return f"{'Yours' if owner == me else ui.owner_tag(owner).capitalize() + chr(39) + 's'}: {Path(p).name}"


# Your newest sweep replaces the shipped one in your view (the shipped one stays one click away).
choice = st.session_state.get("sweep_choice") or next((p for p in paths if sweep_owner(Path(p)) == me), shipped)
path = st.selectbox("Results", paths, index=paths.index(choice) if choice in paths else 0, format_func=sweep_label)
try:
    sweep = cached_sweep(path, (Path(path) / SUMMARY).stat().st_mtime_ns)
except (SweepError, CheckpointError, OSError) as e:
    st.error(f"Could not load this sweep: {ui.plain(e)}")
    st.stop()

cfg = sweep.config
epochs = f"{cfg.epochs} epoch{'s' if cfg.epochs != 1 else ''}"
seeds = len(sweep.seeds)
st.markdown(
    f"**{cfg.label}**, {epochs} per run, {len(sweep.runs)} models ({len(sweep.ks)} ks × {seeds} "
    f"seed{'s' if seeds > 1 else ''}), trained in {sweep.seconds:.0f} s. **Reading:** {sweep_reading(sweep)}"
)
left, right = st.columns(2)
left.plotly_chart(
    accuracy_vs_k_figure(sweep.ks, [[r.accuracy for r in sweep.runs_of(k)] for k in sweep.ks]), key="accuracy"
)
right.plotly_chart(learning_curves_figure({(r.k, r.seed): r.history.to_dict() for r in sweep.runs}), key="curves")
st.dataframe(sweep_table(sweep), hide_index=True, key="comparisons")
left, right = st.columns(2)
first = [sweep.runs_of(k)[0] for k in sweep.ks]  # heatmaps: the first seed's model of each k
title = "Training gradient ‖∂L/∂h_t‖ under truncation k (0 = exactly zero)"
left.plotly_chart(rows_by_k_figure(sweep.ks, [r.dh for r in first], title), key="profile")
title = "Row saliency ‖∂L/∂x_t‖ of each trained model (full BPTT)"
right.plotly_chart(rows_by_k_figure(sweep.ks, [r.dx for r in first], title), key="saliency")
st.caption(
    f"Both heatmaps: batch medians over {cfg.profile_size} test digits, the model of seed {first[0].seed} for "
    "each k; the colour is log₁₀ relative to each model's largest row, hover for the values. Left: the "
    "gradient each model was trained with (its own k). Right: which rows the trained model's loss depends on."
)
