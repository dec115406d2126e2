"""The pool for slow work, and what a background worker promises the process.

Slow work (every gateway call, every Slack Web API call made on behalf of a command) runs on the
`WorkExecutor`, never on Bolt's listener threads: Bolt has five of them, and they must stay free
to acknowledge within Slack's 3 seconds whatever the gateway does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

log = logging.getLogger(__name__)

DEFAULT_WORKERS = 32
# Work that needs no gateway (help, contacts, the log, refusals) has a pool of its own: a
# gateway that hangs can fill the main pool with waiting sends, and `/sms help` must still answer.
LOCAL_WORKERS = 4


class Worker(Protocol):
    """A background worker the process depends on (health) and stops on close."""

    name: str

    def alive(self) -> bool: ...

    def stop(self) -> None: ...


class Executor(Worker, Protocol):
    """Where handlers submit slow work (the console counts what is still running)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]: ...


class WorkExecutor:
    """A dedicated pool for slow work: gateway calls and Web API calls after an acknowledgement.

    Failures are logged (a submitted job has nobody waiting on its Future). Gateway calls are
    I/O-bound, so the pool is larger than Bolt's: a slow gateway must not queue every send behind
    a handful of threads.
    """

    name = "work-executor"

    def __init__(self, max_workers: int = DEFAULT_WORKERS, name: str = name):
        self.name = name
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=name)
        self._closed = threading.Event()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future = self._pool.submit(fn, *args, **kwargs)
        future.add_done_callback(_log_failure)
        return future

    def alive(self) -> bool:
        return not self._closed.is_set()

    def stop(self) -> None:
        """Finish the work already accepted (every acknowledged command completes), then stop."""
        self._closed.set()
        self._pool.shutdown(wait=True)


def _log_failure(future: Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        error = future.exception()
        log.error("background job failed", exc_info=(type(error), error, error.__traceback__))
