"""Applying a status learnt from the gateway (status/cancel/charge commands, the Cancel button)
to the stored send, and refreshing its card when something changed; and, for a gateway that
cannot be asked (`Capabilities.query` off: the Portal's SMS integrations), the latest status its
delivery reports brought."""

from __future__ import annotations

from bot.domain.delivery import DeliveryState, DeliveryStatus
from bot.domain.records import Recipient, Send
from bot.gateway.base import MessageStatus
from bot.storage import Storage
from bot.usecases.ports import AppPorts


def latest_report(storage: Storage, message_id: str) -> MessageStatus | None:
    """The stored status of one of our messages, by its message ID or client ID; None when no
    delivery report has come for it (or it is not ours)."""
    recipient = storage.sends.find_recipient(apimsgid=message_id, climsgid=message_id)
    status = stored_status(recipient) if recipient is not None else None
    if recipient is None or status is None:
        return None
    return MessageStatus(recipient.apimsgid or message_id, status)


def gateway_id(storage: Storage, message_id: str) -> str:
    """The ID to ask a gateway that knows only its own message IDs: a client ID a person quoted
    becomes the message ID recorded for it; anything else is asked as given."""
    recipient = storage.sends.find_recipient(climsgid=message_id)
    return recipient.apimsgid if recipient is not None and recipient.apimsgid else message_id


def stored_status(recipient: Recipient) -> DeliveryStatus | None:
    """A recipient's stored status as a `DeliveryStatus` (None before any)."""
    if recipient.status is None or recipient.state is None:
        return None
    return DeliveryStatus(recipient.status, recipient.state, recipient.status_words or "")


def apply_status(
    services: AppPorts,
    message_id: str | None,
    status: DeliveryStatus,
    *,
    charge: float | None = None,
) -> bool:
    """Store a status for one of our messages (forward only) and refresh its card. Returns True
    when the stored state changed; messages not sent through this app are ignored."""
    storage = services.storage
    recipient = storage.sends.recipient_by_apimsgid(message_id) if message_id else None
    if recipient is None:
        return False
    changed = storage.sends.update_status(recipient.id, status, charge=charge)
    if status.state is DeliveryState.CANCELLED and all_cancelled(
        storage.sends.get(recipient.send_id)
    ):
        changed = storage.sends.mark_cancelled(recipient.send_id) or changed
    if changed:
        services.refresh_card(recipient.send_id)
    return changed


def all_cancelled(send: Send | None) -> bool:
    """Every recipient the gateway took is cancelled (the others were never sent)."""
    taken = [r for r in send.recipients if r.apimsgid] if send is not None else []
    return bool(taken) and all(r.state is DeliveryState.CANCELLED for r in taken)
