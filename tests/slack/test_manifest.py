"""manifest.yml is a valid Slack app manifest and names every command, scope, event, shortcut and
workflow step the code uses.

It is validated against Slack's manifest JSON schema (slackapi/manifest-schema, MIT, vendored in
manifest_schema/). The code is scanned for Slack Web API methods (client calls such as
`.chat_update(` and method names passed as strings such as "reactions_add") and Bolt listener
registrations; each method family maps to the bot scope it needs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import yaml

from bot.listeners.commands import COMMAND
from bot.listeners.functions import SEND_SMS_FUNCTION
from bot.listeners.functions.send_sms import (
    APIMSGID_OUTPUT,
    SENDER_INPUT,
    STATE_OUTPUT,
    TEXT_INPUT,
    TO_INPUT,
)
from bot.listeners.shortcuts import SEND_AS_SMS

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "manifest.yml"
SCHEMA = Path(__file__).parent / "manifest_schema" / "manifest.schema.1.0.0.json"
# The console's local stand-in for Slack implements these methods; it does not call Slack.
NOT_SLACK_CALLERS = {"console"}

FAMILIES = "chat|views|reactions|users|conversations|files|pins|usergroups|team|bookmarks"
CALL = re.compile(rf"\.({FAMILIES})_([A-Za-z0-9_]+)\(")
NAMED = re.compile(rf"[\"']({FAMILIES})_([A-Za-z0-9_]+)[\"']")

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
    "views.publish": set(),
    "chat.getPermalink": set(),  # no scope required (Slack's method page)
    "users.info": {"users:read"},
    "conversations.history": {"channels:history", "groups:history"},
    "conversations.replies": {"channels:history", "groups:history"},
    "conversations.info": {"channels:read", "groups:read"},
    "files.info": {"files:read"},  # the bulk form's CSV (its download needs the same scope)
    # slack_sdk's files_upload_v2: files.getUploadURLExternal + files.completeUploadExternal
    "files.upload_v2": {"files:write"},
}
EVENTS = {"message": {"message.channels", "message.groups"}, "app_home_opened": {"app_home_opened"}}
FUNCTION_EVENT = "function_executed"  # what every app.function(...) listener receives


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
    # users:read only if the code uses it; the file scopes only with the bulk form and result.
    assert ("users:read" in granted) == ("users.info" in used)
    assert {"files.info", "files.upload_v2"} <= used
    assert {"files:read", "files:write"} <= granted


def test_manifest_subscribes_to_every_event_the_code_handles() -> None:
    used = events_used()
    assert "message" in used
    needed = set().union(*(EVENTS[e] for e in used))
    subscribed = set(_manifest()["settings"]["event_subscriptions"]["bot_events"])
    assert needed <= subscribed, f"missing events: {needed - subscribed}"


def functions_used() -> set[str]:
    pattern = re.compile(r"app\.function\(\s*([\w\"']+)")
    found = {m for path in _sources() for m in pattern.findall(path.read_text(encoding="utf-8"))}
    return {
        SEND_SMS_FUNCTION if name == "SEND_SMS_FUNCTION" else name.strip("\"'") for name in found
    }


def test_manifest_is_valid_against_slacks_schema() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    errors = sorted(
        jsonschema.Draft7Validator(schema).iter_errors(_manifest()), key=lambda e: list(e.path)
    )
    assert [f"{list(e.path)}: {e.message}" for e in errors] == []


def test_the_schema_check_catches_a_broken_manifest() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    broken = _manifest()
    broken["functions"][SEND_SMS_FUNCTION]["input_parameters"]["to"].pop("type")
    broken["settings"]["org_deploy_enabled"] = "yes"
    assert len(list(jsonschema.Draft7Validator(schema).iter_errors(broken))) == 2


def test_manifest_declares_the_workflow_step_the_code_serves() -> None:
    assert functions_used() == {SEND_SMS_FUNCTION} == {"send_sms"}
    manifest = _manifest()
    step = manifest["functions"][SEND_SMS_FUNCTION]
    inputs, outputs = step["input_parameters"], step["output_parameters"]
    assert set(inputs) == {TO_INPUT, TEXT_INPUT, SENDER_INPUT} and {"to", "text"} <= set(inputs)
    # Who runs the workflow, as Slack vouches for it: a type a builder cannot type in.
    assert inputs[SENDER_INPUT]["type"] == "slack#/types/user_context"
    assert set(outputs) == {APIMSGID_OUTPUT, STATE_OUTPUT} == {"apimsgid", "state"}
    for name, parameter in {**inputs, **outputs}.items():
        assert parameter["name"] == name and parameter["title"] and parameter["description"]
    assert [n for n, p in inputs.items() if p["is_required"]] == ["to", "text"]
    assert all(p["is_required"] for p in outputs.values())
    settings = manifest["settings"]
    assert settings["function_runtime"] == "remote"  # served by this Bolt app
    assert settings["org_deploy_enabled"] is True  # custom steps need an org-ready app
    assert FUNCTION_EVENT in settings["event_subscriptions"]["bot_events"]


def test_manifest_declares_the_message_shortcut_the_code_handles() -> None:
    pattern = re.compile(r"app\.message_shortcut\(\s*(\w+)")
    handled = {m for path in _sources() for m in pattern.findall(path.read_text(encoding="utf-8"))}
    assert handled == {"SEND_AS_SMS"}
    shortcuts = _manifest()["features"]["shortcuts"]
    assert [(s["type"], s["callback_id"]) for s in shortcuts] == [("message", SEND_AS_SMS)]
    assert SEND_AS_SMS == "send_as_sms" and shortcuts[0]["name"] == "Send as SMS"
    # Shortcuts arrive as interactivity and need the commands scope.
    assert "commands" in _manifest()["oauth_config"]["scopes"]["bot"]


def test_manifest_enables_the_home_tab_the_code_publishes() -> None:
    assert "views.publish" in methods_used() and "app_home_opened" in events_used()
    app_home = _manifest()["features"]["app_home"]
    assert app_home["home_tab_enabled"] is True
