"""Timed events on an injected clock: a heap of plain-data events and, optionally, a background
thread that runs them when due.

Events are data (a kind and a JSON-able payload), not closures, so pending work survives in the
state file. With a fake clock a test calls `run_due()` after moving time and everything happens
synchronously, in due order and, for equal times, in the order scheduled.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

# The autorun thread never sleeps longer than this, so an injected clock that jumps (or a
# shifted offset) is noticed promptly even when nobody calls notify().
MAX_IDLE_WAIT = 0.2

Handler = Callable[[Mapping[str, Any]], None]


@dataclass(frozen=True)
class Event:
    due: float
    kind: str
    data: Mapping[str, Any]


class Scheduler:
    def __init__(self, clock: Callable[[], float]):
        self._clock = clock
        self._heap: list[tuple[float, int, Event]] = []
        self._order = itertools.count()
        self._handlers: dict[str, Handler] = {}
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._running = threading.Lock()  # one runner at a time: thread or test
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._current: Event | None = None  # the event being run

    def register(self, kind: str, handler: Handler) -> None:
        self._handlers[kind] = handler

    def schedule(self, due: float, kind: str, data: Mapping[str, Any]) -> None:
        if kind not in self._handlers:
            raise ValueError(f"no handler for event kind {kind!r}")
        with self._wake:
            heapq.heappush(self._heap, (due, next(self._order), Event(due, kind, dict(data))))
            self._wake.notify()

    def pending(self) -> list[Event]:
        """Events not yet run, in due order (the one running now is not among them)."""
        with self._lock:
            return [event for _, _, event in sorted(self._heap)]

    def busy_within(self, horizon: float) -> list[Event]:
        """The event running now (if any) and those due within `horizon` seconds: what a caller
        waiting for the sandbox to settle still has to wait for."""
        with self._lock:
            limit = self._clock() + horizon
            due = [event for _, _, event in sorted(self._heap) if event.due <= limit]
            return [self._current, *due] if self._current is not None else due

    def _pop_due(self) -> Event | None:
        """The next due event, which becomes the current one; None (and no current) if none."""
        with self._lock:
            self._current = None
            if self._heap and self._heap[0][0] <= self._clock():
                self._current = heapq.heappop(self._heap)[2]
            return self._current

    def run_due(self) -> int:
        """Run every event due now, including those that running events schedule for now.
        Returns how many ran. A failing handler is logged, never fatal."""
        count = 0
        with self._running:
            while (event := self._pop_due()) is not None:
                count += 1
                try:
                    self._handlers[event.kind](event.data)
                except Exception:
                    log.exception("sandbox event %s failed", event.kind)
        return count

    def notify(self) -> None:
        with self._wake:
            self._wake.notify()

    # background thread ------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="sandbox-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _loop(self) -> None:
        while True:
            self.run_due()
            with self._wake:
                if self._stopping:
                    return
                wait = MAX_IDLE_WAIT
                if self._heap:
                    wait = min(max(self._heap[0][0] - self._clock(), 0.0), MAX_IDLE_WAIT)
                if wait > 0:
                    self._wake.wait(wait)

    # persistence ------------------------------------------------------------------------------
    def snapshot(self) -> list[dict[str, Any]]:
        return [{"due": e.due, "kind": e.kind, "data": dict(e.data)} for e in self.pending()]

    def restore(self, events: list[dict[str, Any]]) -> None:
        try:
            for item in events:
                self.schedule(float(item["due"]), str(item["kind"]), dict(item["data"]))
        except (KeyError, TypeError, ValueError):
            raise ValueError("its events are malformed") from None
