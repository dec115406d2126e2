"""What a bulk run tells Slack, through the outbox: its progress card (coalesced: one pending
update per run however many rows and reports change it) and, once, its result file. A run
started from the command line has no channel and tells Slack nothing."""

from __future__ import annotations

from bot.domain.bulk import BulkRun
from bot.domain.outbox import BULK_KEY, OutboxKind
from bot.storage import Storage


def progress_changed(storage: Storage, run: BulkRun) -> None:
    """Queue one card update for the run (replacing a pending one). Call it inside the
    transaction of the change, so the card never misses a change and never lags a crash."""
    if run.channel:
        storage.outbox.enqueue(
            run.channel,
            OutboxKind.BULK_PROGRESS,
            {"bulk_id": run.bulk_id},
            coalesce_key=BULK_KEY.format(run.bulk_id),
        )


def run_ended(storage: Storage, run: BulkRun) -> None:
    """Queue the result file's upload (once: call it in the transaction that ends the run)."""
    progress_changed(storage, run)
    if run.channel:
        storage.outbox.enqueue(run.channel, OutboxKind.BULK_RESULT, {"bulk_id": run.bulk_id})
