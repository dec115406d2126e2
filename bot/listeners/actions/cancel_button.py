"""The card's Cancel button.

It acknowledges at once; the gateway calls (delmsg) run on the work executor. A click is
identified by (message ts, action_id, action_ts): Slack redelivering the same click does nothing
the second time.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, BoltContext

from bot.blocks.card import cancellable
from bot.blocks.errors import error_message, info_message, refused_message
from bot.container import Services
from bot.domain.access import may_touch, not_allowed_text, not_your_send_text
from bot.domain.records import Send
from bot.listeners.common import (
    Replier,
    RespondReplier,
    may_use,
    services_of,
)
from bot.usecases.cancelling import cancel_send

log = logging.getLogger(__name__)


def handle_cancel(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    ack()
    services = services_of(context)
    reply = RespondReplier(body.get("response_url"), services.slack)
    services.executor.submit(cancel_clicked, services, body, reply)


def click_key(body: dict[str, Any]) -> str:
    container = body.get("container") or {}
    action = (body.get("actions") or [{}])[0]
    return ":".join(
        (
            "action",
            str(container.get("channel_id") or ""),
            str(container.get("message_ts") or ""),
            str(action.get("action_id") or ""),
            str(action.get("action_ts") or ""),
        )
    )


def cancel_clicked(services: Services, body: dict[str, Any], reply: Replier) -> None:
    if not services.storage.claims.claim(click_key(body)):
        return
    user = (body.get("user") or {}).get("id")
    if not may_use(services.settings, user):
        reply(refused_message(not_allowed_text(user)))
        return
    send = _clicked_send(services, body)
    if send is None:
        reply(error_message("This card is not one of mine any more; nothing was cancelled."))
        return
    if not may_touch(services.settings.admins, user, send.slack_user):
        reply(refused_message(not_your_send_text(send.slack_user)))
        return
    if not cancellable(send):
        services.refresh_card(send.id)  # show the current state (and drop a stale button)
        reply(info_message("There is nothing left to cancel: the message was already handled."))
        return
    failures = cancel_send(services, send)
    services.refresh_card(send.id)
    if failures:
        reply(error_message("Could not cancel every message:\n" + "\n".join(failures)))


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
