"""The legacy client's own results, in the protocol's terms (apimsgid, climsgid, 3-digit
status codes as strings). `ClickatellHttpGateway` turns them into the port's normalised results;
`Coverage` and `Redeemed` need no translation and come from the port directly.

Everything the client raises is a `bot.gateway.base.GatewayError` (the gateway said no, or could
not be understood) or a `bot.sms.refusals.Refused` (stopped before any call).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.gateway.base import GatewayError
from bot.sms.encoding import Encoding


@dataclass(frozen=True)
class RecipientResult:
    """One recipient of a send. `apimsgid` is None when the gateway refused this recipient (then
    `error` says why) or when the send was confirmed by climsgid without per-recipient IDs.
    `already_sent` is set when the caller's own climsgid was already known to the gateway: the
    message was not sent again, and this is its status (querymsg)."""

    to: str
    apimsgid: str | None
    climsgid: str
    error: GatewayError | None = None
    already_sent: MessageStatus | None = None


@dataclass(frozen=True)
class SendResult:
    messages: tuple[RecipientResult, ...]
    parts: int
    encoding: Encoding


@dataclass(frozen=True)
class MessageStatus:
    apimsgid: str
    status: str
    description: str


@dataclass(frozen=True)
class MessageCharge:
    apimsgid: str
    charge: float
    status: str
    description: str
