"""`sms-bot bulk FILE.csv TEXT [--to-column NAME] [--at WHEN] [--dry-run]` (product.md §4).

The command line's side of a bulk send: read the file, `prepare` the plan (the same checks as
the Slack form: opt-outs from `SMS_BOT_DB`, template fields, numbers, parts), then start it and
drive its rows in this process until every row due now has been handed to the gateway (not
until delivery). What is not due yet — a run scheduled with `--at`, rows held for the
recipients' quiet hours — stays stored as a run that `sms-bot serve` (which drives every run)
sends when due. The output says so plainly (`NOT SENT YET: …`; JSON `held`, `scheduled`,
`held_for_quiet_hours`, `next_due`, `sent_by_serve`), so nobody takes them for sent. Sends are
recorded in the same database as Slack's, so `/sms log` shows them and replies open conversations
as usual.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot import grammar
from bot.config import Settings
from bot.domain.bulk import RowState, RunState
from bot.gateway.base import Gateway
from bot.storage import Storage, open_storage
from bot.usecases import bulk
from bot.usecases.bulk.planning import prepare as plan_rows
from bot.usecases.bulk.runner import BulkRunner

COMMAND_LINE_USER = "cli"  # the "Slack user" recorded for runs started here
WAIT_AT_MOST = 60.0  # seconds: a back-off shorter than this is waited out; longer is serve's


@dataclass
class CommandLinePorts:
    """`AppPorts` for the command line: no Slack, so no cards to post or refresh."""

    settings: Settings
    storage: Storage
    gateway: Gateway
    sandboxed: bool

    @property
    def cards(self) -> CommandLinePorts:
        return self

    def post(self, send_id: int) -> str | None:
        return "the command line posts no cards"

    def refresh_card(self, send_id: int) -> None:
        return None


@dataclass(frozen=True)
class BulkOutcome:
    data: dict[str, Any]
    lines: list[str]
    code: int


def run_bulk(
    command: grammar.Bulk,
    settings: Settings,
    gateway: Gateway,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
) -> BulkOutcome:
    """Plan, then (unless `--dry-run`) send; raises BulkRefused for bad input (nothing sent)
    and OSError for a file that cannot be read."""
    data = _read(command.file)
    with open_storage(settings.db_path) as storage:
        ports = CommandLinePorts(settings, storage, gateway, settings.uses_sandbox)
        source = bulk.BulkSource(csv_bytes=data, to_column=command.to_column)
        plan = plan_rows(
            ports,
            source,
            command.text,
            starter=COMMAND_LINE_USER,
            channel=None,
            store=not command.dry_run,
        )
        if command.dry_run:
            return _dry_run(plan)
        bulk.start(ports, plan.plan_id, user=COMMAND_LINE_USER, at=command.at, now=clock())
        if command.at is None:
            _drive(ports, plan.plan_id, clock, sleep)
        return _report(ports, plan, clock())


def _read(path: str) -> bytes:
    file = Path(path)
    if file.is_dir():
        raise OSError(f"{path} is a folder, not a CSV file")
    try:
        return file.read_bytes()
    except FileNotFoundError:
        raise OSError(f"there is no file {path}") from None


def _drive(
    ports: CommandLinePorts,
    bulk_id: str,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None],
) -> None:
    runner = BulkRunner(ports, clock=clock)
    try:
        while True:
            result = runner.drive(bulk_id)
            if result.state is not RunState.RUNNING or result.next_due is None:
                return
            tally = ports.storage.bulks.tally(bulk_id, now=clock())
            wait = (result.next_due - clock()).total_seconds()
            if tally.pending == 0 or wait > WAIT_AT_MOST:
                return  # only rows held for quiet hours (or a long back-off): serve's job
            sleep(max(wait, 0.05))
    finally:
        runner.close()


def _skips(plan: bulk.BulkPlan) -> list[dict[str, Any]]:
    return [{"row": s.row, "to": s.to, "reason": s.reason} for s in plan.skipped]


def _dry_run(plan: bulk.BulkPlan) -> BulkOutcome:
    data = {
        "rows": plan.rows,
        "sent": 0,
        "skipped": _skips(plan),
        "failed": [],
        "parts": plan.parts,
        "encoding": plan.encoding,
        "valid": plan.valid,
        "credits_estimate": plan.credits_estimate,
        "dry_run": True,
    }
    lines = [
        f"{plan.rows} rows: {plan.valid} to send, {plan.invalid} invalid, "
        f"{plan.duplicates} duplicates, {plan.opted_out} opted out",
        f"{plan.parts} part(s) at most, {plan.encoding}; estimated credits: "
        f"{'unknown' if plan.credits_estimate is None else plan.credits_estimate}",
        *[f"row {p.row} to {p.to}: {p.text}" for p in plan.preview],
        *[f"row {s.row} skipped ({s.to}): {s.reason}" for s in plan.skipped],
        "Dry run: nothing was sent.",
    ]
    return BulkOutcome(data, lines, 0)


def _report(ports: CommandLinePorts, plan: bulk.BulkPlan, now: datetime) -> BulkOutcome:
    progress = bulk.progress(ports, plan.plan_id)
    failed = bulk.failures(ports, plan.plan_id)
    skipped = _skips(plan) + _skipped_while_sending(ports.storage, plan)
    data: dict[str, Any] = {
        "rows": plan.rows,
        "sent": progress.sent,
        "skipped": sorted(skipped, key=lambda s: s["row"]),
        "failed": [
            {"row": f.row, "to": f.to, "error": {"code": f.code, "description": f.description}}
            for f in failed
        ],
        "parts": plan.parts,
        "encoding": plan.encoding,
        "held": progress.held + progress.pending,
        "bulk_id": plan.plan_id,
    }
    if progress.state == RunState.SCHEDULED.value and progress.at is not None:
        data["scheduled"] = _iso(progress.at)
    if data["held"]:
        data |= _waiting(ports, plan.plan_id, progress, now)
    lines = [
        f"{plan.rows} rows: {progress.sent} sent, {len(failed)} failed, "
        f"{len(skipped)} skipped, {data['held']} waiting; {plan.parts} part(s), {plan.encoding}",
        *[f"row {f.row} to {f.to} failed: {f.description}" for f in failed],
        *[f"row {s['row']} skipped ({s['to']}): {s['reason']}" for s in data["skipped"]],
    ]
    if data["held"]:
        lines.append(_waiting_words(data))
    nothing_went = progress.sent == 0 and failed and not data["held"]
    if nothing_went:  # a failed command: §4's `error` object, as for any failure
        data["error"] = _run_failure(data["failed"])
    return BulkOutcome(data, lines, 1 if nothing_went else 0)


def _run_failure(failed: list[dict[str, Any]]) -> dict[str, Any]:
    """One error for a run of which no row went out: the rows' own, when they share it."""
    errors = [f["error"] for f in failed]
    if len({e["code"] for e in errors}) == 1:
        return {"code": errors[0]["code"], "description": errors[0]["description"]}
    return {
        "code": None,
        "description": f"None of the {len(errors)} rows was sent; each row's error says why.",
    }


def _iso(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


def _waiting(
    ports: CommandLinePorts, bulk_id: str, progress: bulk.BulkProgress, now: datetime
) -> dict[str, Any]:
    """What a script needs to know of the rows not sent yet: they are stored, not sent, and go
    out only from `sms-bot serve` (`sent_by_serve`); how many wait for quiet hours; when the
    first is due (`next_due`: the scheduled time, or the end of the earliest quiet window)."""
    due = progress.at if progress.state == RunState.SCHEDULED.value else None
    due = due or ports.storage.bulks.next_due(bulk_id, now=now)
    waiting: dict[str, Any] = {"sent_by_serve": True, "held_for_quiet_hours": progress.held}
    if due is not None:
        waiting["next_due"] = _iso(due)
    return waiting


def _waiting_words(data: dict[str, Any]) -> str:
    """The plain sentence under the counts: nothing waiting has been sent."""
    held, quiet = data["held"], data["held_for_quiet_hours"]
    if "scheduled" in data:
        why = f"scheduled for {data['scheduled']}"
    elif quiet == held:
        why = "held for quiet hours (SMS_QUIET_HOURS) where the number is"
    else:
        why = f"waiting ({quiet} for quiet hours where the number is, the rest for a retry)"
    first = f" The first is due at {data['next_due']}." if "next_due" in data else ""
    return (
        f"NOT SENT YET: {held} row(s) {why}. They are stored in the database (SMS_BOT_DB) and "
        f"only `sms-bot serve`, running with that database, sends them when due.{first}"
    )


def _skipped_while_sending(storage: Storage, plan: bulk.BulkPlan) -> list[dict[str, Any]]:
    """Rows skipped after the plan (a number that opted out meanwhile)."""
    planned = {s.row for s in plan.skipped}
    found, after = [], 0
    while rows := storage.bulks.results(plan.plan_id, after=after, limit=1000):
        found += [
            {"row": r.row, "to": r.to, "reason": r.reason or r.state.value}
            for r in rows
            if r.state in (RowState.SKIPPED, RowState.CANCELLED) and r.row not in planned
        ]
        after = rows[-1].row
    return found
