"""The card's "Send again" button: offered once an unknown outcome stayed unsettled past the
window (bot.usecases.unsettled), pressed by a person, never by sms-bot.

It acknowledges at once; the send runs on the work executor. A click is identified like the
Cancel button's, so Slack redelivering it does nothing, and the send itself is keyed to the card
(`again:<send id>`), so a second click, by anyone, sends nothing more.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, BoltContext

from bot.blocks.errors import error_message, info_message, refused_message
from bot.blocks.send_report import send_report
from bot.container import Services
from bot.domain.access import not_allowed_text
from bot.domain.records import Send
from bot.listeners.actions.cancel_button import click_key
from bot.listeners.common import Replier, RespondReplier, may_use, services_of
from bot.listeners.errors import expected, problem_message
from bot.usecases.resending import send_again

log = logging.getLogger(__name__)


def handle_send_again(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    ack()
    services = services_of(context)
    reply = RespondReplier(body.get("response_url"), services.slack)
    services.executor.submit(send_again_clicked, services, body, reply)


def send_again_clicked(services: Services, body: dict[str, Any], reply: Replier) -> None:
    if not services.storage.claims.claim(click_key(body)):
        return
    user = str((body.get("user") or {}).get("id") or "")
    if not may_use(services.settings, user):
        reply(refused_message(not_allowed_text(user)))
        return
    send = _clicked_send(services, body)
    if send is None:
        reply(error_message("This card is not one of mine any more; nothing was sent."))
        return
    try:
        outcome = send_again(services, send, user)
    except Exception as error:
        if not expected(error):
            log.exception("send again failed")
        reply(problem_message(error))
        return
    if outcome is None:
        services.refresh_card(send.id)
        reply(info_message("It was already sent again (or settled meanwhile): nothing more sent."))
        return
    for message in send_report(outcome):
        reply(message)


def _clicked_send(services: Services, body: dict[str, Any]) -> Send | None:
    """The send behind the clicked card; the button's value must match the card it is on."""
    container = body.get("container") or {}
    action = (body.get("actions") or [{}])[0]
    channel, ts = container.get("channel_id"), container.get("message_ts")
    if not (channel and ts):
        return None
    send = services.storage.sends.by_card(channel, ts)
    if send is None or str(send.id) != str(action.get("value")):
        return None
    return send
