"""A clock that moves only when a test says so, in every form the app's parts take time.

The sandbox and `Storage` take a clock returning Unix seconds (`clock` itself, or `seconds`);
the services and the inbound workers take aware UTC datetimes (`utc`). One object serves all of
them, so storage stamps and worker decisions agree on what "now" is.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

START = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC: a fixed, readable moment


class ManualClock:
    """`now` (Unix seconds) moves only by `advance()` or by assigning it."""

    def __init__(self, now: float = START):
        self.now = now

    @classmethod
    def from_wall_clock(cls) -> ManualClock:
        """Frozen at the real time now (for parts that compare with real timestamps)."""
        return cls(time.time())

    def seconds(self) -> float:
        """`now` as the datetime `utc()` gives, back in seconds: a datetime holds microseconds
        only, and a stamp a hair later than the `now` a worker compares it with is not due."""
        return self.utc().timestamp()

    __call__ = seconds

    def utc(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)

    def advance(self, seconds: float) -> None:
        self.now += seconds
