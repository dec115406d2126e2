"""The buttons that say where a waiting thread reply goes (bot.inbound.reply_choice).

It acknowledges at once; the choice is taken on the work executor. Taking it is idempotent by
itself (the first click claims the reply), so a second click or Slack redelivering the same one
texts nothing more and is told so.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk.webhook import WebhookClient

from bot.blocks.errors import info_message, refused_message
from bot.blocks.reply_choice import (
    choice_answered,
    choice_gone,
    choice_nobody,
    choice_not_yours,
    parse_choice_value,
)
from bot.container import Services
from bot.domain.access import not_allowed_text
from bot.listeners.common import Replier, RespondReplier, may_use, services_of


def handle_reply_choice(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    ack()
    services = services_of(context)
    reply = RespondReplier(body.get("response_url"), services.slack)
    services.executor.submit(reply_choice_clicked, services, body, reply)


def reply_choice_clicked(services: Services, body: dict[str, Any], reply: Replier) -> None:
    user = str((body.get("user") or {}).get("id") or "")
    action = (body.get("actions") or [{}])[0]
    target = parse_choice_value(str(action.get("value") or ""))
    if not may_use(services.settings, user):
        reply(refused_message(not_allowed_text(user)))
        return
    if target is None:
        reply(info_message(choice_gone()))
        return
    channel, ts, to = target
    chosen = services.inbound.relay.choose(channel, ts, to, user)
    if chosen.outcome == "not_yours":
        reply(refused_message(choice_not_yours()))
    elif chosen.outcome == "gone":
        reply(info_message(choice_gone()))
    else:
        if chosen.outcome == "nobody":
            reply(info_message(choice_nobody(chosen.skipped)))
        _answered(services, body)


def _answered(services: Services, body: dict[str, Any]) -> None:
    """Take the buttons off the question (best effort: the note in the thread is durable, and a
    later click on buttons left behind is told the reply already went)."""
    url = body.get("response_url")
    if not url:
        return
    message = choice_answered()
    try:
        WebhookClient(url, timeout=services.slack.timeout).send(
            text=message.text, blocks=message.blocks, replace_original=True
        )
    except Exception:
        return
