"""The Home tab's "Templates" button: a modal listing the saved templates (they are added and
removed with `/sms template …`)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk.errors import SlackApiError

from bot.blocks.errors import error_message
from bot.blocks.saved import templates_view
from bot.container import Services
from bot.listeners.common import EphemeralReplier, may_use, services_of
from bot.slack.errors import error_code

log = logging.getLogger(__name__)


def handle_home_templates(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    ack()
    services = services_of(context)
    services.executor.submit(open_templates, services, body)


def open_templates(services: Services, body: dict[str, Any]) -> None:
    user = str((body.get("user") or {}).get("id") or "")
    if not may_use(services.settings, user):
        return  # their Home says why; the button is not even shown to them
    view = templates_view(services.storage.templates.all())
    try:
        services.slack.views_open(trigger_id=body.get("trigger_id"), view=view)
    except SlackApiError as error:
        log.warning("views.open of the templates failed: %s", error_code(error))
        EphemeralReplier(services.slack, services.pace, user, user)(
            error_message(
                f"Could not show the templates ({error_code(error)}). Try /sms templates."
            )
        )
