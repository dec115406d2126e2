"""`sms-bot bulk FILE.csv TEXT [--to-column NAME] [--at WHEN] [--dry-run] [--json]` (product.md §4),
through the one grammar, against a sandbox over HTTP and the same database as `serve`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import cli
from bot.domain.bulk import RunState
from bot.gateway.clickatell_http.sandbox import SandboxServer
from bot.storage import open_storage

REPO = Path(__file__).resolve().parents[2]
LIST = (
    b"Name;Phone;Order\r\n"
    b"Bob;+27821000001;A1\r\n"
    b"Ann;27825550102;B2\r\n"  # the sandbox cannot route it: ERR 114
    b"Bob again;27821000001;dup\r\n"
    b"Typo;27-82-1x;y\r\n"
    b"Out;27821000005;z\r\n"
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path) -> Path:  # type: ignore[no-untyped-def]
    for name in list(os.environ):
        if name.startswith(("CLICKATELL_", "SMS_", "SLACK_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SMS_BOT_DB", str(tmp_path / "bot.sqlite3"))
    (tmp_path / "list.csv").write_bytes(LIST)
    return tmp_path


@pytest.fixture
def sandbox(monkeypatch) -> Iterator[SandboxServer]:  # type: ignore[no-untyped-def]
    with SandboxServer() as server:
        monkeypatch.setenv("CLICKATELL_BASE_URL", server.url)
        yield server


def _run(capsys, *argv: str) -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    code = cli.main(list(argv))
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1, out
    return code, json.loads(lines[0])


def test_bulk_json_is_the_interface_and_every_row_is_sent_once(capsys, sandbox, clean_env) -> None:  # type: ignore[no-untyped-def]
    with open_storage(str(clean_env / "bot.sqlite3")) as storage:
        storage.opt_outs.opt_out("27821000005")
    code, data = _run(capsys, "bulk", "--json", "list.csv", "Hi {name}, order {order}")
    assert code == 0
    assert {k: data[k] for k in ("rows", "sent", "parts", "encoding")} == {
        "rows": 5,
        "sent": 1,
        "parts": 1,
        "encoding": "gsm7",
    }
    assert [(s["row"], s["to"], s["reason"]) for s in data["skipped"]] == [
        (4, "27821000001", "duplicate of row 2"),
        (5, "27-82-1x", "invalid number: it contains letters; write the number in digits"),
        (6, "27821000005", "opted out"),
    ]
    [failed] = data["failed"]
    assert (failed["row"], failed["to"], failed["error"]["code"]) == (3, "27825550102", "114")
    assert failed["error"]["description"]
    assert Counter(m.to for m in sandbox.messages()) == {"27821000001": 1}
    [message] = sandbox.messages()
    assert message.text == "Hi Bob, order A1"
    # The same database as serve: the send is in the log.
    with open_storage(str(clean_env / "bot.sqlite3")) as storage:
        [entry] = storage.sends.recent_log(msisdn="27821000001")
        assert entry.apimsgid == message.apimsgid


def test_dry_run_counts_and_sends_nothing(capsys, sandbox) -> None:  # type: ignore[no-untyped-def]
    code, data = _run(capsys, "bulk", "list.csv", "Hi {name}", "--dry-run", "--json")
    assert code == 0 and data["sent"] == 0 and data["rows"] == 5 and data["failed"] == []
    assert len(data["skipped"]) == 2 and sandbox.messages() == []


def test_to_column_and_at(capsys, sandbox, clean_env) -> None:  # type: ignore[no-untyped-def]
    (clean_env / "two.csv").write_bytes(b"home,work\n27821111111,27821000002\n")
    code, data = _run(
        capsys, "bulk", "--json", "--to-column", "WORK", "--at", "+2h", "two.csv", "Hi"
    )
    assert code == 0 and data["sent"] == 0 and data["held"] == 1 and "scheduled" in data
    assert sandbox.messages() == []
    with open_storage(str(clean_env / "bot.sqlite3")) as storage:
        [run] = storage.bulks.runs([RunState.SCHEDULED])
        [row] = storage.bulks.results(run.bulk_id)
        assert row.to == "27821000002"


@pytest.mark.parametrize(
    ("argv", "code", "words"),
    [
        (["bulk", "--json", "list.csv", "Hi {nme}"], 1, "{nme}"),
        (["bulk", "--json", "missing.csv", "Hi"], 1, "no file missing.csv"),
        (["bulk", "--json", "list.csv", "Hi", "--to-column", "fax"], 1, "no column named 'fax'"),
        (["bulk", "--json", "list.csv"], 2, "needs a CSV file and a text"),
        (["bulk", "--json", "list.csv", "Hi", "--fast"], 2, "Unknown option '--fast'"),
        (["bulk", "--json", "list.csv", "Hi", "--at", "yesterday"], 2, "is not a time"),
    ],
)
def test_bad_input_is_one_json_error_and_nothing_is_sent(
    capsys, sandbox, argv, code, words
) -> None:  # type: ignore[no-untyped-def]
    exit_code, data = _run(capsys, *argv)
    assert exit_code == code and words in data["error"]["description"]
    assert sandbox.messages() == []


def test_human_lines_without_json(capsys, sandbox) -> None:  # type: ignore[no-untyped-def]
    assert cli.main(["bulk", "list.csv", "Hi {name}"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("5 rows: 2 sent, 1 failed, 2 skipped, 0 waiting")
    assert "row 4 skipped (27821000001): duplicate of row 2" in out


def test_a_real_process_with_the_in_process_sandbox(clean_env) -> None:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLICKATELL_", "SMS_"))}
    env |= {"PYTHONPATH": str(REPO), "SMS_BOT_DB": str(clean_env / "bot.sqlite3")}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "bulk", "--json", "list.csv", "Hi {name}"],
        cwd=clean_env,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["sent"] == 2


def test_a_run_in_which_no_row_went_out_fails_with_the_error_object(
    capsys, sandbox, clean_env
) -> None:  # type: ignore[no-untyped-def]
    """§4: a command that fails prints an `error` object and exits 1. A bulk send of which
    every row was refused by the gateway has failed, so its JSON carries one (beside the
    rows' own reasons, as `send`'s does)."""
    (clean_env / "bad.csv").write_bytes(b"to\n27825550102\n")
    code, data = _run(capsys, "bulk", "--json", "bad.csv", "Hi")
    assert code == 1 and data["sent"] == 0
    assert data["error"]["code"] == "114" and data["error"]["description"]
    assert data["failed"][0]["error"]["code"] == "114"


def test_a_scheduled_bulk_says_plainly_that_nothing_was_sent_yet(capsys, sandbox) -> None:  # type: ignore[no-untyped-def]
    code, data = _run(capsys, "bulk", "--json", "--at", "+2h", "list.csv", "Hi {name}")
    assert code == 0 and data["sent"] == 0 and data["held"] == 3
    assert data["sent_by_serve"] is True and data["held_for_quiet_hours"] == 0
    assert data["next_due"] == data["scheduled"]
    assert cli.main(["bulk", "--at", "+2h", "list.csv", "Hi {name}"]) == 0
    out = capsys.readouterr().out
    assert f"NOT SENT YET: 3 row(s) scheduled for {data['scheduled'][:11]}" in out
    assert "only `sms-bot serve`" in out
    assert sandbox.messages() == []


def test_rows_held_for_quiet_hours_are_reported_as_not_sent(  # type: ignore[no-untyped-def]
    capsys, sandbox, monkeypatch
) -> None:
    # A quiet window around this moment in South Africa (+27, UTC+2), ending in an hour.
    local = datetime.now(UTC) + timedelta(hours=2)
    start, end = local - timedelta(hours=1), local + timedelta(hours=1)
    monkeypatch.setenv("SMS_QUIET_HOURS", f"{start:%H:%M}-{end:%H:%M}")
    code, data = _run(capsys, "bulk", "--json", "list.csv", "Hi {name}")
    assert code == 0 and data["sent"] == 0 and data["failed"] == []
    assert data["held"] == data["held_for_quiet_hours"] == 3 and "scheduled" not in data
    assert data["sent_by_serve"] is True
    due = datetime.strptime(data["next_due"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert timedelta(minutes=50) < due - datetime.now(UTC) <= timedelta(hours=1)
    assert cli.main(["bulk", "list.csv", "Hi {name}"]) == 0
    out = capsys.readouterr().out
    assert "NOT SENT YET: 3 row(s) held for quiet hours (SMS_QUIET_HOURS)" in out
    assert sandbox.messages() == []
