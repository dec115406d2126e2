"""LISTEN for new inbox and outbox rows, so every replica's workers wake within milliseconds.

The inserting transaction NOTIFYs (a trigger of the schema, `WORK_CHANNEL`; PostgreSQL delivers
it at the commit, so a woken worker finds the row). One connection per `PostgresStorage` listens,
on its own thread, started by the first `watch`: a `serve` process has one, the command line
none. It is outside the pool (a listening connection must stay open) and holds no presence lock.

When the connection is lost (a server restart) the thread reconnects after a short pause, and
wakes every watcher once it listens again: rows added while nobody listened are picked up then,
not at the next poll. Notifications are only hints; the workers' polling stays the fallback.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg

from bot.storage.base import WorkQueue
from bot.storage.postgres.schema import WORK_CHANNEL

log = logging.getLogger(__name__)

POLL = 0.25  # seconds between looks at the stop flag while no notification comes
RECONNECT_PAUSE = 1.0  # seconds between attempts while the server is away


class WorkListener:
    """Calls the watchers of a queue when a NOTIFY names it."""

    def __init__(self, url: str, *, safe_url: str, connect_timeout: int) -> None:
        self._url = url
        self._safe_url = safe_url
        self._connect_timeout = connect_timeout
        self._watchers: dict[str, list[Callable[[], None]]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        # Set while listening (after the wake that follows each LISTEN): tests wait for it.
        self.listening = threading.Event()

    def watch(self, queue: WorkQueue, wake: Callable[[], None]) -> None:
        with self._lock:
            self._watchers.setdefault(queue, []).append(wake)
            if self._thread is None and not self._stopping.is_set():
                self._thread = threading.Thread(
                    target=self._run, name="postgres-listener", daemon=True
                )
                self._thread.start()

    def close(self) -> None:
        self._stopping.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(POLL + self._connect_timeout)

    def _run(self) -> None:
        told = False
        while not self._stopping.is_set():
            try:
                self._listen()
                told = False
            except psycopg.Error as error:
                if not told:  # once per outage, not once per attempt
                    log.warning(
                        "database %s: not listening for new work (%s); polling until it is back",
                        self._safe_url,
                        type(error).__name__,
                    )
                    told = True
            self._stopping.wait(RECONNECT_PAUSE)

    def _listen(self) -> None:
        with psycopg.connect(
            self._url, autocommit=True, connect_timeout=self._connect_timeout
        ) as conn:
            conn.execute(f"LISTEN {WORK_CHANNEL}")
            self._wake(None)  # anything added while nobody listened
            self.listening.set()
            try:
                while not self._stopping.is_set():
                    for note in conn.notifies(timeout=POLL):
                        self._wake(note.payload)
            finally:
                self.listening.clear()

    def _wake(self, queue: str | None) -> None:
        """Wake the watchers of `queue` (None: every watcher)."""
        with self._lock:
            wakes = [
                wake
                for name, watchers in self._watchers.items()
                if queue is None or name == queue
                for wake in watchers
            ]
        for wake in wakes:
            wake()
