"""A thread reply on a card with several recipients waits for a person's choice (product.md §6).

The bot asks in the thread, with one button per number that texted in and one for all the card's
recipients, and texts nothing until a button is pressed. The reply waits in the database (a named
value, written in the same transaction that claimed the Slack message), so a restart loses
nothing. The choice is taken once: the first click claims the reply and queues its sends in one
transaction; a second click, another person's, or Slack redelivering the click finds it gone and
sends nothing. Numbers that opted out meanwhile are skipped and named.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from bot.blocks.base import Message
from bot.blocks.reply_choice import EVERYONE, choice_made, choice_question
from bot.domain.outbox import OutboxKind
from bot.domain.records import ThreadInfo
from bot.inbound.conversations import post_payload
from bot.storage import Storage

log = logging.getLogger(__name__)

_PENDING = "relay.choice.{}:{}"


@dataclass(frozen=True)
class PendingReply:
    """A reply waiting for its choice: what to text, from whom, in which thread."""

    channel: str
    ts: str  # the person's message
    thread_ts: str
    user: str
    text: str
    everyone: tuple[str, ...]  # the card's recipients
    texted_in: tuple[str, ...]  # the numbers that texted into the thread (the buttons)

    def to_json(self) -> str:
        return json.dumps(
            {**self.__dict__, "everyone": list(self.everyone), "texted_in": list(self.texted_in)}
        )

    @classmethod
    def from_json(cls, raw: str) -> PendingReply:
        data = json.loads(raw)
        return cls(
            channel=str(data["channel"]),
            ts=str(data["ts"]),
            thread_ts=str(data["thread_ts"]),
            user=str(data["user"]),
            text=str(data["text"]),
            everyone=tuple(data["everyone"]),
            texted_in=tuple(data["texted_in"]),
        )


@dataclass(frozen=True)
class Chosen:
    """What a click did: `outcome` is "queued", "gone" (already sent or never asked),
    "not_yours" or "nobody" (every chosen number opted out)."""

    outcome: str
    message: Message | None = None
    send_id: int | None = None
    skipped: tuple[str, ...] = ()


Queue = Callable[[PendingReply, tuple[str, ...]], int]  # queue the sends; returns the send id


class ReplyChoice:
    def __init__(self, storage: Storage, *, is_admin: Callable[[str], bool]) -> None:
        self.storage = storage
        self.is_admin = is_admin

    @staticmethod
    def needed(info: ThreadInfo) -> bool:
        """A card's thread with more than one recipient: who gets a reply is a person's call."""
        return info.send_id is not None and len(info.recipients) > 1

    def ask(self, channel: str, ts: str, user: str, text: str, info: ThreadInfo) -> None:
        """Keep the reply and post the question in the thread; inside the caller's transaction."""
        texted_in = tuple(self.storage.inbound.texted_in(info.send_id, info.conversation_id))
        if info.last_msisdn and info.last_msisdn not in texted_in:
            texted_in += (info.last_msisdn,)  # texted in before inbound SMS were kept
        pending = PendingReply(channel, ts, info.thread_ts, user, text, info.recipients, texted_in)
        self.storage.values.set(_PENDING.format(channel, ts), pending.to_json())
        names = self.storage.contacts.names_for(list(texted_in))
        question = choice_question(
            channel, ts, text, [(m, names.get(m)) for m in texted_in], len(info.recipients)
        )
        self.storage.outbox.enqueue(
            channel, OutboxKind.POST, post_payload(question, thread_ts=info.thread_ts)
        )

    def choose(self, channel: str, ts: str, target: str, user: str, queue: Queue) -> Chosen:
        """Send the waiting reply to `target` (a number, or EVERYONE), once."""
        key = _PENDING.format(channel, ts)
        raw = self.storage.values.get(key)
        if raw is None:
            return Chosen("gone")
        pending = PendingReply.from_json(raw)
        if user != pending.user and not self.is_admin(user):
            return Chosen("not_yours")
        wanted = pending.everyone if target == EVERYONE else (target,)
        if target != EVERYONE and target not in pending.texted_in + pending.everyone:
            return Chosen("gone")
        with self.storage.transaction():
            if not self.storage.claims.claim(f"relay-choice:{channel}:{ts}"):
                return Chosen("gone")
            self.storage.values.delete(key)
            skipped = tuple(m for m in wanted if self.storage.opt_outs.is_opted_out(m))
            numbers = tuple(m for m in wanted if m not in skipped)
            names = self.storage.contacts.names_for(list(wanted))
            answer = choice_made([(m, names.get(m)) for m in numbers], skipped, user)
            send_id = queue(pending, numbers) if numbers else None
            payload = post_payload(answer, thread_ts=pending.thread_ts)
            self.storage.outbox.enqueue(channel, OutboxKind.POST, payload)
        return Chosen("queued" if numbers else "nobody", answer, send_id, skipped)
