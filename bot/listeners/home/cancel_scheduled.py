"""Cancel on a scheduled send in the Home tab.

It acknowledges at once; the gateway calls run on the work executor. Its sender or an admin may
cancel (product.md §5). A click is identified by (user, send, action_ts), so Slack redelivering
it does nothing the second time. The card and the Home then show the new state; what could not
be cancelled is told to the person directly (a Home tab has no response URL).
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext

from bot.blocks.card import cancellable
from bot.blocks.errors import error_message, info_message, refused_message
from bot.container import Services
from bot.listeners.common import EphemeralReplier, services_of
from bot.usecases.cancelling import cancel_send
from bot.usecases.home import may_cancel


def handle_home_cancel(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    ack()
    services = services_of(context)
    services.executor.submit(cancel_from_home, services, body)


def cancel_from_home(services: Services, body: dict[str, Any]) -> None:
    user = str((body.get("user") or {}).get("id") or "")
    action = (body.get("actions") or [{}])[0]
    value = str(action.get("value") or "")
    key = f"home-cancel:{user}:{value}:{action.get('action_ts') or ''}"
    if not value.isdigit() or not services.storage.claims.claim(key):
        return
    reply = EphemeralReplier(services.slack, services.pace, user, user)
    send = services.storage.sends.get(int(value))
    if send is None or not may_cancel(services.settings, user, send):
        reply(refused_message("Only its sender or an admin may cancel that SMS."))
    elif not cancellable(send):
        reply(info_message("There is nothing left to cancel: the message was already handled."))
    else:
        failures = cancel_send(services, send)
        services.refresh_card(send.id)
        if failures:
            reply(error_message("Could not cancel every message:\n" + "\n".join(failures)))
    services.home.publish(user)
