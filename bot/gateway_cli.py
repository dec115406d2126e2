"""The gateway commands of `sms-bot` (product.md §4): send, status, cancel, charge, balance,
coverage, redeem and ping.

Words are parsed by the one grammar (`bot.grammar.parse_argv`); `--json` goes right after the
command name, or anywhere before a `--`. The gateway is chosen from the configuration:

* `CLICKATELL_API_ID` set: the real account at `CLICKATELL_BASE_URL`;
* otherwise `CLICKATELL_BASE_URL` set: a sandbox running there (e.g. `sms-bot sandbox`), with
  dummy credentials;
* otherwise an in-process sandbox on a free port whose state lives next to the database
  (`<SMS_BOT_DB>.sandbox.json`), so `send` and then `status` work across invocations. One
  command at a time uses it (a lock file beside it): two at once would each save their own
  copy and lose the other's messages.

Exit codes: 0 success; 1 the command failed (gateway error, refused input, unreachable gateway)
— with `--json` it prints `{"error": {"code": …, "description": …}}`; 2 usage or configuration
errors. `send` exits 0 when at least one recipient was accepted (the others carry their error in
their entry, so a script never resends to phones that already got the SMS) and 1 when every
recipient failed (its JSON then also carries the `error` object every failure has).
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TextIO

from bot import grammar
from bot.clickatell.client import ClickatellClient, by_either_id
from bot.clickatell.types import GatewayError, Refused, SendResult
from bot.config import ConfigError, Settings, load_settings

GATEWAY_COMMANDS = ("send", "status", "cancel", "charge", "balance", "coverage", "redeem", "ping")
SANDBOX_BUSY = "Waiting for another sms-bot command to finish with the sandbox..."
SANDBOX_LOGIN = "sandbox"  # any credentials do for a sandbox that was started without --api-id

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


@dataclass(frozen=True)
class Outcome:
    """What a command produced: the JSON object, its human lines, and the exit code."""

    data: dict[str, Any]
    lines: list[str]
    code: int = EXIT_OK


class _Output:
    def __init__(self, as_json: bool, stdout: TextIO, stderr: TextIO):
        self.as_json, self.stdout, self.stderr = as_json, stdout, stderr

    def outcome(self, outcome: Outcome) -> int:
        if self.as_json:
            print(json.dumps(outcome.data, ensure_ascii=False), file=self.stdout)
        else:
            for line in outcome.lines:
                print(line, file=self.stdout)
        return outcome.code

    def error(self, code: str | None, description: str, exit_code: int) -> int:
        if self.as_json:
            payload = {"error": {"code": code, "description": description}}
            print(json.dumps(payload, ensure_ascii=False), file=self.stdout)
        else:
            prefix = f"error {code}: " if code else ""
            print(f"sms-bot: {prefix}{description}", file=self.stderr)
        return exit_code


def split_json_flag(argv: Sequence[str]) -> tuple[list[str], bool]:
    """Remove `--json`: right after the command name (as product.md §4 writes it) or anywhere
    among the options, since people write `sms-bot coverage NUMBER --json` too. After `--` it
    is an ordinary word (message text)."""
    words = list(argv)
    end = words.index("--") if "--" in words else len(words)
    kept = [w for i, w in enumerate(words) if not (0 < i < end and w == "--json")]
    return kept, len(kept) != len(words)


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run one gateway command; `env` None means the process environment (after `.env`)."""
    words, as_json = split_json_flag(argv)
    out = _Output(as_json, stdout or sys.stdout, stderr or sys.stderr)
    try:
        command = grammar.parse_argv(words)
    except grammar.UsageError as error:
        return out.error(None, str(error), EXIT_USAGE)
    if not isinstance(command, _HANDLERS):
        return out.error(None, f"'{words[0]}' is not a gateway command.", EXIT_USAGE)
    try:
        settings = load_settings(env)
    except ConfigError as error:
        return out.error(None, str(error), EXIT_USAGE)
    environment = os.environ if env is None else env
    try:
        with gateway_client(settings, environment) as client:
            return out.outcome(execute(client, command))
    except GatewayError as error:
        return out.error(error.code, error.explanation, EXIT_FAILED)
    except Refused as error:
        return out.error(None, str(error), EXIT_FAILED)
    except (OSError, ValueError) as error:  # e.g. an unreadable sandbox state file
        return out.error(None, str(error), EXIT_FAILED)


@contextmanager
def gateway_client(settings: Settings, env: Mapping[str, str]) -> Iterator[ClickatellClient]:
    """The configured gateway's client (see the module docstring), closed afterwards."""
    options: dict[str, Any] = {
        "timeout": settings.clickatell_timeout,
        "max_parts": settings.max_parts,
        "default_region": settings.default_region,
        "default_sender": settings.clickatell_from,
    }
    if not settings.uses_sandbox:
        credentials = (
            settings.clickatell_api_id or "",
            settings.clickatell_user or "",
            settings.clickatell_password or "",
        )
        with ClickatellClient(settings.clickatell_base_url, *credentials, **options) as client:
            yield client
        return
    if (env.get("CLICKATELL_BASE_URL") or "").strip():
        login = (SANDBOX_LOGIN, SANDBOX_LOGIN, SANDBOX_LOGIN)
        with ClickatellClient(settings.clickatell_base_url, *login, **options) as client:
            yield client
        return
    from bot.clickatell.sandbox import SandboxServer

    state_path = f"{settings.local_state_prefix}.sandbox.json"
    folder = os.path.dirname(state_path) or "."
    if not os.path.isdir(folder):
        raise OSError(f"SMS_BOT_DB points into {folder!r}, which does not exist")
    with _exclusive(f"{state_path}.lock"):  # from loading the state to saving it
        sandbox = SandboxServer(state_path=state_path, autorun=False)
        with sandbox:
            login = (SANDBOX_LOGIN, SANDBOX_LOGIN, SANDBOX_LOGIN)
            with ClickatellClient(sandbox.url, *login, **options) as client:
                yield client
            sandbox.run_due()  # settle what became due, so the saved state stays small


@contextmanager
def _exclusive(lock_path: str) -> Iterator[None]:
    """Waits for, then holds, an exclusive lock on `lock_path` (released if the process dies)."""
    with open(lock_path, "a") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(SANDBOX_BUSY, file=sys.stderr, flush=True)
            fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


# --- commands -----------------------------------------------------------------------------------


def execute(client: ClickatellClient, command: grammar.Command) -> Outcome:
    return _HANDLERS_BY_TYPE[type(command)](client, command)


def _error_json(error: GatewayError | None) -> dict[str, Any] | None:
    if error is None:
        return None
    return {"code": error.code, "description": error.explanation}


def _send(client: ClickatellClient, command: grammar.Send) -> Outcome:
    result: SendResult = client.send(
        list(command.to),
        command.text,
        sender=command.sender,
        climsgid=command.client_id,
        scheduled_time=command.at,
        skip_if_sent=command.client_id is not None,  # `--id X` twice sends once
    )
    messages = [
        {
            "to": m.to,
            "apimsgid": m.apimsgid,
            "climsgid": m.climsgid,
            "error": _error_json(m.error),
        }
        for m in result.messages
    ]
    data = {"messages": messages, "parts": result.parts, "encoding": result.encoding}
    lines = []
    for m in result.messages:
        if m.already_sent is not None:
            ident = m.apimsgid or "(ID unknown)"
            state = f"{m.already_sent.status} {m.already_sent.description}"
            lines.append(
                f"{m.to}: already sent earlier, ID {ident} (client ID {m.climsgid}), {state}; "
                "not sent again"
            )
        elif m.error is None:
            ident = m.apimsgid or "(accepted, ID unknown)"
            lines.append(f"{m.to}: sent, ID {ident} (client ID {m.climsgid})")
        else:
            code = f"error {m.error.code}: " if m.error.code else ""
            lines.append(f"{m.to}: not sent, {code}{m.error.explanation}")
    when = f", scheduled for {command.at:%Y-%m-%d %H:%M} UTC" if command.at else ""
    lines.append(f"{_count(result.parts, 'part')}, {result.encoding}{when}")
    failures = [m.error for m in result.messages if m.error is not None]
    if len(failures) < len(result.messages):
        return Outcome(data, lines, EXIT_OK)
    # Nobody got it: a failed command, so the §4 `error` object is there as for any failure
    # (the per-recipient entries stay, so a script sees every reason).
    data["error"] = _send_failure(failures)
    return Outcome(data, lines, EXIT_FAILED)


def _send_failure(failures: list[GatewayError]) -> dict[str, Any]:
    codes = {error.code for error in failures}
    if len(failures) == 1 or len(codes) == 1:
        return {"code": failures[0].code, "description": failures[0].explanation}
    return {
        "code": None,
        "description": f"None of the {len(failures)} recipients was sent the message; "
        "each message's error says why.",
    }


def _count(amount: float, unit: str) -> str:
    """'1 credit', '2 credits', '0.5 credits'."""
    return f"{amount:g} {unit}{'' if amount == 1 else 's'}"


def _status(client: ClickatellClient, command: grammar.Status | grammar.Cancel) -> Outcome:
    lookup = client.query if isinstance(command, grammar.Status) else client.cancel
    status = by_either_id(lookup, command.id)
    data = {"apimsgid": status.apimsgid, "status": status.status, "description": status.description}
    return Outcome(data, [f"{status.apimsgid}: {status.status} {status.description}"])


def _charge(client: ClickatellClient, command: grammar.Charge) -> Outcome:
    charge = by_either_id(client.charge, command.id)
    data = {
        "apimsgid": charge.apimsgid,
        "charge": charge.charge,
        "status": charge.status,
        "description": charge.description,
    }
    cost = _count(charge.charge, "credit")
    line = f"{charge.apimsgid}: {cost}, {charge.status} {charge.description}"
    return Outcome(data, [line])


def _balance(client: ClickatellClient, command: grammar.Balance) -> Outcome:
    credit = client.balance()
    return Outcome({"credit": credit}, [f"Credit: {credit:g}"])


def _coverage(client: ClickatellClient, command: grammar.Coverage) -> Outcome:
    coverage = client.coverage(command.number)
    data = {"msisdn": coverage.msisdn, "routable": coverage.routable, "charge": coverage.charge}
    if coverage.routable:
        price = (
            f", {_count(coverage.charge, 'credit')} per part" if coverage.charge is not None else ""
        )
        line = f"{coverage.msisdn}: routable{price}"
    else:
        line = f"{coverage.msisdn}: not routable"
    return Outcome(data, [line])


def _redeem(client: ClickatellClient, command: grammar.Redeem) -> Outcome:
    redeemed = client.redeem(command.voucher)
    return Outcome(
        {"ok": redeemed.ok, "code": redeemed.code}, [f"Voucher accepted ({redeemed.code})"]
    )


def _ping(client: ClickatellClient, command: grammar.Ping) -> Outcome:
    client.ping()
    return Outcome({"ok": True}, ["OK: the gateway session is alive"])


_HANDLERS_BY_TYPE: dict[type, Callable[[ClickatellClient, Any], Outcome]] = {
    grammar.Send: _send,
    grammar.Status: _status,
    grammar.Cancel: _status,
    grammar.Charge: _charge,
    grammar.Balance: _balance,
    grammar.Coverage: _coverage,
    grammar.Redeem: _redeem,
    grammar.Ping: _ping,
}
_HANDLERS = tuple(_HANDLERS_BY_TYPE)
