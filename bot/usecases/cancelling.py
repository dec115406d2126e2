"""Cancelling a scheduled send (the card's Cancel button; `/sms cancel` goes message by message).

Messages sms-bot still holds (a gateway that cannot hold them: `bot.usecases.holding`) are
withdrawn without any gateway call; messages the gateway holds are cancelled there, when it
offers that.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain.delivery import FINAL_STATES, DeliveryState
from bot.domain.outbox import CARD_KEY, OutboxKind
from bot.domain.records import Recipient, Send
from bot.gateway.base import GatewayError
from bot.storage import Storage
from bot.usecases.holding import is_held, withdraw
from bot.usecases.ports import AppPorts
from bot.usecases.tracking import apply_status


def cancel_send(services: AppPorts, send: Send) -> list[str]:
    """Stop each message of `send` that can still be stopped; the stored state follows. Returns
    one line per message that could not be cancelled."""
    withdraw(services.storage, send)
    failures = []
    for recipient in send.recipients:
        if is_held(recipient) or not recipient.apimsgid or recipient.state in FINAL_STATES:
            continue
        if not services.gateway.capabilities.cancel:
            failures.append(
                f"{recipient.msisdn}: already handed to the gateway, which cannot stop it"
            )
            continue
        try:
            found = services.gateway.cancel(recipient.apimsgid)
        except GatewayError as error:
            code = f" (gateway code {error.code})" if error.code else ""
            failures.append(f"{recipient.msisdn}: {error.explanation}{code}")
            continue
        apply_status(services, found.message_id, found.status)
        if found.status.state is not DeliveryState.CANCELLED:
            failures.append(f"{recipient.msisdn}: already {found.status.words.lower()}")
    return failures


def held_message(storage: Storage, message_id: str) -> tuple[Send, Recipient] | None:
    """The held message a person names by its client ID (it has no gateway ID yet): with its
    send, or None when no held message has that ID."""
    recipient = storage.sends.find_recipient(apimsgid=message_id, climsgid=message_id)
    if recipient is None or not is_held(recipient):
        return None
    send = storage.sends.get(recipient.send_id)
    return (send, recipient) if send is not None else None


def withdraw_and_show(storage: Storage, send: Send, recipients: Sequence[Recipient]) -> None:
    """Withdraw held messages of `send` and queue its card's update in the same transaction (the
    command line has no running app to ask; `serve` posts it)."""
    with storage.transaction():
        withdraw(storage, send, recipients)
        if send.card_channel and send.card_ts and not send.thread_ts:
            key = CARD_KEY.format(send.id)
            update = {"send_id": send.id}
            storage.outbox.enqueue(send.card_channel, OutboxKind.UPDATE, update, coalesce_key=key)


def cancel_held(storage: Storage, message_id: str) -> Recipient | None:
    """Withdraw the held message named by `message_id` (no gateway call) and queue its card's
    update (the command line has no running app to ask); the recipient as now stored, or None
    when no held message has that ID."""
    found = held_message(storage, message_id)
    if found is None:
        return None
    send, recipient = found
    withdraw_and_show(storage, send, [recipient])
    current = storage.sends.get(send.id)
    return next((r for r in current.recipients if r.id == recipient.id), None) if current else None
