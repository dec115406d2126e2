"""Plain result types and errors of the gateway package.

Everything the client returns is one of these frozen data classes; everything it raises is a
`GatewayError` (the gateway said no, or could not be understood) or a `bot.sms.refusals.Refused`
(the request was stopped before any call: bad number, text too long). Codes are always 3-digit
strings.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.sms.encoding import Encoding


class GatewayError(Exception):
    """The gateway answered `ERR:` (code may be None, as for coverage), or its reply was unusable.

    `code` is the 3-digit string from the wire (or None), `description` what the wire said, and
    `explanation` plain words from the code tables that say what it means and what to do.
    """

    def __init__(self, code: str | None, description: str, explanation: str | None = None):
        self.code = code
        self.description = description
        self.explanation = explanation or description
        prefix = f"{code}: " if code else ""
        super().__init__(f"{prefix}{self.explanation}")


class OutcomeUnknown(GatewayError):
    """A send may or may not have reached the gateway (timeout, dropped connection) and checking
    with `querymsg` by climsgid did not settle it. The caller must not resend blindly."""

    def __init__(self, description: str):
        super().__init__(None, description, description)


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


@dataclass(frozen=True)
class Coverage:
    msisdn: str
    routable: bool
    charge: float | None


@dataclass(frozen=True)
class Redeemed:
    ok: bool
    code: str
