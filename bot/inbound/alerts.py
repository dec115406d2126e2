"""Low-balance alert: one message in SMS_CHANNEL when the credit falls under a threshold.

The watcher asks `getbalance` periodically. Under the threshold it posts one alert (through the
outbox, so it survives Slack being down) and remembers that in storage, so neither the next check
nor a restart repeats it; once the balance is back at or above the threshold the memory is
cleared and a later fall alerts again.

The threshold is SMS_LOW_BALANCE (credits; default 10; 0 turns the alert off), validated with
every other setting in bot.config (`Settings.low_balance`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.blocks import inbound as blocks
from bot.domain.outbox import OutboxKind
from bot.gateway.base import Gateway, GatewayError
from bot.inbound.conversations import post_payload
from bot.inbound.schedule import Every
from bot.storage import Storage

log = logging.getLogger(__name__)

CHECK_INTERVAL = 900.0  # seconds between getbalance calls
_ALERTED = "alerts.low_balance"


class BalanceWatcher:
    def __init__(
        self,
        storage: Storage,
        gateway: Gateway,
        channel: str,
        threshold: float,
        *,
        sandbox: bool,
        interval: float = CHECK_INTERVAL,
        on_enqueue: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.storage = storage
        self.gateway = gateway
        self.channel = channel
        self.threshold = threshold
        self.sandbox = sandbox
        self.interval = interval
        self.on_enqueue = on_enqueue
        self.clock = clock
        # One check per interval across every replica: two checks at once could both see no
        # alert stored yet and both post one.
        self._every = Every(storage, "balance", timedelta(seconds=interval))

    def step(self) -> float:
        if self.threshold > 0 and self._every.due(self.clock()):  # off: no tick to take
            self.check()
        return self.interval

    def check(self) -> bool:
        """Look at the balance once; True when an alert was queued by this check."""
        if self.threshold <= 0:
            return False
        try:
            found = self.gateway.balance()
        except GatewayError as error:
            log.warning("balance check failed: %s", error)
            return False
        balance = found.amount
        alerted = self.storage.values.get(_ALERTED) is not None
        if balance >= self.threshold:
            if alerted:
                self.storage.values.delete(_ALERTED)
            return False
        if alerted:
            return False
        message = blocks.low_balance_alert(balance, self.threshold, self.sandbox, found.currency)
        with self.storage.transaction():
            self.storage.outbox.enqueue(self.channel, OutboxKind.POST, post_payload(message))
            self.storage.values.set(_ALERTED, f"{balance:g}")
        self.on_enqueue()
        return True
