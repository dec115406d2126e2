"""Unknown outcomes that no delivery report settled in time, where the gateway cannot be asked
by client ID (the Clickatell Portal; product.md §8).

Such an outcome is never resent automatically: the status report carrying the message's client
ID settles it. If no report came within `RESEND_WINDOW`, the message may well not have reached
the phone, so its recipients are marked UNSETTLED and the card offers a person "Send again"
(`bot.usecases.resending`). The window is 15 minutes: the Portal reports within seconds and
retries a report for well under a minute, so a message still unreported after that is very
likely lost, while a person waiting on the card is not kept long.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.domain.delivery import OUTCOME_UNKNOWN, UNSETTLED
from bot.domain.outbox import GATEWAY_CHANNEL, OutboxKind
from bot.domain.records import Recipient, Send
from bot.gateway.base import Gateway
from bot.storage import Storage

RESEND_WINDOW = timedelta(minutes=15)
UNSETTLED_WORDS = (
    "Outcome unknown: no delivery report came within 15 minutes, and the gateway cannot be "
    "asked, so it may not have reached the phone. Send it again if it still matters."
)


def offer_later_if_needed(storage: Storage, gateway: Gateway, send_id: int, now: datetime) -> None:
    """After storing a send's results: where the gateway cannot settle an unknown outcome by
    being asked, queue the check that offers "Send again" once the window has passed."""
    if gateway.capabilities.query_by_client_id:
        return
    send = storage.sends.get(send_id)
    if send is None or not any(_unknown(r) for r in send.recipients):
        return
    storage.outbox.enqueue(
        GATEWAY_CHANNEL,
        OutboxKind.OFFER_RESEND,
        {"send_id": send_id},
        coalesce_key=f"offer-resend:{send_id}",
        not_before=now + RESEND_WINDOW,
    )


def offer_send_again(storage: Storage, send_id: int) -> bool:
    """Mark the send's still-unknown messages unsettled (the card then offers "Send again");
    True when there was any."""
    send = storage.sends.get(send_id)
    waiting = [r for r in send.recipients if _unknown(r)] if send is not None else []
    with storage.transaction():
        for recipient in waiting:
            storage.sends.record_result(
                recipient.id,
                apimsgid=None,
                error_code=UNSETTLED,
                error_description=UNSETTLED_WORDS,
            )
    return bool(waiting)


def _unknown(recipient: Recipient) -> bool:
    return recipient.error_code == OUTCOME_UNKNOWN and recipient.status is None


def resendable(send: Send) -> list[Recipient]:
    """The messages a person may send again: unsettled after the window."""
    return [r for r in send.recipients if r.error_code == UNSETTLED]
