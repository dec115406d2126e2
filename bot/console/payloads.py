"""Requests built exactly as Slack builds them, signed as Slack signs them.

- slash commands: an `application/x-www-form-urlencoded` form with Slack's fields, the text
  escaped as Slack escapes it (&, <, >);
- interactivity (block_actions on a message or in a modal, view_submission): a form with one
  `payload` field holding JSON;
- Events API: a JSON `event_callback` envelope around a `message` event (a reply typed in a
  thread, its edit `message_changed` or its deletion `message_deleted`).

Signing: v0 HMAC-SHA256 over `v0:<timestamp>:<raw body>` with the signing secret (Slack's
scheme, verified by Bolt). The console and the tests (bot/testing/signing.py) both build their
requests here.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's v0 signature. Computed here rather than with slack_sdk's SignatureVerifier, which
    refuses an empty secret and decodes the body as UTF-8: tests sign such requests too."""
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


def slack_escape(text: str) -> str:
    """What Slack does to text people type before it sends it to an app."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass(frozen=True)
class User:
    id: str
    name: str


@dataclass
class Workspace:
    """The one workspace, app and channel the console plays. Issues the unique IDs Slack would
    (trigger IDs, event IDs, action timestamps)."""

    channel_id: str
    channel_name: str
    team_id: str = "T0TEAM"
    team_domain: str = "console"
    api_app_id: str = "A0SMSBOT"
    token: str = field(default_factory=lambda: secrets.token_urlsafe(18))  # legacy verif. token
    _counter: itertools.count = field(default_factory=lambda: itertools.count(1), repr=False)

    def trigger_id(self) -> str:
        return f"{int(time.time())}.{next(self._counter)}.{secrets.token_hex(12)}"

    def event_id(self) -> str:
        return f"Ev{next(self._counter):08d}{secrets.token_hex(3).upper()}"

    def action_ts(self) -> str:
        return f"{time.time():.6f}"

    def team(self) -> dict[str, str]:
        return {"id": self.team_id, "domain": self.team_domain}

    def user(self, user: User) -> dict[str, str]:
        return {"id": user.id, "username": user.name, "name": user.name, "team_id": self.team_id}


def slash_command(
    ws: Workspace,
    user: User,
    text: str,
    *,
    response_url: str,
    trigger_id: str,
    command: str = "/sms",
    escape: bool = True,
) -> SlackRequest:
    """A slash command form body with the fields (and their order) Slack sends. `text` is what
    the person typed; escape=False sends it as given (already as Slack would send it)."""
    fields = {
        "token": ws.token,
        "team_id": ws.team_id,
        "team_domain": ws.team_domain,
        "channel_id": ws.channel_id,
        "channel_name": ws.channel_name,
        "user_id": user.id,
        "user_name": user.name,
        "command": command,
        "text": slack_escape(text) if escape else text,
        "api_app_id": ws.api_app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }
    return SlackRequest(urlencode(fields).encode(), FORM)


def interactive(payload: Mapping[str, Any]) -> SlackRequest:
    """block_actions / view_submission: `payload=<JSON>` as a form."""
    return SlackRequest(urlencode({"payload": json.dumps(payload)}).encode(), FORM)


def _interaction(
    ws: Workspace, user: User, kind: str, trigger_id: str, **fields: Any
) -> SlackRequest:
    """The envelope every interactivity payload shares, around its own `fields`."""
    return interactive(
        {
            "type": kind,
            "user": ws.user(user),
            "api_app_id": ws.api_app_id,
            "token": ws.token,
            "trigger_id": trigger_id,
            "team": ws.team(),
            "enterprise": None,
            "is_enterprise_install": False,
            **fields,
        }
    )


def _action(element: Mapping[str, Any], block_id: str | None, action_ts: str) -> dict[str, Any]:
    action: dict[str, Any] = {
        "type": element.get("type", "button"),
        "action_id": element.get("action_id", ""),
        "block_id": block_id or "",
        "action_ts": action_ts,
    }
    for key in ("text", "value", "style", "url"):
        if key in element:
            action[key] = element[key]
    return action


def block_action_on_message(
    ws: Workspace,
    user: User,
    *,
    element: Mapping[str, Any],
    block_id: str | None,
    channel: str,
    message: Mapping[str, Any],
    response_url: str,
    trigger_id: str,
    ephemeral: bool = False,
    action_ts: str | None = None,
) -> SlackRequest:
    """A button pressed on a message (in a channel, or on an ephemeral message)."""
    ts = str(message.get("ts", ""))
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": ts,
        "channel_id": channel,
        "is_ephemeral": ephemeral,
    }
    if message.get("thread_ts"):
        container["thread_ts"] = message["thread_ts"]
    shown = {"type": "message", "ts": ts, "text": message.get("text", "")}
    for key in ("blocks", "user", "thread_ts"):
        if message.get(key):
            shown[key] = message[key]
    return _interaction(
        ws,
        user,
        "block_actions",
        trigger_id,
        container=container,
        channel={"id": channel, "name": ws.channel_name if channel == ws.channel_id else ""},
        state={"values": {}},
        response_url=response_url,
        actions=[_action(element, block_id, action_ts or ws.action_ts())],
        **({} if ephemeral else {"message": shown}),
    )


def block_action_on_view(
    ws: Workspace,
    user: User,
    *,
    element: Mapping[str, Any],
    block_id: str | None,
    view: Mapping[str, Any],
    trigger_id: str,
    action_ts: str | None = None,
) -> SlackRequest:
    """A button pressed on a view that is no message (the Home tab, `view` as published), or an
    input of a modal that dispatches its value."""
    return _interaction(
        ws,
        user,
        "block_actions",
        trigger_id,
        container={"type": "view", "view_id": view.get("id")},
        view=dict(view),
        actions=[_action(element, block_id, action_ts or ws.action_ts())],
    )


def view_state(
    view: Mapping[str, Any], values: Mapping[str, str | None]
) -> dict[str, dict[str, dict[str, dict[str, Any]]]]:
    """`state.values` of a modal: {block_id: {action_id: {type, value}}} for every input block,
    with the value typed (None when left empty, as Slack sends it); a select's as its option."""
    state: dict[str, dict[str, dict[str, Any]]] = {}
    for block in view.get("blocks") or []:
        if not isinstance(block, Mapping) or block.get("type") != "input":
            continue
        element = block.get("element") or {}
        block_id = str(block.get("block_id") or "")
        value = values.get(block_id)
        kind = element.get("type", "plain_text_input")
        entry: dict[str, Any] = {"type": kind, "value": value if value else None}
        if kind == "static_select":  # a choice arrives as the option chosen, not a value
            option = {"text": {"type": "plain_text", "text": value}, "value": value}
            entry = {"type": kind, "selected_option": option if value else None}
        if kind == "file_input":  # the value is the ID of the file shared with the stand-in
            entry = {"type": kind, "files": [{"id": value}] if value else []}
        state[block_id] = {str(element.get("action_id") or ""): entry}
    return {"values": state}


def echoed_view(
    ws: Workspace, view: Mapping[str, Any], values: Mapping[str, str | None]
) -> dict[str, Any]:
    """The view as Slack echoes it back to the app: what was opened, plus ids and the state of
    its inputs filled in with `values`."""
    shown = {k: v for k, v in view.items() if k not in ("state",)}
    shown.update(
        {
            "team_id": ws.team_id,
            "app_id": ws.api_app_id,
            "bot_id": "B0BOT",
            "state": view_state(view, values),
            "previous_view_id": None,
            "root_view_id": view.get("id"),
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": ws.team_id,
        }
    )
    shown.setdefault("private_metadata", "")
    shown.setdefault("callback_id", "")
    return shown


def block_action_in_view(
    ws: Workspace,
    user: User,
    *,
    view: Mapping[str, Any],
    block_id: str,
    action_id: str,
    value: str,
    trigger_id: str,
    action_ts: str | None = None,
) -> SlackRequest:
    """An input with dispatch_action: Slack sends the typed value as a block action. `view` is
    the view as Slack echoes it (see echoed_view)."""
    element = {"type": "plain_text_input", "action_id": action_id, "value": value}
    return block_action_on_view(
        ws,
        user,
        element=element,
        block_id=block_id,
        view=view,
        trigger_id=trigger_id,
        action_ts=action_ts,
    )


def view_submission(
    ws: Workspace, user: User, *, view: Mapping[str, Any], trigger_id: str
) -> SlackRequest:
    """A modal's submit; `view` is the view as Slack echoes it (see echoed_view)."""
    return _interaction(ws, user, "view_submission", trigger_id, view=dict(view), response_urls=[])


def _rich_text(text: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "rich_text",
            "block_id": secrets.token_hex(3),
            "elements": [
                {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}
            ],
        }
    ]


def user_message_fields(ws: Workspace, raw_text: str) -> dict[str, Any]:
    """The fields of a person's message besides ts, channel, user and the (escaped) text."""
    return {
        "type": "message",
        "team": ws.team_id,
        "blocks": _rich_text(raw_text),
        "client_msg_id": str(uuid.uuid4()),
    }


def event_callback(
    ws: Workspace, event: Mapping[str, Any], *, event_id: str | None = None
) -> SlackRequest:
    """An Events API delivery; each gets its own event_id unless one is given (a redelivery)."""
    body = {
        "token": ws.token,
        "team_id": ws.team_id,
        "context_team_id": ws.team_id,
        "api_app_id": ws.api_app_id,
        "event": dict(event),
        "type": "event_callback",
        "event_id": event_id or ws.event_id(),
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": ws.team_id,
                "user_id": "U0BOT",
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }
    return SlackRequest(json.dumps(body).encode(), JSON)


def message_event(
    message: Mapping[str, Any], channel: str, parent_user_id: str | None = None
) -> dict[str, Any]:
    """The `message` event for a new message (a thread reply carries its parent's author)."""
    event = {**message, "channel": channel, "event_ts": message["ts"], "channel_type": "channel"}
    if message.get("thread_ts") and parent_user_id:
        event["parent_user_id"] = parent_user_id
    return event


def _inner(message: Mapping[str, Any]) -> dict[str, Any]:
    """A message as nested in an event (Slack puts the channel on the event only)."""
    return {k: v for k, v in message.items() if k != "channel"}


def message_changed_event(
    previous: Mapping[str, Any], current: Mapping[str, Any], channel: str, event_ts: str
) -> dict[str, Any]:
    edited = {**_inner(current), "edited": {"user": current.get("user"), "ts": event_ts}}
    return {
        "type": "message",
        "subtype": "message_changed",
        "message": edited,
        "previous_message": _inner(previous),
        "channel": channel,
        "hidden": True,
        "ts": event_ts,
        "event_ts": event_ts,
        "channel_type": "channel",
    }


def message_deleted_event(
    previous: Mapping[str, Any], channel: str, event_ts: str
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "message",
        "subtype": "message_deleted",
        "hidden": True,
        "deleted_ts": previous.get("ts"),
        "channel": channel,
        "previous_message": _inner(previous),
        "ts": event_ts,
        "event_ts": event_ts,
        "channel_type": "channel",
    }
    if previous.get("thread_ts"):
        event["thread_ts"] = previous["thread_ts"]
    return event
