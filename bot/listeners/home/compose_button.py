"""The Home tab's "Send an SMS" button: the compose form, whose card goes to SMS_CHANNEL (the
Home tab is in no channel; replies then thread there as for every card)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk.errors import SlackApiError

from bot.blocks.compose import compose_view
from bot.blocks.errors import error_message
from bot.container import Services
from bot.listeners.common import EphemeralReplier, may_use, services_of, template_names
from bot.slack.errors import error_code

log = logging.getLogger(__name__)


def handle_home_compose(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    ack()
    services = services_of(context)
    services.executor.submit(open_compose_from_home, services, body)


def open_compose_from_home(services: Services, body: dict[str, Any]) -> None:
    user = str((body.get("user") or {}).get("id") or "")
    if not may_use(services.settings, user):
        return  # their Home says why; the button is not even shown to them
    channel = services.settings.sms_channel or user  # no channel: the card goes to their DM
    view = compose_view(
        channel,
        max_parts=services.settings.max_parts,
        sandbox=services.sandboxed,
        templates=template_names(services),
    )
    try:
        services.slack.views_open(trigger_id=body.get("trigger_id"), view=view)
        services.learn_time_zone(user)
    except SlackApiError as error:
        log.warning("views.open from Home failed: %s", error_code(error))
        EphemeralReplier(services.slack, services.pace, user, user)(
            error_message(f"Could not open the SMS form ({error_code(error)}). Try again.")
        )
