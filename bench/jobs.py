"""Page views while jobs train: the same Watch it read page opens with the server idle, then while two training
jobs run in their worker processes, in one run; and how long a Stop takes to end a training job.

python bench/jobs.py              # 20 page views each way; two LSTM-128 trainings on the bundled sample
python bench/jobs.py --workers 2  # both jobs train at once (the default pool is half the cores: one here)

A view's latency runs from the request to the server's "script finished" message (bench/load.py's Visitor). The
workers run at a lower priority (nice 10) and one thread each, so page views keep their core.
"""

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import Server, fresh_views

from explorer.serving import tasks
from explorer.serving.jobs import JobManager

OWNERS = ("b0b0b0b0b0b0b0b0", "c0c0c0c0c0c0c0c0")


def views(server: Server, n: int) -> tuple[list[float], float]:
    """n page views one after another: their latencies, and the server's CPU seconds per view."""
    asyncio.run(fresh_views(server.port, 3, 8))  # warm the page's caches
    cpu = server.cpu_seconds()
    times = asyncio.run(fresh_views(server.port, n, 8))[0]
    return times, (server.cpu_seconds() - cpu) / n


def line(label: str, seconds: list[float]) -> str:
    s = sorted(seconds)
    return (
        f"{label:<28} median {1000 * statistics.median(s):6.0f} ms, p95 {1000 * s[round(0.95 * (len(s) - 1))]:6.0f} ms"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=8767)
    p.add_argument("--views", type=int, default=20)
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: the app's, half the cores)")
    args = p.parse_args()
    server = Server(args.port)
    manager = JobManager(Path(server.home), workers=args.workers, ray_address="")
    try:
        server.wait_healthy()
        idle, idle_cpu = views(server, args.views)
        config = dict(model={"kind": "lstm", "hidden_size": 128}, train={"epochs": 20}, source="sample", command="")
        jobs = [
            manager.submit(o, "train", "bench", tasks.TRAIN, config | {"name": f"bench-{i}"}, new_checkpoint=True)
            for i, o in enumerate(OWNERS)
        ]
        training = min(manager.limit, len(jobs))
        while sum(j.running and bool(j.snapshot()) for j in jobs) < training:  # the workers are up and training
            time.sleep(0.2)
        busy, busy_cpu = views(server, args.views)
        assert sum(j.running for j in jobs) == training, "a job ended before the views did: train longer"
        print(line("Watch it read, server idle:", idle) + f", server CPU {1000 * idle_cpu:.0f} ms a view")
        label = f"two jobs, {training} training:"
        print(line(label, busy) + f", server CPU {1000 * busy_cpu:.0f} ms a view ({manager.limit} worker(s))")
        print(f"ratio of medians: {statistics.median(busy) / statistics.median(idle):.2f} (target <= 1.2)")
        asked = time.time()
        for j in jobs:
            manager.stop(j)
        for j in jobs:
            manager.wait(j, 60)
        print(
            f"Stop to a stopped job (two at once, best weights saved): {max(j.finished for j in jobs) - asked:.2f} s "
            "(target < 2 s)"
        )
    finally:
        for j in manager.active():
            manager.stop(j)
        server.stop()


if __name__ == "__main__":
    main()
