"""`sms-bot send` with group names and `--template`: resolved from the database `serve` uses,
opted-out members skipped and listed, each recipient's own text sent; checked against what the
sandbox gateway received."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.storage import open_storage
from tests.test_cli import clean_env, one_json, run, sandbox

__all__ = ["clean_env", "sandbox"]  # the fixtures, shared with the other command-line tests

ANN, BEN, STOPPED = "27825550103", "27825550104", "27821234567"
PHONE = "27825550105"


def _database() -> str:
    return os.environ["SMS_BOT_DB"]


def _seed() -> None:
    with open_storage(_database()) as storage:
        storage.contacts.save("Ann Lee", ANN)
        storage.contacts.save("Ben", BEN)
        storage.groups.add("crew", [ANN, BEN, STOPPED])
        storage.opt_outs.opt_out(STOPPED)
        storage.templates.save("Reminder", "Hi {first_name}, see you at 9")
        storage.templates.save("Order", "Order {order} is ready")


def test_a_group_and_a_template_fill_in_each_text(capsys, sandbox) -> None:
    _seed()
    code, out, _ = run(capsys, "send", "--json", "crew", "--template", "Reminder")
    assert code == 0
    data = one_json(out)
    assert [m["to"] for m in data["messages"]] == [ANN, BEN]
    assert data["skipped"] == [{"to": STOPPED, "reason": "opted out"}]
    sent = {m.to: m.text for m in sandbox.messages()}
    assert sent == {ANN: "Hi Ann, see you at 9", BEN: "Hi Ben, see you at 9"}


def test_a_contact_name_with_a_plain_text(capsys, sandbox) -> None:
    _seed()
    code, out, _ = run(capsys, "send", "Ben", "hello", "there")
    assert code == 0 and "sent, ID" in out
    assert [(m.to, m.text) for m in sandbox.messages()] == [(BEN, "hello there")]


def test_an_unknown_field_is_refused_naming_it_before_any_call(capsys, sandbox) -> None:
    _seed()
    code, out, _ = run(capsys, "send", "--json", "Ben", "--template", "Order")
    assert code == 1
    description = one_json(out)["error"]["description"]
    assert "{order}" in description and "nothing was sent" in description
    assert sandbox.messages() == []


def test_a_template_on_a_fresh_machine_is_refused_by_name(capsys, sandbox) -> None:
    """The command line opens (creates) serve's database as serve does; a template nobody saved
    there is refused by its name, and nothing is sent."""
    code, _, err = run(capsys, "send", PHONE, "--template", "Reminder")
    assert code == 1
    assert "no template named Reminder" in err
    assert Path(_database()).exists()
    assert sandbox.messages() == []


def test_an_opted_out_number_is_refused_as_in_slack(capsys, sandbox) -> None:
    _seed()
    code, out, _ = run(capsys, "send", "--json", STOPPED, "hello")
    assert code == 1
    assert "opted out" in one_json(out)["error"]["description"]
    code, out, _ = run(capsys, "send", "--json", f"{STOPPED},{BEN}", "hello")
    assert code == 0 and one_json(out)["skipped"] == [{"to": STOPPED, "reason": "opted out"}]
    assert [(m.to, m.text) for m in sandbox.messages()] == [(BEN, "hello")]


def test_a_call_that_fails_as_a_whole_fails_only_its_own_recipients(
    capsys, sandbox, monkeypatch
) -> None:
    """Two texts, two calls, each with client IDs of its own: the second is refused outright
    (HTTP 400, so the client cannot tell and says so); the first one's phone got its SMS and
    the JSON says so (exit 0), so a script resends to nobody who got theirs."""
    from bot.testing.gateway import Reply, Request, ScriptedGateway

    def refuse_bens(request: Request) -> Reply | None:
        if request.command == "sendmsg" and b"Ben" in (request.form().get("text") or b""):
            return Reply("refused", status=400)
        return None

    _seed()
    with ScriptedGateway(refuse_bens, upstream=sandbox.url) as proxy:
        monkeypatch.setenv("CLICKATELL_BASE_URL", proxy.url)
        code, out, _ = run(capsys, "send", "--json", "Ann Lee,Ben", "--template", "Reminder")
    data = one_json(out)
    assert code == 0, data
    ann, ben = data["messages"]
    assert (ann["to"], ann["error"]) == (ANN, None) and ann["apimsgid"]
    assert ben["to"] == BEN and ben["apimsgid"] is None and ben["error"] is not None
    assert ann["climsgid"] != ben["climsgid"]  # one text, one client ID
    assert [(m.to, m.text) for m in sandbox.messages()] == [(ANN, "Hi Ann, see you at 9")]


def test_one_client_id_cannot_name_several_texts(capsys, sandbox) -> None:
    _seed()
    code, out, _ = run(
        capsys, "send", "--json", "--id", "x1", "Ann Lee,Ben", "--template", "Reminder"
    )
    assert code == 1 and "--id names one message" in one_json(out)["error"]["description"]
    assert sandbox.messages() == []


def test_a_scheduled_send_waits_out_the_quiet_hours_where_the_number_is(
    capsys, sandbox, monkeypatch
) -> None:
    """SMS_QUIET_HOURS holds scheduled sends from the command line as from Slack: `--at` into
    the quiet hours in Johannesburg goes to the gateway for when they end there."""
    _seed()
    at = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(hours=3)
    local = at.astimezone(ZoneInfo("Africa/Johannesburg"))
    start, end = local - timedelta(hours=1), local + timedelta(hours=1)
    monkeypatch.setenv("SMS_QUIET_HOURS", f"{start:%H:%M}-{end:%H:%M}")
    code, out, _ = run(capsys, "send", "--at", f"{at:%Y-%m-%dT%H:%MZ}", "Ben", "hello")
    assert code == 0, out
    (message,) = sandbox.messages()
    assert int(message.params["scheduled_time"]) == int(end.replace(second=0).timestamp())
