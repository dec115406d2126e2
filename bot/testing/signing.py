"""The one signed-request builder of tests and benchmarks: requests signed exactly as Slack
signs them (v0 HMAC-SHA256 over `v0:<ts>:<raw body>`, the real HMAC over the raw bytes).

The bodies are built like Slack's: slash commands as `application/x-www-form-urlencoded` forms,
interactivity (block_actions, view_submission) as a form with one `payload` field holding JSON,
and Events API callbacks as JSON. The building and signing are the console's
(bot/console/payloads.py), so the console and the tests send the same bytes; this layer fixes the
test workspace (team T0TEAM, #general, alice), the signing secret the app under test is given,
and the IDs, so tests name only what they are about. `post_signed` delivers a request the way
Slack does: to /slack/events, signed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from bot.console import payloads, surface_payloads
from bot.console.payloads import FORM, SlackRequest, User, Workspace, signature, signed_headers

__all__ = [
    "CHANNEL",
    "FORM",
    "SECRET",
    "USER",
    "SlackRequest",
    "app_home_opened",
    "block_action",
    "event_callback",
    "function_executed",
    "interactive",
    "message_action",
    "modal_state",
    "post_signed",
    "signature",
    "signed_headers",
    "slash_command",
    "view_action",
    "view_submission",
]

TOKEN = "gIkuvaNzQIHg97ATvDxqgjtO"  # the legacy verification token Slack still sends
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # the signing secret the app under test is given
CHANNEL = "C0GENERAL"
USER = "U0ALICE"
STEP_TOKEN = "xwfp-1234-5678-step"  # the bot_access_token a function_executed event carries


def post_signed(
    http: requests.Session,
    url: str,
    request: SlackRequest,
    *,
    secret: str = SECRET,
    timestamp: int | None = None,
) -> requests.Response:
    """POST `request` to the app at `url` as Slack does: to /slack/events, signed with `secret`."""
    return http.post(
        f"{url}/slack/events",
        data=request.body,
        headers=request.headers(secret, timestamp),
        timeout=30,
    )


def _workspace(
    channel_id: str = CHANNEL, channel_name: str = "general", team_id: str = "T0TEAM"
) -> Workspace:
    return Workspace(channel_id, channel_name, team_id, team_domain="example", token=TOKEN)


def _alice(user_id: str = USER, user_name: str = "alice") -> User:
    return User(user_id, user_name)


def slash_command(
    text: str,
    *,
    response_url: str,
    user_id: str = USER,
    user_name: str = "alice",
    channel_id: str = CHANNEL,
    channel_name: str = "general",
    trigger_id: str = "13345224609.738474920.8088930838d88f008e0",
    team_id: str = "T0TEAM",
    command: str = "/sms",
) -> SlackRequest:
    """A slash command form body with the fields (and their order) Slack sends; `text` goes as
    given (already escaped as Slack escapes it). `response_url` is required so that no test can
    make the app call out to the real Slack."""
    return payloads.slash_command(
        _workspace(channel_id, channel_name, team_id),
        _alice(user_id, user_name),
        text,
        response_url=response_url,
        trigger_id=trigger_id,
        command=command,
        escape=False,
    )


def interactive(payload: Mapping[str, Any]) -> SlackRequest:
    """block_actions / view_submission: `payload=<JSON>` as a form."""
    return payloads.interactive(payload)


def event_callback(event: Mapping[str, Any], *, event_id: str = "Ev0001") -> SlackRequest:
    return payloads.event_callback(_workspace(), event, event_id=event_id)


def block_action(
    *,
    response_url: str,
    action_id: str,
    value: str,
    channel_id: str,
    message_ts: str,
    user_id: str = USER,
    action_ts: str = "1700000100.000001",
    block_id: str = "actions",
) -> SlackRequest:
    """A button click on a message, as Slack's block_actions payload carries it."""
    button = {
        "type": "button",
        "action_id": action_id,
        "value": value,
        "text": {"type": "plain_text", "text": "Cancel"},
    }
    return payloads.block_action_on_message(
        _workspace(channel_id),
        _alice(user_id),
        element=button,
        block_id=block_id,
        channel=channel_id,
        message={"ts": message_ts, "text": "card"},
        response_url=response_url,
        trigger_id="1337.42.abcdef",
        action_ts=action_ts,
    )


def view_submission(view: Mapping[str, Any], *, user_id: str = USER) -> SlackRequest:
    """A modal's submit, with the view (id, callback_id, private_metadata, state) as Slack sends
    it back."""
    return payloads.view_submission(
        _workspace(), _alice(user_id), view=view, trigger_id="12466734323.1395872398.abc"
    )


def view_action(
    view: Mapping[str, Any],
    *,
    action_id: str,
    block_id: str,
    value: str,
    user_id: str = USER,
    action_ts: str = "1700000200.000001",
) -> SlackRequest:
    """A block action inside a modal (e.g. a dispatch_action text input as the person types)."""
    return payloads.block_action_in_view(
        _workspace(),
        _alice(user_id),
        view=view,
        block_id=block_id,
        action_id=action_id,
        value=value,
        trigger_id="1337.43.abcdef",
        action_ts=action_ts,
    )


def modal_state(values: Mapping[str, tuple[str, str | None]]) -> dict[str, Any]:
    """`state` of a view: block_id -> (action_id, value)."""
    return {
        "values": {
            block: {action: {"type": "plain_text_input", "value": value}}
            for block, (action, value) in values.items()
        }
    }


def app_home_opened(
    *, user_id: str = USER, view: Mapping[str, Any] | None = None, event_id: str = "EvHome1"
) -> SlackRequest:
    """The person opened the app's Home tab (with the Home view they saw last, if any)."""
    return surface_payloads.app_home_opened(
        _workspace(), _alice(user_id), view=view, event_id=event_id
    )


def message_action(
    message: Mapping[str, Any],
    *,
    response_url: str,
    callback_id: str = "send_as_sms",
    user_id: str = USER,
    channel_id: str = CHANNEL,
    trigger_id: str = "1337.44.abcdef",
) -> SlackRequest:
    """A message shortcut chosen on `message` (ts, user, text, blocks as Slack stores it)."""
    return surface_payloads.message_action(
        _workspace(channel_id),
        _alice(user_id),
        callback_id=callback_id,
        message=message,
        trigger_id=trigger_id,
        response_url=response_url,
    )


def function_executed(
    inputs: Mapping[str, Any],
    *,
    execution_id: str = "Fx0001",
    callback_id: str = "send_sms",
    token: str = STEP_TOKEN,
    event_id: str | None = None,
) -> SlackRequest:
    """A workflow ran the step `callback_id`; a redelivery repeats `execution_id` and
    `event_id` (by default the event ID follows the execution ID)."""
    return surface_payloads.function_executed(
        _workspace(),
        callback_id=callback_id,
        inputs=inputs,
        execution_id=execution_id,
        bot_access_token=token,
        event_id=event_id or f"Ev{execution_id}",
    )
