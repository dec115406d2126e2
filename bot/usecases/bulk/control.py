"""Starting, pausing, resuming and cancelling bulk runs; their progress and result file.

Who may: the person who started a run or an admin (`access.may_touch`, the rule every cancel
uses). Every change of state queues the progress card's update in the same transaction.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime

from bot.domain import access
from bot.domain.bulk import ACTIVE_RUN_STATES, BulkRun, RowState, RunState
from bot.usecases.bulk.events import progress_changed
from bot.usecases.bulk.model import BulkProgress, BulkRefused
from bot.usecases.ports import AppPorts

MAX_AHEAD_DAYS = 7  # as far ahead as a scheduled send may be (product.md §5 --at)
RESULT_HEADER = ("row", "number", "text", "apimsgid", "state", "reason")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _run(ports: AppPorts, bulk_id: str) -> BulkRun:
    run = ports.storage.bulks.get(bulk_id)
    if run is None:
        raise BulkRefused(f"There is no bulk send {bulk_id!r}.")
    return run


def _check_may_touch(ports: AppPorts, run: BulkRun, user: str, doing: str) -> None:
    if not access.may_touch(ports.settings.admins, user, run.starter):
        raise BulkRefused(
            f"Only <@{run.starter}>, who started this bulk send, or an admin (SMS_ADMINS) can "
            f"{doing} it. Nothing changed."
        )


def _move(
    ports: AppPorts,
    run: BulkRun,
    to: RunState,
    expect: Sequence[RunState],
    *,
    at: datetime | None = None,
    refusal: str,
) -> BulkProgress:
    storage = ports.storage
    with storage.transaction():
        if not storage.bulks.move(run.bulk_id, to, expect=expect, at=at):
            current = storage.bulks.get(run.bulk_id)
            state = current.state.value if current is not None else "gone"
            raise BulkRefused(f"{refusal} (it is {state}). Nothing changed.")
        progress_changed(storage, run)
    return progress(ports, run.bulk_id)


DISCARDED_WORDS = "This bulk send was cancelled in its preview: nothing was sent."


def start(
    ports: AppPorts, plan_id: str, *, user: str, at: datetime | None = None, now: datetime
) -> BulkProgress:
    run = _run(ports, plan_id)
    _check_may_touch(ports, run, user, "start")
    if run.state is RunState.DISCARDED:
        raise BulkRefused(DISCARDED_WORDS + " Open the form again with /sms bulk.")
    if at is not None and at > now:
        if (at - now).days >= MAX_AHEAD_DAYS:
            raise BulkRefused(f"A bulk send can be scheduled at most {MAX_AHEAD_DAYS} days ahead.")
        return _move(
            ports,
            run,
            RunState.SCHEDULED,
            [RunState.PLANNED],
            at=at,
            refusal="This bulk send was started already",
        )
    return _move(
        ports,
        run,
        RunState.RUNNING,
        [RunState.PLANNED],
        at=now,
        refusal="This bulk send was started already",
    )


def pause(ports: AppPorts, bulk_id: str, *, user: str) -> BulkProgress:
    run = _run(ports, bulk_id)
    _check_may_touch(ports, run, user, "pause")
    return _move(
        ports,
        run,
        RunState.PAUSED,
        [RunState.RUNNING, RunState.SCHEDULED],
        refusal="Only a running or scheduled bulk send can be paused",
    )


def resume(ports: AppPorts, bulk_id: str, *, user: str, now: datetime) -> BulkProgress:
    run = _run(ports, bulk_id)
    _check_may_touch(ports, run, user, "resume")
    later = run.at is not None and run.at > now
    return _move(
        ports,
        run,
        RunState.SCHEDULED if later else RunState.RUNNING,
        [RunState.PAUSED],
        refusal="Only a paused bulk send can be resumed",
    )


def cancel(ports: AppPorts, bulk_id: str, *, user: str) -> BulkProgress:
    run = _run(ports, bulk_id)
    _check_may_touch(ports, run, user, "cancel")
    return _move(
        ports,
        run,
        RunState.CANCELLED,
        [RunState.PLANNED, *ACTIVE_RUN_STATES],
        refusal="This bulk send has ended already",
    )


def discard(ports: AppPorts, plan_id: str, *, user: str) -> BulkProgress:
    """Cancel in the preview: the plan is never to start. No card was posted and none is (no
    progress update is queued); the plan and its rows are pruned later with other old rows."""
    run = _run(ports, plan_id)
    _check_may_touch(ports, run, user, "cancel")
    if run.state is RunState.DISCARDED:
        return progress(ports, plan_id)  # a second click, or Slack delivering it again
    if not ports.storage.bulks.move(plan_id, RunState.DISCARDED, expect=[RunState.PLANNED]):
        current = ports.storage.bulks.get(plan_id)
        state = current.state.value if current is not None else "gone"
        raise BulkRefused(
            f"This bulk send was started already (it is {state}): use the buttons on its "
            "progress card. Nothing changed."
        )
    return progress(ports, plan_id)


def progress(ports: AppPorts, bulk_id: str, now: datetime | None = None) -> BulkProgress:
    run = _run(ports, bulk_id)
    tally = ports.storage.bulks.tally(bulk_id, now=now)
    return BulkProgress(
        bulk_id=run.bulk_id,
        state=run.state.value,
        total=tally.total,
        sent=tally.sent,
        delivered=tally.delivered,
        failed=tally.failed,
        skipped=tally.skipped + tally.cancelled,
        held=tally.held,
        pending=tally.pending,
        starter=run.starter,
        channel=run.channel,
        card_ts=run.card_ts,
        at=run.at,
    )


def running(ports: AppPorts, *, user: str | None = None) -> list[BulkProgress]:
    runs = ports.storage.bulks.runs(list(ACTIVE_RUN_STATES), starter=user)
    return [progress(ports, run.bulk_id) for run in runs]


def due_scheduled(ports: AppPorts, now: datetime) -> list[str]:
    """Start the scheduled runs whose time has come; the ids of every run now RUNNING."""
    storage = ports.storage
    for run in storage.bulks.runs([RunState.SCHEDULED], limit=1000):
        if run.at is not None and run.at <= now:
            with storage.transaction():
                if storage.bulks.move(run.bulk_id, RunState.RUNNING, expect=[RunState.SCHEDULED]):
                    progress_changed(storage, run)
    return [run.bulk_id for run in storage.bulks.runs([RunState.RUNNING], limit=1000)]


# --------------------------------------------------------------------------- the result file


def escape_cell(value: str) -> str:
    """A cell a spreadsheet will not run: one that starts like a formula (=, +, -, @, a tab or
    a carriage return) gets a leading apostrophe, OWASP's advice for CSV injection."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def result_csv(ports: AppPorts, bulk_id: str) -> bytes:
    """One line per row: number, text sent, apimsgid, final state or reason. UTF-8 with a BOM,
    so Excel reads it as UTF-8; every cell escaped against formulas."""
    _run(ports, bulk_id)
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(RESULT_HEADER)
    after = 0
    while True:
        rows = ports.storage.bulks.results(bulk_id, after=after, limit=1000)
        if not rows:
            break
        for r in rows:
            state = r.delivery or r.state.value if r.state is RowState.SENT else r.state.value
            reason = r.reason or r.error_description or ""
            cells = (str(r.row), r.to, r.text, r.apimsgid or "", state, reason)
            writer.writerow([escape_cell(cell) for cell in cells])
        after = rows[-1].row
    return ("\ufeff" + out.getvalue()).encode("utf-8")
