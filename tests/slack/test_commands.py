"""The other `/sms` commands, refusals and authorization, over HTTP against the sandbox."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from bot.testing.app import RunningApp
from bot.testing.waiting import wait_for

ECHO = "27825550103"
UNROUTABLE = "27825550102"
ALICE, BOB, ADMIN = "U0ALICE", "U0BOB", "U0ADMIN"


def _text(params: dict[str, Any]) -> str:
    return params.get("text", "") + json.dumps(params.get("blocks") or [], ensure_ascii=False)


def _ask(app: RunningApp, command: str, user: str = ALICE) -> dict[str, Any]:
    answer, name = app.command(command, user=user)
    assert answer.status_code == 200
    reply = app.wait_response(name)
    assert reply["response_type"] == "ephemeral"
    return reply


def _no_gateway_call(app: RunningApp) -> None:
    """Prove a refusal made no gateway call: a later command's answer has arrived (the work
    queue moved on) and the sandbox saw no message; no card was posted."""
    _ask(app, "help")
    assert app.sandbox.messages() == []
    assert app.fake.calls_to("chat.postMessage") == []


# --------------------------------------------------------------------------- refusals


def test_user_not_allowed_is_refused_without_gateway_call(make_app: Callable) -> None:
    app = make_app(env={"SMS_ALLOWED_USERS": ALICE})
    reply = _ask(app, f"send {ECHO} hello", user=BOB)
    assert "not allowed" in reply["text"]
    assert BOB in reply["text"]
    assert "SMS_ALLOWED_USERS" in reply["text"]
    reply = _ask(app, "balance", user=BOB)
    assert "not allowed" in reply["text"]
    _no_gateway_call(app)


def test_allowed_user_may_send(make_app: Callable) -> None:
    app = make_app(env={"SMS_ALLOWED_USERS": ALICE})
    app.command(f"send {ECHO} hello", user=ALICE)
    wait_for(lambda: app.sandbox.messages(), 10, "the SMS")


def test_invalid_number_is_refused_naming_it(app: RunningApp) -> None:
    reply = _ask(app, "send 12345 hello")
    assert "'12345' is not a valid phone number" in reply["text"]
    assert "Nothing was sent" in reply["text"]
    _no_gateway_call(app)


def test_national_number_without_region_explains_what_to_do(app: RunningApp) -> None:
    reply = _ask(app, "send 0821234567 hello")
    assert "SMS_DEFAULT_REGION" in reply["text"]
    _no_gateway_call(app)


def test_national_number_with_region_is_sent(make_app: Callable) -> None:
    app = make_app(env={"SMS_DEFAULT_REGION": "ZA"})
    app.command("send 0825550103 hello")
    app.command('send "082 555 0103" hello')
    wait_for(lambda: len(app.sandbox.messages()) == 2, 10, "two SMS")
    assert {m.to for m in app.sandbox.messages()} == {ECHO}


def test_unknown_contact_name_is_refused(app: RunningApp) -> None:
    reply = _ask(app, "send nobody hello")
    assert "no contact or group by that name" in reply["text"]
    _no_gateway_call(app)


def test_the_first_word_of_a_saved_name_with_spaces_is_refused_with_how_to_quote_it(
    app: RunningApp,
) -> None:
    app.services.storage.contacts.save("Night shift", ECHO)
    reply = _ask(app, "send Night shift hello")
    assert 'Did you mean "Night shift"? A name with spaces goes in quotes.' in reply["text"]
    _no_gateway_call(app)
    app.command('send "Night shift" hello')
    wait_for(lambda: len(app.sandbox.messages()) == 1, 10, "the SMS")
    assert app.sandbox.messages()[0].text == "hello"


def test_opted_out_number_is_refused(app: RunningApp) -> None:
    app.services.storage.opt_outs.opt_out(ECHO, "STOP")
    reply = _ask(app, f"send +{ECHO} hello")
    assert "opted out" in reply["text"]
    assert "+27 82 555 0103" in reply["text"]
    assert "START" in reply["text"]
    _no_gateway_call(app)


def test_text_over_max_parts_is_refused_with_its_length(make_app: Callable) -> None:
    app = make_app(env={"SMS_MAX_PARTS": "1"})
    reply = _ask(app, f"send {ECHO} " + "a" * 161)
    assert "161 GSM characters" in reply["text"]
    assert "2 parts" in reply["text"]
    assert "SMS_MAX_PARTS" in reply["text"]
    _no_gateway_call(app)


def test_usage_error_says_what_is_wrong_and_the_usage(app: RunningApp) -> None:
    reply = _ask(app, "sned 123 hi")
    assert "Unknown command 'sned'" in reply["text"]
    reply = _ask(app, f"send {ECHO}")
    assert "Usage: /sms send" in _text(reply)
    _no_gateway_call(app)


# --------------------------------------------------------------------------- queries


def _sent(app: RunningApp, to: str = ECHO) -> str:
    app.command(f"send {to} hello")
    wait_for(lambda: app.sandbox.messages(), 10, "the SMS")
    apimsgid = app.sandbox.messages()[0].apimsgid
    wait_for(lambda: app.services.storage.sends.recipient_by_apimsgid(apimsgid), 10, "the result")
    return apimsgid


def test_status_in_plain_words(app: RunningApp) -> None:
    apimsgid = _sent(app)
    reply = _ask(app, f"status {apimsgid}")
    assert apimsgid in reply["text"]
    assert "status 00" in reply["text"]
    assert "Sandbox" in _text(reply)


def test_status_of_unknown_id_explains_the_gateway_code(app: RunningApp) -> None:
    # Neither an apimsgid nor a climsgid: reported as the unknown apimsgid (103), exactly as the
    # command line reports it (both ask the gateway port, whose query takes either ID).
    for command in ("status", "cancel", "charge"):
        reply = _ask(app, f"{command} 0123456789abcdef0123456789abcdef")
        assert "(gateway code 103)" in reply["text"] and "104" not in reply["text"]


def test_status_by_our_climsgid(app: RunningApp) -> None:
    apimsgid = _sent(app)
    climsgid = app.services.storage.sends.recipient_by_apimsgid(apimsgid).climsgid
    reply = _ask(app, f"status {climsgid}")
    assert apimsgid in reply["text"]


def test_charge(app: RunningApp) -> None:
    apimsgid = _sent(app)
    reply = _ask(app, f"charge {apimsgid}")
    assert "cost" in reply["text"] and apimsgid in reply["text"]


def test_balance(app: RunningApp) -> None:
    reply = _ask(app, "balance")
    assert "Credit left on the account: 100" in reply["text"]


def test_coverage(app: RunningApp) -> None:
    assert "can be reached" in _ask(app, "coverage +27821234567")["text"]
    assert "cannot be reached" in _ask(app, f"coverage {UNROUTABLE}")["text"]
    assert "not a valid phone number" in _ask(app, "coverage 999")["text"]


def test_redeem_is_for_admins_only(make_app: Callable) -> None:
    app = make_app(env={"SMS_ADMINS": ADMIN})
    refused = _ask(app, "redeem 1234567812345678", user=ALICE)
    assert "Only admins" in refused["text"]
    assert "SMS_ADMINS" in refused["text"]
    assert "Credit left on the account: 100" in _ask(app, "balance")["text"]
    done = _ask(app, "redeem 1234-5678-1234-5678", user=ADMIN)
    assert "Voucher redeemed" in done["text"]
    assert "100 credits added" in done["text"]  # read from the balance before and after
    assert "from " in done["text"] and " to " in done["text"]
    assert "Credit left on the account: 100" not in _ask(app, "balance")["text"]


def test_ping(app: RunningApp) -> None:
    assert "session is alive" in _text(_ask(app, "ping"))


# --------------------------------------------------------------------------- local state


def test_contacts_add_list_remove(app: RunningApp) -> None:
    assert "Saved contact Thandi" in _ask(app, "contact add Thandi +27821234567")["text"]
    replaced = _ask(app, "contact add thandi 27821234568")["text"]
    assert "Updated contact thandi: +27 82 123 4568 (replacing +27 82 123 4567)" in replaced
    again = _ask(app, "contact add thandi 27821234568")["text"]  # the same number: no news
    assert "Updated contact thandi" in again and "replacing" not in again
    listing = _text(_ask(app, "contacts"))
    assert "thandi" in listing and "+27 82 123 4568" in listing
    assert "Removed contact Thandi" in _ask(app, "contact remove Thandi")["text"]
    assert "No contacts yet" in _ask(app, "contacts")["text"]
    assert "no contact named" in _ask(app, "contact remove Thandi")["text"]
    assert "not a valid phone number" in _ask(app, "contact add Bob 12")["text"]


def test_log_lists_sends_with_sender_and_status(app: RunningApp) -> None:
    apimsgid = _sent(app)
    listing = _text(_ask(app, "log"))
    assert "<@U0ALICE>" in listing and apimsgid in listing and "hello" in listing
    assert apimsgid in _text(_ask(app, f"log +{ECHO}"))
    assert "No messages with +27 82 123 4567" in _ask(app, "log +27821234567")["text"]


def test_help_lists_every_command(app: RunningApp) -> None:
    text = _text(_ask(app, "help"))
    for word in (
        "send",
        "status",
        "cancel",
        "charge",
        "balance",
        "coverage",
        "redeem",
        "contact add",
        "contact remove",
        "contacts",
        "log",
        "help",
    ):
        assert f"/sms {word}" in text, word


def test_an_answer_outlasts_a_moment_of_slack_errors(app: RunningApp) -> None:
    app.fake.fail("response_url", status=503, times=2)
    _, name = app.command("balance")
    answer = app.wait_response(name, count=3)  # two refused, the third delivered
    assert "Credit left on the account: 100" in answer["text"]
    assert len(app.slack_sleeps) == 2  # backed off before each retry
