"""The message shortcut "Send as SMS": the compose form, filled with the message's text.

The text is converted as a thread reply is before it is relayed (emoji, mentions, links; see
bot/slack/message_text.py), so what the form shows is what the phone would get, and the person
can still edit it. The listener acknowledges at once; the conversion may look names up with the
Web API, so it and the `views.open` run on the work executor (the trigger stays valid for three
seconds, far longer than a cached lookup). The card goes to the channel the message is in.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk.errors import SlackApiError

from bot.blocks.compose import TEXT_MAX, ComposeValues, compose_view
from bot.blocks.errors import error_message, refused_message
from bot.container import Services
from bot.domain.access import not_allowed_text
from bot.listeners.common import Replier, RespondReplier, may_use, services_of, template_names
from bot.slack.errors import error_code
from bot.slack.message_text import sms_text_from_event

log = logging.getLogger(__name__)

SEND_AS_SMS = "send_as_sms"


def handle_send_as_sms(ack: Ack, shortcut: dict[str, Any], context: BoltContext) -> None:
    ack()
    services = services_of(context)
    reply = RespondReplier(shortcut.get("response_url"), services.slack)
    services.executor.submit(open_prefilled_compose, services, shortcut, reply)


def open_prefilled_compose(services: Services, shortcut: dict[str, Any], reply: Replier) -> None:
    user = (shortcut.get("user") or {}).get("id")
    if not may_use(services.settings, user):
        reply(refused_message(not_allowed_text(user)))
        return
    message = shortcut.get("message") or {}
    text = sms_text_from_event(message, services.names).text[:TEXT_MAX]
    channel = str((shortcut.get("channel") or {}).get("id") or "")
    view = compose_view(
        channel,
        ComposeValues(text=text),
        max_parts=services.settings.max_parts,
        sandbox=services.sandboxed,
        templates=template_names(services),
    )
    try:
        services.slack.views_open(trigger_id=shortcut.get("trigger_id"), view=view)
        services.learn_time_zone(str(user or ""))
    except SlackApiError as error:
        log.warning("views.open for Send as SMS failed: %s", error_code(error))
        reply(
            error_message(
                f"Could not open the form ({error_code(error)}). Try the shortcut again, or "
                "type /sms send TO TEXT."
            )
        )
