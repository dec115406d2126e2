"""Requests signed exactly as Slack signs them (v0 HMAC-SHA256 over `v0:<ts>:<raw body>`).

The bodies are built like Slack's: slash commands as `application/x-www-form-urlencoded` forms,
interactivity (block_actions, view_submission) as a form with one `payload` field holding JSON,
and Events API callbacks as JSON.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

FORM = "application/x-www-form-urlencoded"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str, body: bytes, content_type: str = FORM, timestamp: int | None = None
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature(secret, ts, body),
    }


@dataclass(frozen=True)
class SlackRequest:
    body: bytes
    content_type: str

    def headers(self, secret: str, timestamp: int | None = None) -> dict[str, str]:
        return signed_headers(secret, self.body, self.content_type, timestamp)


def slash_command(
    text: str,
    *,
    response_url: str,
    user_id: str = "U0ALICE",
    user_name: str = "alice",
    channel_id: str = "C0GENERAL",
    channel_name: str = "general",
    trigger_id: str = "13345224609.738474920.8088930838d88f008e0",
    team_id: str = "T0TEAM",
    command: str = "/sms",
) -> SlackRequest:
    """A slash command form body with the fields (and their order) Slack sends. `response_url`
    is required so that no test can make the app call out to the real Slack."""
    fields = {
        "token": "gIkuvaNzQIHg97ATvDxqgjtO",
        "team_id": team_id,
        "team_domain": "example",
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": "A0SMSBOT",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }
    return SlackRequest(urlencode(fields).encode(), FORM)


def interactive(payload: Mapping[str, Any]) -> SlackRequest:
    """block_actions / view_submission: `payload=<JSON>` as a form."""
    return SlackRequest(urlencode({"payload": json.dumps(payload)}).encode(), FORM)


def event_callback(event: Mapping[str, Any], *, event_id: str = "Ev0001") -> SlackRequest:
    body = {
        "token": "gIkuvaNzQIHg97ATvDxqgjtO",
        "team_id": "T0TEAM",
        "api_app_id": "A0SMSBOT",
        "event": dict(event),
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [
            {"team_id": "T0TEAM", "user_id": "U0BOT", "is_bot": True, "enterprise_id": None}
        ],
    }
    return SlackRequest(json.dumps(body).encode(), "application/json")


def block_action(
    *,
    response_url: str,
    action_id: str,
    value: str,
    channel_id: str,
    message_ts: str,
    user_id: str = "U0ALICE",
    action_ts: str = "1700000100.000001",
    block_id: str = "actions",
) -> SlackRequest:
    """A button click on a message, as Slack's block_actions payload carries it."""
    return interactive(
        {
            "type": "block_actions",
            "user": {"id": user_id, "username": "alice", "team_id": "T0TEAM"},
            "api_app_id": "A0SMSBOT",
            "token": "gIkuvaNzQIHg97ATvDxqgjtO",
            "container": {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel_id,
                "is_ephemeral": False,
            },
            "trigger_id": "1337.42.abcdef",
            "team": {"id": "T0TEAM", "domain": "example"},
            "channel": {"id": channel_id, "name": "general"},
            "message": {"type": "message", "ts": message_ts, "text": "card"},
            "response_url": response_url,
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": block_id,
                    "value": value,
                    "action_ts": action_ts,
                    "text": {"type": "plain_text", "text": "Cancel"},
                }
            ],
        }
    )


def view_submission(view: Mapping[str, Any], *, user_id: str = "U0ALICE") -> SlackRequest:
    """A modal's submit, with the view (id, callback_id, private_metadata, state) as Slack sends
    it back."""
    return interactive(
        {
            "type": "view_submission",
            "team": {"id": "T0TEAM", "domain": "example"},
            "user": {"id": user_id, "username": "alice", "team_id": "T0TEAM"},
            "api_app_id": "A0SMSBOT",
            "token": "gIkuvaNzQIHg97ATvDxqgjtO",
            "trigger_id": "12466734323.1395872398.abc",
            "view": dict(view),
            "response_urls": [],
        }
    )


def view_action(
    view: Mapping[str, Any],
    *,
    action_id: str,
    block_id: str,
    value: str,
    user_id: str = "U0ALICE",
    action_ts: str = "1700000200.000001",
) -> SlackRequest:
    """A block action inside a modal (e.g. a dispatch_action text input as the person types)."""
    return interactive(
        {
            "type": "block_actions",
            "user": {"id": user_id, "username": "alice", "team_id": "T0TEAM"},
            "api_app_id": "A0SMSBOT",
            "token": "gIkuvaNzQIHg97ATvDxqgjtO",
            "container": {"type": "view", "view_id": view.get("id")},
            "trigger_id": "1337.43.abcdef",
            "team": {"id": "T0TEAM", "domain": "example"},
            "view": dict(view),
            "actions": [
                {
                    "type": "plain_text_input",
                    "action_id": action_id,
                    "block_id": block_id,
                    "value": value,
                    "action_ts": action_ts,
                }
            ],
        }
    )


def modal_state(values: Mapping[str, tuple[str, str | None]]) -> dict[str, Any]:
    """`state` of a view: block_id -> (action_id, value)."""
    return {
        "values": {
            block: {action: {"type": "plain_text_input", "value": value}}
            for block, (action, value) in values.items()
        }
    }
