"""Thread replies from Slack to the phone: signed Events API requests to the real app, the sandbox
as gateway (what it received is what the phone got), a fake Slack Web API."""

from __future__ import annotations

import json
from pathlib import Path

from bot.domain.outbox import GATEWAY_CHANNEL, OutboxKind
from bot.domain.records import NewRecipient
from bot.testing.app import SMS_CHANNEL, RunningApp
from bot.testing.callbacks import mo_params, post
from bot.testing.signing import CHANNEL, USER
from bot.testing.waiting import wait_for
from tests.inbound.rig import Rig

ECHO = "27825550103"
FAILS = "27825550101"
PLAIN = "27821234567"
OTHER = "27821234568"


def card_sent(app: RunningApp, text: str) -> str:
    count = len(app.sandbox.messages())
    app.send(text)
    ts = app.card_ts()
    wait_for(lambda: len(app.sandbox.messages()) > count, what="the card's send")
    return ts


def relayed(app: RunningApp) -> list[tuple[str, str]]:
    """What the gateway received from thread replies (not from cards)."""
    cards = set()
    send_id = 1
    while (send := app.storage.sends.get(send_id)) is not None:
        if send.thread_ts is None:
            cards.update(r.climsgid for r in send.recipients)
        send_id += 1
    return [(m.to, m.text) for m in app.sandbox.messages() if m.climsgid not in cards]


def ephemerals(app: RunningApp) -> list[str]:
    return [c.params["text"] for c in app.fake.calls_to("chat.postEphemeral")]


def test_a_redelivered_event_is_relayed_once(app: RunningApp) -> None:
    ts = card_sent(app, f"send {PLAIN} Hi")
    app.reply_in_thread("once only", ts, ts="1800000000.000100", event_id="EvSAME")
    app.reply_in_thread("once only", ts, ts="1800000000.000100", event_id="EvSAME")  # retry
    app.reply_in_thread("once only", ts, ts="1800000000.000100", event_id="EvOTHER")
    wait_for(lambda: relayed(app), what="the relayed SMS")
    app.wait_idle()
    assert relayed(app) == [(PLAIN, "once only")]


def test_notes_bot_messages_and_subtypes_stay_in_slack(app: RunningApp) -> None:
    ts = card_sent(app, f"send {PLAIN} Hi")
    app.reply_in_thread("note: call them tomorrow", ts)
    app.reply_in_thread("NOTE:  internal", ts)
    app.reply_in_thread("from a bot", ts, bot_id="B0OTHER")
    app.reply_in_thread("joined", ts, subtype="channel_join")
    app.reply_in_thread("the real one", ts)
    wait_for(lambda: relayed(app), what="the one relayed reply")
    app.wait_idle()
    assert relayed(app) == [(PLAIN, "the real one")]


def test_edit_or_delete_of_a_texted_reply_gets_a_note(app: RunningApp) -> None:
    ts = card_sent(app, f"send {PLAIN} Hi")
    _, reply_ts = app.reply_in_thread("meet at 5", ts)
    wait_for(lambda: relayed(app), what="the relayed SMS")
    edited = {
        "type": "message",
        "subtype": "message_changed",
        "channel": CHANNEL,
        "hidden": True,
        "message": {
            "type": "message",
            "user": USER,
            "text": "meet at 6",
            "ts": reply_ts,
            "thread_ts": ts,
            "edited": {"user": USER, "ts": "1800000001.000000"},
        },
        "previous_message": {"type": "message", "user": USER, "text": "meet at 5", "ts": reply_ts},
        "event_ts": "1800000001.000001",
        "ts": "1800000001.000001",
    }
    app.event(edited)
    app.event({**edited, "event_ts": "1800000002.000001"})  # edited again: one note is enough
    deleted = {
        "type": "message",
        "subtype": "message_deleted",
        "channel": CHANNEL,
        "hidden": True,
        "deleted_ts": reply_ts,
        "event_ts": "1800000003.000001",
        "ts": "1800000003.000001",
        "previous_message": {"type": "message", "user": USER, "text": "meet at 6", "ts": reply_ts},
    }
    app.event(deleted)
    notes = lambda: [  # noqa: E731
        p for p in app.fake.thread(CHANNEL, ts) if "phone keeps the original" in p["text"]
    ]
    wait_for(lambda: len(notes()) == 2, what="the notes about the edit and the deletion")
    app.wait_idle()
    assert len(notes()) == 2
    assert relayed(app) == [(PLAIN, "meet at 5")]


def test_people_not_allowed_are_refused(make_app) -> None:
    app = make_app(env={"SMS_ALLOWED_USERS": "U0BOSS"})
    send = app.storage.sends.record(
        slack_user="U0BOSS",
        channel=CHANNEL,
        text="Hi",
        encoding="gsm7",
        parts=1,
        recipients=[NewRecipient(msisdn=PLAIN, climsgid="boss1", apimsgid="a1")],
    )
    app.storage.sends.attach_card(send.id, CHANNEL, "1700000000.999999")
    app.reply_in_thread("let me in", "1700000000.999999", user="U0INTERN")
    wait_for(lambda: ephemerals(app), what="the refusal")
    assert "not allowed" in ephemerals(app)[0]
    assert app.sandbox.messages() == []


def test_card_with_several_numbers_and_no_reply_asks_before_texting(app: RunningApp) -> None:
    """Nobody texted in yet: the only choice offered is all the card's recipients (the rest of
    the choice is in test_reply_choice.py)."""
    ts = card_sent(app, f"send {PLAIN},{OTHER} Hi both")
    wait_for(lambda: app.storage.sends.get(1).recipients[1].apimsgid, what="both accepted")
    app.reply_in_thread("who gets this?", ts)

    def buttons() -> list[str]:
        for message in app.fake.thread(CHANNEL, ts):
            for block in message.get("blocks") or []:
                if block.get("type") == "actions":
                    return [b["text"]["text"] for b in block["elements"]]
        return []

    assert wait_for(buttons, what="the question") == ["All recipients (2)"]
    app.wait_idle()
    assert relayed(app) == [] and ephemerals(app) == []


def test_reply_in_a_conversation_thread_goes_to_its_number(app: RunningApp) -> None:
    import requests

    auth = app.callback_auth
    post(requests.Session(), app.url + "/clickatell/mo", mo_params("mo-n", PLAIN, "hi?"), auth)
    wait_for(lambda: list(app.fake.channel_messages(SMS_CHANNEL)), what="the conversation")
    app.wait_idle()  # the post's ts is recorded as the conversation's thread (no person is faster)
    (root,) = list(app.fake.channel_messages(SMS_CHANNEL))
    app.reply_in_thread("hello, who is this?", root["ts"], channel=SMS_CHANNEL)
    wait_for(lambda: app.sandbox.messages(), what="the relayed SMS")
    assert [(m.to, m.text) for m in app.sandbox.messages()] == [(PLAIN, "hello, who is this?")]


def test_a_failed_relay_is_marked_and_explained(app: RunningApp) -> None:
    ts = card_sent(app, f"send {FAILS} Hi")
    _, reply_ts = app.reply_in_thread("are you there?", ts)
    wait_for(lambda: relayed(app), what="the relayed SMS")
    wait_for(lambda: app.storage.sends.get(2).recipients[0].apimsgid, what="its result")
    app.advance(0)
    app.advance(1.0)  # 007 for both
    app.fake.wait_for_call(
        "reactions.add", lambda c: c.params["name"] == "x" and c.params["timestamp"] == reply_ts
    )
    wait_for(
        lambda: any("not delivered" in p["text"] for p in app.fake.thread(CHANNEL, ts)),
        what="the note in the thread",
    )
    note = next(p for p in app.fake.thread(CHANNEL, ts) if "not delivered" in p["text"])
    assert "007" in json.dumps(note["blocks"])


def test_an_interrupted_relay_is_checked_before_sending_again(tmp_path: Path, rig: Rig) -> None:
    """A crash between the gateway call and storing its answer: the climsgid is known to the
    gateway, so the restarted relay records it instead of texting the phone twice."""
    send = rig.storage.sends.record(
        slack_user="U0ALICE",
        channel="C1",
        text="once",
        encoding="gsm7",
        parts=1,
        recipients=[NewRecipient(msisdn=PLAIN, climsgid="cli-interrupted")],
        thread_ts="1700000000.000001",
    )
    rig.storage.sends.attach_card(send.id, "C1", "1700000000.000002")
    item_id = rig.storage.outbox.enqueue(GATEWAY_CHANNEL, OutboxKind.SMS, {"send_id": send.id})
    rig.gateway.known["cli-interrupted"] = "api-from-before"  # it did reach the gateway
    rig.storage.values.set(f"relay.inflight.{send.id}", "{}")  # ...then the process died
    (item,) = rig.storage.outbox.fetch_due(now=rig.clock.utc())
    assert item.id == item_id
    rig.inbound.relay.send_item(item)
    assert rig.gateway.sent == []
    assert rig.storage.sends.get(send.id).recipients[0].apimsgid == "api-from-before"
    assert rig.storage.outbox.get(item_id).state == "done"
