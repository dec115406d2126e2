"""Block actions: the card's Cancel button and the compose modal's live preview.

Both acknowledge at once; the gateway call (delmsg) and the Web API call (views.update) run on the
work executor. A click is identified by (message ts, action_id, action_ts): Slack redelivering
the same click does nothing the second time.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk.errors import SlackApiError

from bot.blocks.card import CANCEL_ACTION, cancellable
from bot.blocks.compose import COMPOSE_TEXT_ACTION, compose_view, read_channel, read_values
from bot.blocks.errors import error_message, info_message, refused_message
from bot.domain.access import not_allowed_text
from bot.domain.delivery import FINAL_STATES, DeliveryState
from bot.gateway.base import GatewayError
from bot.listeners.common import (
    Replier,
    RespondReplier,
    may_use,
    services_of,
)
from bot.slack.errors import error_code
from bot.usecases.tracking import apply_status

log = logging.getLogger(__name__)


def register(app: App) -> None:
    app.action(CANCEL_ACTION)(handle_cancel)
    app.action(COMPOSE_TEXT_ACTION)(handle_compose_text)


# --------------------------------------------------------------------------- Cancel button


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


def cancel_clicked(services: Any, body: dict[str, Any], reply: Replier) -> None:
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
    if not cancellable(send):
        services.refresh_card(send.id)  # show the current state (and drop a stale button)
        reply(info_message("There is nothing left to cancel: the message was already handled."))
        return
    failures = _cancel_all(services, send)
    services.refresh_card(send.id)
    if failures:
        reply(error_message("Could not cancel every message:\n" + "\n".join(failures)))


def _clicked_send(services: Any, body: dict[str, Any]) -> Any:
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


def _cancel_all(services: Any, send: Any) -> list[str]:
    failures = []
    for recipient in send.recipients:
        if not recipient.apimsgid or recipient.state in FINAL_STATES:
            continue
        try:
            found = services.gateway.cancel(recipient.apimsgid)
        except GatewayError as error:
            code = f" (gateway code {error.code})" if error.code else ""
            failures.append(f"{recipient.msisdn}: {error.explanation}{code}")
            continue
        apply_status(services, found.message_id, found.status)
        if found.status.state is not DeliveryState.CANCELLED:
            failures.append(f"{recipient.msisdn}: already {found.status.words.lower()}")
    return failures


# --------------------------------------------------------------------------- compose preview


def handle_compose_text(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    ack()
    services = services_of(context)
    services.executor.submit(refresh_preview, services, body)


def refresh_preview(services: Any, body: dict[str, Any]) -> None:
    """Rebuild the modal with the current values so the parts/encoding line follows the text."""
    view = body.get("view") or {}
    if not view.get("id") or not may_use(services.settings, (body.get("user") or {}).get("id")):
        return  # someone not (or no longer) allowed gets nothing from the app, not even this
    updated = compose_view(
        read_channel(view) or "",
        read_values(view),
        max_parts=services.settings.max_parts,
        sandbox=services.sandboxed,
    )
    try:
        # The hash makes Slack refuse an update based on an older state (hash_conflict): a newer
        # keystroke's update then wins, which is what we want.
        services.slack.views_update(view_id=view["id"], hash=view.get("hash"), view=updated)
    except SlackApiError as error:
        log.info("compose preview not updated: %s", error_code(error))
