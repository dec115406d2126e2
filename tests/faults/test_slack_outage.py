"""Slack is unavailable for a while: first it does not answer at all (every call hangs), then it
answers 503, then 429 with Retry-After, then it is back.

While Slack hangs, every request the app gets is still answered: Clickatell's status and MO
callbacks, slash commands (/sms balance, /sms send), a bare /sms (which opens a modal) and a
thread reply event. Those answers are checked while Slack still holds the outbox's call, so any
request that waited on Slack would time out instead. Once Slack is back, every inbound SMS is
posted exactly once, in order within its conversation; each card (the one of the send made
during the outage included) shows the latest delivery report; the relayed thread reply ends
with its ✅.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from bot.testing.app import SMS_CHANNEL, RunningApp
from bot.testing.callbacks import mo_params, post
from bot.testing.signing import CHANNEL, slash_command
from bot.testing.waiting import wait_for
from tests.faults.slack import FAIL, HANG, LIMIT, UP, OutageSlack

PLAIN = "27821234567"  # the card's recipient (sandbox: 003, then 004 a second later)
PHONE_B = "27821110001"
PHONE_C = "27821110002"
PHONE_D = "27821110003"  # sent to with /sms send while Slack is down
# Inbound SMS in the order the gateway delivers them: two new conversations, interleaved, and a
# reply to the card.
INBOUND = [
    (PHONE_B, "B1 first"),
    (PHONE_C, "C1 first"),
    (PHONE_B, "B2 second"),
    (PLAIN, "P1 about the card"),
    (PHONE_C, "C2 second"),
    (PHONE_B, "B3 third"),
]


@pytest.fixture
def outage() -> Iterator[OutageSlack]:
    with OutageSlack() as fake:
        yield fake


@pytest.fixture
def slack(outage: OutageSlack) -> OutageSlack:
    """The app's Slack is `outage`."""
    return outage


def text_of(message: dict[str, Any]) -> str:
    return json.dumps(message.get("blocks") or message.get("text"), ensure_ascii=False)


def shown(slack: OutageSlack, words: str) -> list[dict[str, Any]]:
    """Every message Slack holds whose content has `words`, in any channel."""
    return [m for (_, _), m in sorted(slack.messages.items()) if words in text_of(m)]


def in_thread(slack: OutageSlack, channel: str, root: str) -> list[dict[str, Any]]:
    """The replies Slack holds in a thread, oldest first (the fake's ts is a counter)."""
    found = [m for m in slack.channel_messages(channel) if m.get("thread_ts") == root]
    return sorted(found, key=lambda m: m["ts"])


def test_requests_are_answered_while_slack_is_down_and_everything_arrives_once(
    make_app: Callable[..., RunningApp], outage: OutageSlack
) -> None:
    app = make_app()
    app.send(f"send {PLAIN} Meeting moved to 4")
    card = app.card_ts()
    wait_for(lambda: app.storage.sends.get(1).recipients[0].apimsgid, what="the send's answer")
    app.wait_idle()

    outage.hang()
    session = requests.Session()
    callback = app.url + "/clickatell/mo"

    def inbound(index: int) -> requests.Response:
        phone, text = INBOUND[index]
        params = mo_params(f"mo-{index}", phone, text)
        return post(session, callback, params, app.callback_auth)

    answers = [inbound(0)]
    wait_for(lambda: outage.hanging, what="the outbox to be stuck in a Slack call")
    answers += [inbound(index) for index in range(1, len(INBOUND))]
    app.advance(1.0)  # the sandbox's 004 report for the card
    answers += [app.post(slash_command("balance", response_url=app.fake.response_url("bal")))]
    answers += [app.post(slash_command("", response_url=app.fake.response_url("compose")))]
    during = slash_command(
        f"send {PHONE_D} Sent during the outage",
        trigger_id="outage-send",
        response_url=app.fake.response_url("outage-send"),
    )
    answers.append(app.post(during))
    reply, reply_ts = app.reply_in_thread("On my way", card)
    answers.append(reply)

    # All answered while Slack still holds the outbox's call: nothing waited on Slack.
    assert [a.status_code for a in answers] == [200] * len(answers)
    assert app.sandbox.deliveries()[-1].ok  # the report was acknowledged too
    assert outage.phase == HANG and outage.hanging >= 1
    wait_for(lambda: not app.storage.inbox.unprocessed(limit=1), what="the inbox to be processed")

    outage.answer_held()  # 503s
    wait_for(lambda: outage.refused[FAIL] >= 5, what="the outbox to retry through 503s")
    outage.rate_limit(3)  # 429 with Retry-After: 1
    wait_for(lambda: outage.phase == UP, what="the rate limiting to pass")
    assert outage.refused[LIMIT] == 3

    # The send made during the outage and the relayed reply reached the gateway; their reports
    # move the new card to "received" and the reply's reaction to ✅.
    wait_for(lambda: len(app.sandbox.messages()) == 3, what="the SMS sent during the outage")
    app.advance(0)
    app.advance(1.0)
    wait_for(
        lambda: outage.reactions_on(CHANNEL, reply_ts) == ["white_check_mark"],
        what="the reply's ✅",
    )
    app.wait_idle()

    for _, text in INBOUND:
        assert len(shown(outage, text)) == 1, text  # each SMS posted exactly once
    for phone in (PHONE_B, PHONE_C):
        texts = [text for number, text in INBOUND if number == phone]
        (root,) = shown(outage, texts[0])
        assert root["channel"] == SMS_CHANNEL and "thread_ts" not in root
        replies = in_thread(outage, SMS_CHANNEL, root["ts"])  # in the order Slack took them
        assert [t for r in replies for t in texts[1:] if t in text_of(r)] == texts[1:]
    (about_card,) = shown(outage, "P1 about the card")
    assert about_card["thread_ts"] == card
    assert "Received by recipient" in app.card_text(CHANNEL, card)
    (late_card,) = shown(outage, "Sent during the outage")  # posted once Slack was back
    assert late_card["channel"] == CHANNEL
    wait_for(
        lambda: "Received by recipient" in app.card_text(CHANNEL, late_card["ts"]),
        what="the late card to show the report",
    )
    top_level = [m for m in outage.channel_messages(SMS_CHANNEL) if "thread_ts" not in m]
    assert len(top_level) == 2  # one conversation per phone, nothing posted twice
