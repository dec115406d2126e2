"""The message shortcut "Send as SMS": a signed `message_action` over real HTTP opens the compose
form filled with the message's text as a phone would read it; submitting it sends that text."""

from __future__ import annotations

import json
from typing import Any

from bot.blocks.compose import RECIPIENTS_BLOCK, TEXT_BLOCK, read_channel
from bot.console.payloads import Workspace, echoed_view
from bot.testing.app import RunningApp
from bot.testing.signing import CHANNEL, message_action, view_submission
from bot.testing.waiting import wait_for

ECHO = "27825550103"
TYPED = "Meet <@U0BOB> at <https://example.com/office|the office> :wave: &amp; bring *cake*"
FOR_THE_PHONE = "Meet Bob at the office (https://example.com/office) 👋 & bring cake"


def _message(text: str = TYPED, **fields: Any) -> dict[str, Any]:
    return {"ts": "1700000500.000100", "user": "U0BOB", "text": text, **fields}


def _opened_view(app: RunningApp) -> dict[str, Any]:
    call = app.fake.wait_for_call("views.open")[0]
    view = call.params["view"]
    return json.loads(view) if isinstance(view, str) else view


def _initial(view: dict[str, Any], block_id: str) -> str | None:
    block = next(b for b in view["blocks"] if b.get("block_id") == block_id)
    return block["element"].get("initial_value")


def test_the_shortcut_opens_the_form_with_the_text_a_phone_reads(app: RunningApp) -> None:
    app.fake.users["U0BOB"] = {"display_name": "Bob", "real_name": "Bob Example"}
    answer = app.post(message_action(_message(), response_url=app.fake.response_url("sc1")))
    assert answer.status_code == 200 and answer.text == ""
    view = _opened_view(app)
    assert view["callback_id"] == "compose"
    assert _initial(view, TEXT_BLOCK) == FOR_THE_PHONE
    assert _initial(view, RECIPIENTS_BLOCK) is None  # the person says whom to send it to
    assert read_channel(view) == CHANNEL  # the card goes where the message is
    assert app.fake.calls_to("views.open")[0].params["trigger_id"] == "1337.44.abcdef"


def test_rich_text_blocks_are_read_as_thread_replies_are(app: RunningApp) -> None:
    blocks = [
        {
            "type": "rich_text",
            "elements": [
                {
                    "type": "rich_text_section",
                    "elements": [
                        {"type": "text", "text": "Done "},
                        {"type": "emoji", "name": "white_check_mark"},
                    ],
                }
            ],
        }
    ]
    message = _message("Done :white_check_mark:", blocks=blocks)
    app.post(message_action(message, response_url=app.fake.response_url("sc2")))
    assert _initial(_opened_view(app), TEXT_BLOCK) == "Done ✅"


def test_submitting_the_prefilled_form_sends_that_text(app: RunningApp) -> None:
    app.fake.users["U0BOB"] = {"display_name": "Bob"}
    app.post(message_action(_message(), response_url=app.fake.response_url("sc3")))
    opened = {**_opened_view(app), "id": "V0SHORTCUT"}
    values = {RECIPIENTS_BLOCK: f"+{ECHO}", TEXT_BLOCK: _initial(opened, TEXT_BLOCK)}
    submitted = echoed_view(Workspace(CHANNEL, "general"), opened, values)
    assert app.post(view_submission(submitted)).status_code == 200
    [sent] = wait_for(lambda: app.sandbox.messages(), 10, "the SMS")
    assert sent.text == FOR_THE_PHONE
    card = app.fake.wait_for_call("chat.postMessage")[0]
    assert card.params["channel"] == CHANNEL


def test_someone_not_allowed_is_told_and_gets_no_form(make_app: Any) -> None:
    app = make_app(env={"SMS_ALLOWED_USERS": "U0SOMEONE"})
    app.post(message_action(_message(), response_url=app.fake.response_url("sc4")))
    answer = app.wait_response("sc4")
    assert "not allowed" in answer["text"]
    assert app.fake.calls_to("views.open") == []


def test_a_form_that_cannot_open_is_explained(app: RunningApp) -> None:
    app.fake.fail("views.open", error="expired_trigger_id")
    app.post(message_action(_message(), response_url=app.fake.response_url("sc5")))
    answer = app.wait_response("sc5")
    assert "expired_trigger_id" in answer["text"]
