"""Posting a send's card in Slack.

A card is rendered from the latest stored state (`blocks.card.card_message`) when it is posted;
every later change reaches it through the outbox's coalescing, paced card updates, also rendered
from storage, so updates in any order converge on the truth.

A card that cannot be posted because Slack is down (5xx, 429, unreachable, after the client's
retries) goes to the durable outbox instead, and is posted, showing the state of that moment, when
Slack is back; updates for it wait there until it has its ts.

The card waits its turn in the channel's pace shared by every replica (bot/slack/pace.py). It is
posted on the work executor after the command's ack, so a short wait is harmless; a channel
paced longer than `SlackPace.max_wait` (3 s: a 429's Retry-After, a flood) hands the card to the
outbox as well, which posts it in the channel's next free slot. A 429 holds the channel for
every replica.
"""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks.card import card_message
from bot.domain.outbox import OutboxKind
from bot.slack.errors import error_code, is_transient
from bot.slack.pace import SlackPace
from bot.storage import Storage

log = logging.getLogger(__name__)


class CardPublisher:
    def __init__(self, storage: Storage, slack: WebClient, pace: SlackPace):
        self._storage = storage
        self._slack = slack
        self._pace = pace

    def post(self, send_id: int) -> str | None:
        """Post the card of a recorded send in its channel and remember it. Returns None when
        posted (or queued until Slack is back), else Slack's error code (e.g. not_in_channel)."""
        send = self._storage.sends.get(send_id)
        if send is None:
            return "the send is gone"
        if not self._pace.wait_turn(send.channel):
            self._queue(send_id, send.channel, "its channel is paced")
            return None
        try:
            answer = self._slack.chat_postMessage(
                channel=send.channel, unfurl_links=False, **card_message(send).as_kwargs()
            )
        except SlackApiError as error:
            self._pace.refused(send.channel, error)
            if is_transient(error):
                self._queue(send_id, send.channel, "Slack is unavailable")
                return None
            return error_code(error)
        except Exception as error:  # Slack unreachable even after the retries
            log.warning("could not post card of send %s: %s", send_id, error)
            self._queue(send_id, send.channel, "Slack is unavailable")
            return None
        self._storage.sends.attach_card(send_id, answer["channel"], answer["ts"])
        return None

    def _queue(self, send_id: int, channel: str, why: str) -> None:
        """Slack is down or the channel paced: hand the card to the durable outbox, which posts
        it once Slack is back, in the channel's turn; replies and updates wait for it there."""
        storage = self._storage
        with storage.transaction():
            item = storage.outbox.enqueue(channel, OutboxKind.POST, {"card_of": send_id})
            storage.sends.set_card_item(send_id, item)
        log.warning("%s: the card of send %s goes to the outbox, posted in its turn", why, send_id)
