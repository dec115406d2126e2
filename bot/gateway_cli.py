"""The gateway commands of `sms-bot` (product.md §4): send, status, cancel, charge, balance,
coverage, redeem and ping.

Words are parsed by the one grammar (`bot.grammar.parse_argv`); `--json` goes right after the
command name, or anywhere before a `--`. The gateway is chosen from the configuration:

* `CLICKATELL_API_KEY` set: the Clickatell Portal (`CLICKATELL_INTEGRATION`) at
  `CLICKATELL_BASE_URL` (default https://platform.clickatell.com); commands the Portal does not
  offer fail at once without a call, and with SMS REST or SMS HTTP (which cannot be asked)
  `status` answers from the latest delivery report stored by `serve` in `SMS_BOT_DB`;
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
from contextlib import closing, contextmanager
from dataclasses import dataclass, replace
from typing import Any, TextIO

from bot import grammar
from bot.bulk_cli import run_bulk
from bot.config import ConfigError, Settings, load_settings
from bot.domain.delivery import WITHDRAWN, DeliveryState
from bot.domain.records import Recipient
from bot.domain.templates import TemplateError
from bot.gateway.base import (
    Gateway,
    GatewayError,
    MessageStatus,
    Planned,
    RecipientResult,
    SendResult,
)
from bot.gateway.clickatell_http import Login, SandboxServer, build_gateway
from bot.gateway.clickatell_platform import build_gateway as build_platform_gateway
from bot.sms.encoding import measure
from bot.sms.refusals import Refused
from bot.storage import Storage, StorageError, open_storage
from bot.usecases.bulk import BulkRefused
from bot.usecases.cancelling import cancel_held, withdraw_and_show
from bot.usecases.command_line_sending import record_batch, store_batch
from bot.usecases.recording import TextBatch, plan_by_text
from bot.usecases.redeeming import redeem_voucher
from bot.usecases.sending import PreparedSend, Refusal, SendIntent, checked
from bot.usecases.shared_ids import MessageReport, cancel_each, report_each, shared_by
from bot.usecases.tracking import gateway_id, latest_report, stored_status
from bot.when import local_zone

GATEWAY_COMMANDS = (
    "send",
    "bulk",
    "status",
    "cancel",
    "charge",
    "balance",
    "coverage",
    "redeem",
    "ping",
)
TEMPLATE_FIELDS_HINT = (
    "Here a template can use {name} and {first_name} (from the contact); nothing was sent."
)
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
    environment = os.environ if env is None else env
    try:
        settings: Settings | ConfigError = load_settings(env)
    except ConfigError as error:
        settings = error  # a usage error is still reported first
    region = settings.default_region if isinstance(settings, Settings) else None
    try:  # `--at 14:00` is 14:00 on this machine's clock (TZ), as people read their own clock
        zone = local_zone(dict(environment))
        command = grammar.parse_argv(words, zone=zone, region=region)
    except grammar.UsageError as error:
        return out.error(None, str(error), EXIT_USAGE)
    if not isinstance(command, (*_HANDLERS, grammar.Bulk)):
        return out.error(None, f"'{words[0]}' is not a gateway command.", EXIT_USAGE)
    if isinstance(settings, ConfigError):
        return out.error(None, str(settings), EXIT_USAGE)
    try:
        with gateway_client(settings, environment) as gateway:
            if isinstance(command, grammar.Bulk):
                done = run_bulk(command, settings, gateway)
                return out.outcome(Outcome(done.data, done.lines, done.code))
            if isinstance(command, grammar.Status | grammar.Cancel):
                shared = _shared(settings, command.id)
                if shared:
                    return out.outcome(_each(settings, gateway, command, shared))
            if isinstance(command, grammar.Status) and not gateway.capabilities.query:
                return out.outcome(_reported_status(settings, command.id))
            if isinstance(command, grammar.Cancel) and not gateway.capabilities.cancel:
                return out.outcome(_cancel_held(settings, gateway, command.id))
            if isinstance(command, grammar.Status) and not gateway.capabilities.query_by_client_id:
                command = grammar.Status(_gateway_id(settings, command.id))
            if isinstance(command, grammar.Send):
                prepared = _address(settings, command)
                with open_storage(settings.db_path) as storage:  # recorded as serve records
                    return out.outcome(
                        _send(gateway, command, prepared, _Recorder(settings, storage))
                    )
            return out.outcome(execute(gateway, command))
    except GatewayError as error:
        return out.error(error.code, error.explanation, EXIT_FAILED)
    except (Refused, BulkRefused) as error:
        return out.error(None, str(error), EXIT_FAILED)
    except StorageError as error:
        return out.error(None, str(error), EXIT_FAILED)
    except Refusal as error:
        return out.error(None, error.reason, EXIT_FAILED)
    except TemplateError as error:
        return out.error(None, f"{error} {TEMPLATE_FIELDS_HINT}", EXIT_FAILED)
    except (OSError, ValueError) as error:  # e.g. an unreadable sandbox state file
        return out.error(None, str(error), EXIT_FAILED)


@contextmanager
def gateway_client(settings: Settings, env: Mapping[str, str]) -> Iterator[Gateway]:
    """The configured gateway (see the module docstring), closed afterwards."""
    if settings.uses_portal:
        with closing(build_platform_gateway(settings)) as portal:
            yield portal
        return
    if not settings.uses_sandbox:
        with closing(build_gateway(settings)) as gateway:
            yield gateway
        return
    login = Login(SANDBOX_LOGIN, SANDBOX_LOGIN, SANDBOX_LOGIN)
    if (env.get("CLICKATELL_BASE_URL") or "").strip():
        with closing(build_gateway(settings, login=login)) as gateway:
            yield gateway
        return
    state_path = f"{settings.local_state_prefix}.sandbox.json"
    folder = os.path.dirname(state_path) or "."
    if not os.path.isdir(folder):
        raise OSError(f"SMS_BOT_DB points into {folder!r}, which does not exist")
    with _exclusive(f"{state_path}.lock"):  # from loading the state to saving it
        sandbox = SandboxServer(state_path=state_path, autorun=False)
        with sandbox:
            with closing(build_gateway(settings, base_url=sandbox.url, login=login)) as gateway:
                yield gateway
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


def execute(gateway: Gateway, command: grammar.Command) -> Outcome:
    return _HANDLERS_BY_TYPE[type(command)](gateway, command)


def _error_json(error: GatewayError | None) -> dict[str, Any] | None:
    if error is None:
        return None
    return {"code": error.code, "description": error.explanation}


@dataclass(frozen=True)
class _Directory:
    settings: Settings
    storage: Storage


def _address(settings: Settings, command: grammar.Send) -> PreparedSend:
    """Recipients resolved by the rules of Slack's `/sms send` (contact and group names,
    opted-out numbers set aside) and each one's text (a template filled in per contact). The
    database is `serve`'s (created if it does not exist yet, as `serve` and `bulk` do), so what
    the command line sends shows in `/sms log` and an opt-out binds it as it binds Slack."""
    intent = SendIntent(
        user="",
        channel="",
        to=command.to,
        text=command.text,
        intent_key="cli",
        at=command.at,  # moved past SMS_QUIET_HOURS where the recipients are, as in Slack
        client_id=command.client_id,
        template=command.template,
    )
    try:
        with open_storage(settings.db_path) as storage:
            return checked(_Directory(settings, storage), intent)
    except StorageError as error:
        raise OSError(f"SMS_BOT_DB: {error}") from None


@dataclass(frozen=True)
class _Recorder:
    """Where `send` records what it sends: the database `serve` uses (so /sms log shows it)."""

    settings: Settings
    storage: Storage


def _send(
    gateway: Gateway,
    command: grammar.Send,
    prepared: PreparedSend | None = None,
    recorder: _Recorder | None = None,
) -> Outcome:
    """One gateway call per distinct text: a template filled in per contact differs."""
    if prepared is not None:  # its time, past the quiet hours, is the one to send at
        command = replace(command, at=prepared.intent.at)
    if prepared is None:  # as typed: the gateway normalises (and refuses) the numbers
        planned = tuple(gateway.plan(list(command.to), client_id=command.client_id))
        batches = [TextBatch(command.text, planned, {})]
    else:
        numbers = [t.msisdn for t in prepared.targets]
        batches = plan_by_text(gateway, numbers, prepared.text_for, command.client_id)
    results = [
        _send_batch(gateway, command, b.text, b.planned, len(batches), recorder) for b in batches
    ]
    result = max(results, key=lambda r: r.parts)  # the longest text describes the send
    messages = [
        {
            "to": m.to,
            "apimsgid": m.message_id,
            "climsgid": m.client_id,
            "error": _error_json(m.error),
        }
        for r in results
        for m in r.messages
    ]
    data: dict[str, Any] = {
        "messages": messages,
        "parts": result.parts,
        "encoding": result.encoding,
    }
    lines = [_send_line(m) for r in results for m in r.messages]
    if prepared is not None and prepared.opted_out:
        data["skipped"] = [{"to": t.msisdn, "reason": "opted out"} for t in prepared.opted_out]
        lines += [f"{t.msisdn}: not sent, opted out (texted STOP)" for t in prepared.opted_out]
    when = f", scheduled for {command.at:%Y-%m-%d %H:%M} UTC" if command.at else ""
    lines.append(f"{_count(result.parts, 'part')}, {result.encoding}{when}")
    failures = [m.error for r in results for m in r.messages if m.error is not None]
    if len(failures) < len(messages):
        return Outcome(data, lines, EXIT_OK)
    # Nobody got it: a failed command, so the §4 `error` object is there as for any failure
    # (the per-recipient entries stay, so a script sees every reason).
    data["error"] = _send_failure(failures)
    return Outcome(data, lines, EXIT_FAILED)


def _send_batch(
    gateway: Gateway,
    command: grammar.Send,
    text: str,
    batch: Sequence[Planned],
    batches: int,
    recorder: _Recorder | None = None,
) -> SendResult:
    """One text's call. Of several, one that fails as a whole fails its own recipients only
    (the others were sent: a script must see that, never retry them all). With a `recorder`,
    the batch is recorded before the call and its answer after."""
    recorded = None
    if recorder is not None and batch:
        recorded = record_batch(
            recorder.storage,
            recorder.settings,
            text,
            batch,
            sender=command.sender,
            at=command.at,
            client_id=command.client_id,
        )
    try:
        result = gateway.send(
            batch,
            text,
            sender=command.sender,
            at=command.at,
            skip_if_sent=command.client_id is not None,  # `--id X` twice sends once
        )
    except GatewayError as error:
        if recorder is not None and recorded is not None:
            store_batch(recorder.storage, recorded, None, error)
        if batches == 1:
            raise
        encoding, _, parts = measure(text)
        failed = tuple(RecipientResult(p.to, None, p.client_id, error=error) for p in batch)
        return SendResult(failed, parts, encoding)
    if recorder is not None and recorded is not None:
        store_batch(recorder.storage, recorded, result, None)
    return result


def _send_line(m: RecipientResult) -> str:
    if m.already_sent is not None:
        ident = m.message_id or "(ID unknown)"
        earlier = m.already_sent.status
        return (
            f"{m.to}: already sent earlier, ID {ident} (client ID {m.client_id}), "
            f"{earlier.code} {earlier.words}; not sent again"
        )
    if m.error is None:
        ident = m.message_id or "(accepted, ID unknown)"
        return f"{m.to}: sent, ID {ident} (client ID {m.client_id})"
    code = f"error {m.error.code}: " if m.error.code else ""
    return f"{m.to}: not sent, {code}{m.error.explanation}"


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


def _status(gateway: Gateway, command: grammar.Status | grammar.Cancel) -> Outcome:
    lookup = gateway.query if isinstance(command, grammar.Status) else gateway.cancel
    found = lookup(command.id)
    status = found.status
    data = {
        "apimsgid": found.message_id,
        "status": status.code,
        "state": status.state.value,
        "description": status.words,
    }
    return Outcome(data, [f"{found.message_id}: {status.code} {status.words}"])


# The SMS integrations' own code for "unknown" (clickatell-platform.md §6): the honest status of a
# message no report has come for, in the same code space as the reports `status` shows otherwise.
SMS_UNKNOWN = "1"
NOT_ASKABLE = "this Portal integration (SMS REST or SMS HTTP) cannot be asked for a status"


def _reported_status(settings: Settings, message_id: str) -> Outcome:
    """`status` where the gateway cannot be asked: the latest delivery report `serve` stored."""
    found = _stored_report(settings, message_id)
    if found is None:
        words = f"No delivery report has come for this message yet, and {NOT_ASKABLE}."
        data = {"apimsgid": message_id, "status": SMS_UNKNOWN, "state": DeliveryState.UNKNOWN.value}
        return Outcome({**data, "description": words}, [f"{message_id}: {words}"])
    status = found.status
    words = f"{status.words} (the latest delivery report; {NOT_ASKABLE})"
    data = {
        "apimsgid": found.message_id,
        "status": status.code,
        "state": status.state.value,
        "description": words,
    }
    return Outcome(data, [f"{found.message_id}: {status.code} {words}"])


def _cancel_held(settings: Settings, gateway: Gateway, message_id: str) -> Outcome:
    """`cancel` where the gateway cannot cancel: a scheduled message sms-bot still holds (named
    by its client ID) is withdrawn in SMS_BOT_DB; anything else is not offered (no call)."""
    withdrawn = None
    if _database_exists(settings):
        try:
            with open_storage(settings.db_path) as storage:
                withdrawn = cancel_held(storage, message_id)
        except StorageError as error:
            raise OSError(f"SMS_BOT_DB: {error}") from None
    if withdrawn is None:
        gateway.cancel(message_id)  # raises Unsupported, without a call
        raise AssertionError("a gateway without cancel cancelled")
    status = stored_status(withdrawn) or WITHDRAWN
    words = f"{status.words}: sms-bot held it, so it never reached the gateway"
    data = {
        "apimsgid": withdrawn.apimsgid,
        "status": status.code,
        "state": status.state.value,
        "description": words,
    }
    return Outcome(data, [f"{message_id}: {words}"])


def _gateway_id(settings: Settings, message_id: str) -> str:
    """A client ID quoted to a gateway that knows only its own IDs: the one stored for it."""
    if not _database_exists(settings):
        return message_id
    try:
        with open_storage(settings.db_path) as storage:
            return gateway_id(storage, message_id)
    except StorageError as error:
        raise OSError(f"SMS_BOT_DB: {error}") from None


def _shared(settings: Settings, client_id: str) -> list[Recipient]:
    """The messages a client ID names when a multi-recipient send shares it (else [])."""
    if not _database_exists(settings):
        return []
    try:
        with open_storage(settings.db_path) as storage:
            return shared_by(storage, client_id)
    except StorageError as error:
        raise OSError(f"SMS_BOT_DB: {error}") from None


def _each(
    settings: Settings,
    gateway: Gateway,
    command: grammar.Status | grammar.Cancel,
    shared: list[Recipient],
) -> Outcome:
    """`status`/`cancel` of a shared client ID: every message, as `{"messages": [...]}` (one
    object each, shaped like a single message's answer; `error` where it could not be told or
    stopped). Exits 1 only when none could be."""
    if isinstance(command, grammar.Status):
        reports = report_each(gateway, shared)
    else:
        reports = cancel_each(gateway, shared, lambda held: _withdraw(settings, held))
    messages = [_report_json(report) for report in reports]
    lines = [_report_line(report) for report in reports]
    failed = all(report.problem is not None for report in reports)
    return Outcome({"messages": messages}, lines, EXIT_FAILED if failed else EXIT_OK)


def _withdraw(settings: Settings, held: Sequence[Recipient]) -> None:
    with open_storage(settings.db_path) as storage:
        for send_id in dict.fromkeys(r.send_id for r in held):
            send = storage.sends.get(send_id)
            if send is not None:
                withdraw_and_show(storage, send, [r for r in held if r.send_id == send_id])


def _report_json(report: MessageReport) -> dict[str, Any]:
    status = report.status
    error = None if report.problem is None else {"code": None, "description": report.problem}
    return {
        "to": report.to,
        "apimsgid": report.message_id,
        "status": status.code if status else None,
        "state": status.state.value if status else DeliveryState.UNKNOWN.value,
        "description": status.words if status else report.problem or NO_REPORT,
        "error": error,
    }


def _report_line(report: MessageReport) -> str:
    if report.status is None:
        return f"{report.to} {report.message_id or '-'}: {report.problem or NO_REPORT}"
    status = report.status
    return f"{report.to} {report.message_id or '-'}: {status.code} {status.words}"


NO_REPORT = "No delivery report has come for this message yet"


def _database_exists(settings: Settings) -> bool:
    return "://" in settings.db_path or os.path.exists(settings.db_path)


def _stored_report(settings: Settings, message_id: str) -> MessageStatus | None:
    """The report stored in SMS_BOT_DB, if the database exists (it is never created here)."""
    if not _database_exists(settings):
        return None
    try:
        with open_storage(settings.db_path) as storage:
            return latest_report(storage, message_id)
    except StorageError as error:
        raise OSError(f"SMS_BOT_DB: {error}") from None


def _charge(gateway: Gateway, command: grammar.Charge) -> Outcome:
    charge = gateway.charge(command.id)
    status = charge.status
    data = {
        "apimsgid": charge.message_id,
        "charge": charge.charge,
        "status": status.code,
        "state": status.state.value,
        "description": status.words,
    }
    cost = _count(charge.charge, "credit")
    line = f"{charge.message_id}: {cost}, {status.code} {status.words}"
    return Outcome(data, [line])


def _balance(gateway: Gateway, command: grammar.Balance) -> Outcome:
    """Credits (legacy, `currency` null) or money with its currency (Portal)."""
    balance = gateway.balance()
    data = {"credit": balance.amount, "currency": balance.currency}
    if balance.currency is None:
        return Outcome(data, [f"Credit: {balance.amount:g}"])
    return Outcome(data, [f"Balance: {balance.currency} {balance.amount:,.2f}"])


def _coverage(gateway: Gateway, command: grammar.Coverage) -> Outcome:
    coverage = gateway.coverage(command.number)
    data = {"msisdn": coverage.msisdn, "routable": coverage.routable, "charge": coverage.charge}
    if coverage.routable:
        price = (
            f", {_count(coverage.charge, 'credit')} per part" if coverage.charge is not None else ""
        )
        line = f"{coverage.msisdn}: routable{price}"
    else:
        line = f"{coverage.msisdn}: not routable"
    return Outcome(data, [line])


def _redeem(gateway: Gateway, command: grammar.Redeem) -> Outcome:
    """§4's `{"ok": true, "code": "605"}`, extended with what the voucher added and the credit
    after it (null when the balance could not be read: the gateway's answer does not say)."""
    redeemed = redeem_voucher(gateway, command.voucher)
    credit = redeemed.after.amount if redeemed.after is not None else None
    data = {"ok": True, "code": redeemed.code, "added": redeemed.added, "credit": credit}
    if redeemed.added is None or redeemed.before is None:
        return Outcome(data, [f"Voucher accepted ({redeemed.code}); the credit added is unknown"])
    before = redeemed.before.amount
    line = f"Voucher accepted ({redeemed.code}): {redeemed.added:g} added, {before:g} -> {credit:g}"
    return Outcome(data, [line])


def _ping(gateway: Gateway, command: grammar.Ping) -> Outcome:
    gateway.ping()
    return Outcome({"ok": True}, ["OK: the gateway session is alive"])


# Handlers take the parsed command of their own type; the table pairs them, so the parameter is
# the grammar's Command union rather than each handler's narrower type.
_HANDLERS_BY_TYPE: dict[type, Callable[[Gateway, Any], Outcome]] = {
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
