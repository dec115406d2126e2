"""`sms-bot send` under Slack's rules (product.md §4): opted-out numbers are skipped and named, a
send to nobody but opted-out numbers fails, and what is sent is recorded where `/sms log` reads
(and a gateway's opt-out code is recorded as an opt-out)."""

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
    (sent,) = data["messages"]
    assert sent["to"] == IN and sent["apimsgid"] and sent["error"] is None
    assert data["skipped"] == [{"to": OUT, "reason": "opted out"}]
    assert {"messages", "parts", "encoding"} <= set(data)  # §4's shape, only extended
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
    with open_storage(str(database)) as storage:
        assert storage.sends.recent_log() == []


def test_human_lines_say_who_was_skipped(capsys, sandbox) -> None:
    code = cli.main(["send", f"{OUT},{IN}", "Hi"])
    out = capsys.readouterr().out
    assert code == 0
    assert f"{OUT}: not sent, opted out" in out and f"{IN}: sent" in out


def test_a_gateway_opt_out_is_recorded(capsys, sandbox, database) -> None:
    gone = "27825550106"  # the sandbox's number opted out at the gateway (legacy 122)
    code, data = _send(capsys, f"{gone},{IN}", "Hi")
    assert code == 0 and data["messages"][0]["error"]["code"] == "122"
    with open_storage(str(database)) as storage:
        assert storage.opt_outs.get(gone).keyword == "GATEWAY"  # type: ignore[union-attr]
        failed = next(e for e in storage.sends.recent_log() if e.msisdn == gone)
    assert failed.error_code == "122"
