"""The compose form offers the saved templates: signed `/sms`, view submissions over HTTP;
assertions on the views Slack was sent and the SMS the sandbox received."""

from __future__ import annotations

import json
from typing import Any

from bot.blocks.compose import COMPOSE_TEXT_ACTION, TEMPLATE_BLOCK, compose_view
from bot.testing.app import RunningApp
from bot.testing.signing import CHANNEL, modal_state, view_submission
from bot.testing.waiting import wait_for

ANN, BEN = "27825550103", "27825550104"


def _submitted(to: str, text: str, template: str | None, view_id: str) -> dict[str, Any]:
    view = compose_view(CHANNEL, max_parts=3, sandbox=True, templates=["Reminder", "Order"])
    state = modal_state({"recipients": ("value", to), "text": (COMPOSE_TEXT_ACTION, text)})
    chosen = {"text": {"type": "plain_text", "text": template}, "value": template}
    state["values"][TEMPLATE_BLOCK] = {
        "value": {"type": "static_select", "selected_option": chosen if template else None}
    }
    return {**view, "id": view_id, "hash": "1.2", "state": state}


def _seed(app: RunningApp) -> None:
    storage = app.services.storage
    storage.contacts.save("Ann", ANN)
    storage.contacts.save("Ben", BEN)
    storage.templates.save("Reminder", "Hi {first_name}, bring your ticket")
    storage.templates.save("Order", "Order {order} is ready")


def test_the_form_offers_the_templates_and_sends_one_filled_in(app: RunningApp) -> None:
    _seed(app)
    app.command("")
    opened = app.fake.wait_for_call("views.open")[0].params["view"]
    select = next(b for b in opened["blocks"] if b.get("block_id") == TEMPLATE_BLOCK)
    assert [o["value"] for o in select["element"]["options"]] == ["Order", "Reminder"]
    answer = app.post(view_submission(_submitted("Ann, Ben", "", "Reminder", "V1")))
    assert answer.status_code == 200 and answer.text == ""
    wait_for(lambda: len(app.sandbox.messages()) == 2, 10, "two SMS")
    assert {m.to: m.text for m in app.sandbox.messages()} == {
        ANN: "Hi Ann, bring your ticket",
        BEN: "Hi Ben, bring your ticket",
    }


def test_a_text_or_a_template_and_unknown_fields_beside_the_select(app: RunningApp) -> None:
    _seed(app)
    cases = {
        "V2": (_submitted(ANN, "typed too", "Reminder", "V2"), "text", "not both"),
        "V3": (_submitted(ANN, "", None, "V3"), "text", "Type a text or pick a template"),
        "V4": (_submitted(ANN, "", "Order", "V4"), TEMPLATE_BLOCK, "{order}"),
    }
    for view, field, words in cases.values():
        body = app.post(view_submission(view)).json()
        assert body["response_action"] == "errors"
        assert words in body["errors"][field] and len(body["errors"][field]) <= 150
    assert app.sandbox.messages() == []


def test_without_templates_the_form_has_no_select_and_needs_the_text(app: RunningApp) -> None:
    app.command("")
    opened = app.fake.wait_for_call("views.open")[0].params["view"]
    assert TEMPLATE_BLOCK not in json.dumps([b.get("block_id") for b in opened["blocks"]])
    text = next(b for b in opened["blocks"] if b.get("block_id") == "text")
    assert text["optional"] is False
