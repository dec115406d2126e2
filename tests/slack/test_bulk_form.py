"""The bulk form over real HTTP, up to the engine: `/sms bulk` opens it (a CSV file input, a
group, pasted numbers, the text, a time), and what can be checked before acknowledging is shown
next to its field; nothing is prepared or sent then."""

from __future__ import annotations

import json

import pytest

from bot.blocks.bulk_form import FILE_BLOCK, TEMPLATE_BLOCK, TEXT_BLOCK, WHEN_BLOCK, read_context
from bot.testing.app import RunningApp
from bot.testing.signing import CHANNEL, USER
from tests.slack.bulk_steps import form_state, opened_form, preview, submit


def test_sms_bulk_opens_the_form_with_a_csv_file_input(app: RunningApp) -> None:
    form = opened_form(app)
    assert form["callback_id"] == "bulk_form"
    assert json.loads(form["private_metadata"])["channel"] == CHANNEL
    inputs = {b["block_id"]: b["element"] for b in form["blocks"] if b["type"] == "input"}
    assert inputs[FILE_BLOCK]["type"] == "file_input"
    assert inputs[FILE_BLOCK]["filetypes"] == ["csv"] and inputs[FILE_BLOCK]["max_files"] == 1
    assert {"bulk_group", "bulk_numbers", "bulk_text", "bulk_when"} <= set(inputs)


def test_sms_bulk_with_words_after_it_is_a_usage_error(app: RunningApp) -> None:
    _, name = app.command("bulk people.csv hello")
    answer = json.dumps(app.wait_response(name))
    assert "takes no arguments" in answer
    assert not app.fake.calls_to("views.open")


def test_someone_not_allowed_gets_no_form(make_app) -> None:  # type: ignore[no-untyped-def]
    app: RunningApp = make_app(env={"SMS_ALLOWED_USERS": "U0SOMEONE"})
    _, name = app.command("bulk")
    assert "not allowed" in json.dumps(app.wait_response(name))
    assert not app.fake.calls_to("views.open")


@pytest.mark.parametrize(
    ("state", "block", "words"),
    [
        (form_state(), FILE_BLOCK, "Choose a CSV file"),
        (form_state(group="team", numbers="+27821234567"), FILE_BLOCK, "Use one of them"),
        (form_state(numbers="+27821234567", text=None), TEXT_BLOCK, "Type the text"),
        (form_state(numbers="+27821234567", when="yesterday"), WHEN_BLOCK, "not a time"),
    ],
)
def test_what_needs_no_file_is_shown_next_to_its_field(
    app: RunningApp, state: dict, block: str, words: str
) -> None:
    form = opened_form(app)
    answer = submit(app, form, state)
    assert answer.status_code == 200
    body = answer.json()
    assert body["response_action"] == "errors"
    assert words in body["errors"][block]
    assert not app.fake.calls_to("views.update") and not app.fake.calls_to("files.info")


def test_the_form_offers_saved_templates_and_a_chosen_one_is_the_text(app: RunningApp) -> None:
    app.storage.templates.save("Reminder", "See you at 8, {name}")
    form = opened_form(app)
    select = next(b for b in form["blocks"] if b.get("block_id") == TEMPLATE_BLOCK)
    assert [o["value"] for o in select["element"]["options"]] == ["Reminder"]
    state = form_state(file=None, numbers="+27821234567", text=None, template="Reminder")
    submit(app, form, state)
    shown = json.dumps(preview(app))
    assert "See you at 8" in shown and "*1 to send*" in shown


def test_send_at_is_read_in_the_persons_own_time_zone(app: RunningApp) -> None:
    app.fake.time_zones[USER] = "Pacific/Kiritimati"  # UTC+14: 14:00 there is 00:00 UTC
    form = opened_form(app)
    submit(app, form, form_state(numbers="+27821234567", when="14:00"))
    shown = preview(app)
    at = read_context(shown).at
    assert at is not None and (at.hour, at.minute) == (0, 0)
    assert f"<!date^{int(at.timestamp())}^" in json.dumps(shown)
