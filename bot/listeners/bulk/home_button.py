"""The Home tab's "Bulk send" button: the bulk form, whose card goes to SMS_CHANNEL (the Home tab
is in no channel)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext

from bot.container import Services
from bot.listeners.bulk.opening import open_bulk_form
from bot.listeners.common import EphemeralReplier, may_use, services_of


def handle_home_bulk(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    ack()
    services = services_of(context)
    services.executor.submit(open_from_home, services, body)


def open_from_home(services: Services, body: dict[str, Any]) -> None:
    user = str((body.get("user") or {}).get("id") or "")
    if not may_use(services.settings, user):
        return  # their Home says why; the button is not even shown to them
    channel = services.settings.sms_channel or user
    reply = EphemeralReplier(services.slack, services.pace, user, user)
    open_bulk_form(services, services.slack, body.get("trigger_id"), channel, reply, user)
