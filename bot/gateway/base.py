"""The gateway port: what the app needs from an SMS gateway, whichever backend provides it.

A backend (the legacy HTTP API in `bot.gateway.clickatell_http`, the Portal's API-key
integrations in `bot.gateway.clickatell_platform`) implements `Gateway` and a `CallbackDecoder`;
everything else (Slack, the inbox, the command line) uses only what this module defines, so
adding a backend adds code and changes none of theirs.

What a caller never needs to know, because each backend handles it:
- chunking, wire formats, sessions and logins, and retrying the gateway's own transient errors;
- idempotency: `plan` hands out a client message ID per recipient, to be recorded before
  `send`, so a crash in between is settled by asking about that ID (`find_sent`) or by the
  status report that carries it, never by sending again;
- the gateway's status and error codes: statuses arrive as `DeliveryStatus` (shared states and
  plain words, the raw code kept for display), errors as the tree below with plain words.

Errors. Every failed gateway call raises a `GatewayError`; input stopped before any call raises
`bot.sms.refusals.Refused` (a ValueError: `InvalidNumber`, `TextTooLong`, a bad sender or ID):

    GatewayError        the gateway refused the request, or its answer could not be used; not
    │                   worth repeating unchanged. `explanation`: what it means, what to do.
    ├── NotSent         certainly never reached the gateway (no connection, login refused):
    │                   nothing was sent; trying again later is safe.
    ├── Unavailable     the gateway cannot serve now and nothing was sent (its transient
    │                   errors outlasted the backend's own retries, or a query got no answer):
    │                   try again later.
    ├── OutcomeUnknown  a send may or may not have been taken. Never resend blindly: the
    │                   message's status (a report, `find_sent`) settles it.
    ├── Unsupported     this gateway does not offer the command (see `Capabilities`); no call
    │                   was made.
    ├── PartsExceeded   the gateway refused the text as needing too many SMS parts.
    └── OptedOut        the gateway refused a recipient who opted out with it (legacy 122,
                        One API 26): the app records the opt-out as if the phone texted STOP.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from bot.domain.delivery import DeliveryStatus
from bot.sms.encoding import Encoding

# --------------------------------------------------------------------------- errors


class GatewayError(Exception):
    """The gateway refused the request (its code, when it gave one) or its reply was unusable.

    `code` is the gateway's own error code as a string (or None), `description` what the
    gateway said, and `explanation` plain words for people: what it means and what to do.
    """

    def __init__(self, code: str | None, description: str, explanation: str | None = None):
        self.code = code
        self.description = description
        self.explanation = explanation or description
        prefix = f"{code}: " if code else ""
        super().__init__(f"{prefix}{self.explanation}")


class NotSent(GatewayError):
    """The command certainly did not reach the gateway: the connection was refused or timed out
    while connecting, or logging in (which comes first) failed. Trying again later is safe."""


class Unavailable(GatewayError):
    """The gateway cannot serve the request now and nothing was sent. The backend has already
    retried what is worth retrying at once; callers may try again later."""


class OutcomeUnknown(GatewayError):
    """A send may or may not have reached the gateway (timeout, dropped connection) and the
    backend could not settle it. The caller must not resend blindly."""

    def __init__(self, description: str):
        super().__init__(None, description, description)


class Unsupported(GatewayError):
    """The gateway does not offer this command (its `Capabilities` say so); nothing was asked."""

    def __init__(self, description: str):
        super().__init__(None, description, description)


class PartsExceeded(GatewayError):
    """The gateway refused the text because it needs more SMS parts than allowed."""


class OptedOut(GatewayError):
    """The gateway refused the recipient because they opted out with it. Sending again is
    pointless; the app records the opt-out so later sends are refused before any call."""


# --------------------------------------------------------------------------- capabilities


@dataclass(frozen=True)
class Capabilities:
    """What a gateway offers beyond sending, balance and ping. A command whose flag is off
    raises `Unsupported` without any call; callers that choose a path up front (a fallback, a
    button) read the flag instead of knowing the backend."""

    # A message's status, asked by its message ID (or its client ID). Off: the gateway cannot be
    # asked, and the latest delivery report stored from its callbacks is all there is to know.
    query: bool = False
    query_by_client_id: bool = False  # `find_sent`: settles an interrupted send by its client ID
    cancel: bool = False  # stop a scheduled message
    # Hold a message until a given time (`send(at=...)`). Off: the app holds scheduled sends
    # itself and hands them over when due (bot.usecases.holding).
    schedule: bool = False
    charge: bool = False  # what one message cost
    coverage: bool = False  # whether, and at what price, a number can be reached
    redeem: bool = False  # top up with a voucher
    batch: bool = False  # personalised batch templates (the backend's own API; not on this port)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Planned:
    """One recipient of a planned send: record `client_id` with the recipient before `send`,
    so a crash or an unknown outcome can be settled by that ID instead of by resending."""

    to: str
    client_id: str


@dataclass(frozen=True)
class MessageStatus:
    """A message's status: `message_id` is the gateway's ID for it."""

    message_id: str
    status: DeliveryStatus


@dataclass(frozen=True)
class RecipientResult:
    """One recipient of a send. `message_id` is None when the gateway refused the recipient
    (`error` says why) or accepted it without naming a message ID (then `status` says how far
    it is). `already_sent`: the client ID was already used, so nothing was sent again and this
    is the earlier message's status."""

    to: str
    message_id: str | None
    client_id: str
    error: GatewayError | None = None
    status: DeliveryStatus | None = None
    already_sent: MessageStatus | None = None


@dataclass(frozen=True)
class SendResult:
    """A send's results, one per distinct recipient in the order given, and how the text went
    (`parts` SMS parts in `encoding`)."""

    messages: tuple[RecipientResult, ...]
    parts: int
    encoding: Encoding


@dataclass(frozen=True)
class MessageCharge:
    message_id: str
    charge: float
    status: DeliveryStatus


@dataclass(frozen=True)
class Balance:
    """What is left on the account: credits (`currency` None) or money in `currency`."""

    amount: float
    currency: str | None = None


@dataclass(frozen=True)
class Coverage:
    msisdn: str
    routable: bool
    charge: float | None


@dataclass(frozen=True)
class Redeemed:
    ok: bool
    code: str


# --------------------------------------------------------------------------- the gateway


@runtime_checkable
class Gateway(Protocol):
    """An SMS gateway account. Thread-safe: the app calls it from several threads at once.

    `message_id` arguments take what people quote: the gateway's message ID or the client
    message ID it was sent with (when the gateway can be asked by that; see `Capabilities`).
    """

    @property
    def capabilities(self) -> Capabilities: ...

    @property
    def callbacks(self) -> CallbackDecoder:
        """The decoder for the status reports and inbound SMS this gateway sends us."""
        ...

    def plan(self, to: Sequence[str], *, client_id: str | None = None) -> tuple[Planned, ...]:
        """Client message IDs for a send to `to` (one entry per distinct number, in order),
        to record before `send`. `client_id` is one a person chose (`send --id X`). Numbers
        are checked by `send`; Refused for a bad client ID or no recipient at all."""
        ...

    def send(
        self,
        planned: Sequence[Planned],
        text: str,
        *,
        sender: str | None = None,
        at: datetime | None = None,
        skip_if_sent: bool = False,
    ) -> SendResult:
        """Send `text` to the planned recipients, with their client IDs; `at` schedules it.

        `skip_if_sent`: the client ID was chosen by a person and may have been used already;
        a message the gateway already has under it is returned (`already_sent`), not resent.
        Refused before any call; a GatewayError when the send failed as a whole (nothing was
        sent, or OutcomeUnknown); once part of it went out, failures are per recipient.
        """
        ...

    def find_sent(self, client_id: str) -> MessageStatus | None:
        """The message sent with `client_id`, or None when the gateway certainly never got it
        (resending is then safe). Raises when it cannot be told."""
        ...

    def query(self, message_id: str) -> MessageStatus: ...

    def cancel(self, message_id: str) -> MessageStatus: ...

    def charge(self, message_id: str) -> MessageCharge: ...

    def balance(self) -> Balance: ...

    def coverage(self, number: str) -> Coverage: ...

    def redeem(self, voucher: str) -> Redeemed: ...

    def ping(self) -> None:
        """Check that the gateway answers and the account works (keeps a session alive)."""
        ...

    def close(self) -> None: ...


# --------------------------------------------------------------------------- callbacks

CallbackKind = Literal["status", "mo"]  # the two callback endpoints: delivery reports, inbound SMS


class CallbackError(ValueError):
    """The callback cannot be read; the message is the short reason sent back with the 400."""


class ForeignCallback(CallbackError):
    """The callback names another account than ours (answered 403)."""


@dataclass(frozen=True)
class StatusReport:
    """A delivery report. `key` deduplicates it (the same report twice is one); `status.code`
    is the gateway's own code, kept for display; `to` is the recipient as the gateway wrote
    it; `timestamp` is aware UTC."""

    key: str
    message_id: str
    client_id: str | None
    to: str
    status: DeliveryStatus
    timestamp: datetime
    charge: float | None


@dataclass(frozen=True)
class MessagePart:
    """Which part of a multi-part SMS this is; parts of one SMS share `reference`."""

    reference: int
    total: int
    sequence: int  # 1-based


@dataclass(frozen=True)
class InboundMessage:
    """An SMS from a phone (or one part of it, `part` set). `key` deduplicates it; `sender` is
    the phone's number as the gateway wrote it, `to` ours; `timestamp` is aware UTC."""

    key: str
    message_id: str
    sender: str
    to: str
    text: str
    timestamp: datetime
    part: MessagePart | None


@dataclass(frozen=True)
class IgnoredEvent:
    """An event of a type the app does not act on (a gateway's newer event types): stored like
    any callback, so nothing acknowledged is lost, then marked done without effect."""

    key: str
    event_type: str  # as the gateway named it


Callback = StatusReport | InboundMessage | IgnoredEvent


@dataclass(frozen=True)
class DecodedCallback:
    """One event of a callback request, decoded on arrival: `payload` is what to store durably
    (before answering) and decodes to this event alone, `callback` what it says."""

    payload: bytes
    callback: Callback


@runtime_checkable
class CallbackDecoder(Protocol):
    """One backend's callback format, read from the raw bytes (text in other charsets is only
    decoded once the callback says which)."""

    def decode_request(
        self, kind: CallbackKind, query: bytes, body: bytes
    ) -> list[DecodedCallback]:
        """A request that just arrived: each event it holds, with the bytes to store for it
        (a request may carry several); none for the gateway's URL check (no content at all).
        ForeignCallback when it is for another account; CallbackError when malformed."""
        ...

    def decode_stored(self, kind: CallbackKind, payload: bytes) -> Callback:
        """A payload stored on arrival, decoded again (after a restart); CallbackError when it
        cannot be read (stored by an older version)."""
        ...
