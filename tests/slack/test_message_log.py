"""`/sms log`: both directions, who sent each, status, a link to each thread, contact names,
pages with a More button — over signed slash commands and clicks to the real app."""

from __future__ import annotations

import json
from typing import Any

import requests

from bot.blocks.log import LOG_MORE_ACTION
from bot.testing.app import RunningApp
from bot.testing.callbacks import mo_params, post
from bot.testing.signing import CHANNEL, USER, block_action
from bot.testing.waiting import wait_for

ECHO = "27825550103"  # the sandbox's phone that answers "Got it: …"
PHONE = "27821234567"


def _sms_channel(app: RunningApp) -> str:
    return app.settings.sms_channel or ""


def _ask(app: RunningApp, text: str, *, user: str = USER, channel: str = CHANNEL) -> dict:
    _, name = app.command(text, user=user, channel=channel)
    return app.wait_response(name)


def _shown(reply: dict[str, Any]) -> str:
    return reply["text"] + json.dumps(reply.get("blocks") or [], ensure_ascii=False)


def _texts_in(app: RunningApp, key: str, number: str, text: str) -> None:
    post(
        requests.Session(),
        app.url + "/clickatell/mo",
        mo_params(key, number, text),
        app.callback_auth,
    )


def test_both_directions_with_who_status_and_thread_links(app: RunningApp) -> None:
    _ask(app, "contact add Echo +27825550103")
    app.send(f"send {ECHO} are you in?")
    wait_for(lambda: app.storage.inbound.recent(ECHO), what="the phone's answer")  # it echoes
    app.wait_idle()
    shown = _shown(_ask(app, "log echo"))  # a contact name, any case
    assert "<@U0ALICE> → Echo (+27 82 555 0103): “are you in?”" in shown
    assert "Echo (+27 82 555 0103) → us: “Got it: are you in?”" in shown
    assert "Received, shown in Slack" in shown
    thread = app.storage.sends.get(1).card_ts.replace(".", "")
    link = f"<https://example.slack.com/archives/{CHANNEL}/p{thread}|thread>"
    assert shown.count(link) == 2  # the card's thread holds both


def test_nobody_is_no_such_contact(app: RunningApp) -> None:
    assert "no contact named nobody" in _ask(app, "log nobody")["text"]


def test_what_arrived_in_another_channel_is_not_shown_here(app: RunningApp) -> None:
    _texts_in(app, "mo-1", PHONE, "hello from a stranger")
    wait_for(lambda: app.storage.inbound.recent(PHONE), what="the inbound SMS")
    assert "hello from a stranger" in _shown(_ask(app, "log", channel=_sms_channel(app)))
    assert "hello from a stranger" not in _shown(_ask(app, "log", channel=CHANNEL))


def test_pages_past_twenty_with_more_and_page_option(app: RunningApp) -> None:
    for n in range(25):
        _texts_in(app, f"mo-{n}", PHONE, f"message number {n:02d}")
    wait_for(lambda: len(app.storage.inbound.recent(PHONE, limit=30)) == 25, what="25 SMS")
    first = _ask(app, "log", channel=_sms_channel(app))
    shown = _shown(first)
    assert "message number 24" in shown and "message number 05" in shown
    assert "message number 04" not in shown
    button = first["blocks"][-1]["elements"][0]
    assert button["action_id"] == LOG_MORE_ACTION
    request = block_action(
        action_id=LOG_MORE_ACTION,
        value=button["value"],
        channel_id=_sms_channel(app),
        message_ts="1700000000.000001",
        block_id="log_more",
        response_url=app.fake.response_url("more"),
    )
    assert app.post(request).status_code == 200
    second = _shown(app.wait_response("more"))
    assert "message number 04" in second and "message number 00" in second
    assert "message number 05" not in second and LOG_MORE_ACTION not in second
    assert _shown(_ask(app, "log --page 2", channel=_sms_channel(app))) == second
    # The More button obeys the same rule: clicked in another channel, that channel's log.
    request = block_action(
        action_id=LOG_MORE_ACTION,
        value=button["value"],
        channel_id=CHANNEL,
        message_ts="1700000000.000002",
        block_id="log_more",
        response_url=app.fake.response_url("elsewhere"),
        action_ts="1700000101.000001",
    )
    app.post(request)
    assert "message number" not in _shown(app.wait_response("elsewhere"))
