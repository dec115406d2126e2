"""The app's memory, from outside its process: RSS samples (with the backlog) every few seconds
and their slope, and under `--trace-memory` two tracemalloc snapshots of the app — when the
second half of the load starts and when the load ends — and the allocation sites that grew in
between, each with the app's own line that called it.

The traced app (bench/_traced_app.py) writes a snapshot when a `<name>.request` file appears in
its trace directory: a file rather than a signal, so the app's own SIGTERM handling stays as is.
"""

from __future__ import annotations

import statistics
import threading
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.storage import StorageError
from bot.testing.process import ServedApp
from bot.testing.state import AppState

ROOT = Path(__file__).resolve().parents[2]


class AppMemory:
    """The served app's resident memory (with several replicas: their sum, and each one's), and
    its Python allocations when it runs traced (one replica only)."""

    def __init__(self, apps: Sequence[ServedApp], trace_dir: Path | None) -> None:
        self.apps, self.trace_dir = list(apps), trace_dir
        self.app = self.apps[0]

    def rss_kib(self) -> int | None:
        each = self.each_kib()
        return None if any(kib is None for kib in each) else sum(k for k in each if k)

    def each_kib(self) -> list[int | None]:
        return [_rss_kib(app.pid) for app in self.apps]

    def snapshot(self, name: str, timeout: float = 300.0) -> tracemalloc.Snapshot:
        """Every live Python allocation of the app now (only when it runs traced)."""
        assert self.trace_dir is not None, "the app runs without tracemalloc"
        (self.trace_dir / f"{name}.request").touch()
        answer = self.trace_dir / f"{name}.tm"
        deadline = time.monotonic() + timeout
        while not answer.exists():
            if time.monotonic() > deadline or self.app.process.poll() is not None:
                raise RuntimeError(f"the app wrote no memory snapshot: {self.app.log_tail()}")
            time.sleep(0.2)
        return tracemalloc.Snapshot.load(str(answer))


def _rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


@dataclass(frozen=True)
class Sample:
    at: float  # seconds since the load started
    rss_kib: int
    inbox: int
    outbox: int
    connections: int = -1  # sessions on the database (PostgreSQL), -1 when not counted


class Sampler(threading.Thread):
    """The app's RSS and backlog every `sample` seconds; a progress line every minute."""

    def __init__(
        self,
        memory: AppMemory,
        state: AppState,
        started: float,
        interval: float,
        progress: Callable[[Sample], None],
        connections: Callable[[], int] | None = None,
    ):
        super().__init__(name="sampler", daemon=True)
        self.memory, self.state = memory, state
        self.started, self.interval = started, interval
        self.progress = progress
        self.connections = connections
        self.samples: list[Sample] = []
        self.stop = threading.Event()

    def take(self) -> Sample | None:
        rss = self.memory.rss_kib()
        if rss is None:
            return None
        try:
            inbox, outbox = self.state.backlog()
        except StorageError:
            inbox = outbox = -1
        sessions = self._sessions()
        sample = Sample(time.perf_counter() - self.started, rss, inbox, outbox, sessions)
        self.samples.append(sample)
        return sample

    def _sessions(self) -> int:
        if self.connections is None:
            return -1
        try:
            return self.connections()
        except Exception:  # the database away for a moment: not counted this time
            return -1

    def run(self) -> None:
        next_line = 60.0  # the start was printed already
        while not self.stop.wait(self.interval):
            sample = self.take()
            if sample is not None and sample.at >= next_line:
                self.progress(sample)
                next_line += 60.0


class MemoryGrowth(threading.Thread):
    """`--trace-memory`: snapshots of the app's Python allocations when the second half of the
    load begins and when it ends; `sites()` names what grew in between, where it was allocated."""

    def __init__(self, memory: AppMemory, half_way: float, stop: threading.Event) -> None:
        super().__init__(name="memory-growth", daemon=True)
        self.memory, self.half_way, self.stop = memory, half_way, stop
        self.first: tracemalloc.Snapshot | None = None

    def run(self) -> None:
        if not self.stop.wait(max(0.0, self.half_way - time.perf_counter())):
            self.first = self.memory.snapshot("half-way")

    def sites(self, top: int = 12) -> list[str]:
        self.join()
        if self.first is None:
            return ["  (the load ended before its second half: no memory snapshots)"]
        return growth_sites(self.first, self.memory.snapshot("end-of-load"), top)


def growth_sites(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, top: int) -> list[str]:
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
    stats = after.filter_traces(ignore).compare_to(before.filter_traces(ignore), "traceback")
    total = sum(s.size_diff for s in stats) / 1024
    lines = [
        f"  Python allocations (tracemalloc) over the second half of the load: {total:+.0f} KiB "
        f"in {sum(s.count_diff for s in stats):+d} blocks; the {top} sites that grew most:"
    ]
    by_site: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])  # size, blocks
    for stat in stats:  # whole tracebacks, summed by what `where` shows
        site = by_site[where(stat.traceback)]
        site[0] += stat.size_diff
        site[1] += stat.count_diff
    for name, (size, blocks) in sorted(by_site.items(), key=lambda s: s[1][0], reverse=True)[:top]:
        lines.append(f"    {size / 1024:+7.1f} KiB {blocks:+6d} blocks  {name}")
    return lines


def where(traceback: tracemalloc.Traceback) -> str:
    """The allocating line and the app's nearest other line above it (who keeps it, usually)."""
    frames = list(traceback)  # oldest first

    def name(frame: tracemalloc.Frame) -> str:
        path = Path(frame.filename)
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
        return f"{shown}:{frame.lineno}"

    allocated = name(frames[-1])
    callers = [name(f) for f in frames[:-1] if Path(f.filename).is_relative_to(ROOT / "bot")]
    callers = [c for c in callers if c != allocated]
    return f"{allocated} (from {callers[-1]})" if callers else allocated


def slope_kib_per_minute(samples: list[Sample]) -> float:
    """Least-squares slope of RSS over time."""
    if len(samples) < 2:
        return 0.0
    xs = [s.at / 60.0 for s in samples]
    ys = [float(s.rss_kib) for s in samples]
    return statistics.linear_regression(xs, ys).slope


def mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"
