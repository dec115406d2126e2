"""`/sms log [NUMBER|NAME] [--page N]`: messages in both directions, newest first, 20 a page
(product.md §5). Sends (from Slack, the command line, automatic replies) and inbound SMS are
merged by time; each line knows the thread it belongs to, so the log can link to it, and an
inbound SMS still waiting for Slack (its channel not postable) says so.

Who may see what is the caller's rule: `channel` limits the log to what was sent from, or shown
in, that channel; None (admins' `log all`) shows everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain.records import InboundRecord, LogEntry, Send
from bot.domain.threading import COMMAND_LINE_USER
from bot.storage import Storage

PAGE_SIZE = 20


@dataclass(frozen=True)
class LogLine:
    at: datetime
    inbound: bool
    msisdn: str
    contact_name: str | None
    text: str
    sender: str  # a Slack user ID, "" for an automatic reply, COMMAND_LINE_USER, or "phone"
    state: str  # in plain words
    message_id: str | None  # the gateway's ID of a sent message
    channel: str | None  # where its thread is
    thread_ts: str | None  # None: no thread (yet)
    scheduled_at: datetime | None = None  # a send still waiting for its time


@dataclass(frozen=True)
class LogPage:
    lines: tuple[LogLine, ...]
    page: int
    has_more: bool


def message_log(
    storage: Storage, *, msisdn: str | None, channel: str | None, page: int = 1
) -> LogPage:
    wanted = page * PAGE_SIZE + 1  # one more than this page needs: is there a next one?
    sends = storage.sends.recent_log(msisdn, limit=wanted, channel=channel)
    received = storage.inbound.recent(msisdn, limit=wanted, channel=channel)
    merged = sorted(
        [(e.created_at, "out", e) for e in sends] + [(r.received_at, "in", r) for r in received],
        key=lambda item: item[0],
        reverse=True,
    )
    start = (page - 1) * PAGE_SIZE
    chosen = merged[start : start + PAGE_SIZE]
    threads = _Threads(storage)
    lines = tuple(
        _sent_line(entry, threads)
        if isinstance(entry, LogEntry)
        else _received_line(entry, threads)
        for _, _, entry in chosen
    )
    return LogPage(lines, page, len(merged) > start + PAGE_SIZE)


class _Threads:
    """Where each line's thread is, each send and conversation read once per page."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._sends: dict[int, Send | None] = {}

    def send(self, send_id: int) -> Send | None:
        if send_id not in self._sends:
            self._sends[send_id] = self.storage.sends.get(send_id)
        return self._sends[send_id]

    def of_send(self, send_id: int) -> tuple[str | None, str | None]:
        send = self.send(send_id)
        if send is None:
            return None, None
        if send.thread_ts:  # a relayed reply or an automatic answer in a thread
            return send.card_channel or send.channel, send.thread_ts
        return send.card_channel, send.card_ts  # a card is its thread's root (None: none)

    def of_inbound(self, record: InboundRecord) -> tuple[str | None, str | None]:
        if record.conversation_id is not None:
            conversation = self.storage.conversations.get(record.conversation_id)
            if conversation is not None and conversation.thread_ts:
                return conversation.channel, conversation.thread_ts
        if record.send_id is not None:
            send = self.send(record.send_id)
            if send is not None and send.card_ts:
                return send.card_channel, send.card_ts
        return None, None


def _sent_line(entry: LogEntry, threads: _Threads) -> LogLine:
    channel, thread_ts = threads.of_send(entry.send_id)
    return LogLine(
        at=entry.created_at,
        inbound=False,
        msisdn=entry.msisdn,
        contact_name=entry.contact_name,
        text=entry.text,
        sender=entry.slack_user,
        state=_sent_state(entry),
        message_id=entry.apimsgid,
        channel=channel,
        thread_ts=thread_ts,
        scheduled_at=entry.scheduled_at,
    )


def _sent_state(entry: LogEntry) -> str:
    if entry.error_code or entry.error_description:
        reason = entry.error_description or "not sent"
        return f"{reason} ({entry.error_code})" if entry.error_code else reason
    if entry.status:
        return entry.status_words or f"Status {entry.status}"
    if entry.cancelled_at:
        return "Cancelled"
    if entry.scheduled_at:
        return "Scheduled"
    return "Accepted by the gateway" if entry.apimsgid else "Sending…"


def _received_line(record: InboundRecord, threads: _Threads) -> LogLine:
    channel, thread_ts = threads.of_inbound(record)
    item = threads.storage.outbox.get(record.post_item)
    if item is None or item.state == "done":
        state = "Received, shown in Slack"
    elif item.state == "pending":
        state = "Received, waiting to be posted in Slack"
    else:
        state = "Received, could not be posted in Slack"
    return LogLine(
        at=record.received_at,
        inbound=True,
        msisdn=record.msisdn,
        contact_name=threads.storage.contacts.name_for(record.msisdn),
        text=record.text,
        sender="phone",
        state=state,
        message_id=None,
        channel=channel,
        thread_ts=thread_ts,
    )


def sender_words(sender: str) -> str | None:
    """How the log names a sender that is not a Slack user (None: it is one)."""
    if sender == COMMAND_LINE_USER:
        return "the command line"
    if sender == "":
        return "automatic reply"
    return None
