"""The gateway commands with a Clickatell Portal API key (product.md §4): `state` and `currency` in
the JSON, commands the Portal does not offer failing without any call, unknown outcomes, and
`status` from the stored delivery report where the integration cannot be asked."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import cli
from bot.domain.records import NewRecipient
from bot.gateway.clickatell_http.sandbox import NUMBER_NEVER_REPORTS, SandboxServer
from bot.gateway.clickatell_platform.codes import sms_status
from bot.storage import open_storage
from bot.testing.gateway import Reply, ScriptedGateway
from bot.usecases.holding import hold

PHONE = "27821234567"
KEY = "portal-cli-key"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name.startswith(("CLICKATELL_", "SMS_", "SLACK_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SMS_BOT_DB", str(tmp_path / "bot.sqlite3"))
    monkeypatch.setenv("CLICKATELL_API_KEY", KEY)
    return tmp_path


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(api_key=KEY) as server:
        yield server


@pytest.fixture
def proxy(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedGateway]:
    """The sandbox behind a recording proxy: every request the command made is listed."""
    with ScriptedGateway(upstream=sandbox.url) as recording:
        monkeypatch.setenv("CLICKATELL_BASE_URL", recording.url)
        yield recording


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = cli.main([argv[0], "--json", *argv[1:]])
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1, out
    return code, json.loads(lines[0])


@pytest.mark.parametrize("integration", ["one", "rest", "http"])
def test_send_then_balance_in_money(capsys, proxy, monkeypatch, integration):
    monkeypatch.setenv("CLICKATELL_INTEGRATION", integration)
    code, sent = run(capsys, "send", PHONE, "Hello")
    assert code == 0
    (message,) = sent["messages"]
    assert message["apimsgid"] and message["climsgid"] and message["error"] is None
    assert (sent["parts"], sent["encoding"]) == (1, "gsm7")
    assert run(capsys, "balance") == (0, {"credit": 99.0, "currency": "ZAR"})
    assert cli.main(["balance"]) == 0
    assert capsys.readouterr().out.strip() == "Balance: ZAR 99.00"


def test_one_api_status_has_the_shared_state(capsys, proxy, monkeypatch):
    _, sent = run(capsys, "send", NUMBER_NEVER_REPORTS, "Hello")
    apimsgid = sent["messages"][0]["apimsgid"]
    code, status = run(capsys, "status", apimsgid)
    assert code == 0
    assert status == {
        "apimsgid": apimsgid,
        "status": "UNKNOWN",
        "state": "unknown",
        "description": "Status unknown to the Portal",
    }


@pytest.mark.parametrize(
    "argv",
    [("cancel", "abc123"), ("charge", "abc123"), ("coverage", PHONE), ("redeem", "1" * 16)],
)
def test_what_the_portal_does_not_offer_fails_without_a_call(capsys, proxy, argv):
    code, data = run(capsys, *argv)
    assert code == 1
    assert data["error"]["code"] is None
    assert "not available with a Clickatell Portal API key" in data["error"]["description"]
    assert proxy.requests == []


def test_a_send_left_unknown_exits_1_and_says_it_was_not_sent_again(capsys, proxy):
    proxy.on("message", Reply(b"", status=504))
    code, data = run(capsys, "send", PHONE, "Hello")
    assert code == 1 and data["error"]["code"] is None
    assert "not sent again" in data["error"]["description"]
    assert len(proxy.requests) == 1


def test_sms_integrations_status_comes_from_the_stored_report(
    capsys, proxy, monkeypatch, clean_env
):
    monkeypatch.setenv("CLICKATELL_INTEGRATION", "rest")
    code, none_yet = run(capsys, "status", "neverseen1")
    assert code == 0 and none_yet["state"] == "unknown"
    assert none_yet["status"] == "1"  # the SMS integrations' code for "unknown", never null
    assert "cannot be asked" in none_yet["description"]
    assert not (clean_env / "bot.sqlite3").exists()  # never created by a question
    with open_storage(clean_env / "bot.sqlite3") as storage:
        send = storage.sends.record(
            slack_user="U1",
            channel="C1",
            text="t",
            encoding="gsm7",
            parts=1,
            recipients=[NewRecipient(PHONE, "cid1", apimsgid="m1")],
        )
        storage.sends.update_status(send.recipients[0].id, sms_status(4, None))
    for asked in ("m1", "cid1"):  # people quote either ID
        code, status = run(capsys, "status", asked)
        assert code == 0
        assert (status["apimsgid"], status["status"], status["state"]) == ("m1", "4", "delivered")
        assert "latest delivery report" in status["description"]
    assert proxy.requests == []


def test_cancel_withdraws_a_message_sms_bot_still_holds(capsys, proxy, clean_env):
    with open_storage(clean_env / "bot.sqlite3") as storage:
        send = storage.sends.record(
            slack_user="U1",
            channel="C1",
            text="later",
            encoding="gsm7",
            parts=1,
            recipients=[NewRecipient(PHONE, "heldcid1")],
            scheduled_at=datetime(2030, 1, 1, tzinfo=UTC),
        )
        hold(storage, send, datetime(2030, 1, 1, tzinfo=UTC))
    code, data = run(capsys, "cancel", "heldcid1")
    assert code == 0
    assert (data["apimsgid"], data["status"], data["state"]) == (None, "withdrawn", "cancelled")
    assert "never reached the gateway" in data["description"]
    assert proxy.requests == []
    with open_storage(clean_env / "bot.sqlite3") as storage:
        assert storage.sends.get(send.id).cancelled_at is not None
    code, again = run(capsys, "cancel", "heldcid1")  # nothing held by that ID any more
    assert code == 1 and "not available" in again["error"]["description"]


def test_one_api_status_by_the_client_id_send_recorded(capsys, proxy, clean_env):
    """`send` records in SMS_BOT_DB (made by serve) as serve does, so its client ID is known to
    `status`."""
    open_storage(clean_env / "bot.sqlite3").close()  # serve has run here
    _, sent = run(capsys, "send", PHONE, "Hello")
    (message,) = sent["messages"]
    with open_storage(clean_env / "bot.sqlite3") as storage:
        (recipient,) = storage.sends.get(1).recipients
        assert (recipient.climsgid, recipient.apimsgid) == (
            message["climsgid"],
            message["apimsgid"],
        )
    code, status = run(capsys, "status", message["climsgid"])
    assert code == 0 and status["apimsgid"] == message["apimsgid"]
    assert status["state"] in ("sent", "delivered")


def test_one_api_opted_out_code_26_is_recorded_as_an_opt_out(capsys, proxy, clean_env):
    """The Portal refuses a recipient that opted out with it (One API 26): `send` records the
    opt-out in SMS_BOT_DB, so the next send skips the number before any gateway call."""
    gone = "27825550106"  # the sandbox's number opted out at the gateway
    open_storage(clean_env / "bot.sqlite3").close()  # serve has run here
    code, sent = run(capsys, "send", gone, "Hello")
    assert code == 1 and sent["messages"][0]["error"]["code"] == "26"
    with open_storage(clean_env / "bot.sqlite3") as storage:
        record = storage.opt_outs.get(gone)
    assert record is not None and record.opted_out and record.keyword == "GATEWAY"
    asked = len(proxy.requests)
    code, again = run(capsys, "send", gone, "Hello again")
    assert code == 1 and "opted out" in again["error"]["description"]
    assert len(proxy.requests) == asked  # refused before any gateway call
