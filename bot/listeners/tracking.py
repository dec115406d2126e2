"""Applying a status learnt from the gateway (status/cancel/charge commands, the Cancel button)
to the stored send, and refreshing its card when something changed."""

from __future__ import annotations

from typing import Any

from bot.domain.delivery import DeliveryState, DeliveryStatus
from bot.gateway.stored import stored_status  # transitional: see that module


def apply_status(
    services: Any, message_id: str | None, status: DeliveryStatus, *, charge: float | None = None
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


def _all_cancelled(send: Any) -> bool:
    """Every recipient the gateway took is cancelled (the others were never sent)."""
    taken = [r for r in send.recipients if r.apimsgid]
    return bool(taken) and all(_cancelled(r.status) for r in taken)


def _cancelled(code: str | None) -> bool:
    return code is not None and stored_status(code).state is DeliveryState.CANCELLED
