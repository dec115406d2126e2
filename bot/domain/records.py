"""The bot's durable records as plain data: what storage hands out and takes in.

These are values, not database rows: every backend builds the same records, so the code above
storage never learns which database it talks to. Times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeAlias

from bot.domain.delivery import DeliveryState, DeliveryStatus

CallbackKind = Literal["status", "mo"]
CALLBACK_KINDS: tuple[CallbackKind, ...] = ("status", "mo")
OutboxState = Literal["pending", "done", "failed"]

# What an outbox payload may hold: it is stored as JSON, so only JSON's own types survive.
JsonValue: TypeAlias = (
    str | int | float | bool | list["JsonValue"] | Mapping[str, "JsonValue"] | None
)
JsonObject: TypeAlias = Mapping[str, JsonValue]


# --------------------------------------------------------------------------- sends


@dataclass(frozen=True)
class NewRecipient:
    """One recipient as handed to `sends.record`. `apimsgid` is None until the gateway answered
    (or when it refused this recipient: then `error_code`/`error_description` say why)."""

    msisdn: str
    climsgid: str
    contact_name: str | None = None
    apimsgid: str | None = None
    error_code: str | None = None
    error_description: str | None = None
    text: str | None = None  # this recipient's own text (a personalised template); None: the send's


@dataclass(frozen=True)
class Recipient:
    """One recipient of a send with its latest delivery status.

    `status` is the gateway's own code of the furthest status seen (kept for display and the
    CLI's JSON); `state` and `status_words` are the same status in the shared vocabulary. All
    three are None before any status arrived."""

    id: int
    send_id: int
    msisdn: str
    contact_name: str | None
    climsgid: str
    apimsgid: str | None
    status: str | None
    state: DeliveryState | None
    status_words: str | None
    status_at: datetime | None
    charge: float | None
    error_code: str | None
    error_description: str | None
    text: str | None = None  # this recipient's own text (a personalised template); None: the send's


@dataclass(frozen=True)
class Send:
    """One `/sms send` (or one relayed thread reply) with its recipients in input order.

    `card_channel`/`card_ts` is the Slack message that shows it (the card, or for a relayed thread
    reply the person's own message); `thread_ts` is set for a relayed reply: the thread it was
    typed in."""

    id: int
    created_at: datetime
    slack_user: str
    channel: str
    text: str
    encoding: str
    parts: int
    sender: str | None
    scheduled_at: datetime | None
    sandbox: bool
    intent_key: str | None
    thread_ts: str | None
    card_channel: str | None
    card_ts: str | None
    cancelled_at: datetime | None
    recipients: tuple[Recipient, ...]
    # The time the person asked for, when SMS_QUIET_HOURS moved the send to `scheduled_at`.
    asked_at: datetime | None = None

    def text_for(self, recipient: Recipient) -> str:
        """What this recipient is (or was) sent: their own text when the send was personalised."""
        return self.text if recipient.text is None else recipient.text

    @property
    def personalised(self) -> bool:
        """Whether recipients were sent texts of their own (a template filled in per contact)."""
        return any(r.text is not None for r in self.recipients)


@dataclass(frozen=True)
class CardPlace:
    """Where a send is shown, without loading its recipients (the card refresher's question)."""

    channel: str  # the card's channel, or until it is posted the channel it will be posted in
    posted: bool
    is_reply: bool  # a thread reply relayed as SMS: it has a reaction, not a card


@dataclass(frozen=True)
class LogEntry:
    """One recipient of one send, for `/sms log`."""

    send_id: int
    created_at: datetime
    slack_user: str
    channel: str
    text: str
    sender: str | None
    msisdn: str
    contact_name: str | None
    apimsgid: str | None
    climsgid: str
    status: str | None
    status_words: str | None
    error_code: str | None
    error_description: str | None
    scheduled_at: datetime | None
    cancelled_at: datetime | None


@dataclass(frozen=True)
class StatusUpdate:
    """A delivery report for a message, identified as the gateway identifies it: by its
    apimsgid, else by (climsgid, msisdn)."""

    apimsgid: str | None
    climsgid: str | None
    msisdn: str
    status: DeliveryStatus
    at: datetime
    charge: float | None = None


@dataclass(frozen=True)
class StatusApplied:
    """What a `StatusUpdate` did: the recipient it matched and whether its status moved."""

    recipient_id: int
    send_id: int
    changed: bool


# --------------------------------------------------------------------------- people


@dataclass(frozen=True)
class Contact:
    name: str  # as last typed; lookups ignore case
    msisdn: str
    updated_at: datetime
    owner: str | None = None  # the Slack user who set the number last (None: not recorded)


@dataclass(frozen=True)
class Template:
    """A saved SMS text with `{field}` holes (bot.domain.templates fills them)."""

    name: str  # as last typed; lookups ignore case
    text: str
    updated_at: datetime
    owner: str | None = None  # the Slack user who set the text last (None: not recorded)


@dataclass(frozen=True)
class Group:
    """A named list of numbers: a group name works wherever a recipient does."""

    name: str  # as last typed; lookups ignore case
    members: tuple[str, ...]  # normalised numbers, in the order they were added
    updated_at: datetime
    owner: str | None = None  # the Slack user who changed it last (None: not recorded)


@dataclass(frozen=True)
class OptOut:
    msisdn: str
    opted_out: bool
    keyword: str  # the word that changed it: STOP, QUIT, ..., START; GATEWAY; ADMIN
    changed_at: datetime
    changed_by: str | None = None  # the Slack user whose command changed it; None: phone/gateway


# --------------------------------------------------------------------------- conversations


@dataclass(frozen=True)
class Conversation:
    """A Slack thread that carries SMS with phones. `thread_ts` is None while its root message is
    still waiting in the outbox (`root_item`); completing that item fills it in."""

    id: int
    channel: str
    thread_ts: str | None
    root_item: int | None
    msisdn: str  # the number it was started for
    last_msisdn: str  # the phone whose SMS arrived in it last
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ThreadSummary:
    """A Slack thread that carries SMS, by its last message: what a Home tab lists. `inbound`:
    the last message came from the phone (nobody has answered it yet)."""

    channel: str
    thread_ts: str
    msisdn: str  # the phone whose SMS came last, or the card's (first) recipient
    last_text: str
    inbound: bool
    last_at: datetime


@dataclass(frozen=True)
class ThreadRef:
    """Where an inbound SMS from a number goes: the newest card or conversation with it.

    Post into `thread_ts` of `channel`; when `thread_ts` is None the thread's root is still in the
    outbox: use `outbox.result(root_item)` (or let the outbox drainer resolve it) and give the
    post the same `order_key` so it follows the root."""

    channel: str
    thread_ts: str | None
    root_item: int | None
    send_id: int | None  # set when the thread is a card's
    conversation_id: int | None  # set when a conversation exists for the thread
    last_at: datetime


@dataclass(frozen=True)
class ThreadInfo:
    """What is known about a thread a person replied in (for relaying replies as SMS)."""

    channel: str
    thread_ts: str
    send_id: int | None  # the card that is the thread's root, if any
    recipients: tuple[str, ...]  # the card's recipients, or the conversation's number
    last_msisdn: str | None  # the phone whose SMS arrived in the thread last, None if none yet
    conversation_id: int | None


# --------------------------------------------------------------------------- inbound


@dataclass(frozen=True)
class InboundRecord:
    """One inbound SMS as routed: where it is (or will be) shown, for `/sms log` and for which
    numbers texted in a thread. `post_item` is the outbox item that posts it in Slack."""

    id: int
    received_at: datetime
    msisdn: str
    text: str
    channel: str
    send_id: int | None  # the card whose thread it went to
    conversation_id: int | None  # the conversation it started or went to
    post_item: int


@dataclass(frozen=True)
class InboxItem:
    id: int
    kind: CallbackKind
    unique_key: str
    params: bytes  # the raw query string or body, exactly as received
    received_at: datetime
    attempts: int
    last_error: str | None


@dataclass(frozen=True)
class MoGroup:
    """An incomplete multi-part inbound SMS."""

    sender: str
    reference: int
    total: int
    parts: Mapping[int, str]  # sequence -> text
    first_received_at: datetime  # when its first part was taken in (the 10-minute wait)
    first_arrived_at: datetime  # when its first part reached us (what it can be answering)


# --------------------------------------------------------------------------- outbound


@dataclass(frozen=True)
class OutboxItem:
    """Slack work still to do. `version` grows each time coalescing replaces the payload; pass the
    item back to `outbox.complete()` so a payload replaced while in flight is sent again."""

    id: int
    channel: str
    kind: str  # 'post', 'update', 'reaction', ... (the drainer's vocabulary)
    payload: JsonObject
    coalesce_key: str | None
    order_key: str | None
    attempts: int
    not_before: datetime
    created_at: datetime
    version: int
    state: OutboxState
    result: str | None
    last_error: str | None


@dataclass(frozen=True)
class Backlog:
    """Outbox items of one kind waiting in one channel: how many, and the newest of them."""

    channel: str
    waiting: int
    newest: OutboxItem
