"""Benchmark: one training epoch of minGRU and minLSTM with the parallel scan against the same cells' step loop,
and against the fused nn.LSTM and nn.GRU, at T = 28, 68 and 228 (the digit, then 0, 40 or 200 blank rows).

An epoch is the 4,000 bundled training digits in batches of 64 (63 optimizer steps: forward, backward, Adam),
timed as the median of a few steps times 63, on one torch thread as the app's workers train.

python bench/cells.py [--hidden 64] [--steps 5]
"""

import argparse
import math
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from explorer.model import mincells
from explorer.model.config import ModelConfig
from explorer.model.network import seeded_model

TRAIN_DIGITS, BATCH = 4000, 64
LENGTHS = (28, 68, 228)


@contextmanager
def step_loop():
    """MinRNN with its scan swapped for the plain recurrence, one step at a time (same numbers, ≤ 1e-5)."""
    scan = mincells.scan
    mincells.scan = mincells.loop
    try:
        yield
    finally:
        mincells.scan = scan


def step_ms(kind: str, hidden: int, T: int, steps: int) -> float:
    """Median milliseconds of one optimizer step on a (64, T, 28) batch."""
    model = seeded_model(ModelConfig(kind=kind, hidden_size=hidden), 0)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    x, y = torch.rand(BATCH, T, 28, generator=gen), torch.randint(0, 10, (BATCH,), generator=gen)
    times = []
    for i in range(steps + 1):  # the first is a warm-up
        start = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i:
            times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=64, help="hidden units (the memory experiment's 64)")
    parser.add_argument("--steps", type=int, default=5, help="timed optimizer steps per figure (median)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    per_epoch = math.ceil(TRAIN_DIGITS / BATCH)
    print(f"one epoch = {per_epoch} steps of batch {BATCH}; hidden {args.hidden}; 1 torch thread; seconds per epoch")
    print(
        "| T | minGRU scan | minGRU loop | minLSTM scan | minLSTM loop | GRU fused | LSTM fused |"
        " loop / scan (minGRU, minLSTM) | scan / fused (minGRU / GRU, minLSTM / LSTM) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for T in LENGTHS:
        s = {k: step_ms(k, args.hidden, T, args.steps) for k in ("mingru", "minlstm", "gru", "lstm")}
        with step_loop():
            loop = {k: step_ms(k, args.hidden, T, args.steps) for k in ("mingru", "minlstm")}
        epoch = {k: v * per_epoch / 1000 for k, v in (s | {f"{k}-loop": v for k, v in loop.items()}).items()}
        print(
            f"| {T} | {epoch['mingru']:.2f} | {epoch['mingru-loop']:.2f} | {epoch['minlstm']:.2f} "
            f"| {epoch['minlstm-loop']:.2f} | {epoch['gru']:.2f} | {epoch['lstm']:.2f} "
            f"| {loop['mingru'] / s['mingru']:.2f}, {loop['minlstm'] / s['minlstm']:.2f} "
            f"| {s['mingru'] / s['gru']:.2f}, {s['minlstm'] / s['lstm']:.2f} |"
        )


if __name__ == "__main__":
    main()
