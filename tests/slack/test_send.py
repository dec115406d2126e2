"""`/sms send` end to end: signed slash command -> card in the fake Slack -> sandbox gateway."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from bot.testing.app import RunningApp
from bot.testing.sandbox import Gate
from bot.testing.signing import CHANNEL
from bot.testing.slack import Call
from bot.testing.waiting import wait_for

ECHO = "27825550103"  # sandbox: received, then texts back
UNROUTABLE = "27825550102"  # sandbox: ERR 114


def _blocks_text(params: dict[str, Any]) -> str:
    blocks = params.get("blocks") or []
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    return json.dumps(blocks, ensure_ascii=False)


def _card_updates(app: RunningApp, predicate: Callable[[str], bool]) -> list[Call]:
    return [c for c in app.fake.calls_to("chat.update") if predicate(_blocks_text(c.params))]


def _send_of(app: RunningApp) -> Any:
    """The newest recorded send, or None while the work queue has not recorded it yet."""
    entries = app.services.storage.sends.recent_log()
    return app.services.storage.sends.get(entries[0].send_id) if entries else None


def _sent_id(app: RunningApp) -> str | None:
    send = _send_of(app)
    return send.recipients[0].apimsgid if send else None


def test_send_posts_a_card_then_updates_it_with_the_result(app: RunningApp) -> None:
    answer, name = app.command(f"send +{ECHO} Are you coming?")
    assert answer.status_code == 200
    assert answer.text == ""  # acknowledged silently; the card is the answer

    post = app.fake.wait_for_call("chat.postMessage")[0]
    assert post.params["channel"] == CHANNEL
    first = _blocks_text(post.params)
    assert "Sandbox" in first
    assert "<@U0ALICE>" in first
    assert "Are you coming?" in first
    assert "Sending" in first
    assert "1 part" in first and "GSM 7-bit" in first

    wait_for(lambda: app.sandbox.messages(), 10, "the gateway to receive the SMS")
    sent = app.sandbox.messages()
    assert [m.to for m in sent] == [ECHO]
    assert sent[0].text == "Are you coming?"

    apimsgid = sent[0].apimsgid
    update = wait_for(lambda: _card_updates(app, lambda b: apimsgid in b), 10, "card update")
    # The update is of the card that was posted (the only message in the channel).
    assert [m["ts"] for m in app.fake.channel_messages(CHANNEL)] == [update[0].params["ts"]]

    send = wait_for(lambda: (send := _send_of(app)) and send.card_ts and send, 10, "card recorded")
    assert send.slack_user == "U0ALICE"
    assert send.channel == CHANNEL
    assert send.text == "Are you coming?"
    assert send.sandbox is True
    assert send.recipients[0].apimsgid == apimsgid
    assert (send.card_channel, send.card_ts) == (CHANNEL, update[0].params["ts"])
    assert app.responses(name) == []  # nothing went wrong: no ephemeral message


def test_acknowledgement_does_not_wait_for_a_slow_gateway(make_app: Callable) -> None:
    gate = Gate()
    app = make_app(sandbox_options={"reply_delay": 10.0, "sleep": gate.sleep})
    answer, _ = app.command(f"send {ECHO} hello")
    # The gateway is holding its reply until the gate opens: the ack came first.
    assert answer.status_code == 200
    assert not gate.opened.is_set()
    card = app.fake.wait_for_call("chat.postMessage")
    assert "Sending" in _blocks_text(card[0].params)
    gate.open()
    wait_for(lambda: app.sandbox.messages(), 10, "the SMS")
    wait_for(lambda: _sent_id(app), 10, "the result")


def test_slow_gateway_does_not_block_other_commands(make_app: Callable) -> None:
    """Six slow sends (more than Bolt's five listener threads) and then a help command: every
    acknowledgement and the help answer arrive while every gateway reply is still held."""
    gate = Gate()
    app = make_app(sandbox_options={"reply_delay": 10.0, "sleep": gate.sleep})
    for index in range(6):
        answer, _ = app.command(f"send {ECHO} message {index}")
        assert answer.status_code == 200
    answer, name = app.command("help")
    assert answer.status_code == 200
    help_text = app.wait_response(name)
    assert "/sms send" in help_text["text"] + _blocks_text(help_text)
    assert not gate.opened.is_set()
    app.fake.wait_for_call("chat.postMessage", count=6)
    gate.open()
    wait_for(lambda: len(app.sandbox.messages()) == 6, 10, "six SMS")


def test_repeated_trigger_id_sends_once(app: RunningApp) -> None:
    first, _ = app.command(f"send {ECHO} only once", trigger_id="1111.2222.same")
    again, _ = app.command(f"send {ECHO} only once", trigger_id="1111.2222.same")
    assert first.status_code == again.status_code == 200
    wait_for(lambda: _sent_id(app), 10, "the send")
    # A later command proves the work queue has moved past the duplicate.
    _, later = app.command("balance")
    app.wait_response(later)
    assert len(app.sandbox.messages()) == 1
    assert len(app.fake.calls_to("chat.postMessage")) == 1


def test_contact_names_are_resolved_and_shown(app: RunningApp) -> None:
    _, name = app.command(f"contact add Thandi +{ECHO}")
    assert "Saved contact Thandi" in app.wait_response(name)["text"]
    app.command("send thandi see you at 5")
    post = app.fake.wait_for_call("chat.postMessage")[0]
    assert "*Thandi* (+27 82 555 0103)" in _blocks_text(post.params)
    wait_for(lambda: app.sandbox.messages(), 10, "the SMS")
    assert app.sandbox.messages()[0].to == ECHO


def test_unicode_text_is_sent_as_ucs2_and_card_says_so(app: RunningApp) -> None:
    app.command(f"send {ECHO} Καλημέρα 👋")
    post = app.fake.wait_for_call("chat.postMessage")[0]
    assert "Unicode (UCS-2)" in _blocks_text(post.params)
    wait_for(lambda: app.sandbox.messages(), 10, "the SMS")
    assert app.sandbox.messages()[0].text == "Καλημέρα 👋"


def test_slack_escaped_text_is_sent_as_typed(app: RunningApp) -> None:
    # Slack sends &, < and > escaped in slash-command text.
    app.command(f"send {ECHO} 5 &lt; 6 &amp; 7 &gt; 2")
    wait_for(lambda: app.sandbox.messages(), 10, "the SMS")
    assert app.sandbox.messages()[0].text == "5 < 6 & 7 > 2"


def test_many_recipients_share_one_card_with_a_tally(app: RunningApp) -> None:
    numbers = [f"2782123{index:04d}" for index in range(12)]
    app.command("send " + ",".join(numbers) + " team update")
    post = app.fake.wait_for_call("chat.postMessage")[0]
    assert "12 recipients" in _blocks_text(post.params)
    wait_for(lambda: len(app.sandbox.messages()) == 12, 10, "twelve SMS")
    tallies = wait_for(lambda: _card_updates(app, _tally_of_12), 10, "tally of all twelve")
    assert "sending" not in _blocks_text(tallies[0].params)
    assert len(app.fake.calls_to("chat.postMessage")) == 1


def _tally_of_12(blocks: str) -> bool:
    """A tally line that accounts for all twelve recipients with none still 'sending'."""
    match = re.search(r"\*Status:\*([^\"]*)", blocks)
    if not match or "sending" in match.group(1):
        return False
    return sum(int(n) for n in re.findall(r" (\d+) ", match.group(1))) == 12


def test_gateway_refusal_is_on_the_card_and_explained_ephemerally(app: RunningApp) -> None:
    _, name = app.command(f"send {UNROUTABLE},{ECHO} hi both")
    error = app.wait_response(name)
    assert error["response_type"] == "ephemeral"
    assert "+27 82 555 0102" in error["text"]
    assert "114" in error["text"]
    assert "route" in error["text"]
    card = wait_for(lambda: _card_updates(app, lambda b: "code 114" in b), 10, "card")[-1]
    assert "Not sent" in _blocks_text(card.params)
    assert [m.to for m in app.sandbox.messages()] == [ECHO]  # the other recipient still got it


def test_no_credit_says_how_to_top_up(make_app: Callable) -> None:
    app = make_app(sandbox_options={"balance": 0.0})
    _, name = app.command(f"send {ECHO} hello")
    error = app.wait_response(name)
    assert "301" in error["text"]
    assert "/sms redeem" in error["text"]
    assert "Top up" in error["text"]
    wait_for(lambda: _card_updates(app, lambda b: "Not sent" in b), 10, "card shows failure")
    assert app.sandbox.messages() == []


def test_card_that_cannot_be_posted_still_sends_and_tells_the_user(app: RunningApp) -> None:
    app.fake.fail("chat.postMessage", error="not_in_channel")
    _, name = app.command(f"send {ECHO} private channel")
    note = app.wait_response(name)
    assert note["response_type"] == "ephemeral"
    assert "not_in_channel" in note["text"]
    assert "/invite" in note["text"]
    wait_for(lambda: app.sandbox.messages(), 10, "the SMS")
    assert app.fake.calls_to("chat.update") == []


def test_scheduled_send_shows_when_and_a_cancel_button(app: RunningApp) -> None:
    app.command(f"send --at +2h {ECHO} later")
    wait_for(lambda: app.sandbox.messages(), 10, "the SMS")
    update = wait_for(lambda: _card_updates(app, lambda b: "cancel_send" in b), 10, "button")
    text = _blocks_text(update[-1].params)
    assert "Scheduled" in text
    assert "scheduled for" in text


def test_gateway_timeout_marks_outcome_unknown_and_says_what_to_do(make_app: Callable) -> None:
    # A number that never reports: any delivery report would settle the unknown outcome.
    silent = "27825550107"
    gate = Gate()
    app = make_app(
        env={"CLICKATELL_TIMEOUT": "0.2"},
        sandbox_options={"reply_delay": 10.0, "sleep": gate.sleep},
    )
    gate.open()
    app.services.gateway.ping()  # logged in while the gateway answers
    gate.close()
    try:
        _, name = app.command(f"send {silent} did it go?")
        note = app.wait_response(name)
        assert "may or may not have sent" in note["text"]
        assert "/sms status" in note["text"]
        card = wait_for(lambda: _card_updates(app, lambda b: "Outcome unknown" in b), 10, "card")
        assert ":warning:" in _blocks_text(card[-1].params)
    finally:
        app.stop()  # the held replies then find their connections gone
        gate.drain()


def test_send_with_a_used_client_id_is_not_sent_again(app: RunningApp) -> None:
    app.command(f"send --id standup42 {ECHO} Stand-up at 10")
    wait_for(lambda: app.sandbox.messages(), 10, "the first SMS")
    apimsgid = app.sandbox.messages()[0].apimsgid
    wait_for(lambda: _card_updates(app, lambda b: apimsgid in b), 10, "the first card")
    _, name = app.command(f"send --id standup42 {ECHO} Stand-up at 10")
    reply = app.wait_response(name)
    assert reply["response_type"] == "ephemeral"
    assert "already sent" in reply["text"] and "standup42" in reply["text"]
    assert apimsgid in reply["text"] and "not sent again" in reply["text"]
    assert len(app.sandbox.messages()) == 1  # the gateway saw one sendmsg
    # Delivery reports keep updating the first card: the repeat took no message ID.
    first = app.services.storage.sends.recipient_by_apimsgid(apimsgid)
    assert first is not None and first.send_id != _send_of(app).id
