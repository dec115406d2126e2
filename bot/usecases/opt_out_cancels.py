"""A number that opts out is never texted afterwards, also by a scheduled send the gateway holds.

A legacy Clickatell account takes a scheduled send at once with a delivery time and holds it;
a STOP (or an admin's `/sms optout`, or a gateway opt-out code) recorded meanwhile would not stop
it. So every opt-out is recorded by `record_opt_out`, which queues the work in the same
transaction; the outbox later runs `cancel_for_opted_out`, which asks the gateway to cancel each
of that number's messages still waiting for their time. Messages sms-bot holds itself (the
Portal) need no call here: the handover skips a number that opted out (`bot.usecases.holding`).

Idempotent: a message already final (cancelled, delivered, failed) is left alone, so a repeated
run never cancels twice; a cancel the gateway refuses (it already went out) changes nothing and
the message's real state is what its answer or its delivery report says.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot.domain.delivery import FINAL_STATES, DeliveryState, DeliveryStatus
from bot.domain.outbox import GATEWAY_CHANNEL, OutboxKind
from bot.gateway.base import Gateway, GatewayError, NotSent, OutcomeUnknown, Unavailable
from bot.storage import Storage
from bot.usecases.tracking import all_cancelled

log = logging.getLogger(__name__)

CANCELLED_FOR_OPT_OUT = "Cancelled: the number opted out before it was due"


def record_opt_out(
    storage: Storage,
    msisdn: str,
    keyword: str,
    *,
    at: datetime | None = None,
    by: str | None = None,
) -> bool:
    """Record that `msisdn` opted out and, in the same transaction, queue the cancelling of its
    scheduled messages. True when it was not opted out before (only then is anything queued, so
    a repeated STOP queues nothing)."""
    with storage.transaction():
        changed = storage.opt_outs.opt_out(msisdn, keyword, at=at, by=by)
        if changed:
            storage.outbox.enqueue(
                GATEWAY_CHANNEL,
                OutboxKind.CANCEL_OPTED_OUT,
                {"msisdn": msisdn},
                coalesce_key=f"opted-out:{msisdn}",
            )
    return changed


def cancel_for_opted_out(storage: Storage, gateway: Gateway, msisdn: str) -> list[int]:
    """Cancel at the gateway each not-yet-due scheduled message to `msisdn`, if it is still
    opted out. Returns the IDs of the sends whose stored state changed (their cards to refresh)."""
    if not gateway.capabilities.cancel or not storage.opt_outs.is_opted_out(msisdn):
        return []
    changed: list[int] = []
    for send in storage.sends.scheduled_to(msisdn):
        waiting = [r for r in send.recipients if r.msisdn == msisdn]
        for recipient in waiting:
            # No gateway ID: sms-bot still holds it (the handover skips an opted-out number).
            if not recipient.apimsgid or recipient.state in FINAL_STATES:
                continue
            if _cancel_one(storage, gateway, recipient.id, recipient.apimsgid):
                changed.append(send.id)
        if all_cancelled(storage.sends.get(send.id)):
            storage.sends.mark_cancelled(send.id)
    return sorted(set(changed))


def _cancel_one(storage: Storage, gateway: Gateway, recipient_id: int, apimsgid: str) -> bool:
    try:
        found = gateway.cancel(apimsgid)
    except (NotSent, Unavailable, OutcomeUnknown):
        raise  # not answered: the outbox tries again later (cancelling twice is harmless)
    except GatewayError as error:  # e.g. already gone out: its delivery report tells the rest
        log.warning("the gateway refused to cancel %s: %s", apimsgid, error.explanation)
        return False
    status = found.status
    if status.state is DeliveryState.CANCELLED:
        status = DeliveryStatus(status.code, status.state, CANCELLED_FOR_OPT_OUT, status.step)
    return storage.sends.update_status(recipient_id, status)
