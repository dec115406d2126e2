"""Posting and refreshing send cards.

A card is always rendered from the latest stored state (`blocks.card.card_message`), so any
number of refreshes in any order converge on the truth. Refreshes of one card are serialized by a
per-card lock that covers reading the state and the `chat.update`: a later refresh cannot be
overtaken by an earlier one carrying older state.

`refresh(send_id)` is the default `Services.refresh_card`; the inbound work may replace it with
its coalescing, rate-limited outbox (`Services.refresh_card = ...`). A card that cannot be posted
because Slack is down (5xx, 429, unreachable, after the client's retries) goes to that durable
outbox instead, and is posted, showing the state of that moment, when Slack is back.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.blocks.card import card_message
from bot.listeners.common import slack_error

log = logging.getLogger(__name__)


LOCK_STRIPES = 64  # a fixed set of locks (one per card would grow forever)
CARD_POST = "post"  # the outbox's chat.postMessage kind (bot.inbound.outbox.POST)
_TRANSIENT = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


class CardPublisher:
    def __init__(self, services: Any):
        self._services = services
        self._locks = [threading.Lock() for _ in range(LOCK_STRIPES)]

    def _lock(self, send_id: int) -> threading.Lock:
        return self._locks[send_id % LOCK_STRIPES]

    def post(self, send_id: int) -> str | None:
        """Post the card of a recorded send in its channel and remember it. Returns None when
        posted, else Slack's error code (e.g. not_in_channel, channel_not_found)."""
        services = self._services
        with self._lock(send_id):
            send = services.storage.sends.get(send_id)
            try:
                answer = services.slack.chat_postMessage(
                    channel=send.channel, unfurl_links=False, **card_message(send).as_kwargs()
                )
            except SlackApiError as error:
                if _unavailable(error) and self._queue(send_id, send.channel):
                    return None
                return slack_error(error)
            except Exception as error:  # Slack unreachable even after the retries
                log.warning("could not post card of send %s: %s", send_id, error)
                if self._queue(send_id, send.channel):
                    return None
                return f"Slack unreachable: {type(error).__name__}"
            services.storage.sends.attach_card(send_id, answer["channel"], answer["ts"])
            return None

    def _queue(self, send_id: int, channel: str) -> bool:
        """Slack is down: hand the card to the durable outbox (when there is one), which posts
        it, rendered from the state of that moment, once Slack is back; replies and updates
        for the card wait for it there. True when queued."""
        services = self._services
        if getattr(services, "inbound", None) is None:
            return False
        storage = services.storage
        with storage.transaction():
            item = storage.outbox.enqueue(channel, CARD_POST, {"card_of": send_id})
            storage.sends.set_card_item(send_id, item)
        log.warning(
            "Slack is unavailable: the card of send %s will be posted when it is back", send_id
        )
        return True

    def refresh(self, send_id: int) -> None:
        """Show the latest stored state on the card (no card: nothing to do)."""
        services = self._services
        with self._lock(send_id):
            send = services.storage.sends.get(send_id)
            if send is None or not send.card_ts:
                return
            try:
                services.slack.chat_update(
                    channel=send.card_channel, ts=send.card_ts, **card_message(send).as_kwargs()
                )
            except SlackApiError as error:
                log.warning("could not update card of send %s: %s", send_id, slack_error(error))
            except Exception as error:  # Slack unreachable even after the retries
                log.warning("could not update card of send %s: %s", send_id, error)


def _unavailable(error: SlackApiError) -> bool:
    """Slack failed in a way that passes (5xx, rate limited), not a refusal (not_in_channel)."""
    status = getattr(error.response, "status_code", 200)
    return status >= 500 or status == 429 or slack_error(error) in _TRANSIENT


def install(services: Any) -> CardPublisher:
    """Give the services their card publisher and the default `refresh_card`."""
    publisher = CardPublisher(services)
    services.cards = publisher
    if services.refresh_card is None:
        services.refresh_card = publisher.refresh
    return publisher
