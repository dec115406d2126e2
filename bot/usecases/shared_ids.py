"""`status ID` / `cancel ID` where ID is a client ID several messages share.

A multi-recipient send goes out under one client ID (the legacy API's `climsgid` per request; the
Portal's SMS REST per batch), so `--id standup42` names every one of its messages. Asking the
gateway by that ID answers for one message only; these use cases answer for each, by the message
IDs recorded for them. An ID that names one message (or none we know of) is left to the
single-message path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.domain.delivery import WITHDRAWN, DeliveryStatus
from bot.domain.records import Recipient
from bot.gateway.base import Gateway, GatewayError, MessageStatus
from bot.storage import Storage
from bot.usecases.holding import is_held
from bot.usecases.tracking import stored_status


@dataclass(frozen=True)
class MessageReport:
    """Where one of the messages is: `status` (None: no report yet) or `problem` in words."""

    to: str
    message_id: str | None
    status: DeliveryStatus | None = None
    problem: str | None = None


StatusSink = Callable[[str, DeliveryStatus], object]


def _ignore(message_id: str, status: DeliveryStatus) -> None:
    """The default `on_status`: the command line stores nothing, as for one message."""


def shared_by(storage: Storage, message_id: str) -> list[Recipient]:
    """The messages a quoted client ID names, when it names more than one; else []."""
    if storage.sends.recipient_by_apimsgid(message_id) is not None:
        return []
    found = storage.sends.recipients_by_climsgid(message_id)
    return found if len(found) > 1 else []


def report_each(
    gateway: Gateway,
    recipients: Sequence[Recipient],
    on_status: StatusSink = _ignore,
) -> list[MessageReport]:
    """Each message's status: asked of the gateway by its own message ID where the gateway can
    be asked, else the latest stored report. `on_status` stores what the gateway said."""
    reports = []
    for recipient in recipients:
        if recipient.apimsgid is None or not gateway.capabilities.query:
            stored = stored_status(recipient)
            reports.append(MessageReport(recipient.msisdn, recipient.apimsgid, stored))
        else:
            reports.append(_ask(gateway.query, recipient, recipient.apimsgid, on_status))
    return reports


def cancel_each(
    gateway: Gateway,
    recipients: Sequence[Recipient],
    withdraw: Callable[[Sequence[Recipient]], object],
    on_status: StatusSink = _ignore,
) -> list[MessageReport]:
    """Stop each message that can still be stopped: those sms-bot holds are withdrawn (no call,
    by `withdraw`), the others cancelled at the gateway by their own message ID."""
    held = [r for r in recipients if is_held(r)]
    if held:
        withdraw(held)
    reports = []
    for recipient in recipients:
        ident = recipient.apimsgid
        if recipient in held:
            reports.append(MessageReport(recipient.msisdn, ident, WITHDRAWN))
        elif ident is None:
            reports.append(MessageReport(recipient.msisdn, None, problem=_NEVER_SENT))
        elif not gateway.capabilities.cancel:
            reports.append(MessageReport(recipient.msisdn, ident, problem=_NOT_STOPPABLE))
        else:
            reports.append(_ask(gateway.cancel, recipient, ident, on_status))
    return reports


def _ask(
    call: Callable[[str], MessageStatus], recipient: Recipient, ident: str, on_status: StatusSink
) -> MessageReport:
    """One gateway question (query or cancel) about one message, its answer stored."""
    try:
        found = call(ident)
    except GatewayError as error:
        return MessageReport(recipient.msisdn, ident, problem=error.explanation)
    on_status(found.message_id, found.status)
    return MessageReport(recipient.msisdn, found.message_id, found.status)


_NEVER_SENT = "It never reached the gateway, so there is nothing to cancel."
_NOT_STOPPABLE = "Already handed to the gateway, which cannot stop it."
