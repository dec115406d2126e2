"""Scheduled work that runs once per tick across every replica on one database.

Each job has a slot in storage (`Storage.slots`, key `job.<name>`): the first replica to find
it free takes it for one interval and runs the job; the others find it taken and skip that
tick. The slot is a lease: a replica that dies mid-job leaves it to whoever comes next tick,
and no coordinator process is needed. A local timer in front spares the database a round trip
on every pass of a busy worker loop.

The jobs: the inbox processor's sweep of multi-part SMS whose parts never came and its pruning
of old rows, and the balance watcher's check. Other scheduled work is already handed out once
by the outbox's claims (held scheduled sends, the unknown-outcome "Send again" offers: outbox
items taken by one replica each) or by instance liveness (settling sends a dead replica cut
off: `bot.usecases.settling`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.storage import Storage

JOB = "job."


class Every:
    """A job due every `interval`, run by one replica per tick."""

    def __init__(self, storage: Storage, name: str, interval: timedelta) -> None:
        self.storage = storage
        self.key = JOB + name
        self.interval = interval
        self._next: datetime | None = None  # this replica asks no sooner than this

    def due(self, now: datetime) -> bool:
        """True when this replica should run the job now (it took the tick); at most once per
        interval across every replica on the database."""
        return self.ripe(now) and self.take(now)

    def ripe(self, now: datetime) -> bool:
        """This replica's own timer: time to ask for the tick (and then not again for one
        interval). A job that first looks whether it has anything to do asks only then, so an
        idle database is not written to."""
        if self._next is not None and now < self._next:
            return False
        self._next = now + self.interval
        return True

    def take(self, now: datetime) -> bool:
        """Take this tick for this replica; False when another replica has it."""
        return self.storage.slots.take({self.key: self.interval}, now=now) is None
