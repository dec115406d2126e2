"""A background loop thread: the shape shared by the inbox processor, the outbox sender and the
balance watcher.

`step()` does whatever is due now and returns how long the loop may sleep before the next call;
`wake()` cuts that sleep short (a new inbox row, a new outbox item). A step that raises is logged
and retried after `error_pause`: a worker never dies of one bad row or one network failure, and
/healthz reports a worker whose thread ended.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable

log = logging.getLogger(__name__)


class Rest(float):
    """A pause `wake()` does not cut short (a worker yielding the CPU on purpose); `stop()`
    still does."""


class LoopWorker:
    """Runs `step` on its own daemon thread until `stop()`."""

    def __init__(
        self,
        name: str,
        step: Callable[[], float],
        *,
        max_pause: float = 1.0,
        error_pause: float = 1.0,
    ) -> None:
        self.name = name
        self._step = step
        self._max_pause = max_pause
        self._error_pause = error_pause
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> LoopWorker:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        failures = _Failures(self.name)
        while not self._stopping.is_set():
            try:
                pause = self._step()
                failures.cleared()
            except Exception as error:
                failures.log(error, self._error_pause)
                pause = self._error_pause
            if self._stopping.is_set():
                break
            if isinstance(pause, Rest):
                self._stopping.wait(max(0.0, min(pause, self._max_pause)))
                continue
            # Clear before waiting only when there is nothing left: a wake() that arrived during
            # the step must not be lost, so the event is cleared after it was observed.
            if self._wake.wait(max(0.0, min(pause, self._max_pause))):
                self._wake.clear()


class _Failures:
    """Logs a worker's failing steps without flooding the log while a cause lasts (a database
    outage fails every step for as long as it lasts): the traceback of the first failure of each
    kind (its type and the line that raised it, so a message carrying an ID does not count as a
    new kind), a line at the 2nd, 4th, 8th ... failure in a row, and a line when a step works
    again."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.in_a_row = 0
        self._kinds: set[str] = set()

    def log(self, error: Exception, retry_in: float) -> None:
        self.in_a_row += 1
        kind = _kind(error)
        if kind not in self._kinds:
            self._kinds.add(kind)
            log.exception("%s: step failed; retrying in %.1fs", self.name, retry_in)
        elif self.in_a_row & (self.in_a_row - 1) == 0:  # a power of two
            log.warning(
                "%s: %d steps in a row failed; the last: %s: %s",
                self.name,
                self.in_a_row,
                type(error).__name__,
                error,
            )

    def cleared(self) -> None:
        if self.in_a_row:
            log.warning("%s: working again after %d failed step(s)", self.name, self.in_a_row)
        self.in_a_row = 0
        self._kinds.clear()


def _kind(error: Exception) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
    return f"{type(error).__name__} at {where}"
