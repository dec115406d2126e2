"""A bulk run's durable records and its row/run state vocabulary (product.md §5 bulk).

A run is planned (rows checked and stored), then started (now or at a time), and its rows are
handed to the gateway one by one, each as an ordinary recorded send. Rows are work items: a row
is claimed with a lease before it is sent, so a process that dies mid-run leaves its rows to be
claimed again, and the row's own client message ID (recorded with its send before the gateway
call) makes sure a row claimed twice is never texted twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class RunState(StrEnum):
    PLANNED = "planned"  # checked and stored, not started (the preview's Send not pressed)
    SCHEDULED = "scheduled"  # started with a time still to come
    RUNNING = "running"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    DONE = "done"
    DISCARDED = "discarded"  # Cancel pressed in the preview: never started, never to start


ACTIVE_RUN_STATES = frozenset({RunState.SCHEDULED, RunState.RUNNING, RunState.PAUSED})
ENDED_RUN_STATES = frozenset({RunState.CANCELLED, RunState.DONE, RunState.DISCARDED})
# Runs never started (still planned, or discarded) are forgotten after a while (storage
# `bulks.prune`): no card shows them and no send refers to their rows.
UNSTARTED_RUN_STATES = frozenset({RunState.PLANNED, RunState.DISCARDED})


class RowState(StrEnum):
    PENDING = "pending"  # to send (perhaps not before `not_before`: quiet hours, back-off)
    SENT = "sent"  # the gateway took it (its send's recipient has the apimsgid)
    FAILED = "failed"  # the gateway refused it, or its outcome stayed unknown
    SKIPPED = "skipped"  # never to send: invalid, duplicate, opted out, too long
    CANCELLED = "cancelled"  # the run was cancelled before the row was sent


OPEN_ROW_STATES = frozenset({RowState.PENDING})


@dataclass(frozen=True)
class NewBulkRow:
    row: int  # as a spreadsheet numbers it: a CSV's header is row 1; pasted numbers from 1
    to: str  # the normalised number, or the raw value of an invalid one
    text: str  # the rendered message ("" for a skipped row that could not be rendered)
    climsgid: str  # "" for a skipped row
    state: RowState  # PENDING or SKIPPED
    reason: str | None = None  # why it is skipped


@dataclass(frozen=True)
class NewBulk:
    """A checked plan as stored by `bulks.create`; `summary` holds the preview's counts."""

    bulk_id: str
    starter: str
    channel: str | None
    text: str
    parts: int
    encoding: str
    credits_estimate: float | None
    rows: int
    valid: int
    invalid: int
    duplicates: int
    opted_out: int


@dataclass(frozen=True)
class BulkRun(NewBulk):
    """A stored plan and where its run is."""

    state: RunState
    at: datetime | None  # when it is to start (scheduled), or when it was started
    created_at: datetime
    finished_at: datetime | None
    card_channel: str | None
    card_ts: str | None


@dataclass(frozen=True)
class BulkRow:
    """A row as the runner sees it (claimed or listed)."""

    bulk_id: str
    row: int
    to: str
    text: str
    climsgid: str
    state: RowState
    reason: str | None
    send_id: int | None
    not_before: datetime | None


@dataclass(frozen=True)
class BulkMessage:
    """A bulk row's message as a phone got it: what a reply from that phone answers."""

    bulk_id: str
    text: str
    sent_at: datetime


@dataclass(frozen=True)
class BulkRowResult:
    """A row with what became of its message: one line of the result file."""

    row: int
    to: str
    text: str
    state: RowState
    reason: str | None
    apimsgid: str | None
    delivery: str | None  # the recipient's delivery state, when a report came
    error_code: str | None
    error_description: str | None


@dataclass(frozen=True)
class BulkTally:
    """Counts of a run's rows (what the progress card shows)."""

    total: int
    pending: int
    held: int  # pending and waiting for `not_before` (quiet hours)
    sent: int
    delivered: int
    failed: int  # refused by the gateway, or failed after sending
    skipped: int
    cancelled: int
