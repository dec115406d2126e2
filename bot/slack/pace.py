"""Slack's pace, shared by every replica on one database, for every Slack write.

Slack takes about one message a second per channel (chat.postMessage) and asks, with a 429 and
Retry-After, for a pause when that is passed. The pace is kept in the database
(`Storage.slots`, one row per channel, key `slack.channel:<id>`; one per card for its updates,
`slack.card:<id>`), so replicas count together. The outbox takes a slot before each write and
reschedules an item whose channel is paced (bot/inbound/outbox.py). Writes made on a worker
thread outside the outbox (a command's card, a reply to a person) use `SlackPace`: they wait
for the channel's slot, but only for `max_wait` (3 s by default), so an answer is never held
long; what happens after that bound is the caller's choice (the card goes to the outbox, a
reply is posted anyway and its slot recorded). A 429 on any write holds the channel for what
Retry-After says, for every replica (`hold_rate_limited`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from slack_sdk.errors import SlackApiError

from bot.slack.errors import is_rate_limited, retry_after
from bot.storage import Storage

log = logging.getLogger(__name__)

CHANNEL_PACE = "slack.channel:"  # a channel's next free moment for a Slack write
CARD_PACE = "slack.card:"  # a card's next free moment for an update
POST_INTERVAL = 1.0  # seconds between Slack writes in one channel
MAX_WAIT = 3.0  # longest a direct write waits for its channel's slot


def channel_key(channel: str) -> str:
    return CHANNEL_PACE + channel


def hold_rate_limited(
    storage: Storage, channel: str, error: SlackApiError, now: datetime
) -> float | None:
    """When `error` is Slack's 429, keep `channel` taken for what Retry-After asks, for every
    replica, and return those seconds; None for any other error."""
    if not is_rate_limited(error):
        return None
    delay = retry_after(getattr(error.response, "headers", None))
    storage.slots.hold(channel_key(channel), now + timedelta(seconds=delay))
    return delay


class SlackPace:
    """The shared per-channel pace for Slack writes made outside the outbox."""

    def __init__(
        self,
        storage: Storage,
        clock: Callable[[], datetime],
        *,
        interval: float = POST_INTERVAL,
        max_wait: float = MAX_WAIT,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.storage, self.clock, self.sleep = storage, clock, sleep
        self.interval = timedelta(seconds=interval)
        self.max_wait = max_wait

    def wait_turn(self, channel: str) -> bool:
        """Take `channel`'s next slot, waiting for it (sleeping on this thread) at most
        `max_wait` seconds in all; False, with nothing taken, when it is not free by then."""
        waited = 0.0
        while True:
            wait = self.storage.slots.take({channel_key(channel): self.interval}, now=self.clock())
            if wait is None:
                return True
            seconds = wait.total_seconds()
            if waited + seconds > self.max_wait:
                return False
            self.sleep(seconds)
            waited += seconds

    def record(self, channel: str) -> None:
        """A write made without waiting its turn still counts: the channel is taken for one
        interval from now, so the other replicas' next write leaves room after it."""
        self.storage.slots.hold(channel_key(channel), self.clock() + self.interval)

    def refused(self, channel: str, error: SlackApiError) -> None:
        """A direct write failed: when Slack said 429, hold the channel for every replica."""
        delay = hold_rate_limited(self.storage, channel, error, self.clock())
        if delay is not None:
            log.warning("Slack rate-limited %s: held %.1f s for every replica", channel, delay)
