"""Wait on a condition instead of sleeping for a guessed time: the stand-in's wait_until
(bot/console/slack_standin.py), with the tests' defaults."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from bot.console.slack_standin import wait_until

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float = 10.0, what: str = "condition") -> T:
    """Poll `predicate` until it returns something truthy (returned), or fail after `timeout`.

    The timeout is generous on purpose (a loaded CI box must not fail a test that would pass),
    and a passing test never waits for it.
    """
    return wait_until(predicate, timeout, what)
