"""Many visitors at once: real Streamlit sessions against a local server, without a browser.

Each visitor is one websocket session speaking Streamlit's own protocol (the protobuf BackMsg/ForwardMsg the
browser sends and receives; `websockets` comes with Streamlit): it opens Watch it read, which sends the browser
view its model once, and then presses N ten times. N is answered in the browser (the view runs the model
itself), so those presses send the server nothing: a visitor here sends nothing for them either, and the
Chromium test that pauses the server (SIGSTOP) proves the view needs nothing. A page open's latency runs from
the request to the server's "script finished" message, after every element (the model's bytes too) has been
sent, and until the model files the page links to (explorer.ui.browser_view.view_data) have been fetched over
HTTP, as a browser seeing them for the first time fetches them. A headless browser per visitor would measure
100 Chromiums on 2 cores, not the server.

python bench/load.py                 # first page after a cold start, fresh views, then 1, 30 and 100 at once
python bench/load.py --visitors 5
"""

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from explorer.serving.table import JobTable

ROOT = Path(__file__).resolve().parent.parent
DIGITS = 1000  # bundled test digits
LINK_MAGIC = b"RNXL"  # explorer.ui.browser_view.LINK_MAGIC (importing it would load torch into this client)
BROWSER_ENCODINGS = "gzip, deflate, br, zstd"  # what Chromium sends
FINISHED = {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY}


class Visitor:
    """One browser tab's worth of session: opens a page, reruns it with new widget values."""

    def __init__(self, port: int, page: str):
        self.port, self.page = port, page
        self.ws = None
        self.widgets: dict[str, str] = {}  # user key fragment -> widget id, from the elements the page sent
        self.errors = 0
        self.received = 0  # bytes of every message the server sent

    async def open(self, query: str) -> float:
        self.ws = await websockets.connect(
            f"ws://localhost:{self.port}/_stcore/stream",
            origin=f"http://localhost:{self.port}",
            subprotocols=["streamlit"],
            max_size=None,
        )
        return await self._run(query, [])

    async def set_number(self, key: str, value: int) -> float:
        """Rerun as the browser does when a number box with this key changes."""
        msg = BackMsg()
        state = msg.rerun_script.widget_states.widgets.add()
        state.id = self.widgets[key]
        state.int_value = value
        return await self._run("", list(msg.rerun_script.widget_states.widgets))

    async def _run(self, query: str, widgets: list) -> float:
        msg = BackMsg()
        msg.rerun_script.query_string = query
        msg.rerun_script.page_name = self.page
        msg.rerun_script.widget_states.widgets.extend(widgets)
        start, links = time.perf_counter(), []
        await self.ws.send(msg.SerializeToString())
        while True:
            raw = await self.ws.recv()
            self.received += len(raw)
            reply = ForwardMsg()
            reply.ParseFromString(raw)
            kind = reply.WhichOneof("type")
            if kind == "delta" and reply.delta.WhichOneof("type") == "new_element":
                element = reply.delta.new_element
                which = element.WhichOneof("type")
                if which == "exception":
                    self.errors += 1
                elif which == "number_input":
                    self.widgets[element.number_input.id.rsplit("-", 1)[-1]] = element.number_input.id
                elif which == "bidi_component" and element.bidi_component.bytes[:4] == LINK_MAGIC:
                    links += json.loads(element.bidi_component.bytes[4:])["models"]
            elif kind == "script_finished":
                if reply.script_finished in FINISHED:
                    for link in links:  # a first-time visitor's browser fetches the models the view links to
                        self.received += await asyncio.to_thread(self._get, link["url"])
                    return time.perf_counter() - start
                if reply.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    self.errors += 1
                    return time.perf_counter() - start

    def _get(self, url: str) -> int:
        """GET as a browser does (it accepts gzip: the server may compress on the fly); the bytes on the wire."""
        address = f"http://localhost:{self.port}{url}"
        ask = urllib.request.Request(address, headers={"Accept-Encoding": BROWSER_ENCODINGS})
        with urllib.request.urlopen(ask, timeout=60) as r:
            size = len(r.read())
        if r.status != 200:
            self.errors += 1
        return size

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


class Server:
    """`streamlit run explorer/app.py` on a port, with a home of its own (or `home`: a server restarted on the
    home of one before) and extra environment variables; its CPU time and memory."""

    def __init__(self, port: int, app: str = "explorer/app.py", home: str | None = None, **env: str):
        self.port = port
        self.home = home or tempfile.mkdtemp(prefix="rnn-explorer-load-")
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", app, "--server.headless", "true"]
            + ["--server.port", str(port), "--browser.gatherUsageStats", "false"],
            cwd=ROOT,
            env=dict(os.environ, RNN_EXPLORER_HOME=self.home, **env),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def wait_healthy(self) -> float:
        while True:
            try:
                with urllib.request.urlopen(f"http://localhost:{self.port}/_stcore/health", timeout=1) as r:
                    if r.status == 200:
                        return time.perf_counter() - self.started
            except OSError:
                time.sleep(0.05)

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime, all threads

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        """The server, and the worker processes it started (they outlive a server by design, not a bench)."""
        self.proc.terminate()
        self.proc.wait(10)
        if (Path(self.home) / "jobs.sqlite3").exists():
            for pid in JobTable(Path(self.home) / "jobs.sqlite3").worker_pids():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def percentiles(seconds: list[float]) -> str:
    s = sorted(seconds)
    p = lambda q: s[min(len(s) - 1, round(q * (len(s) - 1)))]  # noqa: E731
    return f"p50 {p(0.5):.2f} s, p95 {p(0.95):.2f} s, max {s[-1]:.2f} s ({len(s)} views)"


async def fresh_views(port: int, n: int, digit: int | None = None) -> tuple[list[float], int]:
    """n visitors one after another, each opening Watch it read on `digit` (None: a random one) and leaving;
    their times and the bytes the server sent each, at most."""
    times, most = [], 0
    for _ in range(n):
        v = Visitor(port, "watch")
        times.append(await v.open(f"digit={random.randrange(DIGITS) if digit is None else digit}"))
        most = max(most, v.received)
        await v.close()
    return times, most


async def crowd(port: int, visitors: int, spread: float, presses: int, page: str = "watch") -> tuple[list, int]:
    """`visitors` sessions arriving within `spread` seconds: each opens Watch it read, then presses N `presses`
    times (answered in the browser: nothing goes to the server) and stays until all have opened."""

    async def one(i: int) -> tuple[float, int, Visitor]:
        await asyncio.sleep(random.uniform(0, spread))
        v = Visitor(port, page)
        opened = await v.open(f"digit={random.randrange(DIGITS)}")
        for _ in range(presses):
            await asyncio.sleep(0.3)  # a press: the browser draws the next digit; the server hears nothing
        return opened, v.errors, v

    results = await asyncio.gather(*(one(i) for i in range(visitors)), return_exceptions=True)
    failed = [r for r in results if isinstance(r, BaseException)]
    done = [r for r in results if not isinstance(r, BaseException)]
    for _, _, v in done:
        await v.close()
    return [r[0] for r in done], sum(r[1] for r in done) + len(failed)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--visitors", type=int, nargs="+", default=[1, 30, 100], help="crowd sizes (default: 1 30 100)")
    p.add_argument("--spread", type=float, nargs="+", default=[2.0, 10.0], help="seconds over which a crowd arrives")
    p.add_argument("--presses", type=int, default=10, help="N presses per visitor (in the browser)")
    p.add_argument("--fresh", type=int, default=10, help="fresh page views for the CPU-per-view figure")
    p.add_argument("--floor", action="store_true", help="only the crowds against a one-line Streamlit page")
    args = p.parse_args()
    random.seed(0)
    if args.floor:
        return floor(args)

    server = Server(args.port)
    try:
        healthy = server.wait_healthy()
        first = asyncio.run(fresh_views(args.port, 1, 0))[0][0]
        print(
            f"first page ready after a server's very first start (a new home): {healthy + first:.2f} s (server up "
            f"{healthy:.2f} s, first Watch it read {first:.2f} s; bench/browser.py times a restart too)"
        )
        for what, digit in (("one shared link (digit 8)", 8), ("a random digit each", None)):
            cpu = server.cpu_seconds()
            views, most = asyncio.run(fresh_views(args.port, args.fresh, digit))
            per_view = (server.cpu_seconds() - cpu) / args.fresh
            print(
                f"fresh page views of {what}, one after another: {percentiles(views)}; server CPU "
                f"{per_view:.3f} s per view; {most / 1e6:.2f} MB sent per view (LSTM-128; target <= 1.5 MB)"
            )
        for n, spread in [(n, s) for s in args.spread for n in args.visitors]:
            cpu, wall = server.cpu_seconds(), time.perf_counter()
            opened, errors = asyncio.run(crowd(args.port, n, spread, args.presses))
            load = (server.cpu_seconds() - cpu) / (time.perf_counter() - wall)
            print(
                f"{n:3d} visitors arriving within {spread:g} s, {args.presses} N presses each: page open "
                f"{percentiles(opened)}; server RSS {server.rss_mb():.0f} MB, CPU {load:.0%} of one core; "
                f"errors {errors} (target: p95 < 1 s at 100, no errors)"
            )
    finally:
        server.stop()


def floor(args) -> None:
    """The crowds against bench/floor_app.py (one st.write): what Streamlit alone costs per page open here."""
    server = Server(args.port, app="bench/floor_app.py")
    try:
        server.wait_healthy()
        asyncio.run(crowd(args.port, 1, 0, 0, page=""))  # the script's first run, out of the figures
        for n, spread in [(n, s) for s in args.spread for n in args.visitors]:
            cpu = server.cpu_seconds()
            opened, errors = asyncio.run(crowd(args.port, n, spread, 0, page=""))
            print(
                f"floor page (one st.write): {n:3d} visitors arriving within {spread:g} s: page open "
                f"{percentiles(opened)}; server CPU {(server.cpu_seconds() - cpu) / n * 1000:.0f} ms per open; "
                f"errors {errors}"
            )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
