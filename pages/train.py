"""Train: configure a model, train it in the background with live curves, stop it; manage checkpoints."""

import math
import re
import time
from pathlib import Path

import streamlit as st

from explorer import ui
from explorer.analysis.live import LIVE_DIGITS
from explorer.data.digits import DATA_SOURCES, SOURCE_SIZES, mnist_downloaded
from explorer.data.sequences import TASKS, SequenceTask
from explorer.experiments.cost import Estimate, training_estimate
from explorer.figures.training import live_figure, training_curves_figure
from explorer.model import snapshots
from explorer.model.checkpoint_file import MAX_BYTES, CheckpointError, checkpoint_bytes, size_text
from explorer.model.checkpoints import delete_checkpoint, import_checkpoint, listed_name, user_path
from explorer.model.config import KINDS, NAMES, ModelConfig
from explorer.readings.models import accuracy_text, created_text, data_text, how_it_ended
from explorer.serving import tasks
from explorer.serving.jobs import Job
from explorer.serving.limits import confirm_job_minutes, max_job_minutes
from explorer.serving.quota import LimitReached
from explorer.serving.tasks import EpochEnd
from explorer.training.cli import command_line, shown_command
from explorer.training.loop import OPTIMIZERS, SCHEDULES, Step, TrainConfig
from explorer.training.metadata import recorded

M, D = ModelConfig(), TrainConfig()  # the defaults: the shipped LSTM-128 and how it was trained
SIZES = [16, 32, 64, 128, 256, 512]
TASK_NAMES = {"rows": "row-MNIST: the 28 rows", "blank": "+ D blank rows", "noise": "+ D noise rows"}
DATA_NAMES = {
    "sample": "Bundled sample (4,000 train / 1,000 test digits, offline)",
    "mnist": "Full MNIST (60,000 / 10,000 digits, an 11 MB download)",
}


def model_ui() -> ModelConfig:
    st.markdown("**Model**")
    kind = ui.kept(
        st.selectbox,
        "Cell",
        "t_kind",
        M.kind,
        options=KINDS,
        format_func=NAMES.get,
        help="RNN: plain tanh cell. LSTM: gated, with a cell state. GRU: gated, no cell state. minGRU, minLSTM "
        "(Feng et al. 2024): GRU and LSTM cut down until their gates read the row alone, with no W_hh, so training "
        "runs a whole sequence at once as a parallel scan.",
    )
    hidden = ui.kept(
        st.select_slider,
        "Hidden units",
        "t_hidden",
        M.hidden_size,
        options=SIZES,
        help="Per direction; at most 512 so a 2-core machine stays responsive.",
    )
    layers = ui.kept(
        st.number_input,
        "Layers",
        "t_layers",
        M.num_layers,
        min_value=1,
        max_value=3,
        help="Stacked recurrent layers, at most 3.",
    )
    bidirectional = ui.kept(
        st.toggle, "Bidirectional", "t_bi", M.bidirectional, help="Adds a backward direction: twice the work."
    )
    dropout = ui.kept(
        st.slider,
        "Dropout between layers",
        "t_dropout",
        M.dropout,
        min_value=0.0,
        max_value=0.5,
        step=0.05,
        disabled=layers == 1,
        help="Only used with 2 or more layers.",
    )
    return ModelConfig(kind, hidden, layers, bidirectional, dropout if layers > 1 else 0.0)


def optimisation_ui() -> dict:
    st.markdown("**Optimisation**")
    optimizer = ui.kept(
        st.selectbox,
        "Optimizer",
        "t_opt",
        D.optimizer,
        options=OPTIMIZERS,
        format_func={"adam": "Adam", "sgd": "SGD, momentum 0.9"}.get,
    )
    lr = ui.kept(
        st.number_input,
        "Learning rate",
        "t_lr",
        D.lr,
        min_value=1e-6,
        max_value=1e38,
        step=1e-3,
        format="%g",
        help=(
            "Peak step size, 1e-6 to 1e38. Adam likes 1e-3 to 1e-2. These saturating cells are hard to break: "
            "even 10 stays finite (it just learns nothing); around 1e38 with SGD and no clipping the weights "
            "overflow and training stops."
        ),
    )
    schedule = ui.kept(
        st.selectbox,
        "Schedule",
        "t_sched",
        D.schedule,
        options=SCHEDULES,
        format_func={"none": "constant", "cosine": "cosine decay to 0"}.get,
    )
    epochs = ui.kept(
        st.number_input,
        "Epochs",
        "t_epochs",
        D.epochs,
        min_value=1,
        max_value=200,
        help=(
            "Passes over the training digits, 1 to 200. 100 on the sample: LSTM-128 reaches about 98.5% in about "
            "a minute (the app trains on one CPU thread); full MNIST is 15 times more digits per epoch."
        ),
    )
    batch_size = ui.kept(st.select_slider, "Batch size", "t_batch", D.batch_size, options=SIZES)
    clip = ui.kept(
        st.number_input,
        "Gradient clipping (max norm, 0 = off)",
        "t_clip",
        D.clip or 0.0,
        min_value=0.0,
        max_value=100.0,
        step=0.5,
        help="0 to 100: the largest gradient norm a step may use (torch.nn.utils.clip_grad_norm_); 0 turns it off.",
    )
    augment = ui.kept(
        st.toggle,
        "Augment digits",
        "t_augment",
        D.augment,
        help="Random shift (±3 px), rotation (±15°) and scale (±15%) of every training batch.",
    )
    keep = ui.kept(
        st.toggle,
        "Keep snapshots for replay",
        "t_snapshots",
        D.snapshots,
        help="About 10 float16 copies of the weights during training (init, early steps, some epoch ends), so "
        "Watch it read and Gradients through time can replay how the model learned.",
    )
    return dict(
        snapshots=keep,
        optimizer=optimizer,
        lr=lr,
        schedule=schedule,
        epochs=epochs,
        batch_size=batch_size,
        clip=clip or None,
        augment=augment,
    )


CHRONO_HELP = (
    "Tallec & Ollivier (2018): each unit's forget-like bias b_f is drawn as log u, u uniform in [1, T − 1] with T "
    "the task's rows, so units start out remembering over every time scale up to the sequence's length. LSTM and "
    "minLSTM: b_f on the forget gate f and −b_f on the input gate i; GRU: b_f on z (the share of h it keeps); "
    "minGRU: −b_f on z (it keeps 1 − z). Not for the plain RNN, which has no gates; it replaces the forget-gate bias."
)


def init_ui(kind: str) -> dict:
    st.markdown("**Initialisation**")
    chrono = ui.kept(st.toggle, "Chrono initialisation", "t_chrono", D.chrono, disabled=kind == "rnn", help=CHRONO_HELP)
    chrono = chrono and kind != "rnn"
    forget = ui.kept(
        st.select_slider,
        "LSTM forget-gate bias at init",
        "t_forget",
        "default",
        options=["default", 1.0, 2.0, 3.0],
        disabled=chrono,
        help="The source tutorials use forget_bias=1.0. Off while chrono initialisation sets the biases.",
    )
    frozen = ui.kept(
        st.toggle,
        "Freeze the input weights W_ih",
        "t_frozen",
        D.freeze_input,
        help="A control: the recurrence learns, the input features stay random.",
    )
    seed = ui.kept(
        st.number_input,
        "Seed",
        "t_seed",
        D.seed,
        min_value=0,
        max_value=2**31 - 1,
        help=(
            "0 to 2³¹ − 1. Same seed, same weights on CPU with the same number of threads (the app trains on one; "
            "the CLI on all cores, whose float sums come in another order)."
        ),
    )
    bias = None if forget == "default" or chrono else forget
    return dict(forget_bias=bias, chrono=chrono, freeze_input=frozen, seed=seed)


def task_ui() -> dict:
    st.markdown("**Sequence**")
    task = ui.kept(
        st.selectbox,
        "Task",
        "t_task",
        D.task,
        options=TASKS,
        format_func=TASK_NAMES.get,
        help="Row-MNIST reads the digit's 28 rows; a delay adds D blank (zero) or noise rows, which the "
        "state must carry the digit across.",
    )
    delay = ui.kept(
        st.number_input,
        "Delay D (rows)",
        "t_delay",
        20,
        min_value=1,
        max_value=100,
        disabled=task == "rows",
        help="1 to 100 rows the state must carry the digit across.",
    )
    at = ui.kept(
        st.radio,
        "The delay goes",
        "t_delay_at",
        D.delay_at,
        options=("after", "before"),
        horizontal=True,
        disabled=task == "rows",
    )
    return dict(task=task, delay=0 if task == "rows" else delay, delay_at=at)


def bptt_ui(T: int) -> dict:
    st.markdown("**Backpropagation through time**")
    k = ui.kept(
        st.slider,
        "Truncation k (rows; 0 = full BPTT)",
        "t_k",
        0,
        min_value=0,
        max_value=T,
        help=(
            "Gradients flow back k rows at most. TBPTT(k, k) cuts the sequence into chunks of k rows and runs them on "
            "the fused module, about as fast as full BPTT."
        ),
    )
    c1, c2 = st.columns(2)
    with c1:
        scheme = ui.kept(
            st.selectbox,
            "Scheme",
            "t_scheme",
            D.scheme,
            options=("tbptt", "artbp"),
            disabled=not k,
            format_func={"tbptt": "TBPTT(k1, k)", "artbp": "ARTBP (mean k)"}.get,
            help="ARTBP: random truncation lengths with compensation factors, unbiased (Tallec & Ollivier 2017).",
        )
    with c2:
        k1 = ui.kept(
            st.number_input,
            "k1: rows between updates (0 = k)",
            "t_k1",
            0,
            min_value=0,
            max_value=max(k, 1),
            disabled=not k or scheme == "artbp",
            help=f"0 to {max(k, 1)} (k). 1 = a sliding window: every loss term reaches back exactly k rows (the "
            "tutorial's NumPy bptt).",
        )
    align = ui.kept(
        st.radio,
        "Chunks counted from",
        "t_align",
        D.align,
        options=("end", "start"),
        horizontal=True,
        format_func={"end": "the last row", "start": "row 1"}.get,
        disabled=not k or scheme == "artbp",
    )
    update = ui.kept(
        st.radio,
        "Optimizer steps",
        "t_update",
        D.update,
        options=("sequence", "chunk"),
        horizontal=True,
        format_func={"sequence": "one per batch", "chunk": "one per chunk"}.get,
        disabled=not k or scheme == "artbp" or k1 not in (0, k),
    )
    loss_at = ui.loss_at_picker("t_loss_at", D.loss_at)
    return dict(
        k=k or None,
        k1=(k1 or None) if k and scheme == "tbptt" else None,
        align=align,
        scheme=scheme,
        update=update if k and scheme == "tbptt" and k1 in (0, k) else "sequence",
        loss_at=loss_at,
    )


def start(description: str, task: str, kind: str, config: dict, adding: int = 0, new_checkpoint: bool = False) -> None:
    """Submit the job to the server's workers, or say which limit refused it (the form keeps its values)."""
    try:
        ui.job_manager().submit(ui.owner_id(), kind, description, task, config, adding, new_checkpoint)
    except LimitReached as e:
        st.error(str(e), icon=":material/block:")


def my_names() -> set[str]:
    """The names of the visitor's own checkpoints."""
    return {info.stem for info in ui.available_models() if info.owner == ui.owner_id()}


def free_name(base: str) -> str:
    """base, or base-2, base-3, ...: the first name none of the visitor's checkpoints has."""
    taken = my_names()
    return next(n for n in (base if k == 1 else f"{base}-{k}" for k in range(1, 10_000)) if n not in taken)


def may_save(name: str, key: str) -> bool:
    """A new name may be saved under; one of the visitor's own only once they tick that it replaces it."""
    if name not in my_names():
        return True
    st.warning(f"You already have a checkpoint called {ui.plain(name)}.", icon=":material/warning:")
    return st.checkbox(f"Replace my {ui.plain(name)} with the new one", key=key)


@st.cache_data(show_spinner="Timing a few training steps to estimate the cost…", max_entries=64)
def estimate(model_cfg: ModelConfig, cfg: TrainConfig, source: str) -> Estimate:
    return training_estimate(model_cfg, cfg, *SOURCE_SIZES[source])


def expected_bytes(model_cfg: ModelConfig, cfg: TrainConfig, source: str) -> int:
    """The size of the checkpoint this run will save (its weights, history and snapshots)."""
    per_epoch = math.ceil(SOURCE_SIZES[source][0] / cfg.batch_size)
    return checkpoint_bytes(
        model_cfg, per_epoch * cfg.epochs, snapshots.count(per_epoch, cfg.epochs) if cfg.snapshots else 0
    )


def cost_ui(model_cfg: ModelConfig, cfg: TrainConfig, source: str, start_job) -> None:
    """After Start: refuse what is over the server's limits, ask before a long run, else start at once."""
    size = expected_bytes(model_cfg, cfg, source)
    if size > MAX_BYTES:
        st.error(
            f"This model's checkpoint would be about {size_text(size)}, over the {size_text(MAX_BYTES)} limit "
            "for checkpoints: choose fewer hidden units or layers."
        )
        return
    est = estimate(model_cfg, cfg, source)
    limit, ask = max_job_minutes(), confirm_job_minutes()
    if est.minutes > limit:
        st.error(
            f"This run would take about {duration(est.seconds)} on this server (one step {est.step_seconds:.2f} s "
            f"× {est.steps:,} steps), over its limit of {duration(60 * limit)} per job. Train for fewer epochs, "
            "a smaller model or a larger batch"
            + (
                f", or with k1 nearer k: TBPTT(k1, k) re-runs {cfg.k} rows for every {cfg.k1} rows it updates on."
                if cfg.k and cfg.k1 and cfg.k1 < cfg.k and cfg.scheme == "tbptt"
                else "."
            )
        )
    elif est.minutes > ask:
        st.warning(
            f"This run will take about {duration(est.seconds)} on this server, and hold one of its "
            f"{ui.job_manager().limit} worker{'s' if ui.job_manager().limit != 1 else ''} for that long."
        )
        if st.button(f"Start anyway (about {duration(est.seconds)})", icon=":material/play_arrow:"):
            st.session_state.pop("t_pending", None)
            start_job()
            st.rerun()
    else:
        st.session_state.pop("t_pending", None)
        start_job()


def launch_ui(model_cfg: ModelConfig, cfg: TrainConfig, busy: bool) -> None:
    """Data source, checkpoint name, the equivalent command and the Start button (through the cost guard)."""
    source = ui.kept(
        st.radio, "Data", "t_data", "sample", options=DATA_SOURCES, format_func=DATA_NAMES.get, horizontal=True
    )
    if source == "mnist" and not mnist_downloaded():
        st.info(
            "Full MNIST is not downloaded yet: four files (about 11 MB) from public mirrors into the server's cache."
        )
        if st.button("Download full MNIST", icon=":material/download:", disabled=busy):
            start("Downloading full MNIST", tasks.DOWNLOAD, "download", tasks.download_options())
        return
    default = free_name(f"my-{model_cfg.label.lower()}")
    name = ui.kept(st.text_input, "Save as", "t_name", "", placeholder=default) or default
    try:
        path = user_path(name, ui.owner_id())
    except CheckpointError as e:
        st.error(ui.plain(e))
        return
    ok = may_save(name, "t_replace")
    command = command_line(model_cfg, cfg, source, f"{name}.safetensors")
    st.caption("The same run on your own machine (from a copy of this project):")
    st.code(command, language="bash", wrap_lines=True)
    request = (model_cfg, cfg, source, name)
    if st.button("Start training", type="primary", icon=":material/play_arrow:", disabled=busy or not ok):
        st.session_state["t_pending"] = request
    if st.session_state.get("t_pending") == request and not busy:
        cost_ui(
            model_cfg,
            cfg,
            source,
            lambda: start(
                f"{model_cfg.label} on the {'full MNIST' if source == 'mnist' else 'bundled sample'} → {name}",
                tasks.TRAIN,
                "train",
                dict(model=model_cfg.to_dict(), train=cfg.to_dict(), source=source, name=name, command=command),
                adding=expected_bytes(model_cfg, cfg, source),
                new_checkpoint=not path.exists(),
            ),
        )


def duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def curves_ui(job: Job) -> None:
    """Progress, metrics and learning curves of a training job, from the records it has reported so far."""
    records = job.snapshot()
    steps = [r for r in records if isinstance(r, Step)]
    epochs = [r for r in records if isinstance(r, EpochEnd)]
    if not steps:
        st.info("Loading the digits and building the model…")
        return
    last, elapsed = steps[-1], (job.finished or time.time()) - job.started
    status = "" if job.running else f" · {job.status}"
    st.progress(last.fraction, text=f"{ui.plain(job.description)} · step {last.step:,} of {last.total_steps:,}{status}")
    cols = st.columns(6)
    cols[0].metric("Epoch", f"{epochs[-1].epoch if epochs else 0} / {last.total_epochs}")
    cols[1].metric("Loss (last step)", f"{last.loss:.3f}")
    cols[2].metric("Train accuracy", f"{100 * epochs[-1].train_accuracy:.1f}%" if epochs else "…")
    cols[3].metric("Test accuracy", f"{100 * epochs[-1].test_accuracy:.1f}%" if epochs else "…")
    cols[4].metric("Digits per second", f"{last.samples_per_s:,.0f}")
    left = job.seconds_left()
    cols[5].metric("Time left" if job.running else "Took", duration(left if job.running and left else elapsed))
    st.plotly_chart(
        training_curves_figure(
            [s.loss for s in steps],
            [e.epoch for e in epochs],
            [e.train_accuracy for e in epochs],
            [e.test_accuracy for e in epochs],
            last.total_steps,
            last.total_epochs,
        ),
        key="t_curves",
    )
    view = next((e.view for e in reversed(epochs) if e.view is not None), None)
    if view is not None:
        st.plotly_chart(live_figure(view), key="t_live")
        st.caption(
            "Inside the model after its latest epoch: the last layer's hidden state (its forward direction, for a "
            "bidirectional model) on the first test digit, its answer after each row, and how far the last row's "
            f"gradient reaches back (median over {LIVE_DIGITS} test digits). Updated every epoch."
        )


def download_progress_ui(job: Job) -> None:
    last = next((r for r in reversed(job.snapshot()) if isinstance(r, tasks.DownloadProgress)), None)
    if last is None:
        st.progress(0.0, text="Downloading full MNIST…")
    else:
        st.progress(last.fraction, text=f"Downloading full MNIST: {last.name}, {last.done / 1e6:.1f} MB")


def stop_ui(job: Job) -> None:
    if job.active and st.button(
        "Stop" if job.running else "Leave the queue",
        icon=":material/stop:",
        disabled=job.stop_requested,
        help="Ends training at the next step and saves the best weights so far.",
    ):
        ui.job_manager().stop(job)


def job_ui(job: Job) -> None:
    """The visitor's latest job (found again after a reload), redrawn every second while active."""
    drawn = job.status  # the whole page (its table of jobs too) is redrawn when this changes
    was_active = drawn in ("queued", "running")

    @st.fragment(run_every=1.0 if was_active else None)
    def live() -> None:
        if job.status == "queued":
            position = ui.job_manager().queue_position(job)
            st.info(
                f"The server is busy: your job waits for a free slot (position {position} in the queue). It "
                "starts by itself; you can leave this page.",
                icon=":material/hourglass_top:",
            )
        elif job.kind == "train":
            curves_ui(job)
        elif job.running:
            download_progress_ui(job)
        stop_ui(job)
        if job.status != drawn:  # started, or ended: the rest of the page follows
            st.rerun()

    live()
    if not job.active:
        outcome_ui(job)


def again(job: Job, resume: bool) -> None:
    """Resume an interrupted run from its last epoch end, or restart it from the start."""
    try:
        if resume:
            ui.job_manager().resume(job)
        else:
            ui.job_manager().again(job)
    except LimitReached as e:
        st.error(str(e), icon=":material/block:")


def outcome_ui(job: Job) -> None:
    if job.status == "interrupted":
        epoch = ui.job_manager().resume_epoch(job)
        st.warning(
            f"{ui.plain(job.description)} was interrupted: {ui.plain(job.error)} (the server or the machine "
            "restarted). "
            + (
                f"**Resume** carries on from the end of epoch {epoch} exactly as if it had never stopped (the "
                "weights, the optimizer's and the schedule's state and the random draws were saved then); "
                "**Restart** trains it again from the start."
                if epoch is not None
                else "It stopped before its first epoch ended, so there is nothing to resume: **Restart** trains "
                "it again from the start."
            ),
            icon=":material/restart_alt:",
        )
        c1, c2 = st.columns(2)
        if epoch is not None:
            c1.button(
                f"Resume from epoch {epoch}", icon=":material/play_arrow:", on_click=again, args=(job, True),
                key="t_resume",
            )  # fmt: skip
        c2.button("Restart", icon=":material/restart_alt:", on_click=again, args=(job, False), key="t_restart")
    elif job.status == "failed":
        what = "The download" if job.kind == "download" else "Training"
        st.error(f"{what} failed: {ui.plain(job.error)}")
    elif job.result is None:
        st.info("The job was taken out of the queue before it started; nothing was saved.")
    elif job.kind == "download":
        st.success("Full MNIST is downloaded and verified.")
    elif job.result.error:
        st.error(
            f"{job.result.error} Nothing was saved; the app is fine. Large steps overflow float32: try a "
            "learning rate 10 to 1000 times smaller, or clipping at norm 1."
        )
    else:
        name, m = job.result.path.stem, job.result.metrics
        rec = recorded({"metrics": m})
        tested = f" on {m['test_evaluated']:,} test digits" if "test_evaluated" in m else ""
        train = f", train accuracy {100 * rec.train_accuracy:.1f}%" if rec.train_accuracy is not None else ""
        st.success(
            f"Saved {ui.plain(name)} ({how_it_ended(rec, m.get('test_evaluated'))}): test accuracy "
            f"{accuracy_text(rec)}{tested}{train}. It is now in every page's model picker."
        )
        if st.button("Open in Watch it read", icon=":material/play_circle:"):
            ui.remember("model", listed_name(ui.owner_id(), name))
            st.switch_page("../pages/watch.py")


def activity_ui() -> None:
    """Every job on the server: whose (anonymised), what, and when it will end."""
    jobs = ui.job_manager().active()
    if not jobs:
        return
    me, now, rows = ui.owner_id(), time.time(), []
    for j in jobs:
        left = j.seconds_left(now)
        rows.append(
            {
                "whose": "yours" if j.owner == me else ui.owner_tag(j.owner),
                "what": j.description,
                "status": j.status if j.running else f"queued, #{ui.job_manager().queue_position(j)}",
                "done": f"{100 * (j.fraction() or 0):.0f}%",
                "ends in": "…" if left is None else duration(left),
            }
        )
    n = ui.job_manager().limit
    st.caption(f"On this server now ({n} job{' runs' if n == 1 else 's run'} at once; more wait in a queue):")
    st.dataframe(rows, hide_index=True, key="t_activity")


def upload_ui() -> None:
    file = st.file_uploader(
        "Upload a checkpoint",
        help=(
            f"A .safetensors file saved by this app or the CLI, at most {size_text(MAX_BYTES)}. It is checked before "
            "it is kept, and never unpickled."
        ),
    )
    if file is None:
        return
    name = st.text_input(
        "Save the upload as", re.sub(r"[^A-Za-z0-9._-]+", "-", Path(file.name).stem).strip("-._")[:100]
    )
    ok = may_save(name, "t_upload_replace")
    if st.button("Add checkpoint", icon=":material/upload:", disabled=not ok):
        try:
            ui.job_manager().check_room(ui.owner_id(), file.size, new_checkpoint=name not in my_names())
            info = import_checkpoint(file.getvalue(), name, ui.owner_id())
        except LimitReached as e:
            st.error(f"{ui.plain(file.name)} was not added: {e}", icon=":material/block:")
        except CheckpointError as e:
            kind = "" if file.name.endswith(".safetensors") else " (only .safetensors checkpoints can be added)"
            st.error(f"{ui.plain(file.name)} was not added{kind}: {ui.plain(e)}")
        else:
            st.success(f"Added {ui.plain(info.stem)} ({info.label}); explore it on any page.")


def delete(info) -> None:
    try:
        delete_checkpoint(info, ui.owner_id())
        st.toast(f"Deleted {ui.plain(info.stem)}.")
    except CheckpointError as e:
        st.toast(f"Could not delete {ui.plain(info.stem)}: {ui.plain(e)}", icon=":material/error:")
    st.session_state["t_sure"] = False


def checkpoints_ui() -> None:
    st.subheader("Checkpoints")
    upload_ui()
    skipped = ui.skipped_checkpoints()
    if skipped:
        st.warning(
            f"{len(skipped)} checkpoint file(s) on the server cannot be read and are left out of every "
            "picker: " + "; ".join(f"{ui.plain(name)}: {ui.plain(why)}" for name, why in skipped[:5])
        )
    by_name = {info.name: info for info in ui.visible_models(linked=(st.session_state.get("t_checkpoint", ""),))}
    name = st.selectbox(
        "Checkpoint", list(by_name), key="t_checkpoint", format_func=ui.model_labels(by_name.values()).get
    )
    if name is None:
        return
    info = by_name[name]
    rec = ui.recorded_meta(info)
    st.markdown(
        f"**{info.label}** · {ui.whose(info)} · {ui.parameter_count(info.config.to_dict()):,} parameters · "
        f"test accuracy {accuracy_text(rec)} · {data_text(rec)}"
        + (" · stopped early" if rec.stopped else "")
        + f" · created {created_text(rec)}"
    )
    if rec.command:
        st.code(shown_command(rec.command), language="bash", wrap_lines=True)
    elif not info.shipped:
        st.caption("Its metadata holds no command of this app's CLI (`python -m explorer.train …`), so none is shown.")
    left, right = st.columns([1, 4], vertical_alignment="center")
    left.download_button(
        "Download",
        info.path.read_bytes,
        info.path.name,
        "application/octet-stream",
        icon=":material/download:",
        on_click="ignore",
    )
    with right:
        if info.owner == ui.owner_id():
            sure = st.checkbox(f"Yes, delete {ui.plain(info.stem)}", key="t_sure")
            st.button("Delete", icon=":material/delete:", disabled=not sure, on_click=delete, args=(info,))
        else:
            st.caption(
                f"This checkpoint is {ui.whose(info)}: you can explore and download it, but only its owner "
                "can replace or delete it."
            )


st.title("Train a model")
st.caption(
    "Train an RNN, LSTM, GRU, minGRU or minLSTM in the background; the other pages stay usable, and a reload finds "
    "your job again. The result is saved as a checkpoint of yours and appears in every page's model picker."
)
job = ui.job_manager().latest(ui.owner_id(), "train", "download")
with st.container(border=True):
    left, middle, right = st.columns(3, gap="large")
    with left:
        model_cfg = model_ui()
        init = init_ui(model_cfg.kind)
    with middle:
        optimisation = optimisation_ui()
    with right:
        sequence = task_ui()
        bptt = bptt_ui(SequenceTask(sequence["task"], sequence["delay"], sequence["delay_at"]).T)
    try:
        cfg = TrainConfig(**optimisation, **init, **sequence, **bptt)
    except ValueError as e:
        st.error(ui.plain(e))
        st.stop()
    launch_ui(model_cfg, cfg, busy=job is not None and job.active)
job = ui.job_manager().latest(ui.owner_id(), "train", "download")  # Start may have just made one
if job is not None:
    job_ui(job)
activity_ui()
st.divider()
checkpoints_ui()
