"""Cancelling a scheduled send (the card's Cancel button; `/sms cancel` goes message by message)."""

from __future__ import annotations

from bot.domain.delivery import FINAL_STATES, DeliveryState
from bot.domain.records import Send
from bot.gateway.base import GatewayError
from bot.usecases.ports import AppPorts
from bot.usecases.tracking import apply_status


def cancel_send(services: AppPorts, send: Send) -> list[str]:
    """Ask the gateway to stop each message of `send` that can still be stopped; the stored state
    follows what it answers. Returns one line per message that could not be cancelled."""
    failures = []
    for recipient in send.recipients:
        if not recipient.apimsgid or recipient.state in FINAL_STATES:
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
