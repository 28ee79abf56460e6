"""Benchmark: trace and BPTT-profile latency, training throughput next to a bare nn.LSTM loop, truncated BPTT
next to full BPTT, the gradient-bias meter, a sweep on one worker vs two, and what snapshots cost training.

python bench/bench.py            # all figures in one run, on this machine
python bench/bench.py --only truncation   (or math, replay, speed)
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from explorer.analysis.bias import gradient_bias
from explorer.analysis.chain import bptt_chain
from explorer.analysis.counterfactual import erase, occlusion, row_saliency
from explorer.analysis.explain import explain, top_terms
from explorer.analysis.gradients import bptt_profile
from explorer.analysis.live import LIVE_DIGITS, look_inside
from explorer.data.digits import Digits, load_sample
from explorer.data.sequences import ROW_MNIST, SequenceTask
from explorer.experiments.cost import training_estimate
from explorer.experiments.runner import run_sweep
from explorer.experiments.spec import SweepConfig
from explorer.figures.counterfactual import contributions_figure
from explorer.model import snapshots
from explorer.model.checkpoint_file import read_checkpoint
from explorer.model.checkpoints import shipped_dir
from explorer.model.config import ModelConfig
from explorer.model.network import SequenceClassifier
from explorer.model.portable import pack
from explorer.model.unroll import one_layer_prefix_logits, prefix_logits, trace, unroll
from explorer.readings.formulas import step_lines
from explorer.training.loop import TrainConfig, accuracy, train


def timed(fn, repeat: int) -> float:
    """Median wall time of fn() in milliseconds, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def bare_lstm_throughput(x: torch.Tensor, y: torch.Tensor, batch_size: int, epochs: int, hidden: int) -> float:
    """Samples/s of the plainest loop: nn.LSTM + linear head, Adam, shuffled batches."""
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(28, hidden, batch_first=True)
    head = torch.nn.Linear(hidden, 10)
    opt = torch.optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=3e-3)
    start, seen = time.perf_counter(), 0
    for _ in range(epochs):
        for idx in torch.randperm(len(y)).split(batch_size):
            _, (h, _) = lstm(x[idx])
            loss = torch.nn.functional.cross_entropy(head(h[-1]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            seen += len(idx)
    return seen / (time.perf_counter() - start)


def explorer_throughput(
    train_set: Digits, test_set: Digits, batch_size: int, epochs: int, hidden: int, augment: bool
) -> float:
    """Samples/s of explorer.training.loop.train's step loop (k = T), read from its last on_step report."""
    steps = []
    cfg = TrainConfig(epochs=epochs, batch_size=batch_size, augment=augment)
    # The epoch-end evaluation runs after the last step is reported, so this is the training loop proper.
    train(ModelConfig(kind="lstm", hidden_size=hidden), cfg, train_set, test_set, on_step=steps.append)
    return steps[-1].samples_per_s


def stop_latency(
    train_set: Digits, test_set: Digits, model_cfg: ModelConfig, cfg: TrainConfig, stop_after_steps: int
) -> tuple[float, float]:
    """(seconds from a stop request to train() returning, seconds of one step) for a heavy job stopped mid-epoch."""
    steps, asked = [], []

    def should_stop() -> bool:
        if len(steps) >= stop_after_steps:
            asked.append(asked[0] if asked else time.perf_counter())
            return True
        return False

    train(
        model_cfg,
        cfg,
        train_set,
        test_set,
        on_step=lambda s: steps.append(time.perf_counter()),
        should_stop=should_stop,
    )
    returned = time.perf_counter()
    return returned - asked[0], (steps[-1] - steps[0]) / max(len(steps) - 1, 1)


def throughput(model_cfg: ModelConfig, cfg: TrainConfig, train_set: Digits, test_set: Digits) -> float:
    """Samples/s of train()'s step loop, read from its last on_step report."""
    steps = []
    train(model_cfg, cfg, train_set, test_set, on_step=steps.append)
    return steps[-1].samples_per_s


def truncation_figures(train_set: Digits, test_set: Digits, repeat: int) -> None:
    """TBPTT(k, k) and TBPTT(1, k) next to full BPTT, the bias meter's redraw, a sweep on 1 vs 2 workers."""
    lstm = ModelConfig(kind="lstm", hidden_size=64)
    small = Digits(train_set.images[:2000], train_set.labels[:2000])
    task = dict(task="blank", delay=20)  # T = 48, the shipped experiment's task
    schemes = {
        "full BPTT (fused)": {},
        "TBPTT(16, 16), chunks": dict(k=16),
        "TBPTT(1, 16), window": dict(k=16, k1=1),
        "ARTBP(mean 16)": dict(k=16, scheme="artbp"),
    }
    print(f"training LSTM-64 on row-MNIST + 20 blank rows (T = 48), batch 64, {len(small)} digits, best of three:")
    threads = torch.get_num_threads()
    for n in sorted({1, threads}):  # 1: the app and each sweep worker; all: the training CLI
        torch.set_num_threads(n)
        for loss_at in ("last", "every"):
            best = dict.fromkeys(schemes, 0.0)
            for _ in range(3):  # interleaved, best of three: the ratios see the same machine load
                for name, extra in schemes.items():
                    cfg = TrainConfig(epochs=1, augment=False, loss_at=loss_at, **task, **extra)
                    best[name] = max(best[name], throughput(lstm, cfg, small, test_set))
            full = best["full BPTT (fused)"]
            print(
                f"  {n} thread{'s' if n > 1 else ''}, loss on {'the last row' if loss_at == 'last' else 'every row'}:"
            )
            for name, rate in best.items():
                target = "   (target >= 0.9x)" if "chunks" in name else ""
                print(f"    {name:24s} {rate:8.0f} samples/s = {rate / full:.2f}x full BPTT{target}")
    torch.set_num_threads(threads)

    model = SequenceClassifier(lstm).eval()
    images, labels = test_set.tensors()
    x = SequenceTask("blank", 20).apply(images[:64], indices=torch.arange(64))
    torch.set_num_threads(1)  # as in the app
    try:
        meter = timed(lambda: gradient_bias(model, x, labels[:64], "last", [2, 4, 8, 16, 24], draws=8), repeat // 4)
    finally:
        torch.set_num_threads(threads)
    print(
        f"gradient-bias meter, LSTM-64, 64 sequences of T = 48, k = 2..24, 3 schemes, 8 ARTBP draws, 1 thread: "
        f"{meter / 1000:.2f} s   (target < 2 s)"
    )

    sweep = SweepConfig(
        kinds=("lstm",), hidden_size=64, task="blank", delay=20, ks=(8, 24), seeds=(0, 1), epochs=2, train_size=2000
    )
    walls = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            run_sweep(sweep, folder, "process", workers=workers, keep_models="none")
            walls[workers] = time.perf_counter() - start
    print(
        f"sweep of {len(sweep.plan())} runs (LSTM-64, T = 48, 2 epochs of 2,000 digits) on the process pool: "
        f"{walls[1]:.1f} s on 1 worker, {walls[2]:.1f} s on 2 = {walls[1] / walls[2]:.2f}x faster"
    )


def math_figures(test_set: Digits, repeat: int) -> None:
    """Explain-a-number and the BPTT chain, at one thread as in the app, on the shipped models."""
    images, labels = test_set.tensors()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for name, layer in (("lstm-2x128", 1), ("gru-128", 0)):
            model = read_checkpoint(shipped_dir() / f"{name}.safetensors").model
            digit = images[0].numpy()
            tr = trace(model, images[:1])

            def explained(model=model, tr=tr, digit=digit, layer=layer):
                e = explain(model, tr, digit, layer, 0, 17, 20)
                step_lines(e)
                term = e.terms[next(iter(e.terms))]
                contributions_figure([("in", top_terms(term.input_terms)), ("rec", top_terms(term.recurrent_terms))])

            ms = timed(explained, repeat)
            print(f"explain a number, {name} layer {layer + 1} (equations + bars): {ms:8.2f} ms   (target < 300 ms)")
        for name in ("lstm-128", "bilstm-128"):  # what if: the occlusion map and one edited digit's trace
            model = read_checkpoint(shipped_dir() / f"{name}.safetensors").model
            digit, label = images[0].numpy(), int(labels[0])

            def what_if(model=model, digit=digit, label=label):
                occlusion(model, digit, label)
                row_saliency(model, digit, label)
                trace(model, torch.from_numpy(erase(digit, [10, 11, 12]))[None])

            print(f"what if (occlusion map + saliency + edited trace), {name}: {timed(what_if, repeat):8.2f} ms")
        for name in ("rnn-128", "lstm-128", "bilstm-128", "lstm-2x128"):
            model = read_checkpoint(shipped_dir() / f"{name}.safetensors").model
            ms = timed(lambda model=model: bptt_chain(model, images[0], int(labels[0])), max(repeat // 4, 3))
            print(f"BPTT chain of one digit, {name}:          {ms / 1000:8.2f} s")
    finally:
        torch.set_num_threads(threads)


def speed_figures(test_set: Digits, repeat: int) -> None:
    """A redraw's engine parts, at one thread as in the app: one digit's trace (the BiLSTM's prefix predictions
    in one batch vs the packed re-run of every prefix) and packing a model for the browser view."""
    images, _ = test_set.tensors()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        x = images[:1]
        bi = read_checkpoint(shipped_dir() / "bilstm-128.safetensors").model
        lstm = read_checkpoint(shipped_dir() / "lstm-128.safetensors").model
        with torch.no_grad():
            forward_h = torch.stack(unroll(bi, x).runs[0][0].h, dim=1)
            batched = timed(lambda: one_layer_prefix_logits(bi, x, forward_h), repeat)
            packed = timed(lambda: prefix_logits(bi, x), repeat)
        whole = timed(lambda: trace(bi, x), repeat)
        print(
            f"trace, 1 digit, BiLSTM-128: {whole:6.2f} ms (target < 3 ms); its prefix predictions {batched:.2f} ms "
            f"in one batch vs {packed:.2f} ms re-running every prefix packed = {packed / batched:.2f}x"
        )
        print(f"trace, 1 digit, LSTM-128:   {timed(lambda: trace(lstm, x), repeat):6.2f} ms")
        blob = pack(bi, ROW_MNIST, test_set, "bilstm-128", "BiLSTM-128")
        ms = timed(lambda: pack(bi, ROW_MNIST, test_set, "bilstm-128", "BiLSTM-128"), repeat)
        print(f"BiLSTM-128 packed for the browser view: {len(blob) / 1e6:.2f} MB in {ms:.2f} ms (target <= 1.5 MB)")
    finally:
        torch.set_num_threads(threads)


def replay_figures(train_set: Digits, test_set: Digits, repeat: int) -> None:
    """What snapshots and the live look inside cost a training run: their parts timed one by one against a
    plain run, and the same run with and without them, interleaved."""
    model_cfg = ModelConfig(kind="lstm", hidden_size=128)
    epochs = 10  # 10 snapshots in 10 epochs: denser than a default 100-epoch run's 11, so an upper bound
    images, labels = test_set.tensors()
    batch = images[:LIVE_DIGITS], labels[:LIVE_DIGITS]
    plan = snapshots.plan(63, epochs)  # 4,000 digits in batches of 64

    def run(extras: bool) -> tuple[float, SequenceClassifier]:
        cfg = TrainConfig(epochs=epochs, snapshots=extras)
        look = (lambda m, e: look_inside(m, images[0], *batch, e)) if extras else None
        start = time.perf_counter()
        result = train(model_cfg, cfg, train_set, test_set, on_weights=look)
        assert len(result.snapshots) == (snapshots.count(63, epochs) if extras else 0)
        return time.perf_counter() - start, result.model

    plain, extra = [], []
    for _ in range(max(repeat // 4, 3)):  # interleaved, so drift in the machine's speed hits both alike
        plain.append(run(False)[0])
        extra.append(run(True)[0])
    _, model = run(False)
    look = timed(lambda: look_inside(model, images[0], *batch, 1), repeat)
    capture = timed(lambda: snapshots.capture(model, 1, 1.0, 0.1, 0.5), repeat)
    early = timed(lambda: accuracy(model, test_set), max(repeat // 4, 3))  # an early snapshot's test pass
    parts = epochs * look + (len(plan[0]) + len(plan[1]) + 1) * capture + (len(plan[0]) + 1) * early
    base = statistics.median(plain)
    print(
        f"training LSTM-128, {epochs} epochs ({snapshots.count(63, epochs)} snapshots, a live look every epoch): "
        f"plain {base:.2f} s (median of {len(plain)}); the parts: look inside {look:.1f} ms, capture "
        f"{capture:.2f} ms, an early snapshot's test pass {early:.0f} ms = {parts / 1000:.2f} s "
        f"= {100 * parts / 1000 / base:+.1f}% (target <= 5%); measured end to end "
        f"{statistics.median(extra):.2f} s = {100 * (statistics.median(extra) / base - 1):+.1f}% "
        f"(run-to-run spread {100 * (max(plain) - min(plain)) / base:.0f}%)"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hidden", type=int, default=128, help="LSTM hidden size (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=64, help="training batch size (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=2, help="epochs per throughput measurement (default: %(default)s)")
    p.add_argument("--repeat", type=int, default=20, help="timed repetitions per latency figure (default: %(default)s)")
    p.add_argument("--only", choices=("truncation", "math", "replay", "speed"), help="run only one group of figures")
    args = p.parse_args()

    torch.manual_seed(0)
    train_set, test_set = load_sample()
    groups = {
        "truncation": lambda: truncation_figures(train_set, test_set, args.repeat),
        "math": lambda: math_figures(test_set, args.repeat),
        "replay": lambda: replay_figures(train_set, test_set, args.repeat),
        "speed": lambda: speed_figures(test_set, args.repeat),
    }
    if args.only:
        groups[args.only]()
        return
    x, y = test_set.tensors()
    model = SequenceClassifier(ModelConfig(kind="lstm", hidden_size=args.hidden)).eval()
    bimodel = SequenceClassifier(ModelConfig(kind="lstm", hidden_size=args.hidden, bidirectional=True)).eval()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, LSTM-{args.hidden}")
    one = timed(lambda: trace(model, x[:1]), args.repeat)
    print(f"trace, 1 digit:                 {one:8.2f} ms   (target < 10 ms)")
    print(f"trace, 1 digit, BiLSTM:         {timed(lambda: trace(bimodel, x[:1]), args.repeat):8.2f} ms")
    print(f"trace, 256 digits:              {timed(lambda: trace(model, x[:256]), max(args.repeat // 4, 3)):8.2f} ms")
    prof = timed(lambda: bptt_profile(model, x[:256], y[:256]), max(args.repeat // 4, 3))
    print(f"BPTT profile, 256 digits:       {prof:8.2f} ms   (target < 300 ms)")

    bare = bare_lstm_throughput(*train_set.tensors(), args.batch_size, args.epochs, args.hidden)
    ours = explorer_throughput(train_set, test_set, args.batch_size, args.epochs, args.hidden, augment=False)
    ours_aug = explorer_throughput(train_set, test_set, args.batch_size, args.epochs, args.hidden, augment=True)
    print(f"training, bare nn.LSTM loop:    {bare:8.0f} samples/s (batch {args.batch_size})")
    print(f"training, explorer (k = T):     {ours:8.0f} samples/s = {ours / bare:.2f}x bare (target >= 0.85x)")
    print(f"  with augmentation:            {ours_aug:8.0f} samples/s = {ours_aug / bare:.2f}x bare")

    # The heavy job: BiLSTM-3x512, batch 16, k = 1; stopped in its first epoch (the worst case: no epoch
    # end to fall back on, so the weights of the moment are tested within the time budget).
    heavy = ModelConfig(kind="lstm", hidden_size=512, num_layers=3, bidirectional=True)
    heavy_cfg = TrainConfig(epochs=200, batch_size=16, k=1)
    estimate = training_estimate(heavy, heavy_cfg, len(train_set), len(test_set))
    print(
        f"cost estimate, BiLSTM-3x512 b16 k=1 x 200 epochs: {estimate.minutes:,.0f} min "
        f"({estimate.step_seconds:.2f} s/step x {estimate.steps:,} steps): over the 30 min limit, refused"
    )
    waited, step = stop_latency(train_set, test_set, heavy, heavy_cfg, stop_after_steps=3)
    print(
        f"stop, BiLSTM-3x512 in epoch 1:  {waited:8.2f} s from the request to the result (one step {step:.2f} s; "
        "target < 5 s)"
    )
    for group in groups.values():
        group()


if __name__ == "__main__":
    main()
