"""Applying a status learnt from the gateway (status/cancel/charge commands, the Cancel button)
to the stored send, and refreshing its card when something changed."""

from __future__ import annotations

from typing import Any

from bot.clickatell.codes import delivery_status


def apply_status(
    services: Any, apimsgid: str | None, status: str, *, charge: float | None = None
) -> bool:
    """Store a status for one of our messages (forward only) and refresh its card. Returns True
    when the stored state changed; messages not sent through this app are ignored."""
    storage = services.storage
    recipient = storage.sends.recipient_by_apimsgid(apimsgid) if apimsgid else None
    if recipient is None:
        return False
    changed = storage.sends.update_status(recipient.id, delivery_status(status), charge=charge)
    if status == "006" and _all_cancelled(storage.sends.get(recipient.send_id)):
        changed = storage.sends.mark_cancelled(recipient.send_id) or changed
    if changed:
        services.refresh_card(recipient.send_id)
    return changed


def _all_cancelled(send: Any) -> bool:
    """Every recipient the gateway took is cancelled (the others were never sent)."""
    taken = [r for r in send.recipients if r.apimsgid]
    return bool(taken) and all(r.status == "006" for r in taken)
