"""The log's More button: the next page of `/sms log`, under the same rule of who sees what."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext

from bot.blocks.errors import refused_message
from bot.blocks.log import parse_more_value
from bot.container import Services
from bot.domain.access import not_allowed_text
from bot.listeners.commands.log_command import show_log
from bot.listeners.common import Replier, RespondReplier, may_use, services_of


def handle_log_more(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    ack()
    services = services_of(context)
    reply = RespondReplier(body.get("response_url"), services.slack)
    services.quick.submit(log_more_clicked, services, body, reply)


def log_more_clicked(services: Services, body: dict[str, Any], reply: Replier) -> None:
    user = str((body.get("user") or {}).get("id") or "")
    channel = str((body.get("channel") or {}).get("id") or "")
    if not channel:
        channel = str((body.get("container") or {}).get("channel_id") or "")
    if not may_use(services.settings, user):
        reply(refused_message(not_allowed_text(user)))
        return
    action = (body.get("actions") or [{}])[0]
    asked = parse_more_value(str(action.get("value") or ""))
    if asked is None:
        reply(refused_message("That button is not one of mine; type /sms log instead."))
        return
    number, page = asked
    show_log(services, user, channel, number, page, reply)
