"""Text from phones is shown literally in Slack: Slack's control sequences (<!channel>, <!here>,
<@U…>, <#C…>, <url|label>) and entities are escaped, and the words go into plain_text objects
(no mrkdwn: *bold*, `code` stay as typed) with mrkdwn off for the notification text. The
assertions are on exactly what the fake Slack Web API received, through the real app: callbacks
posted to /clickatell/mo over loopback, and the sandbox phone echoing a card's text."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from bot.blocks.base import escape
from bot.testing.app import SMS_CHANNEL, RunningApp
from bot.testing.callbacks import mo_params, post
from bot.testing.signing import CHANNEL, slash_command
from bot.testing.waiting import wait_for
from tests.security.support import ErrorLog

PHONE = "27821234567"
ECHO = "27825550103"  # the sandbox phone that texts back "Got it: " + the first 40 characters

HOSTILE = (
    "<!channel> <!here> <!everyone> <@U123> <#C123> <!subteam^S1> "
    "<https://evil.example|click> *bold* _it_ ~st~ `code` ```pre``` &amp; &lt;x&gt; > q :x:"
)
CONTROL_SEQUENCES = [
    "<!channel>", "<!here>", "<!everyone>", "<@U123>", "<#C123>", "<!subteam^S1>",
    "<https://evil.example|click>",
]  # fmt: skip


def _text_objects(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for block in blocks:
        if isinstance(block.get("text"), dict):
            found.append(block["text"])
        found += [e for e in block.get("elements") or [] if isinstance(e, dict) and "type" in e]
    return found


@pytest.fixture(autouse=True)
def _no_errors(errors: ErrorLog) -> Iterator[None]:
    yield
    errors.assert_clean("showing phone text")


def assert_literal(post_params: dict[str, Any], phone_text: str) -> None:
    """The phone's words are in plain_text objects, escaped, and nowhere as live markup."""
    raw = json.dumps(post_params, ensure_ascii=False)
    for control in CONTROL_SEQUENCES:
        assert control not in raw, control
    assert post_params["mrkdwn"] is False
    objects = _text_objects(post_params["blocks"])
    plain = "".join(o["text"] for o in objects if o["type"] == "plain_text")
    assert plain == escape(phone_text)
    assert all(o.get("emoji") is False for o in objects if o["type"] == "plain_text")
    for obj in objects:
        if obj["type"] == "mrkdwn":  # our own words only: the phone's text is not in them
            assert "evil.example" not in obj["text"] and "bold" not in obj["text"], obj
    assert escape(phone_text) in post_params["text"]  # the notification: escaped, mrkdwn off


def _posts(app: RunningApp, channel: str) -> list[dict[str, Any]]:
    return wait_for(lambda: app.fake.posts(channel), what=f"a post in {channel}")


@pytest.mark.parametrize("charset", ["ISO-8859-1", "UTF-16BE"])
def test_a_new_conversation_shows_the_phone_text_literally(app: RunningApp, charset: str) -> None:
    text = HOSTILE if charset == "ISO-8859-1" else HOSTILE + " Ωμέγα 😀"
    params = mo_params("mo-hostile", PHONE, text, charset=charset)
    assert post(app.http, app.url + "/clickatell/mo", params, app.callback_auth).status_code == 200
    (message,) = _posts(app, SMS_CHANNEL)
    assert_literal(message, text)


def test_a_reply_in_a_card_thread_shows_the_phone_text_literally(app: RunningApp) -> None:
    """The sandbox phone echoes the card's text: markup typed in Slack comes back from a phone
    and must then be shown literally (the card itself is the sender's own mrkdwn)."""
    typed = "<!channel> *now* <@U123> &amp;"
    app.send(f"send {ECHO} {typed}")
    ts = app.card_ts()
    wait_for(lambda: app.sandbox.messages(), what="the SMS")
    wait_for(
        lambda: all(r.apimsgid for r in app.storage.sends.get(1).recipients),
        what="the send's result",
    )
    for _ in range(3):
        app.advance(1.0)  # delivered, received, then the phone texts back
    replies = wait_for(lambda: app.fake.thread(CHANNEL, ts), what="the phone's reply")
    (reply,) = replies
    assert_literal(reply, "Got it: <!channel> *now* <@U123> &")


def test_contact_names_and_keywords_do_not_become_markup(app: RunningApp) -> None:
    """A contact name is shown in our mrkdwn heading: its control sequences are escaped there;
    an opt-out note quotes the keyword the phone sent."""
    command = slash_command(
        f"contact add <!here>Boss {PHONE}", response_url=app.fake.response_url("contact")
    )
    assert app.post(command).status_code == 200
    wait_for(lambda: app.storage.contacts.name_for(PHONE), what="the contact")
    params = mo_params("mo-stop", PHONE, " stop ")
    assert post(app.http, app.url + "/clickatell/mo", params, app.callback_auth).status_code == 200
    (message,) = _posts(app, SMS_CHANNEL)
    raw = json.dumps(message, ensure_ascii=False)
    assert "<!here>" not in raw and "&lt;!here&gt;Boss" in raw
    assert "opted out (texted STOP)" in raw
    assert_literal(message, " stop ")
