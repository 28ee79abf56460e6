"""Benchmark: trace and BPTT-profile latency, and training throughput next to a bare nn.LSTM loop.

python bench/bench.py            # all figures in one run, on this machine
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from explorer.cost import training_estimate
from explorer.data import Digits, load_sample
from explorer.gradients import bptt_profile
from explorer.models import ModelConfig, SequenceClassifier
from explorer.training import TrainConfig, train
from explorer.unroll import trace


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
    """Samples/s of explorer.training.train's step loop (k = T), read from its last on_step report."""
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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hidden", type=int, default=128, help="LSTM hidden size (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=64, help="training batch size (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=2, help="epochs per throughput measurement (default: %(default)s)")
    p.add_argument("--repeat", type=int, default=20, help="timed repetitions per latency figure (default: %(default)s)")
    args = p.parse_args()

    torch.manual_seed(0)
    train_set, test_set = load_sample()
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


if __name__ == "__main__":
    main()
