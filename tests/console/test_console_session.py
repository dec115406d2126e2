"""The console in-process, scripted through a text stream (pipe mode): the compose form, a
scheduled card's Cancel button with its confirmation, rejected form answers, thread-reply edits,
and every kind of input it must answer without a traceback."""

from __future__ import annotations

import dataclasses
import io
import re

import pytest

from bot.config import settings_from
from bot.console import first_line, main
from bot.console.runtime import CHANNEL, CONSOLE_USER, console_settings
from bot.inbound import Options
from bot.inbound.outbox import Timing

SCRIPT = [
    "reply Anyone there?",  # nothing to reply to yet
    "help",
    "/sms",
    "27825550100",
    "Hello from the form",
    "",
    "/sms send --at +2h 27825550100 Later",
    "press 1",
    "y",
    "press 1",
    "/sms",
    "12",
    "hi",
    "",
    "!cancel",
    "reply #1 See you there",
    "edit #3 See you later",
    "edit #1 not mine",
    "press 9",
    "reply #99 lost",
    "bogus words",
    "/other thing",
    "user U0BOB",
    "user",
    "quit",
    "/sms balance",  # never read: quit came first
]


# Slack pacing shortened (production: a post per second per channel, a card update per 3 s).
FAST = Options(
    timing=Timing(post_interval=0.0, card_interval=0.0, backoff=0.01, max_backoff=0.05, idle=0.02)
)


class Utf8Output(io.StringIO):
    encoding = "utf-8"  # like a UTF-8 pipe: the console draws emoji and bars


@pytest.fixture
def transcript(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.delenv("SMS_CONSOLE_DB", raising=False)
    out = Utf8Output()
    stdin = io.StringIO("\n".join(SCRIPT) + "\n")
    assert main(settings_from({}), stdin=stdin, stdout=out, inbound_options=FAST) == 0
    return out.getvalue().splitlines()


def after(lines: list[str], echo: str) -> list[str]:
    """The output that follows the echo of an input line, up to the next input line."""
    start = lines.index(echo) + 1
    end = next(
        (i for i in range(start, len(lines)) if lines[i].startswith(("you> ", "  y/n: "))),
        len(lines),
    )
    return lines[start:end]


def test_a_scripted_session(transcript: list[str]) -> None:
    text = "\n".join(transcript)
    assert transcript[0].startswith("sms-bot console: the real app")

    assert after(transcript, "you> reply Anyone there?") == [
        "(No conversation yet: send an SMS first (/sms send NUMBER TEXT).)"
    ]
    press = (
        "  press N              press the button shown as [N] (a card's Cancel, a Home tab button)"
    )
    assert press in text

    # the compose form: questions, the app's live parts preview, then the card
    form = after(transcript, "you> /sms")
    assert form[0].startswith("sms-bot opened a form: Send an SMS")
    assert "  To: 27825550100" in form
    assert "  Text: Hello from the form" in form
    assert "  19 characters · 1 part (160 per part) · GSM 7-bit" in form
    assert "  Send at (optional): " in form
    assert "#1 sms-bot:" in form and "   │ Hello from the form" in form

    # a scheduled card has a Cancel button; pressing asks for confirmation, then cancels
    scheduled = after(transcript, "you> /sms send --at +2h 27825550100 Later")
    assert "#2 sms-bot:" in scheduled
    assert any(re.fullmatch(r"   \[1\] Cancel", line) for line in scheduled)
    pressed = after(transcript, "you> press 1")
    assert pressed == [
        "Cancel this SMS? The scheduled message will not be sent.",
        "  y = Cancel it, n = Keep it",
    ]
    cancelled = after(transcript, "  y/n: y")
    assert "#2 updated:" in cancelled
    assert any("🚫 +27 82 555 0100 — Cancelled" in line for line in cancelled)
    assert "(Button [1] is no longer there (its message changed).)" in text

    # a rejected answer is asked again; !cancel closes the form
    assert "sms-bot rejected the form:" in text
    assert re.search(r"   To: '12' is not a valid phone number", text)
    assert "(Form closed; nothing was submitted.)" in text

    # a thread reply, then its edit: the app says the phone keeps the original
    replied = after(transcript, "you> reply #1 See you there")
    assert "#3 you, in thread #1:" in replied
    edited = after(transcript, "you> edit #3 See you later")
    assert "#3 edited:" in edited
    assert "already texted" in text
    assert after(transcript, "you> edit #1 not mine") == ["(#1 is not a message of yours.)"]

    assert after(transcript, "you> press 9") == ["(There is no button [9].)"]
    assert after(transcript, "you> reply #99 lost") == ["(There is no message #99.)"]
    assert after(transcript, "you> bogus words")[0].startswith("(Not understood: 'bogus words'")
    assert after(transcript, "you> /other thing") == [
        "(Only /sms is installed in this workspace, not /other.)"
    ]
    assert after(transcript, "you> user U0BOB") == ["(You are now u0bob (U0BOB).)"]
    assert after(transcript, "you> user") == ["(You are u0bob (U0BOB).)"]
    assert "you> /sms balance" not in transcript  # quit ends the session


def test_the_first_line_names_the_gateway() -> None:
    sandbox = first_line(settings_from({}))
    assert "sandbox gateway (no real SMS is sent)" in sandbox
    assert 'To connect Slack, see "Connecting to Slack" in README.md' in sandbox
    real = settings_from(
        {
            "CLICKATELL_API_ID": "123",
            "CLICKATELL_USER": "u",
            "CLICKATELL_PASSWORD": "secret-pass",
        }
    )
    line = first_line(real, reason="no Slack credentials configured")
    assert line.startswith("sms-bot console (no Slack credentials configured): ")
    assert "https://api.clickatell.com (REAL SMS are sent" in line
    assert "secret-pass" not in line


def test_console_settings_replace_slack_and_keep_the_gateway() -> None:
    configured = settings_from(
        {
            "SLACK_BOT_TOKEN": "xoxb-real",
            "SLACK_SIGNING_SECRET": "real-secret",
            "SLACK_APP_TOKEN": "xapp-real",
            "SMS_CHANNEL": "C0REAL",
            "CLICKATELL_API_ID": "123",
            "CLICKATELL_USER": "u",
            "CLICKATELL_PASSWORD": "p",
            "SMS_ALLOWED_USERS": "U0ALICE",
            "SMS_BOT_DB": "/var/lib/sms-bot/prod.sqlite3",
        }
    )
    mine = console_settings(configured, api_url="http://127.0.0.1:1/api/", db_path="/tmp/x.db")
    assert mine.slack_bot_token not in (None, "xoxb-real") and mine.slack_app_token is None
    assert mine.slack_signing_secret not in (None, "real-secret")
    assert mine.slack_api_url == "http://127.0.0.1:1/api/" and mine.sms_channel == CHANNEL
    assert mine.db_path == "/tmp/x.db" and (mine.host, mine.port) == ("127.0.0.1", 0)
    assert mine.allowed_users == {"U0ALICE", CONSOLE_USER.id}
    assert CONSOLE_USER.id in mine.admins
    unchanged = ("clickatell_api_id", "clickatell_user", "clickatell_password", "max_parts")
    for name in unchanged:
        assert getattr(mine, name) == getattr(configured, name)
    open_to_all = console_settings(
        dataclasses.replace(configured, allowed_users=frozenset()), api_url="http://x/", db_path=""
    )
    assert open_to_all.allowed_users == frozenset()  # empty still means everyone
