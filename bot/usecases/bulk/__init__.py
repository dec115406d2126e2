"""Bulk sends (product.md §4 `sms-bot bulk`, §5 bulk): one personalised SMS per row.

The seam between the engine (everything but Slack) and the Slack side: the types in `model` and
the functions below. See docs/architecture.md for how a run flows.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.domain.bulk import RowState
from bot.usecases.bulk import control, planning
from bot.usecases.bulk.model import (
    BulkFailure,
    BulkPlan,
    BulkProgress,
    BulkRefused,
    BulkRowPreview,
    BulkSkip,
    BulkSource,
)
from bot.usecases.ports import AppPorts

__all__ = [
    "BulkFailure",
    "BulkPlan",
    "BulkProgress",
    "BulkRefused",
    "BulkRowPreview",
    "BulkSkip",
    "BulkSource",
    "cancel",
    "discard",
    "failures",
    "pause",
    "prepare",
    "progress",
    "result_csv",
    "resume",
    "running",
    "start",
]


def prepare(
    ports: AppPorts, source: BulkSource, text: str, *, starter: str, channel: str | None
) -> BulkPlan:
    """Read and check every row, store the plan; raises BulkRefused (nothing stored)."""
    return planning.prepare(ports, source, text, starter=starter, channel=channel)


def start(
    ports: AppPorts,
    plan_id: str,
    *,
    user: str,
    at: datetime | None = None,
    now: datetime | None = None,
) -> BulkProgress:
    """Start a stored plan now or at `at` (the starter or an admin); bulk_id is the plan_id.
    The rows go out from whichever process drives runs (`serve`'s bulk worker, or the command
    line's own runner)."""
    return control.start(ports, plan_id, user=user, at=at, now=now or _now())


def pause(ports: AppPorts, bulk_id: str, *, user: str) -> BulkProgress:
    """Stop handing rows to the gateway (the starter or an admin); rows already handed over
    (at most a few, in flight) still go."""
    return control.pause(ports, bulk_id, user=user)


def resume(
    ports: AppPorts, bulk_id: str, *, user: str, now: datetime | None = None
) -> BulkProgress:
    return control.resume(ports, bulk_id, user=user, now=now or _now())


def cancel(ports: AppPorts, bulk_id: str, *, user: str) -> BulkProgress:
    """Rows not yet handed to the gateway are never sent."""
    return control.cancel(ports, bulk_id, user=user)


def discard(ports: AppPorts, plan_id: str, *, user: str) -> BulkProgress:
    """Cancel in the preview (the starter or an admin): the plan never starts and posts no card;
    a later Send on it says it was cancelled."""
    return control.discard(ports, plan_id, user=user)


def progress(ports: AppPorts, bulk_id: str) -> BulkProgress:
    return control.progress(ports, bulk_id)


def result_csv(ports: AppPorts, bulk_id: str) -> bytes:
    """One line per row: number, text sent, apimsgid, final state or reason (formulas escaped)."""
    return control.result_csv(ports, bulk_id)


def running(ports: AppPorts, *, user: str | None = None) -> list[BulkProgress]:
    """Runs not finished (a user's own, or everyone's), newest first, for App Home."""
    return control.running(ports, user=user)


def failures(ports: AppPorts, bulk_id: str) -> list[BulkFailure]:
    """The rows the gateway refused (or whose outcome stayed unknown), for the command line."""
    found: list[BulkFailure] = []
    after = 0
    while rows := ports.storage.bulks.results(bulk_id, after=after, limit=1000):
        found += [
            BulkFailure(r.row, r.to, r.error_code, r.error_description or r.reason or "failed")
            for r in rows
            if r.state is RowState.FAILED
        ]
        after = rows[-1].row
    return found


def _now() -> datetime:
    return datetime.now(UTC)
