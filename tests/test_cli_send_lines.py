"""`sms-bot send` reads its line like `/sms send`: mistyped lines exit 2 with the command to copy,
and `--at HH:MM` is read on this machine's clock (TZ)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot import cli
from bot.gateway.clickatell_http.sandbox import SandboxServer

ECHO, OTHER = "27825550103", "27825550100"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in ("CLICKATELL_API_ID", "CLICKATELL_API_KEY", "SMS_DEFAULT_REGION", "TZ"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SMS_BOT_DB", str(tmp_path / "bot.sqlite3"))
    with SandboxServer() as server:
        monkeypatch.setenv("CLICKATELL_BASE_URL", server.url)
        yield server


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_second_number_exits_2_with_the_command_to_copy(capsys, clean_env):
    code, out, err = run(capsys, "send", ECHO, OTHER, "hi")
    assert code == 2 and out == ""
    assert "looks like a second phone number" in err
    assert f"    sms-bot send {ECHO},{OTHER} hi\n" in err
    assert f"    sms-bot send {ECHO} -- '{OTHER} hi'\n" in err
    code, out, _ = run(capsys, "send", "--json", ECHO, OTHER, "hi")
    assert code == 2 and "looks like a second" in json.loads(out)["error"]["description"]
    assert clean_env.messages() == []


def test_national_numbers_need_the_default_region(capsys, monkeypatch, clean_env):
    monkeypatch.setenv("SMS_DEFAULT_REGION", "ZA")
    code, _, err = run(capsys, "send", "0825550103", "0825550100", "hi")
    assert code == 2 and "sms-bot send 0825550103,0825550100 hi" in err
    code, _, _ = run(capsys, "send", "0825550103", "2024 results are in")
    assert code == 0
    assert [m.text for m in clean_env.messages()] == ["2024 results are in"]


def test_an_option_among_the_words_exits_2_and_after_a_quoted_text_schedules(capsys, clean_env):
    code, _, err = run(capsys, "send", ECHO, "Happy", "birthday", "--from", "Mom")
    assert code == 2 and "--from is inside the text" in err
    assert f"sms-bot send --from Mom {ECHO} 'Happy birthday'" in err
    code, out, _ = run(capsys, "send", "--json", ECHO, "Happy birthday", "--at", "+1h30m")
    assert code == 0, out
    [message] = clean_env.messages()
    assert message.text == "Happy birthday" and "scheduled_time" in message.params


def test_at_a_clock_time_is_read_in_tz(capsys, monkeypatch, clean_env):
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")  # UTC+14
    code, out, _ = run(capsys, "send", "--at", "14:00", ECHO, "stand-up")
    assert code == 0, out
    [message] = clean_env.messages()
    at = datetime.fromtimestamp(int(message.params["scheduled_time"]), UTC)
    local = at.astimezone(ZoneInfo("Pacific/Kiritimati"))
    assert (local.hour, local.minute) == (14, 0)
    assert timedelta(0) < at - datetime.now(UTC) <= timedelta(days=1)


# --- a client ID shared by a multi-recipient send ---------------------------------------------


def test_status_and_cancel_of_a_shared_client_id_print_every_message(capsys, clean_env):
    argv = ("send", "--json", "--at", "+2h", "--id", "standup42", f"{ECHO},{OTHER}", "moved")
    code, out, _ = run(capsys, *argv)
    assert code == 0
    sent = json.loads(out)
    assert {m["climsgid"] for m in sent["messages"]} == {"standup42"}  # one ID for both
    code, out, _ = run(capsys, "status", "--json", "standup42")
    assert code == 0
    status = json.loads(out)  # exactly one object: {"messages": [...]}, one entry per message
    assert [m["to"] for m in status["messages"]] == [ECHO, OTHER]
    assert [m["apimsgid"] for m in status["messages"]] == [m["apimsgid"] for m in sent["messages"]]
    assert {m["state"] for m in status["messages"]} == {"scheduled"}
    code, out, _ = run(capsys, "cancel", "--json", "standup42")
    assert code == 0
    assert [m["status"] for m in json.loads(out)["messages"]] == ["006", "006"]
    assert {m.status for m in clean_env.messages()} == {"006"}
    code, out, _ = run(capsys, "status", "standup42")  # human lines: one per message
    # The status after the message ID (a random hex ID may itself contain "006").
    assert out.count(": 006 Cancelled") == 2 and ECHO in out and OTHER in out
