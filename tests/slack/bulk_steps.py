"""What the bulk tests do as a person in Slack: type `/sms bulk`, fill in and submit the form (a
CSV shared through the file input), press the preview's buttons and the card's buttons. Each step
is a signed request over HTTP to the real app; the fake Slack keeps what the app answered."""

from __future__ import annotations

import json
from typing import Any

from bot.blocks.bulk_form import (
    FILE_BLOCK,
    GROUP_BLOCK,
    NUMBERS_BLOCK,
    TEMPLATE_BLOCK,
    TEXT_BLOCK,
    VALUE_ACTION,
    WHEN_BLOCK,
)
from bot.testing.app import RunningApp
from bot.testing.signing import CHANNEL, USER, interactive, view_submission
from bot.testing.waiting import wait_for


def opened_form(app: RunningApp) -> dict[str, Any]:
    """Type `/sms bulk`; the form Slack was asked to open."""
    answer, _ = app.command("bulk")
    assert answer.status_code == 200
    call = app.fake.wait_for_call("views.open")[-1]
    view = call.params["view"]
    return json.loads(view) if isinstance(view, str) else view


def form_state(
    *,
    file: dict[str, Any] | None = None,
    group: str | None = None,
    numbers: str | None = None,
    text: str | None = "Hi {name}",
    when: str | None = None,
    template: str | None = None,
) -> dict[str, Any]:
    """The view state Slack sends with the form's submission."""

    def typed(value: str | None) -> dict[str, Any]:
        return {VALUE_ACTION: {"type": "plain_text_input", "value": value}}

    chosen = {"text": {"type": "plain_text", "text": template}, "value": template}
    return {
        "values": {
            TEMPLATE_BLOCK: {
                VALUE_ACTION: {
                    "type": "static_select",
                    "selected_option": chosen if template else None,
                }
            },
            FILE_BLOCK: {VALUE_ACTION: {"type": "file_input", "files": [file] if file else []}},
            GROUP_BLOCK: typed(group),
            NUMBERS_BLOCK: typed(numbers),
            TEXT_BLOCK: typed(text),
            WHEN_BLOCK: typed(when),
        }
    }


def submit(app: RunningApp, form: dict[str, Any], state: dict[str, Any], user: str = USER) -> Any:
    """Submit the form as Slack echoes it (with an id and the person's values)."""
    view = {**form, "id": "VBULK0001", "hash": "h1", "state": state}
    return app.post(view_submission(view, user_id=user))


def latest_view(app: RunningApp, after: int = 0) -> dict[str, Any]:
    """The newest views.update the app made (after the first `after` of them)."""
    calls = app.fake.wait_for_call("views.update", count=after + 1)
    view = calls[-1].params["view"]
    return json.loads(view) if isinstance(view, str) else view


def preview(app: RunningApp) -> dict[str, Any]:
    """The preview the form turned into (waits for it)."""

    def shown() -> dict[str, Any] | None:
        for call in reversed(app.fake.calls_to("views.update")):
            view = call.params["view"]
            view = json.loads(view) if isinstance(view, str) else view
            if "bulk_send" in json.dumps(view) or "bulk_discard" in json.dumps(view):
                return view
        return None

    return wait_for(shown, 20, "the bulk preview")


def button(view_or_blocks: Any, action_id: str) -> dict[str, Any]:
    blocks = view_or_blocks.get("blocks") if isinstance(view_or_blocks, dict) else view_or_blocks
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    for block in blocks or []:
        for element in block.get("elements") or []:
            if element.get("action_id") == action_id:
                return element
    raise AssertionError(f"no {action_id} button")


def click(
    app: RunningApp,
    action_id: str,
    value: str,
    *,
    container: dict[str, Any],
    user: str = USER,
    block_id: str = "b",
    action_ts: str = "1700000950.000001",
    **fields: Any,
) -> int:
    """A button click as Slack's block_actions payload carries it (in a view or a message)."""
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": "T0TEAM"},
        "team": {"id": "T0TEAM", "domain": "example"},
        "api_app_id": "A0SMSBOT",
        "trigger_id": "1337.46.bulk",
        "container": container,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": block_id,
                "value": value,
                "action_ts": action_ts,
            }
        ],
        **fields,
    }
    return app.post(interactive(payload)).status_code


def press_in_view(app: RunningApp, view: dict[str, Any], action_id: str, user: str = USER) -> int:
    """A button in the modal (the preview's Send or Cancel)."""
    return click(
        app,
        action_id,
        button(view, action_id)["value"],
        container={"type": "view", "view_id": "VBULK0001"},
        view={**view, "id": "VBULK0001"},
        user=user,
        block_id="bulk-preview",
    )


def press_on_card(
    app: RunningApp,
    card_ts: str,
    action_id: str,
    value: str,
    *,
    user: str = USER,
    name: str = "card-click",
    action_ts: str = "1700000960.000001",
    channel: str = CHANNEL,
) -> int:
    """A button on the progress card (Pause, Resume, Cancel); answers go to response URL `name`."""
    return click(
        app,
        action_id,
        value,
        container={"type": "message", "channel_id": channel, "message_ts": card_ts},
        user=user,
        block_id="bulk-controls",
        action_ts=action_ts,
        channel={"id": channel, "name": "sms"},
        message={"ts": card_ts, "text": "card"},
        response_url=app.fake.response_url(name),
    )
