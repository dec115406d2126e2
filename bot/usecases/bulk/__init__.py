"""Bulk sends (product.md §4 `sms-bot bulk`, §5 bulk): one personalised SMS per row.

The seam between the engine (everything but Slack) and the Slack side: the types in `model` and
the functions below. See docs/architecture.md for how a run flows.
"""

from __future__ import annotations

from datetime import datetime

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
    raise NotImplementedError


def start(ports: AppPorts, plan_id: str, *, user: str, at: datetime | None = None) -> BulkProgress:
    """Start a stored plan now or at `at`; the run's bulk_id is the plan_id."""
    raise NotImplementedError


def pause(ports: AppPorts, bulk_id: str, *, user: str) -> BulkProgress:
    """Stop handing rows to the gateway (the starter or an admin)."""
    raise NotImplementedError


def resume(ports: AppPorts, bulk_id: str, *, user: str) -> BulkProgress:
    raise NotImplementedError


def cancel(ports: AppPorts, bulk_id: str, *, user: str) -> BulkProgress:
    """Rows not yet handed to the gateway are never sent."""
    raise NotImplementedError


def progress(ports: AppPorts, bulk_id: str) -> BulkProgress:
    raise NotImplementedError


def result_csv(ports: AppPorts, bulk_id: str) -> bytes:
    """One line per row: number, text sent, apimsgid, final state or reason (formulas escaped)."""
    raise NotImplementedError


def running(ports: AppPorts, *, user: str | None = None) -> list[BulkProgress]:
    """Runs not finished (a user's own, or everyone's), for App Home."""
    raise NotImplementedError
