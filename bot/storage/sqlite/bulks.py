"""Bulk runs and their rows in SQLite: rows are work items claimed with a lease.

A claim is a lease (`claimed_until`) and nothing else: a row a dead process held becomes
claimable again by itself once the lease ends, whichever process (the command line, `serve`)
then drives the run. Claiming happens in one write unit, which on SQLite excludes every other
writer, so two runners never take the same row.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta

import bot.storage.sqlite.rows as rows
from bot.domain.bulk import (
    ENDED_RUN_STATES,
    UNSTARTED_RUN_STATES,
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
from bot.storage.base import DEFAULT_LEASE
from bot.storage.sqlite.database import SqliteDatabase

_TALLY = """
    SELECT count(*) AS total,
        coalesce(sum(r.state = 'pending' AND NOT (r.held AND r.not_before > :now)), 0)
            AS pending,
        coalesce(sum(r.state = 'pending' AND r.held AND r.not_before > :now), 0) AS held,
        coalesce(sum(r.state = 'sent'), 0) AS sent,
        coalesce(sum(r.state = 'sent' AND c.state = 'delivered'), 0) AS delivered,
        coalesce(sum(r.state = 'failed' OR (r.state = 'sent'
            AND c.state IN ('failed', 'expired', 'cancelled'))), 0) AS failed,
        coalesce(sum(r.state = 'skipped'), 0) AS skipped,
        coalesce(sum(r.state = 'cancelled'), 0) AS cancelled
    FROM bulk_rows r LEFT JOIN recipients c ON c.send_id = r.send_id
    WHERE r.bulk_id = :bulk"""

_RESULTS = """
    SELECT r.position, r.msisdn, r.text, r.state, r.reason, c.apimsgid, c.state AS delivery,
        c.error_code, c.error_description
    FROM bulk_rows r LEFT JOIN recipients c ON c.send_id = r.send_id
    WHERE r.bulk_id = ? AND r.position > ? ORDER BY r.position LIMIT ?"""


def _run(row: sqlite3.Row) -> BulkRun:
    return rows.from_row(
        BulkRun,
        row,
        bulk_id=row["id"],
        state=RunState(row["state"]),
        at=rows.opt_time(row["start_at"]),
        created_at=rows.time_of(row["created_at"]),
        finished_at=rows.opt_time(row["finished_at"]),
    )


def _row(row: sqlite3.Row) -> BulkRow:
    return rows.from_row(
        BulkRow,
        row,
        row=row["position"],
        to=row["msisdn"],
        state=RowState(row["state"]),
        not_before=rows.opt_time(row["not_before"]),
    )


def _result(row: sqlite3.Row) -> BulkRowResult:
    return rows.from_row(
        BulkRowResult, row, row=row["position"], to=row["msisdn"], state=RowState(row["state"])
    )


def newest_row_send(
    conn: sqlite3.Connection, msisdn: str, since: float, until: float
) -> sqlite3.Row | None:
    """The newest bulk row's send to `msisdn` recorded within since..until, as `find_thread`
    counts sends (not refused, not cancelled): its bulk_id, text and created_at."""
    return conn.execute(
        """SELECT b.bulk_id, s.text, s.created_at
           FROM recipients r JOIN sends s ON s.id = r.send_id
           JOIN bulk_rows b ON b.send_id = s.id
           WHERE r.msisdn = ? AND r.error_code IS NULL AND s.cancelled_at IS NULL
             AND s.created_at >= ? AND s.created_at <= ?
           ORDER BY s.created_at DESC, s.id DESC LIMIT 1""",
        (msisdn, since, until),
    ).fetchone()


class SqliteBulks:
    """`BulkRepository` over the `bulk_runs` and `bulk_rows` tables."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def create(self, plan: NewBulk, new_rows: Sequence[NewBulkRow]) -> None:
        with self._db.write() as conn:
            conn.execute(
                """INSERT INTO bulk_runs (id, starter, channel, text, parts, encoding,
                       credits_estimate, rows, valid, invalid, duplicates, opted_out, state,
                       created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    plan.bulk_id,
                    plan.starter,
                    plan.channel,
                    plan.text,
                    plan.parts,
                    plan.encoding,
                    plan.credits_estimate,
                    plan.rows,
                    plan.valid,
                    plan.invalid,
                    plan.duplicates,
                    plan.opted_out,
                    RunState.PLANNED.value,
                    self._db.clock(),
                ),
            )
            conn.executemany(
                """INSERT INTO bulk_rows (bulk_id, position, msisdn, text, climsgid, state,
                       reason) VALUES (?, ?, ?, ?, ?, ?, ?)""",
                [
                    (plan.bulk_id, r.row, r.to, r.text, r.climsgid, r.state.value, r.reason)
                    for r in new_rows
                ],
            )

    def get(self, bulk_id: str) -> BulkRun | None:
        with self._db.read() as conn:
            row = conn.execute("SELECT * FROM bulk_runs WHERE id = ?", (bulk_id,)).fetchone()
        return None if row is None else _run(row)

    def move(
        self,
        bulk_id: str,
        to: RunState,
        *,
        expect: Sequence[RunState],
        at: datetime | None = None,
        now: datetime | None = None,
    ) -> bool:
        stamp = self._db.stamp(now)
        finished = stamp if to in ENDED_RUN_STATES else None
        states = [s.value for s in expect]
        with self._db.write() as conn:
            moved = conn.execute(
                f"""UPDATE bulk_runs SET state = ?, start_at = coalesce(?, start_at),
                        finished_at = coalesce(?, finished_at)
                    WHERE id = ? AND state IN ({rows.placeholders(len(states))})""",
                (to.value, rows.opt_seconds(at), finished, bulk_id, *states),
            ).rowcount
            if moved and to in (RunState.CANCELLED, RunState.DISCARDED):
                conn.execute(
                    """UPDATE bulk_rows SET state = 'cancelled', claimed_until = NULL
                       WHERE bulk_id = ? AND state = 'pending' AND send_id IS NULL""",
                    (bulk_id,),
                )
        return bool(moved)

    def set_card(self, bulk_id: str, channel: str, ts: str) -> None:
        with self._db.write() as conn:
            conn.execute(
                "UPDATE bulk_runs SET card_channel = ?, card_ts = ? WHERE id = ?",
                (channel, ts, bulk_id),
            )

    def claim_rows(
        self,
        bulk_id: str,
        *,
        limit: int,
        now: datetime | None = None,
        lease: timedelta = DEFAULT_LEASE,
    ) -> list[BulkRow]:
        stamp = self._db.stamp(now)
        with self._db.write() as conn:
            found = conn.execute(
                """SELECT r.* FROM bulk_rows r JOIN bulk_runs b ON b.id = r.bulk_id
                   WHERE r.bulk_id = ? AND b.state = 'running' AND r.state = 'pending'
                     AND (r.not_before IS NULL OR r.not_before <= ?)
                     AND (r.claimed_until IS NULL OR r.claimed_until <= ?)
                   ORDER BY r.position LIMIT ?""",
                (bulk_id, stamp, stamp, max(0, limit)),
            ).fetchall()
            conn.executemany(
                """UPDATE bulk_rows SET claimed_until = ?, held = 0
                   WHERE bulk_id = ? AND position = ?""",
                [(stamp + lease.total_seconds(), bulk_id, r["position"]) for r in found],
            )
        return [_row(r) for r in found]

    def attach_send(self, bulk_id: str, row: int, send_id: int) -> bool:
        with self._db.write() as conn:
            return bool(
                conn.execute(
                    """UPDATE bulk_rows SET send_id = ?
                       WHERE bulk_id = ? AND position = ? AND state = 'pending'
                         AND EXISTS (SELECT 1 FROM bulk_runs b
                                     WHERE b.id = ? AND b.state = 'running')""",
                    (send_id, bulk_id, row, bulk_id),
                ).rowcount
            )

    def finish_row(
        self, bulk_id: str, row: int, state: RowState, reason: str | None = None
    ) -> None:
        with self._db.write() as conn:
            conn.execute(
                """UPDATE bulk_rows SET state = ?, reason = ?, claimed_until = NULL, held = 0
                   WHERE bulk_id = ? AND position = ?""",
                (state.value, reason, bulk_id, row),
            )

    def defer_row(self, bulk_id: str, row: int, not_before: datetime, *, held: bool) -> None:
        with self._db.write() as conn:
            conn.execute(
                """UPDATE bulk_rows SET not_before = ?, held = ?, claimed_until = NULL
                   WHERE bulk_id = ? AND position = ? AND state = 'pending'""",
                (rows.seconds(not_before), int(held), bulk_id, row),
            )

    def release_claims(self, bulk_id: str) -> int:
        with self._db.write() as conn:
            return conn.execute(
                """UPDATE bulk_rows SET claimed_until = NULL
                   WHERE bulk_id = ? AND state = 'pending' AND claimed_until IS NOT NULL""",
                (bulk_id,),
            ).rowcount

    def tally(self, bulk_id: str, now: datetime | None = None) -> BulkTally:
        with self._db.read() as conn:
            row = conn.execute(_TALLY, {"bulk": bulk_id, "now": self._db.stamp(now)}).fetchone()
        return BulkTally(*[int(value) for value in row])  # columns in field order

    def results(self, bulk_id: str, *, after: int = 0, limit: int = 1000) -> list[BulkRowResult]:
        with self._db.read() as conn:
            found = conn.execute(_RESULTS, (bulk_id, after, max(0, limit))).fetchall()
        return [_result(r) for r in found]

    def next_due(self, bulk_id: str, now: datetime | None = None) -> datetime | None:
        stamp = self._db.stamp(now)
        with self._db.read() as conn:
            row = conn.execute(
                """SELECT count(*) AS n,
                       max(min(max(coalesce(not_before, :now), coalesce(claimed_until, :now))),
                           :now) AS due
                   FROM bulk_rows WHERE bulk_id = :bulk AND state = 'pending'""",
                {"now": stamp, "bulk": bulk_id},
            ).fetchone()
        return rows.time_of(row["due"]) if row["n"] else None

    def runs(
        self,
        states: Sequence[RunState],
        *,
        starter: str | None = None,
        limit: int = 50,
    ) -> list[BulkRun]:
        wanted = [s.value for s in states]
        with self._db.read() as conn:
            found = conn.execute(
                f"""SELECT * FROM bulk_runs
                    WHERE state IN ({rows.placeholders(len(wanted))})
                      AND (? IS NULL OR starter = ?)
                    ORDER BY created_at DESC, id LIMIT ?""",
                (*wanted, starter, starter, max(0, limit)),
            ).fetchall()
        return [_run(r) for r in found]

    def by_send(self, send_id: int) -> str | None:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT bulk_id FROM bulk_rows WHERE send_id = ?", (send_id,)
            ).fetchone()
        return None if row is None else row["bulk_id"]

    def newest_to(
        self, msisdn: str, since: datetime, until: datetime | None = None
    ) -> BulkMessage | None:
        latest = float("inf") if until is None else self._db.stamp(until)
        with self._db.read() as conn:
            found = newest_row_send(conn, msisdn, self._db.stamp(since), latest)
        if found is None:
            return None
        return BulkMessage(found["bulk_id"], found["text"], rows.time_of(found["created_at"]))

    def prune(self, older_than: timedelta, now: datetime | None = None) -> int:
        cutoff = self._db.stamp(now) - older_than.total_seconds()
        states = sorted(s.value for s in UNSTARTED_RUN_STATES)
        with self._db.write() as conn:
            return conn.execute(
                f"""DELETE FROM bulk_runs
                    WHERE state IN ({rows.placeholders(len(states))})
                      AND coalesce(finished_at, created_at) < ?""",
                (*states, cutoff),
            ).rowcount
