"""A thread reply on a card with several recipients waits for a person's choice (product.md §6):
signed events and button clicks over HTTP to the real app; the sandbox shows what phones got."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests

from bot.testing.app import RunningApp
from bot.testing.callbacks import mo_params, post
from bot.testing.signing import CHANNEL, USER, block_action
from bot.testing.waiting import wait_for
from tests.inbound.test_thread_replies import card_sent, relayed

FIRST = "27821234567"
SECOND = "27821234568"
THIRD = "27821234569"


def _texts_back(app: RunningApp, number: str, text: str, key: str) -> None:
    post(
        requests.Session(),
        app.url + "/clickatell/mo",
        mo_params(key, number, text),
        app.callback_auth,
    )


def _question(app: RunningApp, thread_ts: str, count: int = 1) -> dict[str, Any]:
    def found() -> list[dict[str, Any]]:
        return [
            m
            for m in app.fake.channel_messages(CHANNEL)
            if m.get("thread_ts") == thread_ts and "reply_choice" in json.dumps(m.get("blocks"))
        ]

    questions = wait_for(lambda: len(found()) >= count and found(), what="the question")
    return sorted(questions, key=lambda m: m["ts"])[count - 1]


def _buttons(question: dict[str, Any]) -> dict[str, dict[str, Any]]:
    actions = next(b for b in question["blocks"] if b["type"] == "actions")
    return {b["text"]["text"]: b for b in actions["elements"]}


def _click(
    app: RunningApp,
    question: dict[str, Any],
    label: str,
    name: str,
    *,
    user: str = USER,
    action_ts: str = "1700000500.000001",
) -> None:
    button = _buttons(question)[label]
    request = block_action(
        action_id=button["action_id"],
        value=button["value"],
        channel_id=CHANNEL,
        message_ts=question["ts"],
        user_id=user,
        action_ts=action_ts,
        block_id="reply_choice",
        response_url=app.fake.response_url(name, channel=CHANNEL, message_ts=question["ts"]),
    )
    assert app.post(request).status_code == 200


def _two_replied(app: RunningApp) -> str:
    ts = card_sent(app, f"send {FIRST},{SECOND},{THIRD} Who is coming?")
    _texts_back(app, SECOND, "me", "mo-2")
    _texts_back(app, FIRST, "me too", "mo-1")
    wait_for(lambda: len(app.fake.thread(CHANNEL, ts)) >= 2, what="both phones' replies")
    return ts


def test_a_reply_waits_for_the_choice_and_goes_only_where_chosen(app: RunningApp) -> None:
    ts = _two_replied(app)
    _, reply_ts = app.reply_in_thread("See you at 5", ts)
    question = _question(app, ts)
    # One button per number that texted in (in the order they did), and all recipients.
    assert list(_buttons(question)) == ["+27 82 123 4568", "+27 82 123 4567", "All recipients (3)"]
    app.wait_idle()
    assert relayed(app) == []  # nothing is texted before the choice

    _click(app, question, "+27 82 123 4568", "c1")
    wait_for(lambda: relayed(app), what="the chosen SMS")
    _click(app, question, "+27 82 123 4568", "c1", action_ts="1700000500.000001")  # Slack retry
    _click(app, question, "All recipients (3)", "c2", action_ts="1700000501.000001")
    assert "already sent" in app.wait_response("c2")["text"]
    app.wait_idle()
    assert relayed(app) == [(SECOND, "See you at 5")]
    notes = [m["text"] for m in app.fake.thread(CHANNEL, ts) if "The reply goes to" in m["text"]]
    assert notes == ["The reply goes to +27 82 123 4568."]
    # The question lost its buttons; the reply's reaction follows what was really sent.
    answered = app.fake.message(CHANNEL, question["ts"])
    assert "reply_choice" not in json.dumps(answered["blocks"])
    app.fake.wait_for_call("reactions.add", lambda c: c.params["timestamp"] == reply_ts)


def test_all_recipients_texts_every_number_but_one_that_opted_out(app: RunningApp) -> None:
    ts = _two_replied(app)
    _texts_back(app, THIRD, "STOP", "mo-3")
    wait_for(lambda: app.storage.opt_outs.is_opted_out(THIRD), what="the opt-out")
    app.reply_in_thread("Moved to 6", ts)
    question = _question(app, ts)
    _click(app, question, "All recipients (3)", "all")
    wait_for(lambda: len(relayed(app)) == 2, what="both SMS")
    app.wait_idle()
    assert sorted(relayed(app)) == [(FIRST, "Moved to 6"), (SECOND, "Moved to 6")]
    note = next(m["text"] for m in app.fake.thread(CHANNEL, ts) if "The reply goes to" in m["text"])
    assert "Skipped (opted out): +27 82 123 4569" in note


def test_only_the_writer_or_an_admin_chooses(app: RunningApp) -> None:
    ts = _two_replied(app)
    app.reply_in_thread("mine", ts)
    question = _question(app, ts)
    _click(app, question, "+27 82 123 4567", "bob", user="U0BOB")
    assert "Only the person who wrote" in app.wait_response("bob")["text"]
    app.wait_idle()
    assert relayed(app) == []


def test_the_waiting_reply_survives_a_restart(app: RunningApp, tmp_path: Path) -> None:
    ts = _two_replied(app)
    app.reply_in_thread("after the restart", ts)
    question = _question(app, ts)
    app.wait_idle()
    app.stop()
    restarted = RunningApp(app.fake, Path(app.settings.db_path).parent, app.options)
    try:
        _click(restarted, question, "+27 82 123 4567", "r1")
        wait_for(lambda: restarted.sandbox.messages(), what="the SMS after the restart")
        assert [(m.to, m.text) for m in restarted.sandbox.messages()] == [
            (FIRST, "after the restart")
        ]
    finally:
        restarted.stop()
