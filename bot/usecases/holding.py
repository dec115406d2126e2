"""Scheduled sends sms-bot holds itself, for a gateway that cannot hold a message until later
(`Capabilities.schedule` off: the Clickatell Portal, clickatell-platform.md §2 Decision).

`hold` marks the recorded recipients HELD and queues the handover in the outbox, due at the
scheduled time, in one transaction: the card shows "Scheduled", and nothing has reached the
gateway, so cancelling needs no gateway call at all (`withdraw`). When the item is due the
outbox hands it to `hand_over`, which sends what is still held with the client IDs recorded at
the start. An interrupted handover is never repeated blindly: where the gateway cannot be asked
by client ID the recipients are marked with an unknown outcome (their delivery reports settle
it), exactly as a send interrupted in the foreground.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from bot.domain.delivery import HANDED_OVER, HELD, OPTED_OUT, OUTCOME_UNKNOWN, WITHDRAWN
from bot.domain.outbox import GATEWAY_CHANNEL, OutboxKind
from bot.domain.records import Recipient, Send
from bot.gateway.base import (
    Gateway,
    GatewayError,
    NotSent,
    OutcomeUnknown,
    Planned,
    RecipientResult,
    Unavailable,
)
from bot.sms.encoding import encode_text
from bot.sms.refusals import Refused
from bot.storage import Storage
from bot.usecases.recording import by_text, store_result
from bot.usecases.unsettled import offer_later_if_needed

log = logging.getLogger(__name__)

_INFLIGHT = "held.inflight.{}"
INTERRUPTED = (
    "Outcome unknown: handing this scheduled message to the gateway was interrupted, and the "
    "gateway cannot be asked whether it has it, so it was not sent again. Its delivery report "
    "will settle it."
)
STOPPED_WHILE_HELD = (
    "Opted out (texted STOP) while this message waited: not sent. They can opt in again by "
    "texting START."
)


class TryLater(Exception):
    """The gateway could not take the handover now and nothing was sent: try again later."""


def hold(storage: Storage, send: Send, due: datetime) -> None:
    """Hold a recorded send until `due` (one transaction: the status and the queued handover).
    Recipients skipped as opted out are never held: they are not to be sent at all."""
    with storage.transaction():
        for recipient in send.recipients:
            if recipient.error_code != OPTED_OUT:
                storage.sends.update_status(recipient.id, HELD)
        storage.outbox.enqueue(
            GATEWAY_CHANNEL, OutboxKind.HELD, {"send_id": send.id}, not_before=due
        )


def is_held(recipient: Recipient) -> bool:
    """Still waiting in sms-bot: not handed over, not refused, not withdrawn."""
    return (
        recipient.status == HELD.code
        and recipient.apimsgid is None
        and not recipient.error_code
        and not recipient.error_description
    )


def withdraw(storage: Storage, send: Send, recipients: Sequence[Recipient] | None = None) -> int:
    """Cancel held messages (all of the send's, or `recipients`) before they go out: no gateway
    call. The send counts as cancelled once none of its messages is held any more and none went
    out. Returns how many were withdrawn."""
    chosen = [r for r in (recipients or send.recipients) if is_held(r)]
    if not chosen:
        return 0
    with storage.transaction():
        for recipient in chosen:
            storage.sends.update_status(recipient.id, WITHDRAWN)
        current = storage.sends.get(send.id) or send
        if not any(is_held(r) or r.apimsgid for r in current.recipients):
            storage.sends.mark_cancelled(send.id)
    return len(chosen)


def hand_over(storage: Storage, gateway: Gateway, send_id: int) -> None:
    """Send what is still held of `send_id` now (the outbox's due item). Raises TryLater when
    the gateway cannot take it now and nothing was sent."""
    send = storage.sends.get(send_id)
    if send is None or send.cancelled_at is not None:
        return
    waiting = [r for r in send.recipients if is_held(r)]
    if not waiting:
        return
    marker = _INFLIGHT.format(send_id)
    if storage.values.get(marker) is not None and not gateway.capabilities.query_by_client_id:
        _mark_unknown(storage, waiting)
        storage.values.delete(marker)
        offer_later_if_needed(storage, gateway, send_id, datetime.now(UTC))
        return
    # After the interrupted case: a message that may have gone out is never called "not sent".
    waiting = _still_wanted(storage, waiting)
    if not waiting:
        return
    storage.values.set(marker, "sending")
    own = {r.msisdn: send.text_for(r) for r in waiting}
    planned = [Planned(r.msisdn, r.climsgid) for r in waiting]
    for text, batch in by_text(planned, own.__getitem__).items():
        numbers = {message.to for message in batch}
        part = [r for r in waiting if r.msisdn in numbers]
        try:
            result = gateway.send(batch, text, sender=send.sender)
        except (NotSent, Unavailable) as error:
            storage.values.delete(marker)
            raise TryLater(str(error)) from error
        except (GatewayError, Refused) as error:
            _record(storage, text, part, {}, error)
        else:
            _record(storage, text, part, {r.to: r for r in result.messages}, None)
    storage.values.delete(marker)
    offer_later_if_needed(storage, gateway, send_id, datetime.now(UTC))


def _still_wanted(storage: Storage, waiting: Sequence[Recipient]) -> list[Recipient]:
    """The held recipients that may still be texted. One that opted out since the send was
    held (hours may pass, quiet hours add more) is set aside as opted out, never sent to."""
    stopped = [r for r in waiting if storage.opt_outs.is_opted_out(r.msisdn)]
    if stopped:
        with storage.transaction():
            for recipient in stopped:
                storage.sends.record_result(
                    recipient.id,
                    apimsgid=None,
                    error_code=OPTED_OUT,
                    error_description=STOPPED_WHILE_HELD,
                )
    return [r for r in waiting if r not in stopped]


def _record(
    storage: Storage,
    text: str,
    waiting: Sequence[Recipient],
    results: dict[str, RecipientResult],
    failure: GatewayError | Refused | None,
) -> None:
    encoded = encode_text(text)
    with storage.transaction():
        for recipient in waiting:
            result = results.get(recipient.msisdn)
            store_result(storage, recipient, result, failure, encoded)
            if result is not None and result.error is None and result.message_id:
                storage.sends.update_status(recipient.id, HANDED_OVER, apimsgid=result.message_id)


def _mark_unknown(storage: Storage, waiting: Sequence[Recipient]) -> None:
    log.warning("a held send was interrupted mid-handover; %d marked unknown", len(waiting))
    error = OutcomeUnknown(INTERRUPTED)
    with storage.transaction():
        for recipient in waiting:
            storage.sends.record_result(
                recipient.id,
                apimsgid=None,
                error_code=OUTCOME_UNKNOWN,
                error_description=error.explanation,
            )
