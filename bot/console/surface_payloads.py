"""Requests of the Slack surfaces beyond the slash command, built as Slack builds them.

- `app_home_opened`: the Events API event when a person opens the app's Home tab;
- `message_action`: a message shortcut ("Send as SMS") chosen on a message, as interactivity;
- `function_executed`: the Events API event when a workflow runs the app's custom step, with the
  execution's `bot_access_token` (the token the step must be finished with).

The envelopes are payloads.py's (`event_callback`, `interactive`), so the console and the tests
(bot/testing/signing.py) send the same bytes for these as for everything else.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from bot.console.payloads import SlackRequest, User, Workspace, event_callback, interactive

SEND_SMS_TITLE = "Send an SMS"


def app_home_opened(
    ws: Workspace, user: User, *, view: Mapping[str, Any] | None = None, event_id: str | None = None
) -> SlackRequest:
    """The person opened the Home tab; `view` is the Home view they saw last (none the first
    time, as Slack sends it)."""
    event: dict[str, Any] = {
        "type": "app_home_opened",
        "user": user.id,
        "channel": f"D0{user.id.removeprefix('U')}",
        "tab": "home",
        "event_ts": f"{time.time():.6f}",
    }
    if view is not None:
        event["view"] = dict(view)
    return event_callback(ws, event, event_id=event_id)


def message_action(
    ws: Workspace,
    user: User,
    *,
    callback_id: str,
    message: Mapping[str, Any],
    trigger_id: str,
    response_url: str,
    channel: str | None = None,
) -> SlackRequest:
    """A message shortcut chosen on `message` (as Slack stores it: ts, user, text, blocks)."""
    where = channel or ws.channel_id
    name = ws.channel_name if where == ws.channel_id else ""
    return interactive(
        {
            "type": "message_action",
            "token": ws.token,
            "action_ts": ws.action_ts(),
            "team": ws.team(),
            "user": ws.user(user),
            "channel": {"id": where, "name": name},
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": trigger_id,
            "response_url": response_url,
            "message_ts": message.get("ts"),
            "message": {"type": "message", **dict(message)},
        }
    )


def function_executed(
    ws: Workspace,
    *,
    callback_id: str,
    inputs: Mapping[str, Any],
    execution_id: str,
    bot_access_token: str,
    event_id: str | None = None,
) -> SlackRequest:
    """A workflow ran the app's step `callback_id` with `inputs`. Slack sends the same
    `execution_id` (and event_id) again when it redelivers the event."""
    event = {
        "type": "function_executed",
        "function": {
            "id": "Fn0SENDSMS",
            "callback_id": callback_id,
            "title": SEND_SMS_TITLE,
            "description": "Send an SMS through Clickatell",
            "type": "app",
            "input_parameters": [
                {"type": "string", "name": name, "title": name, "is_required": True}
                for name in inputs
            ],
            "output_parameters": [],
            "app_id": ws.api_app_id,
            "date_created": 1700000000,
            "date_updated": 1700000000,
            "date_deleted": 0,
        },
        "inputs": dict(inputs),
        "function_execution_id": execution_id,
        "workflow_execution_id": f"Wx{execution_id.removeprefix('Fx')}",
        "event_ts": f"{time.time():.6f}",
        "bot_access_token": bot_access_token,
    }
    return event_callback(ws, event, event_id=event_id)
