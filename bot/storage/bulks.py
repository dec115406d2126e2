"""The storage port's repository for bulk runs and their rows (durable work items).

Beside `bot.storage.base` (whose `Storage` protocol exposes it as `bulks`) to keep each module
short; the same promises hold: durable writes, rows claimed with a lease so a replica or process
killed mid-run has its rows taken over, never sent twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from bot.domain.bulk import (
    BulkMessage,
    BulkRow,
    BulkRowResult,
    BulkRun,
    BulkTally,
    NewBulk,
    NewBulkRow,
    RowState,
    RunState,
)
from bot.storage.leases import DEFAULT_LEASE


class BulkRepository(Protocol):
    """Bulk runs and their rows: durable work items claimed with a lease (product.md §5)."""

    def create(self, plan: NewBulk, rows: Sequence[NewBulkRow]) -> None:
        """Store a checked plan and all its rows at once (state PLANNED)."""
        ...

    def get(self, bulk_id: str) -> BulkRun | None: ...

    def move(
        self,
        bulk_id: str,
        to: RunState,
        *,
        expect: Sequence[RunState],
        at: datetime | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Set the run's state to `to` if it is one of `expect` (False otherwise, nothing
        written). `at` (when given) becomes the run's time; DONE and CANCELLED stamp
        `finished_at` with `now`. Cancelling also cancels every pending row."""
        ...

    def set_card(self, bulk_id: str, channel: str, ts: str) -> None:
        """Remember the Slack message (channel, ts) that shows the run's progress."""
        ...

    def claim_rows(
        self,
        bulk_id: str,
        *,
        limit: int,
        now: datetime | None = None,
        lease: timedelta = DEFAULT_LEASE,
    ) -> list[BulkRow]:
        """Claim up to `limit` pending rows due by `now` (not_before passed), in row order,
        that no live claim holds, while the run is RUNNING; each is not handed out again until
        `finish_row`, `defer_row` or the lease ends."""
        ...

    def attach_send(self, bulk_id: str, row: int, send_id: int) -> bool:
        """The row's message is recorded as send `send_id` (before the gateway call). False,
        nothing written, when the row may no longer be sent: it is not pending or the run is
        not RUNNING (paused or cancelled meanwhile)."""
        ...

    def finish_row(
        self, bulk_id: str, row: int, state: RowState, reason: str | None = None
    ) -> None:
        """The row is done (SENT or FAILED); releases its claim."""
        ...

    def defer_row(self, bulk_id: str, row: int, not_before: datetime, *, held: bool) -> None:
        """Try the row again at `not_before` (`held`: for the recipient's quiet hours, counted
        as held; else a back-off); releases its claim."""
        ...

    def release_claims(self, bulk_id: str) -> int:
        """Release this run's live claims (this process stops running it); how many."""
        ...

    def tally(self, bulk_id: str, now: datetime | None = None) -> BulkTally: ...

    def results(self, bulk_id: str, *, after: int = 0, limit: int = 1000) -> list[BulkRowResult]:
        """Rows after row number `after`, in row order, with their messages' outcomes."""
        ...

    def next_due(self, bulk_id: str, now: datetime | None = None) -> datetime | None:
        """When the run's earliest pending row is due: `now` (default: the backend's clock)
        when one is due already, None when no row is pending. A claimed row is due when its
        lease ends (its claimer may finish it first)."""
        ...

    def runs(
        self,
        states: Sequence[RunState],
        *,
        starter: str | None = None,
        limit: int = 50,
    ) -> list[BulkRun]:
        """Runs in one of `states` (optionally one person's), newest first."""
        ...

    def by_send(self, send_id: int) -> str | None:
        """The run a send belongs to (one of its rows), None for any other send."""
        ...

    def newest_to(
        self, msisdn: str, since: datetime, until: datetime | None = None
    ) -> BulkMessage | None:
        """The newest row message sent to `msisdn` (recorded within since..until, not refused by
        the gateway, not cancelled): what an SMS from it answers when no card or conversation
        is newer (`conversations.find_thread` weighs the same rows)."""
        ...

    def prune(self, older_than: timedelta, now: datetime | None = None) -> int:
        """Forget runs never started (still PLANNED, or DISCARDED from the preview) and their
        rows, once `older_than` has passed since they were planned or discarded; how many.
        Started runs are kept: their rows name the sends delivery reports come back for."""
        ...
