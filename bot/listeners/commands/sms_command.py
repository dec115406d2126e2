"""The `/sms` slash command.

The listener acknowledges at once (an empty 200: Slack shows nothing until the answer follows),
then hands the command to the work executor. Only the commands that open a form are finished
here (a bare `/sms`: the compose modal; `/sms bulk`: the bulk form), because a trigger_id expires
three seconds after the command.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import grammar
from bot.blocks.base import unescape
from bot.blocks.compose import compose_view
from bot.blocks.errors import error_message, refused_message
from bot.container import Services
from bot.domain.access import not_allowed_text
from bot.listeners.bulk.opening import open_bulk_form
from bot.listeners.commands.run import needs_gateway, run_command
from bot.listeners.common import (
    RespondReplier,
    may_use,
    services_of,
    template_names,
)
from bot.slack.errors import error_code

log = logging.getLogger(__name__)

COMMAND = "/sms"


def handle_sms(ack: Ack, command: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    ack()
    services = services_of(context)
    reply = RespondReplier(command.get("response_url"), services.slack)
    text = unescape(str(command.get("text") or ""))
    if text.strip() and not opens_bulk_form(text):
        lane = services.executor if needs_gateway(services, text) else services.quick
        lane.submit(run_command, services, dict(command), text, reply)
        return
    user = command.get("user_id")
    if not may_use(services.settings, user):
        reply(refused_message(not_allowed_text(user)))
        return
    if text.strip():
        channel = str(command.get("channel_id") or "") or str(user)
        open_bulk_form(services, client, command.get("trigger_id"), channel, reply, str(user))
        return
    open_compose(services, client, command, reply)


def opens_bulk_form(text: str) -> bool:
    try:
        return isinstance(grammar.parse_text(text), grammar.BulkForm)
    except grammar.UsageError:
        return False


def open_compose(
    services: Services, client: WebClient, command: dict[str, Any], reply: RespondReplier
) -> None:
    view = compose_view(
        str(command.get("channel_id") or ""),
        max_parts=services.settings.max_parts,
        sandbox=services.sandboxed,
        templates=template_names(services),
    )
    try:
        client.views_open(trigger_id=command.get("trigger_id"), view=view)
        services.learn_time_zone(str(command.get("user_id") or ""))
    except SlackApiError as error:
        log.warning("views.open failed: %s", error_code(error))
        reply(
            error_message(
                f"Could not open the compose form ({error_code(error)}). "
                "Type /sms send TO TEXT instead, or try /sms again."
            )
        )
