"""The `sms-bot` command line: gateway commands in-process, delegation, and real subprocesses."""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import signal
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import cli, gateway_cli
from bot.gateway.clickatell_http.sandbox import NUMBER_UNROUTABLE, SandboxServer
from bot.testing.gateway import ScriptedGateway

REPO = Path(__file__).resolve().parents[1]
PHONE = "27821234567"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path) -> Path:
    """No configuration but a database path in a temporary folder (and no .env there)."""
    for name in list(os.environ):
        if name.startswith(("CLICKATELL_", "SMS_", "SLACK_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SMS_BOT_DB", str(tmp_path / "bot.sqlite3"))
    return tmp_path


@pytest.fixture
def sandbox(monkeypatch) -> Iterator[SandboxServer]:
    with SandboxServer() as server:
        monkeypatch.setenv("CLICKATELL_BASE_URL", server.url)
        yield server


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_json(out: str) -> dict:
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1, out
    return json.loads(lines[0])


# --- gateway commands, in-process sandbox ---------------------------------------------------------


def test_balance_json_with_the_in_process_sandbox(capsys, clean_env):
    code, out, _ = run(capsys, "balance", "--json")
    assert code == 0
    assert one_json(out) == {"credit": 100.0, "currency": None}
    assert (clean_env / "bot.sqlite3.sandbox.json").exists()


def test_send_then_status_across_invocations(capsys):
    code, out, _ = run(capsys, "send", "--json", PHONE, "Hello", "there")
    assert code == 0
    sent = one_json(out)
    assert set(sent) == {"messages", "parts", "encoding"}
    assert (sent["parts"], sent["encoding"]) == (1, "gsm7")
    [message] = sent["messages"]
    assert set(message) == {"to", "apimsgid", "climsgid", "error"}
    assert message["to"] == PHONE and message["error"] is None
    code, out, _ = run(capsys, "status", "--json", message["apimsgid"])
    assert code == 0
    status = one_json(out)
    assert set(status) == {"apimsgid", "status", "state", "description"}
    assert status["apimsgid"] == message["apimsgid"]
    assert status["status"] in {"003", "004", "008"}
    # The client ID printed by send works too.
    code, out, _ = run(capsys, "status", "--json", message["climsgid"])
    assert one_json(out)["apimsgid"] == message["apimsgid"]


def test_human_output(capsys):
    code, out, _ = run(capsys, "send", PHONE, "Grüße", "--id", "human1")
    assert code == 0
    assert f"{PHONE}: sent, ID " in out and "client ID human1" in out
    assert "1 part, gsm7" in out
    code, out, _ = run(capsys, "balance")
    assert (code, out.strip()) == (0, "Credit: 99")


# --- against a running sandbox (CLICKATELL_BASE_URL) --------------------------------------------


def test_send_with_a_used_id_does_not_send_again(capsys, sandbox):
    code, out, _ = run(capsys, "send", "--json", "--id", "once42", PHONE, "Only once")
    assert code == 0
    first = one_json(out)
    code, out, _ = run(capsys, "send", "--json", "--id", "once42", PHONE, "Only once")
    assert code == 0
    again = one_json(out)
    assert again == first  # the §4 shape, the same message: apimsgid from querymsg
    assert len(sandbox.messages()) == 1  # the gateway saw one sendmsg
    code, out, _ = run(capsys, "send", "--id", "once42", PHONE, "Only once")
    assert code == 0
    assert "already sent" in out and first["messages"][0]["apimsgid"] in out
    assert "not sent again" in out
    assert len(sandbox.messages()) == 1


def test_send_reaches_the_configured_sandbox(capsys, sandbox):
    code, out, _ = run(capsys, "send", "--json", "+27 82 123 4567", "Привет")
    assert code == 0
    assert one_json(out)["encoding"] == "ucs2"
    [message] = sandbox.messages()
    assert (message.to, message.text) == (PHONE, "Привет")


def test_per_recipient_error_and_exit_codes(capsys, sandbox):
    code, out, _ = run(capsys, "send", "--json", f"{PHONE},{NUMBER_UNROUTABLE}", "hi")
    assert code == 0  # one recipient got it
    messages = one_json(out)["messages"]
    assert messages[1]["error"]["code"] == "114"
    assert messages[1]["apimsgid"] is None
    code, out, _ = run(capsys, "send", "--json", NUMBER_UNROUTABLE, "hi")
    assert code == 1  # every recipient failed
    assert one_json(out)["messages"][0]["error"]["code"] == "114"


def test_every_json_shape(capsys, sandbox):
    code, out, _ = run(capsys, "send", "--json", PHONE, "hi", "--at", "+1h")
    apimsgid = one_json(out)["messages"][0]["apimsgid"]
    code, out, _ = run(capsys, "charge", "--json", apimsgid)
    charge = one_json(out)
    assert set(charge) == {"apimsgid", "charge", "status", "state", "description"}
    assert isinstance(charge["charge"], float)
    code, out, _ = run(capsys, "cancel", "--json", apimsgid)
    assert one_json(out)["status"] == "006"
    code, out, _ = run(capsys, "coverage", "--json", PHONE)
    coverage = one_json(out)
    assert coverage["msisdn"] == PHONE and coverage["routable"] is True
    assert isinstance(coverage["charge"], float)
    code, out, _ = run(capsys, "coverage", "--json", NUMBER_UNROUTABLE)
    assert one_json(out) == {"msisdn": NUMBER_UNROUTABLE, "routable": False, "charge": None}
    code, out, _ = run(capsys, "redeem", "--json", "1234567812345678")
    redeemed = one_json(out)
    assert {k: redeemed[k] for k in ("ok", "code")} == {"ok": True, "code": "605"}  # §4
    assert redeemed["added"] == 100.0  # the sandbox's voucher value: balance after - before
    assert redeemed["credit"] == sandbox.balance
    code, out, _ = run(capsys, "ping", "--json")
    assert (code, one_json(out)) == (0, {"ok": True})


def test_gateway_error_json_and_exit_1(capsys, sandbox):
    code, out, err = run(capsys, "status", "--json", "ffffffffffffffffffffffffffffffff")
    assert code == 1
    error = one_json(out)["error"]
    assert error["code"] == "103" and error["description"]
    code, out, err = run(capsys, "status", "ffffffffffffffffffffffffffffffff")
    assert code == 1 and out == ""
    assert err.startswith("sms-bot: error 103: ")


def test_refused_input_is_a_failure_not_a_crash(capsys, sandbox):
    code, out, _ = run(capsys, "send", "--json", "bob", "hi")
    assert code == 1
    assert one_json(out)["error"] == {
        "code": None,
        "description": "'bob' is not a valid phone number: it contains letters; "
        "write the number in digits. There is no contact or group by that name either. "
        "Nothing was sent.",
    }
    code, out, _ = run(capsys, "send", "--json", PHONE, "x" * 500)
    assert code == 1 and "parts" in one_json(out)["error"]["description"]
    assert sandbox.messages() == []


def test_unreachable_gateway(capsys, monkeypatch):
    with ScriptedGateway() as gone:
        url = gone.url
    monkeypatch.setenv("CLICKATELL_BASE_URL", url)
    code, out, _ = run(capsys, "balance", "--json")
    assert code == 1
    error = one_json(out)["error"]
    assert error["code"] is None and "Could not connect" in error["description"]


def test_real_account_credentials_are_used(capsys, monkeypatch):
    with ScriptedGateway() as server:
        server.on("getbalance", "Credit: 12.5")
        monkeypatch.setenv("CLICKATELL_BASE_URL", server.url)
        monkeypatch.setenv("CLICKATELL_API_ID", "777")
        monkeypatch.setenv("CLICKATELL_USER", "alice")
        monkeypatch.setenv("CLICKATELL_PASSWORD", "s3cret")
        code, out, _ = run(capsys, "balance", "--json")
        assert (code, one_json(out)) == (0, {"credit": 12.5, "currency": None})
        auth = server.calls("auth")[0].form()
    assert auth == {"api_id": b"777", "user": b"alice", "password": b"s3cret"}


# --- usage and configuration errors -------------------------------------------------------------


def test_usage_errors_exit_2(capsys):
    code, out, err = run(capsys, "send", PHONE)
    assert code == 2 and out == ""
    assert "needs a text" in err and "Usage: sms-bot send" in err
    code, out, _ = run(capsys, "send", "--json", PHONE)
    assert code == 2
    assert "needs a text" in one_json(out)["error"]["description"]
    code, _, err = run(capsys, "balance", "now")
    assert code == 2 and "takes no arguments" in err
    code, _, err = run(capsys, "bogus")
    assert code == 2 and "unknown command 'bogus'" in err
    code, _, err = run(capsys, "contact", "add", "x", "1")
    assert code == 2 and "Slack command" in err


def test_config_error_is_one_line_exit_2(capsys, monkeypatch):
    monkeypatch.setenv("CLICKATELL_TIMEOUT", "soon")
    code, out, err = run(capsys, "balance")
    assert code == 2 and out == ""
    assert err.strip().count("\n") == 0 and "CLICKATELL_TIMEOUT" in err


def test_help_lists_every_command(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for word in ("serve", "console", "sandbox", *cli.GATEWAY_COMMANDS):
        assert f"sms-bot {word}" in out
    code, out, _ = run(capsys, "send", "--help")
    assert code == 0 and out.startswith("Usage: sms-bot send")


# --- serve, console, sandbox ---------------------------------------------------------------------


def test_serve_is_the_default_and_gets_settings(capsys, monkeypatch):
    received = []
    fake = types.ModuleType("bot.serve")
    fake.main = lambda settings: received.append(settings) or 0
    monkeypatch.setitem(sys.modules, "bot.serve", fake)
    assert cli.main([]) == 0
    assert cli.main(["serve"]) == 0
    assert len(received) == 2 and received[0].uses_sandbox


def test_missing_app_module_is_one_line_exit_2(capsys, monkeypatch):
    monkeypatch.setitem(cli.APP_COMMANDS, "console", ("bot.no_such_console", "x"))
    code, _, err = run(capsys, "console")
    assert code == 2
    assert err.strip() == "sms-bot: 'console' is not available in this installation."


def test_sandbox_options_reach_serve_forever(capsys, monkeypatch):
    import bot.gateway.clickatell_http.sandbox as sandbox_package

    received = {}
    monkeypatch.setattr(sandbox_package, "serve_forever", lambda **kw: received.update(kw))
    argv = ["sandbox", "--port", "0", "--session-ttl", "60", "--balance", "7"]
    argv += ["--callback-user", "u", "--callback-password", "p", "--api-id", "1"]
    assert cli.main(argv) == 0
    assert received["port"] == 0 and received["session_ttl"] == 60.0
    assert received["balance"] == 7.0 and received["api_id"] == "1"
    assert received["callback_user"] == "u" and received["callback_password"] == "p"
    code, _, err = run(capsys, "sandbox", "--port", "many")
    assert code == 2 and "--port" in err


# --- real subprocesses --------------------------------------------------------------------------


def subprocess_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLICKATELL_", "SMS_"))}
    env["PYTHONPATH"] = str(REPO)  # the checkout under test, whatever is installed
    env.update(extra)
    return env


def balance_in_subprocess(url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python -m bot balance --json` against the gateway at `url`, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "bot", "balance", "--json"],
        env=subprocess_env({"CLICKATELL_BASE_URL": url}),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_subprocess_balance_json_against_a_sandbox(sandbox, clean_env):
    done = balance_in_subprocess(sandbox.url, clean_env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"credit": 100.0, "currency": None}


def test_a_command_waits_while_another_uses_the_sandbox_state(clean_env):
    """Held by someone else, the state's lock makes `send` say it waits, and wait; released, the
    send goes through."""
    env = subprocess_env({"SMS_BOT_DB": str(clean_env / "bot.sqlite3")})
    with open(clean_env / "bot.sqlite3.sandbox.json.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "send", "--json", PHONE, "Hello"],
            env=env,
            cwd=clean_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            said, _, _ = select.select([process.stderr], [], [], 60)  # bounded, never hangs
            assert said, "the command neither said it waits nor ended"
            assert process.stderr.readline().strip() == gateway_cli.SANDBOX_BUSY
            assert process.poll() is None
        finally:
            fcntl.flock(held, fcntl.LOCK_UN)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert one_json(out)["messages"][0]["error"] is None


def test_concurrent_commands_keep_every_message_in_the_sandbox_state(clean_env):
    """Four `sms-bot send` at once against the in-process sandbox: each loads the state, sends
    and saves; without the lock the last to save would drop the others' messages."""
    env = subprocess_env({"SMS_BOT_DB": str(clean_env / "bot.sqlite3")})
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "bot", "send", "--json", f"2782123450{n}", f"Hello {n}"],
            env=env,
            cwd=clean_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0] * 4, outputs
    sent = {one_json(out)["messages"][0]["apimsgid"] for out, _ in outputs}
    with SandboxServer(state_path=clean_env / "bot.sqlite3.sandbox.json", autorun=False) as box:
        assert {m.apimsgid for m in box.messages()} == sent


def test_subprocess_sandbox_command_serves_until_interrupted(clean_env):
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "sandbox", "--port", "0", "--balance", "42"],
        env=subprocess_env({}),
        cwd=clean_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        url = line.split(" listening on ")[1].split()[0]
        done = balance_in_subprocess(url, clean_env)
        assert json.loads(done.stdout) == {"credit": 42.0, "currency": None}
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:  # pragma: no cover - only when shutdown hangs
            process.kill()
            process.wait()
    assert process.returncode == 0


# --- review fixes -------------------------------------------------------------------------------


def test_json_flag_is_accepted_after_the_arguments_too(capsys, sandbox):
    # Users write `sms-bot coverage NUMBER --json`; it must not be read as part of the number.
    code, out, _ = run(capsys, "coverage", NUMBER_UNROUTABLE, "--json")
    assert (code, one_json(out)) == (
        0,
        {"msisdn": NUMBER_UNROUTABLE, "routable": False, "charge": None},
    )
    code, out, _ = run(capsys, "send", "--at", "+1h", PHONE, "hi", "--json")
    assert code == 0 and one_json(out)["messages"][0]["error"] is None
    # After `--` it is text like any other word.
    code, out, _ = run(capsys, "send", "--json", "--", PHONE, "try", "--json")
    assert code == 0
    [message] = sandbox.messages()[-1:]
    assert message.text == "try --json"


def test_send_that_reaches_nobody_is_a_failure_with_an_error_object(capsys, sandbox):
    code, out, _ = run(capsys, "send", "--json", NUMBER_UNROUTABLE, "hi")
    data = one_json(out)
    assert code == 1
    assert data["error"]["code"] == "114" and data["error"]["description"]
    assert data["messages"][0]["error"]["code"] == "114"  # the §4 send shape is kept
    code, out, _ = run(capsys, "send", "--json", f"{PHONE},{NUMBER_UNROUTABLE}", "hi")
    assert code == 0 and "error" not in one_json(out)


def test_human_lines_read_well(capsys, sandbox):
    code, out, _ = run(capsys, "coverage", PHONE)
    assert (code, out.strip()) == (0, f"{PHONE}: routable, 1 credit per part")
    _, out, _ = run(capsys, "send", "--json", PHONE, "x" * 200)
    apimsgid = one_json(out)["messages"][0]["apimsgid"]
    _, out, _ = run(capsys, "charge", apimsgid)
    assert re.fullmatch(
        rf"{apimsgid}: 2 credits, 00[34] (Delivered to gateway|Received by recipient)", out.strip()
    )


def test_redeeming_a_voucher_twice_says_so(capsys, sandbox):
    assert run(capsys, "redeem", "1234567812345678")[0] == 0
    code, out, _ = run(capsys, "redeem", "--json", "1234567812345678")
    error = one_json(out)["error"]
    assert code == 1 and error["code"] == "101"
    assert "already been redeemed" in error["description"]


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--port", "99999"),
        ("--port", "-1"),
        ("--session-ttl", "nan"),
        ("--session-ttl", "0"),
        ("--balance", "nan"),
        ("--balance", "inf"),
        ("--balance", "-1"),
    ],
)
def test_sandbox_bad_numbers_are_usage_errors_not_tracebacks(capsys, monkeypatch, option, value):
    import bot.gateway.clickatell_http.sandbox as sandbox_package

    monkeypatch.setattr(sandbox_package, "serve_forever", lambda **kw: pytest.fail("started"))
    code, _, err = run(capsys, "sandbox", option, value)
    assert code == 2
    assert option in err and "Traceback" not in err


def _options_and_metavars(usage: str) -> dict[str, str | None]:
    """`--option METAVAR` pairs of a usage text (None for a flag without a value)."""
    found = re.findall(r"(--[a-z-]+)(?: ([A-Z_]+))?", usage)
    return {option: metavar or None for option, metavar in found}


def test_sandbox_usage_names_every_option_of_its_parser_and_no_other():
    from bot.gateway.clickatell_http.sandbox import build_parser

    parser = build_parser("sms-bot sandbox")
    expected = {
        action.option_strings[-1]: action.metavar or action.dest.upper()
        for action in parser._actions  # argparse's own list of what it accepts
        if action.option_strings and action.dest != "help"
    }
    assert _options_and_metavars(cli.SANDBOX_USAGE) == expected
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert cli.SANDBOX_USAGE in readme  # the README's synopsis is the program's own
