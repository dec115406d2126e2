"""A word in the channel when inbound SMS queue up behind Slack's pacing.

Slack takes about one message a second per channel, so a flood into SMS_CHANNEL (17 new
conversations a second for five minutes) waits in the outbox for many minutes, and until now
nobody was told. `BacklogNotice` looks at the outbox every 2 seconds; when a channel's waiting
posts pass the threshold it asks the outbox worker to post ONE summary there at once, ahead of
the queue ("N new SMS are waiting; the newest …"). It does not say it again until that backlog
has drained below half the threshold. What is waiting is also in /healthz, as a degradation
that does not fail the probe.

Once across replicas: "this backlog was told" is a slot in storage (`Storage.slots`, key
`backlog.told:<channel>`), taken by the one replica that tells it, and renewed (for
`TOLD_CHECKS` checks) by every replica's check while the backlog lingers above half the
threshold. Once it has drained nobody renews it, it lapses, and the next backlog is told again.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from bot.domain.outbox import OutboxKind
from bot.domain.records import Backlog
from bot.storage import Storage

BACKLOG_THRESHOLD = 30  # waiting posts in one channel: half a minute behind at one a second
CHECK_EVERY = timedelta(seconds=2)
TOLD = "backlog.told:"  # slot key prefix: a backlog some replica has told
TOLD_CHECKS = 5  # the told mark outlives this many missed checks (a replica paused or gone)


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
        self.told_lease = every * TOLD_CHECKS
        self._waiting: dict[str, int] = {}
        self._lock = threading.Lock()

    def waiting(self) -> dict[str, int]:
        """Channels with a backlog at the last look, and how many posts wait there."""
        with self._lock:
            return dict(self._waiting)

    def to_tell(self, now: datetime) -> list[Backlog]:
        """The backlogs this replica is to post a summary about now: at most one per backlog
        across every replica on the database (the caller posts each one it is given)."""
        if self._next_check is not None and now < self._next_check:
            return []
        self._next_check = now + self.every
        found = self.storage.outbox.backlogs(OutboxKind.POST, max(1, self.threshold // 2))
        over = {b.channel: b for b in found if b.waiting >= self.threshold}
        with self._lock:
            self._waiting = {b.channel: b.waiting for b in over.values()}
        lingering = {b.channel for b in found}  # still above half the threshold
        told = self.storage.slots.busy(TOLD, now)
        for key in told:
            if key.removeprefix(TOLD) in lingering:  # the same backlog: keep it told
                self.storage.slots.hold(key, now + self.told_lease)
        return [
            backlog
            for channel, backlog in over.items()
            if TOLD + channel not in told and self._take_telling(channel, now)
        ]

    def _take_telling(self, channel: str, now: datetime) -> bool:
        """Mark `channel`'s backlog told; False when another replica marked it first."""
        return self.storage.slots.take({TOLD + channel: self.told_lease}, now) is None
