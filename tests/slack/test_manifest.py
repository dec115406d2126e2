"""manifest.yml parses and names every command, scope and event the code uses.

The code is scanned for Slack Web API methods (client calls such as `.chat_update(` and method
names passed as strings such as "reactions_add") and Bolt listener registrations; each method
family maps to the bot scope it needs.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bot.listeners.commands import COMMAND

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "manifest.yml"
# The console's local stand-in for Slack implements these methods; it does not call Slack.
NOT_SLACK_CALLERS = {"console"}

FAMILIES = "chat|views|reactions|users|conversations|files|pins|usergroups|team|bookmarks"
CALL = re.compile(rf"\.({FAMILIES})_([A-Za-z]+)\(")
NAMED = re.compile(rf"[\"']({FAMILIES})_([A-Za-z]+)[\"']")

# Web API method -> bot scopes it needs (all of them).
SCOPES: dict[str, set[str]] = {
    "chat.postMessage": {"chat:write", "chat:write.public"},  # cards in channels not joined
    "chat.update": {"chat:write"},
    "chat.delete": {"chat:write"},
    "chat.postEphemeral": {"chat:write"},
    "reactions.add": {"reactions:write"},
    "reactions.remove": {"reactions:write"},
    "views.open": set(),
    "views.update": set(),
    "views.push": set(),
    "users.info": {"users:read"},
    "conversations.history": {"channels:history", "groups:history"},
    "conversations.replies": {"channels:history", "groups:history"},
    "conversations.info": {"channels:read", "groups:read"},
}
EVENTS = {"message": {"message.channels", "message.groups"}}


def _manifest() -> dict:
    return yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))


def _sources() -> list[Path]:
    return [
        path
        for path in (ROOT / "bot").rglob("*.py")
        if not NOT_SLACK_CALLERS & set(path.relative_to(ROOT / "bot").parts)
    ]


def methods_used() -> set[str]:
    found = set()
    for path in _sources():
        text = path.read_text(encoding="utf-8")
        for family, name in CALL.findall(text) + NAMED.findall(text):
            found.add(f"{family}.{name}")
    return found


def events_used() -> set[str]:
    pattern = re.compile(r"app\.event\(\s*[\"'](\w+)[\"']")
    return {e for path in _sources() for e in pattern.findall(path.read_text(encoding="utf-8"))}


def test_manifest_parses_with_the_command_and_modes() -> None:
    manifest = _manifest()
    commands = manifest["features"]["slash_commands"]
    assert [c["command"] for c in commands] == [COMMAND] == ["/sms"]
    assert commands[0]["usage_hint"] and commands[0]["description"]
    assert commands[0]["url"] == "https://example.com/slack/events"
    settings = manifest["settings"]
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["interactivity"]["request_url"] == "https://example.com/slack/events"
    assert settings["event_subscriptions"]["request_url"] == "https://example.com/slack/events"
    assert settings["socket_mode_enabled"] is False
    assert "Socket Mode" in MANIFEST.read_text(encoding="utf-8")  # the note on switching


def test_manifest_has_every_scope_the_code_needs() -> None:
    used = methods_used()
    assert {"chat.postMessage", "chat.update", "views.open"} <= used  # the scan works
    unknown = used - SCOPES.keys()
    assert not unknown, f"map these Web API methods to scopes in this test: {unknown}"
    needed = set().union(*(SCOPES[m] for m in used)) | {"commands"}
    granted = set(_manifest()["oauth_config"]["scopes"]["bot"])
    assert needed <= granted, f"missing scopes: {needed - granted}"
    required = {"commands", "chat:write", "chat:write.public", "channels:history", "groups:history"}
    assert required | {"reactions:write"} <= granted
    # users:read only if the code uses it.
    assert ("users:read" in granted) == ("users.info" in used)


def test_manifest_subscribes_to_every_event_the_code_handles() -> None:
    used = events_used()
    assert "message" in used
    needed = set().union(*(EVENTS[e] for e in used))
    subscribed = set(_manifest()["settings"]["event_subscriptions"]["bot_events"])
    assert needed <= subscribed, f"missing events: {needed - subscribed}"
