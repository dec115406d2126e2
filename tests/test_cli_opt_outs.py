"""`sms-bot send` under Slack's rules (product.md §4): opted-out numbers are skipped and named, a
send to nobody but opted-out numbers fails, and what is sent is recorded where `/sms log` reads."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import cli
from bot.domain.threading import COMMAND_LINE_USER
from bot.gateway.clickatell_http.sandbox import SandboxServer
from bot.storage import open_storage

OUT = "27821234567"
IN = "27821234568"


@pytest.fixture(autouse=True)
def database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name.startswith(("CLICKATELL_", "SMS_", "SLACK_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "bot.sqlite3"
    monkeypatch.setenv("SMS_BOT_DB", str(path))
    monkeypatch.setenv("SMS_CHANNEL", "C0SMS")
    with open_storage(str(path)) as storage:
        storage.opt_outs.opt_out(OUT, "STOP")
    return path


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    with SandboxServer() as server:
        monkeypatch.setenv("CLICKATELL_BASE_URL", server.url)
        yield server


def _send(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = cli.main(["send", "--json", *argv])
    return code, json.loads(capsys.readouterr().out)


def test_an_opted_out_number_among_several_is_skipped_and_said(capsys, sandbox, database) -> None:
    code, data = _send(capsys, f"{OUT},{IN}", "Office closed today")
    assert code == 0
    assert [m.to for m in sandbox.messages()] == [IN]  # the gateway never saw the other
    skipped, sent = data["messages"]
    assert (skipped["to"], skipped["apimsgid"]) == (OUT, None)
    assert skipped["error"]["code"] is None and "opted out" in skipped["error"]["description"]
    assert sent["to"] == IN and sent["apimsgid"] and sent["error"] is None
    assert set(data) == {"messages", "parts", "encoding"}  # §4's shape, nothing renamed
    with open_storage(str(database)) as storage:  # recorded where serve and /sms log read
        (entry,) = storage.sends.recent_log()
    assert (entry.msisdn, entry.apimsgid, entry.slack_user) == (
        IN,
        sent["apimsgid"],
        COMMAND_LINE_USER,
    )
    assert entry.channel == "C0SMS"


def test_a_send_only_to_opted_out_numbers_fails(capsys, sandbox, database) -> None:
    code, data = _send(capsys, OUT, "Anyone?")
    assert code == 1
    assert sandbox.messages() == []
    assert "opted out" in data["error"]["description"]
    assert data["messages"][0]["to"] == OUT
    with open_storage(str(database)) as storage:
        assert storage.sends.recent_log() == []


def test_human_lines_say_who_was_skipped(capsys, sandbox) -> None:
    code = cli.main(["send", f"{OUT},{IN}", "Hi"])
    out = capsys.readouterr().out
    assert code == 0
    assert f"{OUT}: skipped, opted out" in out and f"{IN}: sent" in out
