"""Mistyped `/sms send` lines and `--at` in the person's time zone, over signed HTTP requests."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.blocks.compose import COMPOSE_TEXT_ACTION, compose_view
from bot.testing.app import RunningApp
from bot.testing.signing import CHANNEL, modal_state, view_submission
from bot.testing.waiting import wait_for

ECHO = "27825550103"
OTHER = "27825550100"
ALICE = "U0ALICE"


def _ask(app: RunningApp, command: str, user: str = ALICE) -> dict[str, Any]:
    answer, name = app.command(command, user=user)
    assert answer.status_code == 200
    return app.wait_response(name)


def _newest_send(app: RunningApp) -> Any:
    entries = app.services.storage.sends.recent_log()
    return app.services.storage.sends.get(entries[0].send_id) if entries else None


def test_a_second_number_is_refused_with_the_command_to_copy(app: RunningApp) -> None:
    reply = _ask(app, f"send {ECHO} {OTHER} hi")
    assert reply["response_type"] == "ephemeral"
    blocks = json.dumps(reply["blocks"], ensure_ascii=False)
    assert "looks like a second phone number" in reply["text"]
    assert f"```/sms send {ECHO},{OTHER} hi```" in blocks  # a code block, to copy
    assert f"```/sms send {ECHO} -- {OTHER} hi```" in blocks
    _ask(app, "help")  # the work queue moved on: nothing was sent meanwhile
    assert app.sandbox.messages() == []
    assert app.fake.calls_to("chat.postMessage") == []


def test_the_corrected_command_sends_to_both(app: RunningApp) -> None:
    app.send(f"send {ECHO},{OTHER} hi")
    messages = wait_for(lambda: len(app.sandbox.messages()) == 2 and app.sandbox.messages(), 10)
    assert sorted(m.to for m in messages) == sorted([ECHO, OTHER])
    assert {m.text for m in messages} == {"hi"}


def test_an_option_inside_the_text_is_refused_not_sent_as_words(app: RunningApp) -> None:
    reply = _ask(app, f"send {ECHO} see you --at +1h then")
    blocks = json.dumps(reply["blocks"], ensure_ascii=False)
    assert "--at is inside the text" in reply["text"]
    assert f"```/sms send --at +1h {ECHO} see you then```" in blocks
    _ask(app, "help")
    assert app.sandbox.messages() == []


def test_an_option_after_a_one_word_text_schedules_it_as_on_the_command_line(
    app: RunningApp,
) -> None:
    before = datetime.now(UTC)
    app.send(f"send {ECHO} hi --at +1h30m")
    send = wait_for(lambda: _newest_send(app), 10, "the recorded send")
    assert send.text == "hi"
    assert before + timedelta(minutes=89) < send.scheduled_at < before + timedelta(minutes=92)


def test_at_a_clock_time_is_read_in_the_users_slack_time_zone(app: RunningApp) -> None:
    zone = ZoneInfo("Pacific/Kiritimati")  # UTC+14: far from the server's UTC
    app.fake.time_zones[ALICE] = "Pacific/Kiritimati"
    card = app.send(f"send --at 14:00 {ECHO} stand-up", user=ALICE)
    send = wait_for(lambda: _newest_send(app), 10, "the recorded send")
    local = send.scheduled_at.astimezone(zone)
    assert (local.hour, local.minute) == (14, 0)
    assert timedelta(0) < send.scheduled_at - datetime.now(UTC) <= timedelta(days=1)
    assert app.fake.calls_to("users.info")  # asked Slack for the zone
    # The card shows the moment in each reader's own zone (Slack's date formatting).
    stamp = int(send.scheduled_at.timestamp())
    assert f"<!date^{stamp}^{{date_short_pretty}} {{time}}|" in json.dumps(card["blocks"])
    assert "UTC>" in json.dumps(card["blocks"])  # the fallback says which zone it is in
    assert card["channel"] == CHANNEL


# --- a client ID shared by a multi-recipient send ---------------------------------------------


def test_status_and_cancel_of_a_shared_client_id_answer_for_every_message(app: RunningApp) -> None:
    app.send(f"send --at +2h --id standup42 {ECHO},{OTHER} stand-up moved")
    send = wait_for(
        lambda: (s := _newest_send(app)) and all(r.apimsgid for r in s.recipients) and s
    )
    ids = [r.apimsgid for r in send.recipients]
    status = _ask(app, "status standup42")["text"]
    assert "2 messages sent with client ID standup42" in status
    for number, ident in zip(("+27 82 555 0103", "+27 82 555 0100"), ids, strict=True):
        assert f"• {number} {ident}: " in status
    cancelled = _ask(app, "cancel standup42")["text"]
    assert "Cancelling the 2 messages" in cancelled and "not cancelled" not in cancelled
    assert all(m.status == "006" for m in app.sandbox.messages())  # both stopped at the gateway
    assert _ask(app, "status standup42", user="U0BOB")["text"].count("Cancelled") == 2


def test_only_the_sender_cancels_a_shared_client_id(app: RunningApp) -> None:
    app.send(f"send --at +2h --id mine7 {ECHO},{OTHER} later", user=ALICE)
    wait_for(lambda: (s := _newest_send(app)) and all(r.apimsgid for r in s.recipients))
    refused = _ask(app, "cancel mine7", user="U0BOB")["text"]
    assert "not" in refused.lower() and ALICE in refused
    assert all(m.status != "006" for m in app.sandbox.messages())


# --- the compose form's "Send at", in the user's zone -------------------------------------------


def _compose(when: str, view_id: str) -> dict[str, Any]:
    view = compose_view(CHANNEL, max_parts=3, sandbox=True)
    values = {
        "recipients": ("value", ECHO),
        "text": (COMPOSE_TEXT_ACTION, "stand-up"),
        "when": ("value", when),
    }
    return {**view, "id": view_id, "hash": "1.1", "state": modal_state(values)}


def test_the_compose_form_learns_the_zone_when_it_opens_and_reads_send_at_in_it(
    app: RunningApp,
) -> None:
    app.fake.time_zones[ALICE] = "Pacific/Kiritimati"
    app.command("", user=ALICE)
    app.fake.wait_for_call("users.info")  # looked up while the person fills the form in
    answer = app.post(view_submission(_compose("14:00", "V0ZONE"), user_id=ALICE))
    assert answer.status_code == 200 and answer.text == ""
    send = wait_for(lambda: _newest_send(app), 10, "the recorded send")
    local = send.scheduled_at.astimezone(ZoneInfo("Pacific/Kiritimati"))
    assert (local.hour, local.minute) == (14, 0)


def test_a_zone_slack_does_not_tell_in_time_is_said_next_to_the_field(app: RunningApp) -> None:
    app.fake.hold("users.info")  # Slack does not answer users.info
    answer = app.post(view_submission(_compose("14:00", "V0LATE"), user_id=ALICE))
    assert answer.status_code == 200
    body = answer.json()
    assert body["response_action"] == "errors"
    assert "did not say your time zone" in body["errors"]["when"]
    app.fake.release()
    assert app.sandbox.messages() == []
