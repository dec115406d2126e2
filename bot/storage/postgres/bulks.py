"""Bulk runs and their rows in PostgreSQL, shared by every replica: rows are work items claimed
with a lease.

- `claim_rows` locks candidates with FOR UPDATE SKIP LOCKED, so runners in several replicas
  never wait on each other and never take the same row.
- A claim is a lease (`claimed_until`): a row whose claimer died becomes claimable again by
  itself once the lease ends, in any replica.
- `attach_send` and the cancelling `move` are single statements on the row, so a row being
  cancelled while a runner attaches its send ends one way or the other, never both.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import bot.storage.postgres.rows as rows
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
from bot.storage.postgres.database import Connection, PostgresDatabase

_TALLY = """
    SELECT count(*) AS total,
        count(*) FILTER (WHERE r.state = 'pending'
            AND NOT (r.held AND r.not_before > %(now)s)) AS pending,
        count(*) FILTER (WHERE r.state = 'pending' AND r.held AND r.not_before > %(now)s)
            AS held,
        count(*) FILTER (WHERE r.state = 'sent') AS sent,
        count(*) FILTER (WHERE r.state = 'sent' AND c.state = 'delivered') AS delivered,
        count(*) FILTER (WHERE r.state = 'failed' OR (r.state = 'sent'
            AND c.state IN ('failed', 'expired', 'cancelled'))) AS failed,
        count(*) FILTER (WHERE r.state = 'skipped') AS skipped,
        count(*) FILTER (WHERE r.state = 'cancelled') AS cancelled
    FROM bulk_rows r LEFT JOIN recipients c ON c.send_id = r.send_id
    WHERE r.bulk_id = %(bulk)s"""

_CLAIM = """
    WITH due AS (
        SELECT r.bulk_id, r.position FROM bulk_rows r
        WHERE r.bulk_id = %(bulk)s AND r.state = 'pending'
          AND EXISTS (SELECT 1 FROM bulk_runs b WHERE b.id = r.bulk_id AND b.state = 'running')
          AND (r.not_before IS NULL OR r.not_before <= %(now)s)
          AND (r.claimed_until IS NULL OR r.claimed_until <= %(now)s)
        ORDER BY r.position LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED)
    UPDATE bulk_rows SET claimed_until = %(until)s, held = false
    FROM due WHERE bulk_rows.bulk_id = due.bulk_id AND bulk_rows.position = due.position
    RETURNING bulk_rows.*"""

_RESULTS = """
    SELECT r.position, r.msisdn, r.text, r.state, r.reason, c.apimsgid, c.state AS delivery,
        c.error_code, c.error_description
    FROM bulk_rows r LEFT JOIN recipients c ON c.send_id = r.send_id
    WHERE r.bulk_id = %s AND r.position > %s ORDER BY r.position LIMIT %s"""


def _run(row: rows.Row) -> BulkRun:
    return rows.from_row(
        BulkRun,
        row,
        bulk_id=row["id"],
        state=RunState(row["state"]),
        at=rows.opt_utc(row["start_at"]),
        created_at=rows.as_utc(row["created_at"]),
        finished_at=rows.opt_utc(row["finished_at"]),
    )


def _row(row: rows.Row) -> BulkRow:
    return rows.from_row(
        BulkRow,
        row,
        row=row["position"],
        to=row["msisdn"],
        state=RowState(row["state"]),
        not_before=rows.opt_utc(row["not_before"]),
    )


def _result(row: rows.Row) -> BulkRowResult:
    return rows.from_row(
        BulkRowResult, row, row=row["position"], to=row["msisdn"], state=RowState(row["state"])
    )


def newest_row_send(
    conn: Connection, msisdn: str, since: datetime, until: datetime | None
) -> rows.Row | None:
    """The newest bulk row's send to `msisdn` recorded within since..until (None: no bound),
    as `find_thread` counts sends (not refused, not cancelled): bulk_id, text, created_at."""
    return conn.execute(
        """SELECT b.bulk_id, s.text, s.created_at
           FROM recipients r JOIN sends s ON s.id = r.send_id
           JOIN bulk_rows b ON b.send_id = s.id
           WHERE r.msisdn = %s AND r.error_code IS NULL AND s.cancelled_at IS NULL
             AND s.created_at >= %s AND (%s::timestamptz IS NULL OR s.created_at <= %s)
           ORDER BY s.created_at DESC, s.id DESC LIMIT 1""",
        (msisdn, since, until, until),
    ).fetchone()


class PostgresBulks:
    """`BulkRepository` over the `bulk_runs` and `bulk_rows` tables."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    def create(self, plan: NewBulk, new_rows: Sequence[NewBulkRow]) -> None:
        with self._db.write() as conn:
            conn.execute(
                """INSERT INTO bulk_runs (id, starter, channel, text, parts, encoding,
                       credits_estimate, rows, valid, invalid, duplicates, opted_out, state,
                       created_at)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
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
                    self._db.now(),
                ),
            )
            with (
                conn.cursor() as cursor,
                cursor.copy(
                    """COPY bulk_rows (bulk_id, position, msisdn, text, climsgid, state, reason)
                   FROM STDIN"""
                ) as copy,
            ):
                for r in new_rows:
                    copy.write_row(
                        (
                            plan.bulk_id,
                            r.row,
                            rows.nul_free(r.to),
                            rows.nul_free(r.text),
                            r.climsgid,
                            r.state.value,
                            None if r.reason is None else rows.nul_free(r.reason),
                        )
                    )

    def get(self, bulk_id: str) -> BulkRun | None:
        with self._db.read() as conn:
            row = conn.execute("SELECT * FROM bulk_runs WHERE id = %s", (bulk_id,)).fetchone()
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
        stamp = self._db.now(now)
        finished = stamp if to in ENDED_RUN_STATES else None
        with self._db.write() as conn:
            moved = conn.execute(
                """UPDATE bulk_runs SET state = %s, start_at = coalesce(%s, start_at),
                       finished_at = coalesce(%s, finished_at)
                   WHERE id = %s AND state = ANY(%s::text[])""",
                (to.value, rows.opt_utc(at), finished, bulk_id, [s.value for s in expect]),
            ).rowcount
            if moved and to in (RunState.CANCELLED, RunState.DISCARDED):
                conn.execute(
                    """UPDATE bulk_rows SET state = 'cancelled', claimed_until = NULL
                       WHERE bulk_id = %s AND state = 'pending' AND send_id IS NULL""",
                    (bulk_id,),
                )
        return bool(moved)

    def set_card(self, bulk_id: str, channel: str, ts: str) -> None:
        with self._db.write() as conn:
            conn.execute(
                "UPDATE bulk_runs SET card_channel = %s, card_ts = %s WHERE id = %s",
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
        stamp = self._db.now(now)
        with self._db.write() as conn:
            found = conn.execute(
                _CLAIM,
                {"bulk": bulk_id, "now": stamp, "limit": max(0, limit), "until": stamp + lease},
            ).fetchall()
        return sorted((_row(r) for r in found), key=lambda r: r.row)

    def attach_send(self, bulk_id: str, row: int, send_id: int) -> bool:
        with self._db.write() as conn:
            return bool(
                conn.execute(
                    """UPDATE bulk_rows SET send_id = %s
                       WHERE bulk_id = %s AND position = %s AND state = 'pending'
                         AND EXISTS (SELECT 1 FROM bulk_runs b
                                     WHERE b.id = %s AND b.state = 'running')""",
                    (send_id, bulk_id, row, bulk_id),
                ).rowcount
            )

    def finish_row(
        self, bulk_id: str, row: int, state: RowState, reason: str | None = None
    ) -> None:
        with self._db.write() as conn:
            conn.execute(
                """UPDATE bulk_rows SET state = %s, reason = %s, claimed_until = NULL,
                       held = false
                   WHERE bulk_id = %s AND position = %s""",
                (state.value, reason, bulk_id, row),
            )

    def defer_row(self, bulk_id: str, row: int, not_before: datetime, *, held: bool) -> None:
        with self._db.write() as conn:
            conn.execute(
                """UPDATE bulk_rows SET not_before = %s, held = %s, claimed_until = NULL
                   WHERE bulk_id = %s AND position = %s AND state = 'pending'""",
                (rows.as_utc(not_before), held, bulk_id, row),
            )

    def release_claims(self, bulk_id: str) -> int:
        with self._db.write() as conn:
            return conn.execute(
                """UPDATE bulk_rows SET claimed_until = NULL
                   WHERE bulk_id = %s AND state = 'pending' AND claimed_until IS NOT NULL""",
                (bulk_id,),
            ).rowcount

    def tally(self, bulk_id: str, now: datetime | None = None) -> BulkTally:
        with self._db.read() as conn:
            row = conn.execute(_TALLY, {"bulk": bulk_id, "now": self._db.now(now)}).fetchone()
        assert row is not None  # an aggregate always has a row
        return BulkTally(**{name: int(value) for name, value in row.items()})

    def results(self, bulk_id: str, *, after: int = 0, limit: int = 1000) -> list[BulkRowResult]:
        with self._db.read() as conn:
            found = conn.execute(_RESULTS, (bulk_id, after, max(0, limit))).fetchall()
        return [_result(r) for r in found]

    def next_due(self, bulk_id: str, now: datetime | None = None) -> datetime | None:
        stamp = self._db.now(now)
        with self._db.read() as conn:
            row = conn.execute(
                """SELECT count(*) AS n,
                       greatest(min(greatest(not_before, claimed_until, %(now)s)), %(now)s)
                           AS due
                   FROM bulk_rows WHERE bulk_id = %(bulk)s AND state = 'pending'""",
                {"now": stamp, "bulk": bulk_id},
            ).fetchone()
        return rows.as_utc(row["due"]) if row is not None and row["n"] else None

    def runs(
        self,
        states: Sequence[RunState],
        *,
        starter: str | None = None,
        limit: int = 50,
    ) -> list[BulkRun]:
        with self._db.read() as conn:
            found = conn.execute(
                """SELECT * FROM bulk_runs
                   WHERE state = ANY(%s::text[]) AND (%s::text IS NULL OR starter = %s)
                   ORDER BY created_at DESC, id LIMIT %s""",
                ([s.value for s in states], starter, starter, max(0, limit)),
            ).fetchall()
        return [_run(r) for r in found]

    def by_send(self, send_id: int) -> str | None:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT bulk_id FROM bulk_rows WHERE send_id = %s", (send_id,)
            ).fetchone()
        return None if row is None else str(row["bulk_id"])

    def newest_to(
        self, msisdn: str, since: datetime, until: datetime | None = None
    ) -> BulkMessage | None:
        latest = None if until is None else rows.as_utc(until)
        with self._db.read() as conn:
            found = newest_row_send(conn, msisdn, rows.as_utc(since), latest)
        if found is None:
            return None
        return BulkMessage(str(found["bulk_id"]), found["text"], rows.as_utc(found["created_at"]))

    def prune(self, older_than: timedelta, now: datetime | None = None) -> int:
        cutoff = self._db.now(now) - older_than
        states = sorted(s.value for s in UNSTARTED_RUN_STATES)
        with self._db.write() as conn:
            return conn.execute(
                """DELETE FROM bulk_runs
                   WHERE state = ANY(%s::text[]) AND coalesce(finished_at, created_at) < %s""",
                (states, cutoff),
            ).rowcount
