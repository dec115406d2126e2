"""Deferred gateway-side work the outbox brings back when due: handing held scheduled sends to
the gateway (`held` items), cancelling there the scheduled messages of a number that opted out
(`cancel_opted_out` items, `bot.usecases.opt_out_cancels`), and offering "Send again" for
unknown outcomes no report settled (`offer_resend` items).

sms-bot holds a scheduled send itself when the gateway cannot (`bot.usecases.holding`); the
outbox brings the item back at the scheduled time and hands it here. The gateway call runs on
this module's own small pool, so a slow gateway never holds up Slack posting; the item is
completed (and the card refreshed) once the results are stored, or rescheduled when the gateway
could not take it now (nothing was sent).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from bot.domain.outbox import OutboxKind
from bot.domain.records import OutboxItem
from bot.gateway.base import Gateway, NotSent, OutcomeUnknown, Unavailable
from bot.storage import Storage
from bot.usecases.holding import TryLater, hand_over
from bot.usecases.opt_out_cancels import cancel_for_opted_out
from bot.usecases.unsettled import offer_send_again

log = logging.getLogger(__name__)


class HeldSends:
    """The outbox takeover for `held` and `cancel_opted_out` items; a worker (alive/stop) for
    the app's health."""

    name = "held-sends"

    def __init__(
        self,
        storage: Storage,
        gateway: Gateway,
        *,
        clock: Callable[[], datetime],
        refresh_card: Callable[[int], None],
        on_enqueue: Callable[[], None] = lambda: None,
        backoff: float = 5.0,
        pool_size: int = 2,
    ) -> None:
        self.storage = storage
        self.gateway = gateway
        self.clock = clock
        self.refresh_card = refresh_card
        self.on_enqueue = on_enqueue
        self.backoff = backoff
        self._pool = ThreadPoolExecutor(pool_size, thread_name_prefix="held-sends")
        self._running: set[int] = set()
        self._lock = threading.Lock()
        self._closed = threading.Event()

    def alive(self) -> bool:
        return not self._closed.is_set()

    def stop(self) -> None:
        self._closed.set()
        self._pool.shutdown(wait=True)

    def submit(self, item: OutboxItem) -> None:
        """Outbox handler: hand over on the pool; the outbox thread goes on at once."""
        with self._lock:
            if item.id in self._running:
                return
            self._running.add(item.id)
        try:
            self._pool.submit(self._run, item)
        except RuntimeError:  # shutting down: the claim lapses and the item comes back later
            with self._lock:
                self._running.discard(item.id)

    def _run(self, item: OutboxItem) -> None:
        try:
            changed = self._work(item)
        except TryLater as error:
            self._later(item, f"the gateway could not take it now: {error}")
        except (NotSent, Unavailable, OutcomeUnknown) as error:
            self._later(item, f"the gateway did not answer: {error}")
        except Exception as error:
            log.exception("the gateway work of outbox item %s (%s) failed", item.id, item.kind)
            self._later(item, f"{type(error).__name__}: {error}")
        else:
            with self.storage.transaction():
                self.storage.outbox.complete(item)
            for send_id in changed:
                self.refresh_card(send_id)
        finally:
            with self._lock:
                self._running.discard(item.id)

    def _work(self, item: OutboxItem) -> list[int]:
        """Do one item's gateway work; the sends whose cards may show something new."""
        if item.kind == OutboxKind.CANCEL_OPTED_OUT:
            return cancel_for_opted_out(self.storage, self.gateway, str(item.payload["msisdn"]))
        send_id = int(str(item.payload["send_id"]))
        hand_over(self.storage, self.gateway, send_id)
        return [send_id]

    def _later(self, item: OutboxItem, reason: str) -> None:
        delay = min(300.0, self.backoff * 2 ** min(item.attempts, 10))
        not_before = self.clock() + timedelta(seconds=delay)
        self.storage.outbox.reschedule(item, not_before, error=reason[:500])
        self.on_enqueue()


class ResendOffers:
    """The outbox takeover for `offer_resend` items: a few database writes, done at once on the
    outbox's own thread; the card is refreshed when it now offers "Send again"."""

    def __init__(self, storage: Storage, refresh_card: Callable[[int], None]) -> None:
        self.storage = storage
        self.refresh_card = refresh_card

    def submit(self, item: OutboxItem) -> None:
        send_id = int(str(item.payload["send_id"]))
        with self.storage.transaction():
            offered = offer_send_again(self.storage, send_id)
            self.storage.outbox.complete(item)
        if offered:
            self.refresh_card(send_id)
