"""Conversation threads: where an inbound SMS goes, and the opt-outs and opt-ins it records.

An inbound SMS goes into the thread of the newest card or conversation with its number (7 days),
else it starts a conversation message in SMS_CHANNEL (product.md §6) — also when a bulk message is
newer than either: the new conversation then says which run it answers. All Slack work goes through
the durable outbox; every post about one number shares an `order_key`, so a conversation's root is
posted before its replies and replies keep their order. A reply whose thread root is still in the
outbox names the root item (`thread_root_item`); the outbox resolves it when due.

`ConversationRouter.deliver` only writes to storage: the caller wraps it in the same transaction
that marks the inbox row processed, so an SMS is routed exactly once even across a crash.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.blocks import inbound as blocks
from bot.blocks.base import Message
from bot.domain.keywords import NO_KEYWORD, Keyword, classify_keyword
from bot.domain.outbox import OutboxKind
from bot.domain.records import ThreadRef
from bot.domain.threading import THREAD_WINDOW
from bot.inbound.auto_replies import AutoReplies
from bot.storage import Storage
from bot.usecases.opt_out_cancels import record_opt_out


def order_key(msisdn: str) -> str:
    """Slack posts about one number keep their order (root first, then replies, then notes)."""
    return f"sms:{msisdn}"


def post_payload(
    message: Message,
    *,
    thread_ts: str | None = None,
    root_item: int | None = None,
    literal: bool = False,
) -> dict[str, Any]:
    """The outbox payload of a chat.postMessage. `literal`: the fallback text holds a phone's
    words, so Slack must not format it (mrkdwn off) besides the escaping already done."""
    payload: dict[str, Any] = {"text": message.text, "blocks": message.blocks}
    if literal:
        payload["mrkdwn"] = False
    if thread_ts:
        payload["thread_ts"] = thread_ts
    elif root_item is not None:
        payload["thread_root_item"] = root_item
    return payload


@dataclass(frozen=True)
class InboundSms:
    """A whole inbound SMS (reassembled when it came in parts)."""

    msisdn: str
    text: str
    at: datetime  # when the phone sent it (orders opt-out/opt-in changes)
    missing: blocks.Missing | None = None
    # When it reached us: it answers what the phone had by then, so a card sent after it
    # arrived is not its thread, however late it is processed. None: no such bound.
    received_at: datetime | None = None


@dataclass(frozen=True)
class Delivery:
    """What `deliver` queued: the outbox item id, and whether it started a conversation."""

    item: int
    new_conversation: bool
    opt_change: str | None  # "out" / "in" when the message changed the number's opt-out state


class ConversationRouter:
    """Turns an inbound SMS into conversation state and a queued Slack post."""

    def __init__(
        self,
        storage: Storage,
        channel: str,
        *,
        clock: Callable[[], datetime],
        on_enqueue: Callable[[], None] = lambda: None,
        auto_replies: AutoReplies | None = None,
    ) -> None:
        self.storage = storage
        self.channel = channel
        self.auto_replies = auto_replies
        self.clock = clock
        self.on_enqueue = on_enqueue

    def deliver(self, sms: InboundSms) -> Delivery:
        keyword, notes, change = self._opt_change(sms)
        auto = self.auto_replies.reply_to(keyword, change == "out") if self.auto_replies else None
        if auto is not None:
            notes.append(blocks.auto_reply_note(auto.text))
        contact = self.storage.contacts.name_for(sms.msisdn)
        # As of its arrival: the 7 days, and the sends it can be answering.
        arrived = sms.received_at or self.clock()
        ref = self.storage.conversations.find_thread(
            sms.msisdn, now=arrived, window=THREAD_WINDOW, sent_by=sms.received_at
        )
        message = blocks.sms_message(
            sms.msisdn,
            contact,
            sms.text,
            starts_conversation=ref is None,
            missing=sms.missing,
            notes=[*notes, *self._sender_to_tell(ref), *self._bulk_answered(ref, sms, arrived)],
        )
        if ref is None:
            item, conversation_id, channel = *self._start(sms, message), self.channel
        else:
            item, conversation_id = self._reply(sms, message, ref)
            channel = ref.channel
        self.storage.inbound.record(
            msisdn=sms.msisdn,
            text=sms.text,
            channel=channel,
            post_item=item,
            send_id=None if ref is None else ref.send_id,
            conversation_id=conversation_id,
            at=sms.received_at or arrived,
        )
        if auto is not None and self.auto_replies is not None:
            thread_ts = None if ref is None else ref.thread_ts
            self.auto_replies.send(auto, sms.msisdn, channel, thread_ts, key=str(item))
        self.on_enqueue()
        return Delivery(item, ref is None, change)

    def _opt_change(self, sms: InboundSms) -> tuple[Keyword, list[str], str | None]:
        # An incomplete multi-part SMS is not a keyword: its first word may be missing.
        found = classify_keyword(sms.text) if sms.missing is None else NO_KEYWORD
        word = found.keyword or ""
        if found.is_opt_out:
            if record_opt_out(self.storage, sms.msisdn, word, at=sms.at):
                return found, [blocks.opt_out_note(sms.msisdn, word)], "out"
        elif found.is_opt_in and self.storage.opt_outs.opt_in(sms.msisdn, word, at=sms.at):
            return found, [blocks.opt_in_note(sms.msisdn)], "in"
        return found, [], None

    def _sender_to_tell(self, ref: ThreadRef | None) -> list[str]:
        """The first reply in a card's thread mentions who sent the card: Slack does not tell
        them of replies in a thread the bot started."""
        if ref is None or ref.send_id is None or ref.conversation_id is not None:
            return []
        send = self.storage.sends.get(ref.send_id)
        return [blocks.first_reply_mention(send.slack_user)] if send is not None else []

    def _bulk_answered(
        self, ref: ThreadRef | None, sms: InboundSms, arrived: datetime
    ) -> list[str]:
        """A new conversation may be a reply to a bulk message (newer than any card or
        conversation with the number, so `find_thread` found no thread): say which."""
        if ref is not None:
            return []
        answered = self.storage.bulks.newest_to(
            sms.msisdn, since=arrived - THREAD_WINDOW, until=sms.received_at
        )
        return [] if answered is None else [blocks.bulk_answered_note(answered)]

    def _start(self, sms: InboundSms, message: Message) -> tuple[int, int]:
        """Post `message` at the top level; the conversation's thread is that post's."""
        item = self.storage.outbox.enqueue(
            self.channel,
            OutboxKind.POST,
            post_payload(message, literal=True),
            order_key=order_key(sms.msisdn),
        )
        conversation = self.storage.conversations.start(
            sms.msisdn, self.channel, root_item=item, at=sms.received_at, text=sms.text
        )
        return item, conversation.id

    def _reply(self, sms: InboundSms, message: Message, ref: ThreadRef) -> tuple[int, int | None]:
        """Post `message` in the thread `ref` (its root may still be in the outbox)."""
        payload = post_payload(
            message, thread_ts=ref.thread_ts, root_item=ref.root_item, literal=True
        )
        item = self.storage.outbox.enqueue(
            ref.channel, OutboxKind.POST, payload, order_key=order_key(sms.msisdn)
        )
        conversation_id = ref.conversation_id
        if ref.thread_ts:
            conversation_id = self.storage.conversations.touch(
                ref.channel, ref.thread_ts, sms.msisdn, at=sms.received_at, text=sms.text
            ).id
        elif ref.conversation_id is not None:
            self.storage.conversations.touch_by_id(
                ref.conversation_id, sms.msisdn, at=sms.received_at, text=sms.text
            )
        return item, conversation_id
