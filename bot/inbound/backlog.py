"""A word in the channel when inbound SMS queue up behind Slack's pacing.

Slack takes about one message a second per channel, so a flood into SMS_CHANNEL (17 new
conversations a second for five minutes) waits in the outbox for many minutes, and until now
nobody was told. `BacklogNotice` looks at the outbox every 2 seconds; when a channel's waiting
posts pass the threshold it asks the outbox worker to post ONE summary there at once, ahead of
the queue ("N new SMS are waiting; the newest …"). It does not say it again until that backlog
has drained below half the threshold. What is waiting is also in /healthz, as a degradation
that does not fail the probe.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from bot.domain.outbox import OutboxKind
from bot.domain.records import Backlog
from bot.storage import Storage

BACKLOG_THRESHOLD = 30  # waiting posts in one channel: half a minute behind at one a second
CHECK_EVERY = timedelta(seconds=2)


class BacklogNotice:
    """Which channels to tell about their backlog; the outbox worker posts the summaries."""

    def __init__(
        self,
        storage: Storage,
        *,
        threshold: int = BACKLOG_THRESHOLD,
        every: timedelta = CHECK_EVERY,
    ) -> None:
        self.storage = storage
        self.threshold = threshold
        self.every = every
        self._next_check: datetime | None = None
        self._told: set[str] = set()  # channels told about the backlog they still have
        self._waiting: dict[str, int] = {}
        self._lock = threading.Lock()

    def waiting(self) -> dict[str, int]:
        """Channels with a backlog at the last look, and how many posts wait there."""
        with self._lock:
            return dict(self._waiting)

    def to_tell(self, now: datetime) -> list[Backlog]:
        """The backlogs to post a summary about now (at most one per backlog)."""
        if self._next_check is not None and now < self._next_check:
            return []
        self._next_check = now + self.every
        found = self.storage.outbox.backlogs(OutboxKind.POST, max(1, self.threshold // 2))
        over = {b.channel: b for b in found if b.waiting >= self.threshold}
        with self._lock:
            self._waiting = {b.channel: b.waiting for b in over.values()}
        lingering = {b.channel for b in found}  # still above half the threshold
        self._told &= lingering
        return [b for channel, b in over.items() if channel not in self._told]

    def told(self, channel: str) -> None:
        self._told.add(channel)
