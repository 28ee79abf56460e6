"""Train: configure a model, train it in the background with live curves, stop it; manage checkpoints."""
import re
import time
from pathlib import Path

import streamlit as st

from explorer import data, ui
from explorer.checkpoints import MAX_BYTES, CheckpointError, delete_checkpoint, import_checkpoint, user_path
from explorer.jobs import MANAGER, Job, JobBusy
from explorer.models import KINDS, ModelConfig
from explorer.train import command_line
from explorer.training import (DATA_SOURCES, OPTIMIZERS, SCHEDULES, EpochEnd, Step, TrainConfig, mnist_downloaded,
                               run_training)
from explorer.training_figures import training_curves_figure

KEEP = dict(persist_state="session")  # the settings survive a visit to another page
SIZES = [16, 32, 64, 128, 256, 512]
DATA_NAMES = {"sample": "Bundled sample (4,000 train / 1,000 test digits, offline)",
              "mnist": "Full MNIST (60,000 / 10,000 digits, an 11 MB download)"}


def model_ui() -> ModelConfig:
    st.markdown("**Model**")
    kind = st.selectbox("Cell", KINDS, index=1, format_func=str.upper, key="t_kind", **KEEP,
                        help="RNN: plain tanh cell. LSTM: gated, with a cell state. GRU: gated, no cell state.")
    hidden = st.select_slider("Hidden units", SIZES, value=128, key="t_hidden", **KEEP,
                              help="Per direction; at most 512 so a 2-core machine stays responsive.")
    layers = st.number_input("Layers", 1, 3, 1, key="t_layers", **KEEP, help="Stacked recurrent layers, at most 3.")
    bidirectional = st.toggle("Bidirectional", key="t_bi", **KEEP, help="Adds a backward direction: twice the work.")
    dropout = st.slider("Dropout between layers", 0.0, 0.5, 0.0, 0.05, key="t_dropout", **KEEP,
                        disabled=layers == 1, help="Only used with 2 or more layers.")
    return ModelConfig(kind, hidden, layers, bidirectional, dropout if layers > 1 else 0.0)


def optimisation_ui() -> dict:
    st.markdown("**Optimisation**")
    optimizer = st.selectbox("Optimizer", OPTIMIZERS, key="t_opt", **KEEP,
                             format_func={"adam": "Adam", "sgd": "SGD, momentum 0.9"}.get)
    lr = st.number_input("Learning rate", 1e-6, 1e38, 3e-3, 1e-3, format="%g", key="t_lr", **KEEP, help=(
        "Peak step size. Adam likes 1e-3 to 1e-2. These saturating cells are hard to break: even 10 stays finite "
        "(it just learns nothing); around 1e38 with SGD and no clipping the weights overflow and training stops."))
    schedule = st.selectbox("Schedule", SCHEDULES, index=1, key="t_sched", **KEEP,
                            format_func={"none": "constant", "cosine": "cosine decay to 0"}.get)
    epochs = st.number_input("Epochs", 1, 200, 100, key="t_epochs", **KEEP, help=(
        "Passes over the training digits. 100 on the sample: LSTM-128 reaches about 98.5% in about a minute "
        "(the app trains on one CPU thread); full MNIST is 15 times more digits per epoch."))
    batch_size = st.select_slider("Batch size", SIZES, value=64, key="t_batch", **KEEP)
    clip = st.number_input("Gradient clipping (max norm, 0 = off)", 0.0, 100.0, 1.0, 0.5, key="t_clip", **KEEP)
    return dict(optimizer=optimizer, lr=lr, schedule=schedule, epochs=epochs, batch_size=batch_size, clip=clip or None)


def bptt_ui() -> dict:
    st.markdown("**Backpropagation through time**")
    k = st.slider("Truncation k (rows)", 1, 28, 28, key="t_k", **KEEP, help=(
        "Gradients flow back through the last k rows only. 28 = full BPTT with the fused module (fast); "
        "k < 28 unrolls the rows in a Python loop, several times slower."))
    loss_at = ui.loss_at_picker("t_loss_at", **KEEP)
    augment = st.toggle("Augment digits", True, key="t_augment", **KEEP,
                        help="Random shift (±3 px), rotation (±15°) and scale (±15%) of every training batch.")
    seed = st.number_input("Seed", 0, 2**31 - 1, 0, key="t_seed", **KEEP, help=(
        "Same seed, same weights on CPU with the same number of threads (the app trains on one; the CLI on all "
        "cores, whose float sums come in another order)."))
    return dict(k=k, loss_at=loss_at, augment=augment, seed=seed)


def start(description: str, work, kind: str) -> None:
    try:
        MANAGER.start(ui.session_id(), description, work, kind=kind)
    except JobBusy as e:
        st.error(str(e))


def replace_note(name: str) -> None:
    if any(info.name == name and not info.shipped for info in ui.available_models()):
        st.caption(f"You already have a checkpoint called {name}; it will be replaced.")


def launch_ui(model_cfg: ModelConfig, cfg: TrainConfig, busy: bool) -> None:
    """Data source, checkpoint name, the equivalent command and the Start button."""
    source = st.radio("Data", DATA_SOURCES, format_func=DATA_NAMES.get, horizontal=True, key="t_data", **KEEP)
    if source == "mnist" and not mnist_downloaded():
        st.info(f"Full MNIST is not downloaded yet: four files from public mirrors into `{data.default_cache_dir()}`.")
        if st.button("Download full MNIST", icon=":material/download:", disabled=busy):
            start("Downloading full MNIST", data.download_job, kind="download")
        return
    default = f"my-{model_cfg.label.lower()}"
    name = st.text_input("Save as", placeholder=default, key="t_name", **KEEP) or default
    try:
        path = user_path(name)
    except CheckpointError as e:
        st.error(str(e))
        return
    replace_note(name)
    command = command_line(model_cfg, cfg, source, path)
    st.caption("The same run from the command line:")
    st.code(command, language="bash", wrap_lines=True)
    if st.button("Start training", type="primary", icon=":material/play_arrow:", disabled=busy):
        start(f"{model_cfg.label} on the {'full MNIST' if source == 'mnist' else 'bundled sample'} → {name}",
              lambda job: run_training(job, model_cfg, cfg, source, path, command), kind="train")


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
    st.progress(last.step / last.total_steps,
                text=f"{job.description} · step {last.step:,} of {last.total_steps:,}{status}")
    cols = st.columns(6)
    cols[0].metric("Epoch", f"{epochs[-1].epoch if epochs else 0} / {last.total_epochs}")
    cols[1].metric("Loss (last step)", f"{last.loss:.3f}")
    cols[2].metric("Train accuracy", f"{100 * epochs[-1].train_accuracy:.1f}%" if epochs else "…")
    cols[3].metric("Test accuracy", f"{100 * epochs[-1].test_accuracy:.1f}%" if epochs else "…")
    cols[4].metric("Digits per second", f"{last.samples_per_s:,.0f}")
    left = elapsed * (last.total_steps - last.step) / last.step
    cols[5].metric("Time left" if job.running else "Took", duration(left if job.running else elapsed))
    st.plotly_chart(training_curves_figure([s.loss for s in steps], [e.epoch for e in epochs],
                                           [e.train_accuracy for e in epochs], [e.test_accuracy for e in epochs],
                                           last.total_steps, last.total_epochs),
                    key="t_curves")


def download_progress_ui(job: Job) -> None:
    name, done, total = (job.snapshot() or [(next(iter(data.MNIST_FILES)), 0, None)])[-1]
    files = list(data.MNIST_FILES)
    st.progress((files.index(name) + (done / total if total else 0)) / len(files),
                text=f"Downloading full MNIST: {name}, {done / 2**20:.1f} MB")


def stop_ui(job: Job) -> None:
    if job.running and st.button("Stop", icon=":material/stop:", disabled=job.stop_requested,
                                 help="Ends training at the next step and saves the best weights so far."):
        job.stop()


def job_ui(job: Job) -> None:
    """The session's latest job, redrawn every second while it runs; a full rerun when it ends."""
    was_running = job.running

    @st.fragment(run_every=1.0 if was_running else None)
    def live() -> None:
        if job.kind == "train":
            curves_ui(job)
            stop_ui(job)
        elif job.running:
            download_progress_ui(job)
        if was_running and not job.running:
            st.rerun()

    live()
    if not job.running:
        outcome_ui(job)


def how_it_ended(metrics: dict) -> str:
    """Finished, or stopped: then which weights were saved (keys missing in older runs read as absent)."""
    if not metrics.get("stopped"):
        return "finished"
    epoch = metrics.get("epoch")  # epochs completed by the saved weights
    if metrics.get("partial_epoch"):
        return f"stopped early, during epoch {(epoch or 0) + 1}; the weights as they were at the stop"
    if epoch == 0:
        return "stopped before the first step; the weights are untrained"
    return "stopped early; the best weights so far" + ("" if epoch is None else f", from epoch {epoch}")


def outcome_ui(job: Job) -> None:
    if job.status == "failed":
        what = "The download" if job.kind == "download" else "Training"
        st.error(f"{what} failed: {job.error}".replace("\n", "  \n"))  # keep the error's line breaks
    elif job.kind == "download":
        st.success("Full MNIST is downloaded and verified.")
    elif job.result.error:
        st.error(f"{job.result.error} Nothing was saved; the app is fine. Large steps overflow float32: try a "
                 "learning rate 10 to 1000 times smaller, or clipping at norm 1.")
    else:
        name, m = job.result.path.stem, job.result.metrics
        st.success(f"Saved **{name}** ({how_it_ended(m)}): test accuracy {100 * m['test_accuracy']:.1f}%, "
                   f"train accuracy {100 * m['train_accuracy']:.1f}%. It is now in every page's model picker.")
        if st.button("Open in Watch it read", icon=":material/play_circle:"):
            ui.remember("model", name)
            st.switch_page("../pages/watch.py")


def upload_ui() -> None:
    file = st.file_uploader("Upload a checkpoint", type=["safetensors"],
                            help=f"A .safetensors file saved by this app or the CLI, at most {MAX_BYTES >> 20} MB.")
    if file is None:
        return
    name = st.text_input("Save the upload as", re.sub(r"[^A-Za-z0-9._-]+", "-", Path(file.name).stem).strip("-._"))
    replace_note(name)
    if st.button("Add checkpoint", icon=":material/upload:"):
        try:
            info = import_checkpoint(file.getvalue(), name)
        except CheckpointError as e:
            st.error(f"{file.name} was not added: {e}")
        else:
            st.success(f"Added **{info.name}** ({info.label}); explore it on any page.")


def delete(info) -> None:
    try:
        delete_checkpoint(info)
        st.toast(f"Deleted {info.name}.")
    except CheckpointError as e:
        st.toast(f"Could not delete {info.name}: {e}", icon=":material/error:")
    st.session_state["t_sure"] = False


def checkpoints_ui() -> None:
    st.subheader("Checkpoints")
    upload_ui()
    by_name = {info.name: info for info in ui.available_models()}
    name = st.selectbox("Checkpoint", list(by_name), key="t_checkpoint",
                        format_func=lambda n: ui.model_option_label(by_name[n]))
    if name is None:
        return
    info = by_name[name]
    st.markdown(f"**{info.label}** · {ui.parameter_count(info.config.to_dict()):,} parameters · test accuracy "
                f"{ui.accuracy_text(info)} · {ui.data_text(info)}"
                + (" · stopped early" if info.meta["metrics"].get("stopped") else "")
                + f" · created {info.meta['created'] or '—'}")
    if info.meta["command"]:
        st.code(info.meta["command"], language="bash", wrap_lines=True)
    left, right = st.columns([1, 4], vertical_alignment="center")
    left.download_button("Download", info.path.read_bytes, info.path.name, "application/octet-stream",
                         icon=":material/download:", on_click="ignore")
    with right:
        if info.shipped:
            st.caption("Shipped checkpoints are read-only.")
        else:
            sure = st.checkbox(f"Yes, delete {info.name}", key="t_sure")
            st.button("Delete", icon=":material/delete:", disabled=not sure, on_click=delete, args=(info,))


st.title("Train a model")
st.caption("Train an RNN, LSTM or GRU in the background; the other pages stay usable. The result is saved as a "
           "checkpoint in your folder and appears in every page's model picker.")
job = MANAGER.latest(ui.session_id(), "train", "download")
with st.container(border=True):
    left, middle, right = st.columns(3, gap="large")
    with left:
        model_cfg = model_ui()
    with middle:
        optimisation = optimisation_ui()
    with right:
        cfg = TrainConfig(**optimisation, **bptt_ui())
    launch_ui(model_cfg, cfg, busy=job is not None and job.running)
job = MANAGER.latest(ui.session_id(), "train", "download")  # Start may have just made one
if job is not None:
    job_ui(job)
st.divider()
checkpoints_ui()
