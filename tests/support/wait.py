"""Wait on a condition instead of sleeping for a guessed time."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float = 10.0, what: str = "condition") -> T:
    """Poll `predicate` until it returns something truthy (returned), or fail after `timeout`.

    The poll interval is short and grows a little; the timeout is generous on purpose (a loaded
    CI box must not fail a test that would pass), and a passing test never waits for it.
    """
    pause = threading.Event()
    deadline = time.monotonic() + timeout
    interval = 0.002
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        pause.wait(interval)
        interval = min(interval * 2, 0.05)
