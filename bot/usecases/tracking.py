"""Applying a status learnt from the gateway (status/cancel/charge commands, the Cancel button)
to the stored send, and refreshing its card when something changed."""

from __future__ import annotations

from bot.domain.delivery import DeliveryState, DeliveryStatus
from bot.domain.records import Send
from bot.usecases.ports import AppPorts


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
    if status.state is DeliveryState.CANCELLED and _all_cancelled(
        storage.sends.get(recipient.send_id)
    ):
        changed = storage.sends.mark_cancelled(recipient.send_id) or changed
    if changed:
        services.refresh_card(recipient.send_id)
    return changed


def _all_cancelled(send: Send | None) -> bool:
    """Every recipient the gateway took is cancelled (the others were never sent)."""
    taken = [r for r in send.recipients if r.apimsgid] if send is not None else []
    return bool(taken) and all(r.state is DeliveryState.CANCELLED for r in taken)
